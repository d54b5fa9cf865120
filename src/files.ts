import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * The files the controller writes for the operator — reports, the run journal, the --log file — hold host
 * names, their weaknesses and the run's history. They live where other users may write (a shared /tmp, a
 * group-writable folder): so none of them is opened through a symbolic link (a planted link would make the
 * operator's root run overwrite or append to a file of the link's choosing), none is anything but a regular
 * file, and a report is replaced whole (temp file, fsync, rename) so a reader never sees half of one.
 */
export class UnsafeFileError extends Error {
  override name = 'UnsafeFileError';
}

const NOFOLLOW = constants.O_NOFOLLOW;

/** Refuses a path that exists as a symbolic link or as anything but a regular file; a missing one is fine. */
export function checkWritablePath(file: string, what: string): void {
  let st;
  try {
    st = lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new UnsafeFileError(`${what} ${file}: ${(e as Error).message}`);
  }
  if (st.isSymbolicLink()) throw new UnsafeFileError(`${what} ${file} is a symbolic link; it is not written through: give the real path`);
  if (!st.isFile()) throw new UnsafeFileError(`${what} ${file} is not a regular file; give a file path`);
}

/** Opens a file to append to (and read back), never through a symbolic link, created 0600 if missing. */
export function openAppend(file: string, what: string): number {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | NOFOLLOW, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new UnsafeFileError(`${what} ${file} is a symbolic link; it is not written through: give the real path`);
    throw new UnsafeFileError(`${what} ${file}: cannot open it (${code ?? (e as Error).message})`);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new UnsafeFileError(`${what} ${file} is not a regular file; give a file path`);
  }
  return fd;
}

/** Whether what an fd holds ends inside a line (a write torn by a kill or a power cut). */
export function endsMidLine(fd: number): boolean {
  const size = fstatSync(fd).size;
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  return last[0] !== 0x0a;
}

/**
 * Replaces `file` with `text` whole: written to a fresh temp file beside it (O_EXCL, no symlink followed,
 * 0600), fsync'd, renamed over it, and the folder fsync'd. A kill leaves the old file or the new one, never a
 * mix; a file hard-linked elsewhere is not changed through the link.
 */
export function writeFileAtomic(file: string, text: string | Buffer, what: string): void {
  checkWritablePath(file, what);
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
  } catch (e) {
    throw new UnsafeFileError(`${what} ${file}: cannot write in ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let open = true;
  try {
    const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    open = false;
    closeSync(fd);
    renameSync(tmp, file);
  } catch (e) {
    // Closed once only: the number may belong to another file by now.
    if (open) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // never created or already renamed
    }
    throw new UnsafeFileError(`${what} ${file}: cannot write it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  // The rename is durable only once the folder is: best effort (some filesystems refuse fsync on a folder).
  try {
    const d = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    // the file itself is complete either way
  }
}
