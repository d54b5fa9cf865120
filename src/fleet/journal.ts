import { closeSync, constants, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { UsageError } from '../errors.js';
import os from 'node:os';
import path from 'node:path';
import { UnsafeFileError, endsMidLine, openAppend } from '../files.js';

/**
 * The run's journal: one JSON object a line, appended and fsync'd per transition, so that after a crash,
 * SIGKILL or power cut the file says exactly how far every host got. Records hold states, step details from
 * the host and host names; each line also passes the run's redactor, as the log does, so a secret a host
 * echoes in a detail never reaches the file. Never opened through a symbolic link.
 */
export interface JournalRecord {
  t: string;
  run: string;
  host: string;
  state: string;
  detail?: string;
}

export function defaultJournalDir(): string {
  const base = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'resetpwd-fleet', 'runs');
}

/**
 * One process at a time per run: `<journal>.lock` holds the pid of the process writing the journal. A second
 * process (a `--resume` typed while the run still goes on in another terminal) is refused; a lock whose process
 * is gone (a kill -9, a crash) is taken over.
 */
function lockRun(journal: string): string {
  const lock = `${journal}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return lock;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new UnsafeFileError(`journal ${journal}: cannot lock it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      let pid = NaN;
      try {
        pid = Number(readFileSync(lock, 'utf8').trim());
      } catch {
        // unreadable: treated as stale below
      }
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new UsageError(`run journal ${journal} is in use by process ${pid} (the run is still going on); wait for it, or stop it first`);
      }
      rmSync(lock, { force: true });
    }
  }
  throw new UnsafeFileError(`journal ${journal}: cannot lock it (another process keeps taking the lock)`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class Journal {
  private fd: number | null;
  private lock: string | null = null;
  constructor(
    readonly file: string,
    readonly run: string,
    /** Scrubs secrets from each serialized line (the run's Redactor). */
    private readonly redact: (line: string) => string = (l) => l,
  ) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.lock = lockRun(file);
    try {
      this.fd = openAppend(file, 'journal');
    } catch (e) {
      this.unlock();
      throw e;
    }
    // A run killed mid-write leaves a torn last line: start on a fresh one, or the next record is lost with it.
    if (endsMidLine(this.fd)) writeSync(this.fd, '\n');
  }

  append(host: string, state: string, detail?: string): void {
    const rec: JournalRecord = { t: new Date().toISOString(), run: this.run, host, state, ...(detail ? { detail } : {}) };
    this.write(rec);
  }

  /** Any other record: the run header, a host's final result, the end of the run. */
  write(rec: object): void {
    if (this.fd === null) return;
    writeSync(this.fd, `${this.redact(JSON.stringify({ t: new Date().toISOString(), run: this.run, ...rec }))}\n`);
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.unlock();
  }

  private unlock(): void {
    if (this.lock) rmSync(this.lock, { force: true });
    this.lock = null;
  }
}
