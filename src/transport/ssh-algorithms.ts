import { createRequire } from 'node:module';
import type { SshAlgorithmsUsed } from '../core/result.js';
import type { SshAlgorithmSpec } from '../inventory/target.js';

/**
 * The SSH algorithms the client offers. By default ssh2's own defaults: modern key exchanges, the host key
 * types of every OpenSSH since 5.x (ssh-rsa with SHA-1 signatures included: old CentOS/SLES/EulerOS servers
 * have no other), AES-GCM/CTR and ChaCha20, HMAC-SHA2 and HMAC-SHA1. What old servers may *only* offer and
 * is weak is legacy, never offered unless the operator allows it for a host or group, as with OpenSSH itself
 * (`-o KexAlgorithms=+diffie-hellman-group14-sha1` in ansible_ssh_common_args): the SHA-1 key exchanges, the
 * CBC and 3DES ciphers, DSA host keys, MD5/RIPEMD/truncated MACs.
 */
export interface SshAlgorithmLists {
  kex: string[];
  serverHostKey: string[];
  cipher: string[];
  hmac: string[];
}

type Kind = keyof SshAlgorithmLists;
const KINDS: Record<keyof SshAlgorithmSpec, { list: Kind; option: string }> = {
  kex: { list: 'kex', option: 'KexAlgorithms' },
  hostKey: { list: 'serverHostKey', option: 'HostKeyAlgorithms' },
  cipher: { list: 'cipher', option: 'Ciphers' },
  mac: { list: 'hmac', option: 'MACs' },
};

/** Weak algorithms a server of an old fleet may be limited to: offered only when asked for. */
export const LEGACY = new Set([
  'diffie-hellman-group14-sha1', 'diffie-hellman-group-exchange-sha1', 'diffie-hellman-group1-sha1',
  'aes128-cbc', 'aes192-cbc', 'aes256-cbc', '3des-cbc', 'ssh-dss',
  'hmac-md5', 'hmac-md5-96', 'hmac-sha1-96', 'hmac-ripemd160',
]);

interface Ssh2Constants {
  DEFAULT_KEX: string[]; SUPPORTED_KEX: string[];
  DEFAULT_SERVER_HOST_KEY: string[]; SUPPORTED_SERVER_HOST_KEY: string[];
  DEFAULT_CIPHER: string[]; SUPPORTED_CIPHER: string[];
  DEFAULT_MAC: string[]; SUPPORTED_MAC: string[];
}
let constants: Ssh2Constants | undefined;
/** ssh2's own lists (what it offers by default, what it can do at all): read, not copied, so they never drift. */
function ssh2(): Ssh2Constants {
  return (constants ??= createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as Ssh2Constants);
}
function defaults(k: Kind): string[] {
  const c = ssh2();
  return { kex: c.DEFAULT_KEX, serverHostKey: c.DEFAULT_SERVER_HOST_KEY, cipher: c.DEFAULT_CIPHER, hmac: c.DEFAULT_MAC }[k].filter((a) => !LEGACY.has(a));
}
function supported(k: Kind): string[] {
  const c = ssh2();
  return { kex: c.SUPPORTED_KEX, serverHostKey: c.SUPPORTED_SERVER_HOST_KEY, cipher: c.SUPPORTED_CIPHER, hmac: c.SUPPORTED_MAC }[k];
}

export class SshAlgorithmError extends Error {
  override name = 'SshAlgorithmError';
}

/**
 * The lists to offer, from the defaults and an OpenSSH-style spec per kind: `+a,b` appends, `-a,b` removes
 * (wildcards allowed), `^a,b` puts first, a plain list replaces. An algorithm ssh2 cannot do is an error
 * naming the option and what it can do.
 */
export function algorithmsFor(spec: SshAlgorithmSpec | undefined): SshAlgorithmLists {
  const out: SshAlgorithmLists = { kex: defaults('kex'), serverHostKey: defaults('serverHostKey'), cipher: defaults('cipher'), hmac: defaults('hmac') };
  for (const [key, value] of Object.entries(spec ?? {}) as [keyof SshAlgorithmSpec, string][]) {
    const { list, option } = KINDS[key];
    const op = /^[+\-^]/.test(value) ? value[0]! : '';
    const names = value.slice(op ? 1 : 0).split(',').map((n) => n.trim()).filter(Boolean);
    if (op === '-') {
      const gone = (a: string) => names.some((n) => new RegExp(`^${n.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(a));
      out[list] = out[list].filter((a) => !gone(a));
      continue;
    }
    const unknown = names.filter((n) => !supported(list).includes(n));
    if (unknown.length) throw new SshAlgorithmError(`${option}=${value}: ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not an algorithm this tool's SSH client has (it has: ${supported(list).join(', ')})`);
    if (op === '+') out[list] = [...out[list], ...names.filter((n) => !out[list].includes(n))];
    else if (op === '^') out[list] = [...names, ...out[list].filter((a) => !names.includes(a))];
    else out[list] = names;
  }
  return out;
}

/** What a handshake settled on, as the result reports it. */
export function negotiated(n: { kex: string; serverHostKey: string; cs: { cipher: string; mac: string } }): SshAlgorithmsUsed {
  const all = [n.kex, n.serverHostKey, n.cs.cipher, n.cs.mac].filter(Boolean);
  return { kex: n.kex, hostKey: n.serverHostKey, cipher: n.cs.cipher, mac: n.cs.mac, legacy: all.filter((a) => LEGACY.has(a)) };
}

/**
 * A handshake that found nothing in common: which kind, what the server offers (from ssh2's debug lines), and
 * the option that would let it in when what it offers is legacy.
 */
export function noCommonAlgorithm(error: string, debugLines: string[]): string | null {
  const kinds: Array<[RegExp, RegExp, keyof SshAlgorithmSpec, string]> = [
    [/no matching key exchange/i, /\(remote\) KEX method: (.*)$/, 'kex', 'key exchange'],
    [/no matching host key/i, /\(remote\) Host key format: (.*)$/, 'hostKey', 'host key type'],
    [/no matching (C->S |S->C )?cipher/i, /\(remote\) C->S cipher: (.*)$/, 'cipher', 'cipher'],
    [/no matching (C->S |S->C )?MAC/i, /\(remote\) C->S MAC: (.*)$/, 'mac', 'MAC'],
  ];
  for (const [is, line, key, what] of kinds) {
    if (!is.test(error)) continue;
    const offered = debugLines.map((l) => line.exec(l)?.[1]).find(Boolean)?.split(',').filter((a) => !/^(ext-info|kex-strict)/.test(a)) ?? [];
    const usable = offered.filter((a) => supported(KINDS[key].list).includes(a));
    const hint = usable.length
      ? `; if this server is trusted and cannot be upgraded, allow it for this host or group: ansible_ssh_common_args='-o ${KINDS[key].option}=+${usable[0]}'`
      : '';
    return `no ${what} in common with the server (it offers ${offered.join(', ') || 'nothing readable'})${hint}`;
  }
  return null;
}
