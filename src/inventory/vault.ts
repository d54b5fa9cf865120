import { createDecipheriv, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { InventoryError } from './target.js';

/**
 * Ansible Vault, read in memory with node:crypto only (never written anywhere, never logged): formats 1.1 and
 * 1.2 (`$ANSIBLE_VAULT;1.2;AES256;<vault id>`), AES-256-CTR with HMAC-SHA256, keys from PBKDF2-SHA256 over
 * 10,000 iterations — as ansible-core's `VaultAES256` writes them (whole files and `!vault` values alike).
 */
export interface VaultSecret {
  /** The vault id (`--vault-id label@source`); "default" when none was given. */
  label: string;
  password: Buffer;
  /** Where it came from, for messages (never the password). */
  source: string;
}

export const VAULT_HEADER = '$ANSIBLE_VAULT;';

export function isVaulted(text: string): boolean {
  return text.trimStart().startsWith(VAULT_HEADER);
}

/** The plaintext of a vaulted text, with the first secret that opens it (its label tried first); else a one-line error naming `where`. */
export function decryptVault(text: string, secrets: VaultSecret[], where: string): string {
  const lines = text.trim().split(/\r?\n/);
  const header = lines[0]!.trim().split(';');
  const [, version, cipher, label] = header;
  if ((version !== '1.1' && version !== '1.2') || cipher !== 'AES256') {
    throw new InventoryError(`${where}: an Ansible Vault of format ${header.slice(1, 3).join(' ')}, which this tool does not read (1.1 and 1.2 with AES256)`);
  }
  if (secrets.length === 0) {
    throw new InventoryError(`${where} is encrypted with Ansible Vault: give --vault-password-file FILE, --vault-id LABEL@SOURCE or --ask-vault-pass`);
  }
  let body: Buffer;
  let salt: Buffer;
  let mac: Buffer;
  let ciphertext: Buffer;
  try {
    // The payload is hex of "hex(salt)\nhex(hmac)\nhex(ciphertext)".
    const hex = lines.slice(1).join('').trim();
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new Error('not hex');
    body = Buffer.from(hex, 'hex');
    const [s, m, c] = body.toString('latin1').split('\n');
    if (!s || !m || !c || ![s, m, c].every((x) => /^(?:[0-9a-fA-F]{2})+$/.test(x))) throw new Error('not three hex parts');
    salt = Buffer.from(s, 'hex');
    mac = Buffer.from(m, 'hex');
    ciphertext = Buffer.from(c, 'hex');
  } catch {
    throw new InventoryError(`${where}: the Ansible Vault payload is damaged (not the hex Ansible writes); encrypt it again with ansible-vault`);
  }
  // The secret named by the payload's vault id first, then the others (as Ansible does by default).
  const ordered = label ? [...secrets.filter((x) => x.label === label), ...secrets.filter((x) => x.label !== label)] : secrets;
  for (const secret of ordered) {
    const derived = pbkdf2Sync(secret.password, salt, 10_000, 80, 'sha256');
    const key = derived.subarray(0, 32);
    const hmacKey = derived.subarray(32, 64);
    const iv = derived.subarray(64, 80);
    const expected = createHmac('sha256', hmacKey).update(ciphertext).digest();
    if (expected.length !== mac.length || !timingSafeEqual(expected, mac)) continue;
    const d = createDecipheriv('aes-256-ctr', key, iv);
    const padded = Buffer.concat([d.update(ciphertext), d.final()]);
    // PKCS#7, as Ansible pads before encrypting.
    const pad = padded[padded.length - 1] ?? 0;
    if (pad < 1 || pad > 16 || pad > padded.length) throw new InventoryError(`${where}: the Ansible Vault decrypted to a damaged plaintext (bad padding)`);
    return padded.subarray(0, padded.length - pad).toString('utf8');
  }
  const tried = ordered.map((x) => (x.label === 'default' ? x.source : `${x.label}@${x.source}`)).join(', ');
  throw new InventoryError(`${where}: no vault password given opens it (tried ${tried}): the password is wrong or the file was altered`);
}
