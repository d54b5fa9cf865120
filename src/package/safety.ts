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
  // What the name becomes where case is ignored and \ separates folders (Windows, macOS, unzip): two entries
  // that land on one file there would let the later one replace what was checked.
  const landsOn = new Map<string, string>();
  let total = 0;
  for (const e of entries) {
    const unsafe = unsafeNameReason(e.name);
    if (unsafe) fail(e, `${unsafe}: it would unpack outside the target folder`);
    if (e.unixMode !== null && (e.unixMode & S_IFMT) === S_IFLNK) fail(e, 'is a symbolic link: packages must not carry links');
    const key = e.name.replace(/\/+$/, '');
    if (seen.has(key)) fail(e, 'appears twice: which copy unpacks depends on the tool');
    seen.add(key);
    const folded = key.replace(/\\/g, '/').normalize('NFC').toLowerCase();
    const other = landsOn.get(folded);
    if (other !== undefined) fail(e, `lands on the same file as '${printable(other)}' where names ignore case or take \\ for / (Windows): which one unpacks depends on the host`);
    landsOn.set(folded, e.name);
    const windowsBad = windowsNameReason(key);
    if (windowsBad) fail(e, `${windowsBad}: Windows cannot unpack it as named`);
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

/** Device names Windows reserves in every folder, with or without an extension (CON, con.txt, LPT1.log). */
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** Null for a name Windows unpacks as written: no ':' (a drive or an NTFS stream), no reserved device name. */
export function windowsNameReason(name: string): string | null {
  for (const seg of name.split(/[\\/]/)) {
    if (seg.includes(':')) return `has a ':' in '${printable(seg)}' (a drive or an NTFS alternate stream on Windows)`;
    if (RESERVED.test(seg.replace(/[ .]+$/, ''))) return `uses '${printable(seg)}', a device name Windows reserves`;
  }
  return null;
}
