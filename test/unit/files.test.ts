import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { linkSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExitCode, exitCodeOf } from '../../src/errors.js';
import { Journal } from '../../src/fleet/journal.js';
import { readRun } from '../../src/fleet/runs.js';
import { createLogger, Redactor } from '../../src/log.js';
import { writeReport } from '../../src/report/reporter.js';
import { auditDoc } from './report/sample.js';

/**
 * The operator's files — reports, run journals, the --log file — where other users may write: a planted
 * symbolic link is never written through, a report is replaced whole, a resumed journal does not lose its
 * next record to a line torn by a kill, and a secret a host echoes never reaches the journal.
 */
const tmp = mkdtempSync(path.join(os.tmpdir(), 'files-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A file another user's link points at: what a root run must not overwrite or append to. */
function victim(name: string): string {
  const f = path.join(tmp, name);
  writeFileSync(f, 'precious\n');
  return f;
}
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected it to throw');
}

describe('--report', () => {
  it('is not written through a symbolic link: refused as bad input (exit 2), the link\'s target untouched', () => {
    const target = victim('shadow-r');
    const link = path.join(tmp, 'report.json');
    symlinkSync(target, link);
    const e = thrown(() => writeReport(link, auditDoc()));
    expect(e.message).toBe(`--report ${link} is a symbolic link; it is not written through: give the real path`);
    expect(exitCodeOf(e)).toBe(ExitCode.Usage);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
  });

  it('is replaced whole (temp file and rename): a file hard-linked to the old report keeps its content, no temp file is left', () => {
    const dir = mkdtempSync(path.join(tmp, 'atomic-'));
    const report = path.join(dir, 'r.json');
    writeFileSync(report, 'old report\n', { mode: 0o644 });
    linkSync(report, path.join(dir, 'other-link'));
    writeReport(report, auditDoc());
    expect(JSON.parse(readFileSync(report, 'utf8')).command).toBe('audit');
    expect(statSync(report).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(dir, 'other-link'), 'utf8')).toBe('old report\n');
    expect(readdirSync(dir).sort()).toEqual(['other-link', 'r.json']);
  });
});

describe('the run journal', () => {
  it('is not opened through a symbolic link', () => {
    const target = victim('shadow-j');
    const link = path.join(tmp, 'run.jsonl');
    symlinkSync(target, link);
    const e = thrown(() => new Journal(link, 'r1'));
    expect(e.message).toBe(`journal ${link} is a symbolic link; it is not written through: give the real path`);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
  });

  it('resumed after a kill that tore its last line: the next record starts a line of its own and is read back', () => {
    const file = path.join(tmp, 'torn.jsonl');
    const j = new Journal(file, 'r1');
    j.write({ type: 'run', command: 'update', package: null, hosts: ['a', 'b'] });
    j.close();
    writeFileSync(file, `${readFileSync(file, 'utf8')}{"t":"2026-12-03T00:00:00Z","run":"r1","host":"a","sta`); // SIGKILL mid-write
    const k = new Journal(file, 'r1');
    k.write({ type: 'result', host: 'b', result: { name: 'b', outcome: 'updated' } });
    k.close();
    expect(readRun(file).results.get('b')).toMatchObject({ outcome: 'updated' });
  });

  it('is written by one process at a time: a run still going on is refused to a second one; a dead one\'s lock is taken over', () => {
    const file = path.join(tmp, 'locked.jsonl');
    const j = new Journal(file, 'r1');
    // The same run opened again while it is open (as a --resume typed in another terminal would).
    const e = thrown(() => new Journal(file, 'r1'));
    expect(e.message).toBe(`run journal ${file} is in use by process ${process.pid} (the run is still going on); wait for it, or stop it first`);
    expect(exitCodeOf(e)).toBe(ExitCode.Usage);
    j.close();
    expect(readdirSync(tmp).filter((f) => f.startsWith('locked.jsonl.'))).toEqual([]);
    // A run killed with SIGKILL leaves its lock behind, naming a process that is gone.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(`${file}.lock`, `${gone}\n`);
    const k = new Journal(file, 'r1');
    k.close();
    expect(readdirSync(tmp).filter((f) => f.startsWith('locked.jsonl.'))).toEqual([]);
  });

  it('passes every line through the run\'s redactor', () => {
    const file = path.join(tmp, 'secret.jsonl');
    const r = new Redactor(['Hunter2-Pa55', 'quote"d-Secret']);
    const j = new Journal(file, 'r1', (l) => r.redact(l));
    j.append('a', 'failed', 'sudo said: Hunter2-Pa55 is wrong');
    j.write({ type: 'result', host: 'a', result: { error: 'echoed quote"d-Secret' } });
    j.close();
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/Hunter2-Pa55|quote\\"d-Secret|quote"d-Secret/);
    expect(text).toContain('[REDACTED]');
  });
});

describe('--log', () => {
  it('is not opened through a symbolic link', () => {
    const target = victim('shadow-l');
    const link = path.join(tmp, 'run.log');
    symlinkSync(target, link);
    const e = thrown(() => createLogger({ file: link, redactor: new Redactor([]) }));
    expect(e.message).toBe(`--log ${link} is a symbolic link; it is not written through: give the real path`);
    expect(exitCodeOf(e)).toBe(ExitCode.Usage);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
  });

  it('appends to a file of its own', () => {
    const file = path.join(tmp, 'own.log');
    const log = createLogger({ file, redactor: new Redactor(['Hunter2-Pa55']) });
    log.info({ detail: 'Hunter2-Pa55' }, 'step');
    log.flush();
    expect(readFileSync(file, 'utf8')).toMatch(/"detail":"\[REDACTED\]"/);
  });
});
