import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Journal } from '../../../src/fleet/journal.js';
import { doneHosts, failedHosts, findRun, readRun } from '../../../src/fleet/runs.js';

/** Past runs are read back from their journals, including ones cut short by a kill. */
const host = (name: string, outcome: string) => ({ name, outcome, error: outcome === 'updated' ? null : 'x' });

describe('run journals', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runs-'));
  const j = new Journal(path.join(dir, 'r1.jsonl'), 'r1');
  j.write({ type: 'run', command: 'update', package: { fileName: 'p.zip', sha256: 'ab' }, hosts: ['a', 'b', 'c', 'd', 'e'] });
  j.append('a', 'connected');
  j.write({ type: 'result', host: 'a', result: host('a', 'updated') });
  j.write({ type: 'result', host: 'b', result: host('b', 'unreachable') });
  j.write({ type: 'result', host: 'e', result: host('e', 'skipped') });
  j.append('c', 'launched', 'm0c');
  j.write({ type: 'change', host: 'c', txn: 'm0c', outcome: 'updated' });
  j.append('c', 'set-aside');
  j.close();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  appendFileSync(path.join(dir, 'r1.jsonl'), '{"t":"2026-11-23T00:00:00Z","run":"r1","host":"d","sta'); // torn by SIGKILL

  it('reads a journal cut mid-line by a kill: header, results, each host\'s last state, interrupted', () => {
    const r = readRun(path.join(dir, 'r1.jsonl'));
    expect(r.header).toMatchObject({ command: 'update', hosts: ['a', 'b', 'c', 'd', 'e'] });
    expect(r.interrupted).toBe(true);
    expect(r.lastState.get('c')).toBe('set-aside');
    // The change a resume must follow to its end instead of starting another.
    expect(r.changes.get('c')).toEqual({ txn: 'm0c', outcome: 'updated' });
    expect(r.changes.has('a')).toBe(false);
    expect([...doneHosts(r)].sort()).toEqual(['a', 'b']);
    expect(failedHosts(r)).toEqual(['b']);
  });

  it('finds runs by id, by file, or the latest; an unknown id is a usage error naming the fix', () => {
    expect(findRun('r1', dir).id).toBe('r1');
    expect(findRun('latest', dir).id).toBe('r1');
    expect(findRun(path.join(dir, 'r1.jsonl')).id).toBe('r1');
    expect(() => findRun('nope', dir)).toThrow(/run nope: no journal .*runs list/);
  });

  it('a run whose end record says complete is not interrupted', () => {
    const k = new Journal(path.join(dir, 'r2.jsonl'), 'r2');
    k.write({ type: 'run', command: 'uninstall', package: null, hosts: ['a'] });
    k.write({ type: 'result', host: 'a', result: host('a', 'uninstalled') });
    k.write({ type: 'end', complete: true, stopped: null });
    k.close();
    expect(readRun(path.join(dir, 'r2.jsonl')).interrupted).toBe(false);
  });
});
