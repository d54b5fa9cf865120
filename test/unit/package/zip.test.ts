import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../../src/package/crc32.js';
import { PackageError } from '../../../src/package/errors.js';
import { unsafeNameReason } from '../../../src/package/safety.js';
import { ZipReader } from '../../../src/package/zip.js';
import { centralRecord, flipBits, localData, pyZip, type ZipSpec, useTestDir } from './helpers.js';

const t = useTestDir('zip');

const noise = randomBytes(5000);
const SAMPLE: ZipSpec[] = [
  { name: 'top/', mode: 0o40755 },
  { name: 'top/run.sh', data: '#!/bin/sh\necho hi\n'.repeat(50), mode: 0o100755 },
  { name: 'top/stored.bin', data: noise, mode: 0o100600, stored: true },
  { name: 'top/empty', data: '' },
];

function sample(name: string, comment = ''): Buffer {
  return readFileSync(pyZip(path.join(t.dir, name), SAMPLE, comment));
}

function failureOf(buf: Buffer, read = false): string {
  try {
    const z = new ZipReader(buf, 'pkg.zip');
    if (read) for (const e of z.entries) z.readEntry(e);
  } catch (e) {
    if (e instanceof PackageError) return e.message;
    throw e;
  }
  throw new Error('expected a PackageError');
}

/** The same, through the streamed check verify uses (checkEntryData: 64 KiB at a time, never the entry whole). */
async function streamedFailureOf(buf: Buffer): Promise<string> {
  try {
    const z = new ZipReader(buf, 'pkg.zip');
    for (const e of z.entries) await z.checkEntryData(e);
  } catch (e) {
    if (e instanceof PackageError) return e.message;
    throw e;
  }
  throw new Error('expected a PackageError');
}

describe('crc32', () => {
  it('gives the standard check value for "123456789"', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
    // Continued over chunks, as the streamed check computes it.
    expect(crc32(Buffer.from('6789'), crc32(Buffer.from('12345')))).toBe(0xcbf43926);
  });
});

describe('ZipReader', () => {
  it('lists names, methods, sizes, unix modes and times as Python wrote them', () => {
    const buf = sample('sample.zip');
    buf.writeUInt32LE(0, centralRecord(buf, 'top/empty') + 38); // as a DOS-era archiver leaves it
    const z = new ZipReader(buf, 'sample.zip');
    expect(z.entries.map((e) => [e.name, e.method, e.size, e.unixMode, e.isDirectory])).toEqual([
      ['top/', 0, 0, 0o40755, true],
      ['top/run.sh', 8, 900, 0o100755, false],
      ['top/stored.bin', 0, 5000, 0o100600, false],
      ['top/empty', 8, 0, null, false],
    ]);
    expect(z.entries[1]!.compressedSize).toBeLessThan(900);
    expect(z.entries[1]!.mtime.getTime()).toBe(new Date(2024, 0, 1).getTime());
  });

  it('reads stored, deflated and empty entries back byte for byte', () => {
    const z = new ZipReader(sample('read.zip'), 'read.zip');
    expect(z.readEntry(z.find('top/run.sh')!).toString()).toBe('#!/bin/sh\necho hi\n'.repeat(50));
    expect(z.readEntry(z.find('top/stored.bin')!).equals(noise)).toBe(true);
    expect(z.readEntry(z.find('top/empty')!).length).toBe(0);
  });

  it('finds the end record behind a zip comment', () => {
    const z = new ZipReader(sample('comment.zip', 'x'.repeat(300)), 'comment.zip');
    expect(z.entries).toHaveLength(4);
  });

  it('names the file in every complaint, on one line', () => {
    expect(failureOf(Buffer.from('PK'))).toBe('pkg.zip: 2 bytes: too short to be a zip');
    expect(failureOf(randomBytes(4096))).toMatch(/^pkg\.zip: no end-of-central-directory record/);
  });

  it('refuses a truncated zip and one with bytes appended', () => {
    const buf = sample('cut.zip');
    expect(failureOf(buf.subarray(0, buf.length - 1))).toMatch(/no end-of-central-directory record: the file is truncated or not a zip/);
    expect(failureOf(Buffer.concat([buf, Buffer.from('trailing')]))).toMatch(/no end-of-central-directory record/);
    expect(failureOf(Buffer.concat([Buffer.from('prefix'), buf]))).toMatch(/does not end where the end record starts/);
  });

  it('refuses ZIP64 archives with a clear reason', () => {
    const buf = sample('zip64.zip');
    buf.writeUInt32LE(0xffffffff, buf.length - 22 + 16);
    expect(failureOf(buf)).toMatch(/a ZIP64 archive: not supported/);
  });

  it('refuses encrypted entries and compression methods other than stored and deflated', () => {
    const enc = sample('enc.zip');
    enc.writeUInt16LE(1, centralRecord(enc, 'top/run.sh') + 8);
    expect(failureOf(enc)).toMatch(/entry 'top\/run\.sh' is encrypted/);
    const bz = sample('bzip2.zip');
    bz.writeUInt16LE(12, centralRecord(bz, 'top/run.sh') + 10);
    expect(failureOf(bz)).toMatch(/entry 'top\/run\.sh' uses compression method 12/);
  });

  it('refuses a central record whose local header names another file', () => {
    const buf = sample('mismatch.zip');
    buf[localData(buf, 'top/stored.bin') - 5] = 0x78; // 'top/stored.bin' -> 'top/storex.bin' in the local header only
    expect(failureOf(buf)).toMatch(/entry 'top\/stored\.bin': the local header names another file/);
  });

  it('refuses overlapping entries, the trick of non-recursive zip bombs', () => {
    const buf = readFileSync(pyZip(path.join(t.dir, 'overlap.zip'), [{ name: 'a', data: 'x' }, { name: 'a', data: 'y' }]));
    const second = buf.lastIndexOf(Buffer.from('a')) - 46;
    buf.writeUInt32LE(0, second + 42);
    expect(failureOf(buf)).toMatch(/entries 'a' and 'a' overlap/);
  });

  it('checks each entry against its CRC-32 and declared size when reading it', () => {
    const flipped = sample('crc.zip');
    flipBits(flipped, localData(flipped, 'top/stored.bin') + 100);
    expect(failureOf(flipped, true)).toMatch(/pkg\.zip: top\/stored\.bin: CRC-32 mismatch \(data [0-9a-f]{8}, header [0-9a-f]{8}\)/);
    const small = sample('size.zip');
    small.writeUInt32LE(100, centralRecord(small, 'top/run.sh') + 24);
    expect(failureOf(small, true)).toMatch(/top\/run\.sh: inflates to more than its declared 100 bytes/);
    const big = sample('size2.zip');
    big.writeUInt32LE(2000, centralRecord(big, 'top/run.sh') + 24);
    expect(failureOf(big, true)).toMatch(/top\/run\.sh: holds 900 bytes, its header declares 2000/);
  });

  it('checks the same streamed, without holding an entry: CRC-32, more than declared (stopped there), less than declared', async () => {
    const flipped = sample('crc-s.zip');
    flipBits(flipped, localData(flipped, 'top/stored.bin') + 100);
    expect(await streamedFailureOf(flipped)).toMatch(/pkg\.zip: top\/stored\.bin: CRC-32 mismatch \(data [0-9a-f]{8}, header [0-9a-f]{8}\)/);
    const small = sample('size-s.zip');
    small.writeUInt32LE(100, centralRecord(small, 'top/run.sh') + 24);
    expect(await streamedFailureOf(small)).toMatch(/top\/run\.sh: inflates to more than its declared 100 bytes/);
    const big = sample('size2-s.zip');
    big.writeUInt32LE(2000, centralRecord(big, 'top/run.sh') + 24);
    expect(await streamedFailureOf(big)).toMatch(/top\/run\.sh: holds 900 bytes, its header declares 2000/);
    const z = new ZipReader(sample('ok-s.zip'), 'pkg.zip');
    for (const e of z.entries) await z.checkEntryData(e);
  });

  it('reports corrupt deflate data as such', () => {
    const buf = sample('deflate.zip');
    const at = buf.indexOf(Buffer.from('top/run.sh')) + 'top/run.sh'.length;
    buf.fill(0xff, at, at + 8);
    expect(failureOf(buf, true)).toMatch(/top\/run\.sh: (corrupt compressed data|CRC-32 mismatch|holds \d+ bytes)/);
  });
});

describe('unsafeNameReason', () => {
  it.each([
    ['a/b/c.txt', null],
    ['a/..b/c', null],
    ['../evil', "has a '..' segment"],
    ['a/../../evil', "has a '..' segment"],
    ['a\\..\\evil', "has a '..' segment"],
    ['/etc/passwd', 'is an absolute path'],
    ['\\Windows\\evil', 'is an absolute path'],
    ['C:evil', 'starts with a drive letter'],
    ['', 'has an empty name'],
    ['a\0b', 'has a NUL byte in its name'],
  ])('%j -> %s', (name, reason) => {
    expect(unsafeNameReason(name)).toBe(reason);
  });
});
