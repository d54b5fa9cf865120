import { existsSync, readFileSync, statSync } from 'node:fs';
import { PackageError } from './errors.js';

/** The digest a package must have, and where it came from (for messages). */
export interface ExpectedSha256 {
  hex: string;
  source: string;
}

const HEX64 = /^[0-9a-f]{64}$/i;
const MAX_SHA256_FILE = 64 * 1024;

/**
 * `given` is a .sha256 file or the 64-hex digest itself; without it, `<zip>.sha256` beside the zip, as the
 * cloud's bucket serves it. The bucket's format is not documented (DOMAIN §1), so any text holding the digest will do.
 */
export function expectedSha256(zipPath: string, given?: string): ExpectedSha256 {
  if (given !== undefined && HEX64.test(given.trim())) return { hex: given.trim().toLowerCase(), source: '--sha256' };
  const file = given ?? `${zipPath}.sha256`;
  if (!existsSync(file)) {
    throw new PackageError(
      given === undefined
        ? `${file} is missing: put the .sha256 that came with the zip beside it, or pass --sha256 FILE|HEX`
        : `--sha256 ${file}: no such file (give a .sha256 file or the 64-hex digest)`,
    );
  }
  if (!statSync(file).isFile()) throw new PackageError(`${file}: not a file`);
  if (statSync(file).size > MAX_SHA256_FILE) throw new PackageError(`${file}: over ${MAX_SHA256_FILE} bytes, not a .sha256 file`);
  const hex = sha256InText(decodeText(readFileSync(file)));
  if (hex === null) throw new PackageError(`${file}: no SHA-256 digest (64 hex digits) in it`);
  return { hex, source: file };
}

/**
 * The first 64-hex token, any case; else 32 hex bytes separated by spaces, as older Windows certutil prints.
 * A longer hex run (a SHA-512) is not a SHA-256, so tokens are bounded by non-hex characters.
 */
export function sha256InText(text: string): string | null {
  const token = /(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])/i.exec(text)?.[0];
  if (token) return token.toLowerCase();
  const spaced = /(?<![0-9a-f])(?:[0-9a-f]{2} ){31}[0-9a-f]{2}(?![0-9a-f])/i.exec(text)?.[0];
  return spaced ? spaced.replace(/ /g, '').toLowerCase() : null;
}

/** PowerShell 5 redirects (`Get-FileHash ... > f`) write UTF-16 with a byte-order mark. */
function decodeText(b: Buffer): string {
  const even = b.subarray(2, 2 + ((b.length - 2) & ~1));
  if (b[0] === 0xff && b[1] === 0xfe) return even.toString('utf16le');
  if (b[0] === 0xfe && b[1] === 0xff) return Buffer.from(even).swap16().toString('utf16le');
  return b.toString('latin1');
}
