import { createHash } from 'node:crypto';
import { PackageError } from './errors.js';
import type { PackageInfo } from './verify.js';
import { ZipReader, type ZipEntry } from './zip.js';

/**
 * The Linux part of a package as a POSIX ustar archive, for hosts without unzip: `tar -xf - -C DIR` yields
 * what `unzip -q ZIP -d DIR` gives for those folders (same paths, bytes, modes and mtimes), with the parent
 * folders the zip lists. Names over 100 bytes use the ustar prefix field, else a pax `path` record.
 */
export function linuxTar(zip: Buffer, info: PackageInfo): Buffer {
  if (zip.length !== info.size || createHash('sha256').update(zip).digest('hex') !== info.sha256) {
    throw new PackageError(`${info.fileName}: changed since it was verified`);
  }
  const reader = new ZipReader(zip, info.fileName);
  const roots = [info.linuxDir, info.updateLinuxDir].filter((d): d is string => d !== null).map((d) => `${d}/`);
  const members = new Map<string, ZipEntry>();
  for (const e of reader.entries) {
    if (!roots.some((r) => e.name.startsWith(r))) continue;
    members.set(e.name, e);
    const parts = e.name.split('/');
    // Parent folders the zip lists (the top folder above the Linux one) come along; folders it only implies
    // are left for tar to create, as unzip creates them: default mode, current time.
    for (let i = 1; i <= parts.length - (e.isDirectory ? 2 : 1); i++) {
      const parent = reader.find(`${parts.slice(0, i).join('/')}/`);
      if (parent) members.set(parent.name, parent);
    }
  }
  const out = new TarWriter();
  for (const e of [...members.values()].sort((a, b) => childrenFirst(a.name, b.name))) {
    if (e.isDirectory) out.add(e.name, '5', Buffer.alloc(0), modeOf(e, 0o755), e.mtime);
    else out.add(e.name, '0', reader.readEntry(e), modeOf(e, 0o644), e.mtime);
  }
  return out.finish();
}

/**
 * A folder after everything in it: writing into a folder changes its mtime, and busybox tar, unlike GNU tar,
 * does not defer setting folder times, so only this order leaves them as the zip has them.
 */
function childrenFirst(a: string, b: string): number {
  const [x, y] = [a.replace(/\/$/, '').split('/'), b.replace(/\/$/, '').split('/')];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  }
  return y.length - x.length;
}

/** Permission bits only: unzip drops setuid, setgid and sticky bits unless told otherwise, and so do we. */
function modeOf(e: ZipEntry, fallback: number): number {
  return e.unixMode ? e.unixMode & 0o777 : fallback;
}

const BLOCK = 512;

class TarWriter {
  private readonly chunks: Buffer[] = [];

  add(name: string, type: '0' | '5', data: Buffer, mode: number, mtime: Date): void {
    const seconds = Math.max(0, Math.floor(mtime.getTime() / 1000));
    const split = splitName(name);
    if (!split) {
      const record = paxRecord('path', name);
      this.push(header('PaxHeader/entry', 'x', record.length, 0o644, seconds, ''), record);
    }
    // Behind a pax record the ustar name is only a fallback for readers that ignore pax.
    const [prefix, base] = split ?? ['', name];
    this.push(header(base, type, data.length, mode, seconds, prefix), data);
  }

  finish(): Buffer {
    this.chunks.push(Buffer.alloc(2 * BLOCK));
    return Buffer.concat(this.chunks);
  }

  private push(head: Buffer, data: Buffer): void {
    this.chunks.push(head, data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad) this.chunks.push(Buffer.alloc(pad));
  }
}

/** [prefix, name] for ustar's 155 + 100 byte fields, split at a slash; null when the name does not fit. */
function splitName(name: string): [string, string] | null {
  const bytes = Buffer.byteLength(name);
  if (bytes <= 100) return ['', name];
  // The slash a directory name ends with stays on the name side, so search before it.
  for (let i = name.lastIndexOf('/', name.length - 2); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) > 155) continue;
    return Buffer.byteLength(rest) <= 100 && rest !== '' ? [prefix, rest] : null;
  }
  return null;
}

/** "<len> key=value\n", where len counts the whole record, its own digits included. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`);
}

function header(name: string, type: string, size: number, mode: number, mtime: number, prefix: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0); // uid, gid: root, as unzip run by root leaves them; a non-root extractor keeps its own
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.write(type, 156, 1, 'latin1');
  h.write('ustar\0' + '00', 257, 8, 'latin1');
  h.write(prefix, 345, 155, 'utf8');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

function octal(h: Buffer, at: number, len: number, n: number): void {
  h.write(`${n.toString(8).padStart(len - 1, '0')}\0`, at, len, 'latin1');
}
