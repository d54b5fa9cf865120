import { PackageError } from './errors.js';
import { S_IFLNK, S_IFMT, printable, type ZipEntry } from './zip.js';

/** Limits far above any real plug-in package (tens of MiB, a few hundred entries), far below harm. */
export const LIMITS = {
  entries: 20_000,
  unpackedBytes: 2 * 1024 ** 3,
  /** Deflate tops out near 1032:1, so only a stream of one repeated byte comes close; nothing we ship does. */
  ratio: 1000,
  ratioAbove: 1024 ** 2,
} as const;

/**
 * Every entry must unpack inside the folder it is unpacked into, as a plain file or folder, once;
 * and the whole must unpack to a sane size. The first problem found is thrown, naming the entry.
 */
export function checkEntries(label: string, entries: readonly ZipEntry[]): void {
  const fail = (e: ZipEntry, what: string): never => {
    throw new PackageError(`${label}: entry '${printable(e.name)}' ${what}`);
  };
  const seen = new Set<string>();
  let total = 0;
  for (const e of entries) {
    const unsafe = unsafeNameReason(e.name);
    if (unsafe) fail(e, `${unsafe}: it would unpack outside the target folder`);
    if (e.unixMode !== null && (e.unixMode & S_IFMT) === S_IFLNK) fail(e, 'is a symbolic link: packages must not carry links');
    const key = e.name.replace(/\/+$/, '');
    if (seen.has(key)) fail(e, 'appears twice: which copy unpacks depends on the tool');
    seen.add(key);
    if (e.size > LIMITS.ratioAbove && e.size > LIMITS.ratio * e.compressedSize) {
      fail(e, `declares ${e.size} bytes from ${e.compressedSize} compressed (over ${LIMITS.ratio}:1): a zip bomb`);
    }
    total += e.size;
    if (total > LIMITS.unpackedBytes) {
      throw new PackageError(`${label}: unpacks to over ${LIMITS.unpackedBytes} bytes (2 GiB): not a plug-in package`);
    }
  }
}

/** Null for a safe relative name. Backslashes count as separators: unzip and Windows tools treat them so. */
export function unsafeNameReason(name: string): string | null {
  if (name === '') return 'has an empty name';
  if (name.includes('\0')) return 'has a NUL byte in its name';
  if (name.startsWith('/') || name.startsWith('\\')) return 'is an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'starts with a drive letter';
  if (name.split(/[\\/]/).includes('..')) return "has a '..' segment";
  return null;
}
