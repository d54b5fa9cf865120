import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The run's journal: one JSON object a line, appended and fsync'd per transition, so that after a crash,
 * SIGKILL or power cut the file says exactly how far every host got. Secrets never reach it: records hold
 * states, step details from the host and host names only.
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

export class Journal {
  private fd: number | null;
  constructor(
    readonly file: string,
    readonly run: string,
  ) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.fd = openSync(file, 'a', 0o600);
  }

  append(host: string, state: string, detail?: string): void {
    const rec: JournalRecord = { t: new Date().toISOString(), run: this.run, host, state, ...(detail ? { detail } : {}) };
    this.write(rec);
  }

  /** Any other record: the run header, a host's final result, the end of the run. */
  write(rec: object): void {
    if (this.fd === null) return;
    writeSync(this.fd, `${JSON.stringify({ t: new Date().toISOString(), run: this.run, ...rec })}\n`);
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
