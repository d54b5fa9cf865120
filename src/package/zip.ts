import { constants as bufferConstants } from 'node:buffer';
import { createInflateRaw, inflateRawSync } from 'node:zlib';
import { crc32 } from './crc32.js';
import { PackageError } from './errors.js';

/**
 * A small ZIP reader over a Buffer, for plug-in packages and the jars inside them. It trusts nothing it reads:
 * every offset and length is bounds-checked, and every malformed input is a PackageError naming the file.
 * Only what the plug-in needs: stored and deflated entries, no ZIP64, no encryption, no multi-disk archives.
 */

export interface ZipEntry {
  name: string;
  method: 0 | 8;
  crc32: number;
  compressedSize: number;
  /** As declared in the central directory; readEntry holds the data to it. */
  size: number;
  externalAttrs: number;
  /** attr >>> 16, or null when the archiver left it 0 (no unix mode recorded). */
  unixMode: number | null;
  isDirectory: boolean;
  mtime: Date;
  localHeaderOffset: number;
  /** Where the entry's (compressed) data starts, from its local header. */
  dataOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const FLAG_ENCRYPTED = 0x1;
const FLAG_UTF8 = 0x800;
const EXTRA_UNIX_TIME = 0x5455;

export const S_IFMT = 0o170000;
export const S_IFLNK = 0o120000;
export const S_IFDIR = 0o040000;

export interface ZipReaderOptions {
  /** Refuse archives that declare more entries than this, before reading the central directory. */
  maxEntries?: number;
}

export class ZipReader {
  readonly entries: readonly ZipEntry[];
  private readonly byName = new Map<string, ZipEntry>();
  private readonly cdOffset: number;

  constructor(
    private readonly buf: Buffer,
    readonly label: string,
    opts: ZipReaderOptions = {},
  ) {
    const eocd = this.findEocd();
    const count = buf.readUInt16LE(eocd + 10);
    const cdSize = buf.readUInt32LE(eocd + 12);
    const cdOffset = buf.readUInt32LE(eocd + 16);
    if (
      buf.readUInt16LE(eocd + 4) !== 0 ||
      buf.readUInt16LE(eocd + 6) !== 0 ||
      buf.readUInt16LE(eocd + 8) !== count
    ) {
      this.fail('a multi-disk (split) archive: not supported');
    }
    if (opts.maxEntries !== undefined && count > opts.maxEntries) {
      this.fail(`${count} entries, more than the ${opts.maxEntries} a plug-in package may hold`);
    }
    if (cdOffset + cdSize !== eocd) {
      this.fail(
        `the central directory (offset ${cdOffset}, ${cdSize} bytes) does not end where the end record starts (${eocd}): truncated, or data was added`,
      );
    }
    this.cdOffset = cdOffset;
    this.entries = this.readCentralDirectory(cdOffset, cdSize, count);
    for (const e of this.entries) if (!this.byName.has(e.name)) this.byName.set(e.name, e);
    this.checkNoOverlap();
  }

  /** The first entry of that exact name. */
  find(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /**
   * The entry's bytes, inflated and checked against its declared size and CRC-32. A stored entry comes back
   * as a view into the archive's buffer, not a copy (a padded package holds hundreds of MiB): do not modify it.
   */
  readEntry(e: ZipEntry): Buffer {
    // Some archivers mark empty entries (folders) deflated yet store no deflate stream at all.
    if (e.size === 0 && e.compressedSize === 0 && e.crc32 === 0) return Buffer.alloc(0);
    const raw = this.buf.subarray(e.dataOffset, e.dataOffset + e.compressedSize);
    let data: Buffer;
    if (e.method === 0) {
      data = raw;
    } else {
      try {
        data = inflateRawSync(raw, { maxOutputLength: Math.min(e.size + 1, bufferConstants.MAX_LENGTH) });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ERR_BUFFER_TOO_LARGE') this.fail(`${e.name}: inflates to more than its declared ${e.size} bytes`);
        this.fail(`${e.name}: corrupt compressed data (${(err as Error).message})`);
      }
    }
    if (data.length !== e.size) this.fail(`${e.name}: holds ${data.length} bytes, its header declares ${e.size}`);
    const crc = crc32(data);
    if (crc !== e.crc32) this.fail(`${e.name}: CRC-32 mismatch (data ${hex8(crc)}, header ${hex8(e.crc32)}): the archive is corrupt`);
    return data;
  }

  /**
   * Checks an entry's data against its declared size and CRC-32 as it inflates, 64 KiB at a time: never
   * holds the entry whole (a 2 GiB entry costs 64 KiB), and stops at the first byte past the declared size.
   */
  async checkEntryData(e: ZipEntry): Promise<void> {
    if (e.size === 0 && e.compressedSize === 0 && e.crc32 === 0) return;
    const raw = this.buf.subarray(e.dataOffset, e.dataOffset + e.compressedSize);
    let n = 0;
    let crc = 0;
    if (e.method === 0) {
      n = raw.length;
      crc = crc32(raw);
    } else {
      await new Promise<void>((resolve, reject) => {
        const inflater = createInflateRaw({ chunkSize: 64 * 1024 });
        inflater.on('data', (d: Buffer) => {
          n += d.length;
          if (n > e.size) {
            inflater.destroy();
            reject(new PackageError(`${this.label}: ${e.name}: inflates to more than its declared ${e.size} bytes`));
            return;
          }
          crc = crc32(d, crc);
        });
        inflater.on('end', resolve);
        inflater.on('error', (err) => reject(new PackageError(`${this.label}: ${e.name}: corrupt compressed data (${err.message})`)));
        inflater.end(raw);
      });
    }
    if (n !== e.size) this.fail(`${e.name}: holds ${n} bytes, its header declares ${e.size}`);
    if (crc !== e.crc32) this.fail(`${e.name}: CRC-32 mismatch (data ${hex8(crc)}, header ${hex8(e.crc32)}): the archive is corrupt`);
  }

  private fail(what: string): never {
    throw new PackageError(`${this.label}: ${what}`);
  }

  /** The end record is the last 22 bytes, or sits before a comment of the length it declares. */
  private findEocd(): number {
    const buf = this.buf;
    if (buf.length < EOCD_SIZE) this.fail(`${buf.length} bytes: too short to be a zip`);
    const lowest = Math.max(0, buf.length - EOCD_SIZE - 0xffff);
    for (let p = buf.length - EOCD_SIZE; p >= lowest; p--) {
      if (buf.readUInt32LE(p) !== SIG_EOCD) continue;
      if (p + EOCD_SIZE + buf.readUInt16LE(p + 20) !== buf.length) continue;
      const zip64 =
        (p >= 20 && buf.readUInt32LE(p - 20) === SIG_ZIP64_LOCATOR) ||
        buf.readUInt16LE(p + 10) === 0xffff ||
        buf.readUInt32LE(p + 12) === 0xffffffff ||
        buf.readUInt32LE(p + 16) === 0xffffffff;
      if (zip64) this.fail('a ZIP64 archive: not supported (a plug-in package is far below 4 GiB and 65535 entries)');
      return p;
    }
    return this.fail('no end-of-central-directory record: the file is truncated or not a zip');
  }

  private readCentralDirectory(offset: number, size: number, count: number): ZipEntry[] {
    const buf = this.buf;
    const end = offset + size;
    const entries: ZipEntry[] = [];
    let p = offset;
    for (let i = 0; i < count; i++) {
      if (p + CENTRAL_SIZE > end || buf.readUInt32LE(p) !== SIG_CENTRAL) {
        this.fail(`central directory entry ${i + 1} of ${count} is missing or damaged (offset ${p})`);
      }
      const madeByFlags = buf.readUInt16LE(p + 8);
      const method = buf.readUInt16LE(p + 10);
      const nameLen = buf.readUInt16LE(p + 28);
      const extraLen = buf.readUInt16LE(p + 30);
      const commentLen = buf.readUInt16LE(p + 32);
      const next = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
      if (next > end) this.fail(`central directory entry ${i + 1} runs past the directory's end`);
      const nameBytes = buf.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen);
      // Unflagged names are CP437 by the spec; the plug-in's are ASCII, where latin1 decodes the same.
      const name = nameBytes.toString(madeByFlags & FLAG_UTF8 ? 'utf8' : 'latin1');
      const what = `entry '${printable(name)}'`;
      const compressedSize = buf.readUInt32LE(p + 20);
      const sizeDeclared = buf.readUInt32LE(p + 24);
      const localHeaderOffset = buf.readUInt32LE(p + 42);
      if (compressedSize === 0xffffffff || sizeDeclared === 0xffffffff || localHeaderOffset === 0xffffffff) {
        this.fail(`${what} has ZIP64 sizes: not supported`);
      }
      if (buf.readUInt16LE(p + 34) !== 0) this.fail(`${what} starts on another disk: split archives are not supported`);
      if (madeByFlags & FLAG_ENCRYPTED) this.fail(`${what} is encrypted`);
      if (method !== 0 && method !== 8) this.fail(`${what} uses compression method ${method}; only stored (0) and deflated (8) are supported`);
      if (method === 0 && compressedSize !== sizeDeclared) {
        this.fail(`${what} is stored but declares ${compressedSize} bytes stored and ${sizeDeclared} unpacked`);
      }
      const externalAttrs = buf.readUInt32LE(p + 38);
      const extra = buf.subarray(p + CENTRAL_SIZE + nameLen, p + CENTRAL_SIZE + nameLen + extraLen);
      entries.push({
        name,
        method,
        crc32: buf.readUInt32LE(p + 16),
        compressedSize,
        size: sizeDeclared,
        externalAttrs,
        unixMode: externalAttrs >>> 16 || null,
        isDirectory: name.endsWith('/'),
        mtime: unixTimeOf(extra) ?? dosTime(buf.readUInt16LE(p + 14), buf.readUInt16LE(p + 12)),
        localHeaderOffset,
        dataOffset: this.localDataOffset(localHeaderOffset, nameBytes, method, compressedSize, what),
      });
      p = next;
    }
    if (p !== end) this.fail(`the central directory holds ${end - p} bytes after its ${count} declared entries`);
    return entries;
  }

  /** The local header must agree with the central one: a zip whose two views differ reads differently per tool. */
  private localDataOffset(off: number, nameBytes: Buffer, method: number, compressedSize: number, what: string): number {
    const buf = this.buf;
    if (off + LOCAL_SIZE > this.cdOffset || buf.readUInt32LE(off) !== SIG_LOCAL) {
      this.fail(`${what}: no local header at offset ${off}`);
    }
    const nameLen = buf.readUInt16LE(off + 26);
    const dataOffset = off + LOCAL_SIZE + nameLen + buf.readUInt16LE(off + 28);
    if (!buf.subarray(off + LOCAL_SIZE, off + LOCAL_SIZE + nameLen).equals(nameBytes)) {
      this.fail(`${what}: the local header names another file`);
    }
    if (buf.readUInt16LE(off + 8) !== method) this.fail(`${what}: the local header gives another compression method`);
    if (dataOffset + compressedSize > this.cdOffset) this.fail(`${what}: its data runs past the central directory (truncated?)`);
    return dataOffset;
  }

  /** Overlapping entries are the trick behind non-recursive zip bombs; a real archive never has them. */
  private checkNoOverlap(): void {
    const spans = this.entries
      .map((e) => ({ e, start: e.localHeaderOffset, end: e.dataOffset + e.compressedSize }))
      .sort((a, b) => a.start - b.start);
    for (let i = 1; i < spans.length; i++) {
      const [a, b] = [spans[i - 1]!, spans[i]!];
      if (b.start < a.end) this.fail(`entries '${printable(a.e.name)}' and '${printable(b.e.name)}' overlap`);
    }
  }
}

/** Control characters would garble a one-line message (and a terminal). */
export function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** DOS date and time carry no zone; unzip reads them as local time, so do we. */
function dosTime(date: number, time: number): Date {
  return new Date(1980 + (date >>> 9), ((date >>> 5) & 0xf) - 1, date & 0x1f, time >>> 11, (time >>> 5) & 0x3f, (time & 0x1f) * 2);
}

/** The "UT" extra field holds the true UTC mtime where the archiver wrote one; unzip prefers it too. */
function unixTimeOf(extra: Buffer): Date | null {
  for (let p = 0; p + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(p);
    const len = extra.readUInt16LE(p + 2);
    if (id === EXTRA_UNIX_TIME && len >= 5 && p + 9 <= extra.length && extra[p + 4]! & 1) {
      return new Date(extra.readInt32LE(p + 5) * 1000);
    }
    p += 4 + len;
  }
  return null;
}
