import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Journal } from '../../../src/fleet/journal.js';
import { HostMachine, TransitionError } from '../../../src/lifecycle/machine.js';

describe('HostMachine', () => {
  const journal = () => new Journal(path.join(mkdtempSync(path.join(os.tmpdir(), 'journal-')), 'runs', 'r1.jsonl'), 'r1');

  it('walks a successful update and journals every transition, one JSON object a line', () => {
    const j = journal();
    const m = new HostMachine('web-1', j);
    for (const s of ['connected', 'planned', 'staging', 'staged', 'launched', 'started', 'stopping', 'stopped', 'unregistered', 'setting-aside', 'set-aside', 'installing', 'installed', 'permissions', 'verified', 'boot', 'committed'] as const) m.to(s);
    m.finish('updated');
    j.close();
    const lines = readFileSync(j.file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(18);
    expect(lines[0]).toMatchObject({ run: 'r1', host: 'web-1', state: 'connected' });
    expect(lines.at(-1)).toMatchObject({ state: 'done', detail: 'updated' });
  });

  it('refuses an impossible report (installed before the old agent was set aside)', () => {
    const m = new HostMachine('web-1', null);
    for (const s of ['connected', 'planned', 'staging', 'staged', 'launched', 'started'] as const) m.to(s);
    expect(() => m.to('installed')).toThrow(TransitionError);
  });

  it('knows when the old install was touched: from stopping on, a failure must end in a rollback', () => {
    const m = new HostMachine('web-1', null);
    for (const s of ['connected', 'planned', 'staging', 'staged', 'launched', 'started'] as const) m.to(s);
    expect(m.touched()).toBe(false);
    m.to('stopping');
    expect(m.touched()).toBe(true);
    m.to('failed');
    m.to('rolling-back');
    m.finish('rolled-back');
    expect(m.state).toBe('done');
  });

  it('a change that died on the host can be found lost from any host-side state, then recovered', () => {
    const m = new HostMachine('web-1', null);
    for (const s of ['connected', 'planned', 'staging', 'staged', 'launched', 'started', 'stopping', 'stopped', 'unregistered', 'setting-aside', 'set-aside', 'installing', 'lost', 'done', 'connected', 'planned', 'staging', 'staged', 'launched', 'recovering', 'rolling-back'] as const) m.to(s);
    expect(m.state).toBe('rolling-back');
  });
});
