import { describe, expect, it } from 'vitest';
import type { HostResult } from '../../../src/core/result.js';
import { Progress } from '../../../src/report/progress.js';

/** Live progress: a bounded block on a terminal however many hosts; one plain line per host elsewhere. */
function sink() {
  const chunks: string[] = [];
  const out = { write: (s: string) => (chunks.push(s), true), columns: 100 } as unknown as NodeJS.WriteStream;
  return { out, text: () => chunks.join('') };
}
const host = (name: string, outcome: HostResult['outcome'], error: string | null = null): HostResult => ({
  name, address: name, port: 22, transport: 'ssh', reachable: true, os: null, checks: [], agent: null, outcome, steps: [], error,
});

describe('Progress', () => {
  it('without a terminal: one line per finished host, failures with their reason, waves only with --canary', () => {
    const s = sink();
    const p = new Progress(s.out, false);
    p.start(2, 'update');
    p.wave(1, 1, 2);
    p.step('a', 'installing');
    p.hostDone(host('a', 'updated'));
    p.hostDone(host('b', 'failed', 'the new agent does not run'));
    p.wave(2, 3, 5);
    p.stop();
    expect(s.text()).toMatch(/^update: 2 hosts\n\[1\/2\] a updated [\d.]+s\n\[2\/2\] b failed: the new agent does not run\nwave 2\/3: 5 hosts\n$/);
  });

  it('on a terminal stays a few lines at 5,000 hosts in flight: counts, rate, ETA, the most recent steps', () => {
    const s = sink();
    const p = new Progress(s.out, true);
    p.start(5000, 'update');
    for (let i = 0; i < 5000; i++) p.step(`h${i}`, i % 2 ? 'installing' : 'staging');
    p.hostDone(host('h1', 'failed', 'boom'));
    const last = s.text().split('\x1b[J').pop()!;
    // What follows the last clear: the failure, printed once above the block, then the block itself.
    const lines = last.trim().split('\n').filter((l) => !l.startsWith('h1: failed'));
    expect(lines.length).toBeLessThanOrEqual(8);
    expect(lines[0]).toMatch(/^1\/5000 done, 1 failed, 4999 in flight, 0 queued — [\d.]+ hosts\/s/);
    expect(last).toMatch(/… and 4993 more in flight/);
    expect(s.text()).toContain('h1: failed: boom');
    p.stop();
  });

  it('a dropped connection and the way back in are printed and shown as the host\'s step', () => {
    const s = sink();
    const p = new Progress(s.out, false);
    p.start(1, 'update');
    p.step('a', 'installing');
    p.reconnect('a', 0, 'a: the connection was lost');
    p.reconnect('a', 1, 'a: connection refused');
    p.reconnect('a', 2);
    p.hostDone(host('a', 'updated'));
    p.stop();
    expect(s.text()).toMatch(/a: connection lost \(a: the connection was lost\); the change goes on on the host, reconnecting\na: reconnected \(attempt 2\); following the change on\n\[1\/1\] a updated/);
  });

  it('scrubs secrets from what it shows', () => {
    const s = sink();
    const p = new Progress(s.out, false, (t) => t.replaceAll('hunter2', '[REDACTED]'));
    p.start(1, 'audit');
    p.hostDone(host('a', 'failed', 'sudo said hunter2'));
    expect(s.text()).not.toContain('hunter2');
  });
});
