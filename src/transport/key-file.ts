import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ParsedKey } from 'ssh2';
import { UsageError } from '../errors.js';

/**
 * A private key file is checked once, before any host is contacted, the way OpenSSH would refuse it — not
 * once per host, as a login failure each: readable by group or others ("UNPROTECTED PRIVATE KEY FILE"),
 * not a private key at all (a public key, a certificate, any other file), or encrypted without (or with the
 * wrong) passphrase. Each is a usage error (exit 2) naming the file, who refers to it, and the fix.
 */
export function checkKeyFile(file: string, passphrase: string | undefined, from: string): void {
  let mode: number;
  let data: Buffer;
  try {
    mode = statSync(file).mode;
    data = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${from}: private key ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable' : code === 'EISDIR' ? 'a folder, not a file' : (e as Error).message}; give the path of the private key file`);
  }
  if ((mode & 0o077) !== 0) {
    throw new UsageError(`${from}: private key ${file} is readable by group or others (mode 0${(mode & 0o777).toString(8)}); OpenSSH refuses such a key: chmod 600 ${file}`);
  }
  // Loaded here, not imported: ssh2 is loaded anyway for the first connection, this only moves it earlier.
  const { utils } = createRequire(import.meta.url)('ssh2') as typeof import('ssh2');
  const parsed = utils.parseKey(data, passphrase) as ParsedKey | ParsedKey[] | Error;
  if (parsed instanceof Error) {
    if (/no passphrase given/i.test(parsed.message)) throw new UsageError(`${from}: private key ${file} is encrypted: give its passphrase with --key-passphrase-env VAR`);
    if (/bad passphrase|decrypt/i.test(parsed.message)) throw new UsageError(`${from}: private key ${file}: the passphrase from --key-passphrase-env does not decrypt it`);
    throw new UsageError(`${from}: ${file} is not a private key (${parsed.message}); give an OpenSSH, PEM or PuTTY private key file`);
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key?.isPrivateKey()) throw new UsageError(`${from}: ${file} is a public key, not a private key; give the private key file (without .pub)`);
}
