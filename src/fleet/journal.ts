import { closeSync, fsyncSync, mkdirSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { endsMidLine, openAppend } from '../files.js';

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

export class Journal {
  private fd: number | null;
  constructor(
    readonly file: string,
    readonly run: string,
    /** Scrubs secrets from each serialized line (the run's Redactor). */
    private readonly redact: (line: string) => string = (l) => l,
  ) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.fd = openAppend(file, 'journal');
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
  }
}
