import { describe, expect, it } from 'vitest';
import { parseBudget } from '../../../src/fleet/budget.js';
import { parseCanary, waveSizes } from '../../../src/fleet/canary.js';
import { runFleet, type FleetOptions } from '../../../src/fleet/runner.js';

/** The fleet runner knows nothing of the plug-in: jobs here are fakes that end with a given outcome. */
type R = { i: number; outcome: string };
const base = (o: Partial<FleetOptions<R>> = {}): FleetOptions<R> => ({
  concurrency: 4, outcomeOf: (r) => r.outcome, skipped: (i) => ({ i, outcome: 'skipped' }), retryDelayMs: 1, ...o,
});
const tick = () => new Promise((r) => setTimeout(r, 1));

describe('runFleet', () => {
  it('keeps at most `concurrency` jobs in flight, starting a new one as soon as one ends (a sliding window)', async () => {
    let inFlight = 0;
    let peak = 0;
    const order: number[] = [];
    const { results } = await runFleet(20, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      order.push(i);
      await new Promise((r) => setTimeout(r, i === 0 ? 30 : 1)); // host 0 is slow: the others must not wait for it
      inFlight--;
      return { i, outcome: 'ok' };
    }, base({ concurrency: 4 }));
    expect(peak).toBe(4);
    expect(results.map((r) => r.i)).toEqual([...Array(20).keys()]);
    expect(order.indexOf(19)).toBeLessThan(20); // all started while host 0 still ran
  });

  it('stops starting hosts once the error budget is spent: in-flight ones finish, the rest are skipped', async () => {
    const fail = new Set([2, 3]);
    const { results, stopped } = await runFleet(10, async (i) => {
      await tick();
      return { i, outcome: fail.has(i) ? 'failed' : 'ok' };
    }, base({ concurrency: 1, budget: parseBudget('1') }));
    expect(results.map((r) => r.outcome)).toEqual(['ok', 'ok', 'failed', 'failed', ...Array(6).fill('skipped')]);
    expect(stopped).toMatchObject({ reason: 'budget' });
    expect(stopped?.detail).toMatch(/2 hosts failed or were unreachable, --max-errors 1 allows 1/);
  });

  it('a budget spent by the last hosts stopped nothing: every host was attempted, so the run is not "stopped"', async () => {
    const { results, stopped } = await runFleet(3, async (i) => ({ i, outcome: i === 2 ? 'unreachable' : 'ok' }), base({ concurrency: 1, budget: parseBudget('0') }));
    expect(results.map((r) => r.outcome)).toEqual(['ok', 'ok', 'unreachable']);
    expect(stopped).toBeNull();
  });

  it('counts failed, rolled-back and unreachable against the budget, never refused', async () => {
    const outcomes = ['refused', 'refused', 'rolled-back', 'unreachable', 'ok'];
    const { results, stopped } = await runFleet(5, async (i) => ({ i, outcome: outcomes[i]! }), base({ concurrency: 1, budget: parseBudget('1') }));
    expect(results.map((r) => r.outcome)).toEqual(['refused', 'refused', 'rolled-back', 'unreachable', 'skipped']);
    expect(stopped?.reason).toBe('budget');
  });

  it('takes a percentage budget of the run\'s hosts (rounded down)', () => {
    expect(parseBudget('10%').allowed(25)).toBe(2);
    expect(parseBudget('0').allowed(1000)).toBe(0);
    expect(() => parseBudget('ten')).toThrow(/--max-errors ten: give a number/);
    expect(() => parseBudget('120%')).toThrow(/at most 100%/);
  });

  it('runs canary waves one after another; a wave over budget stops the rollout before the next', async () => {
    const waves: number[][] = [];
    const started: number[] = [];
    const { results, stopped } = await runFleet(30, async (i) => {
      started.push(i);
      await tick();
      return { i, outcome: i === 3 ? 'failed' : 'ok' };
    }, base({ concurrency: 10, waves: parseCanary('1,5,20%'), budget: parseBudget('0'), onWave: (w, of, n) => waves.push([w, of, n]) }));
    expect(waves).toEqual([[1, 4, 1], [2, 4, 5]]);
    expect(started.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results.filter((r) => r.outcome === 'skipped')).toHaveLength(24);
    expect(stopped?.reason).toBe('budget');
  });

  it('splits hosts into the waves given, the rest in a last wave', () => {
    expect(waveSizes(parseCanary('1,5,20%'), 30)).toEqual([1, 5, 6, 18]);
    expect(waveSizes(parseCanary('1,5,20%'), 3)).toEqual([1, 2]);
    expect(waveSizes(parseCanary('50%'), 3)).toEqual([2, 1]);
    expect(() => parseCanary('1,,5')).toThrow(/--canary 1,,5/);
    expect(() => parseCanary('0')).toThrow(/'0' is not a wave size/);
  });

  it('retries only hosts that could not be reached, never one that failed while being changed', async () => {
    const attempts = new Map<number, number>();
    const { results } = await runFleet(2, async (i, attempt) => {
      attempts.set(i, attempt + 1);
      if (i === 0) return { i, outcome: attempt < 2 ? 'unreachable' : 'updated' };
      return { i, outcome: 'failed' };
    }, base({ retries: 3 }));
    expect(results.map((r) => r.outcome)).toEqual(['updated', 'failed']);
    expect(attempts.get(0)).toBe(3);
    expect(attempts.get(1)).toBe(1);
  });

  it('on interruption starts no new host, lets the ones in flight finish, and says so', async () => {
    const ac = new AbortController();
    const { results, stopped } = await runFleet(10, async (i) => {
      if (i === 2) ac.abort();
      await tick();
      return { i, outcome: 'updated' };
    }, base({ concurrency: 3, signal: ac.signal }));
    expect(results.slice(0, 3).map((r) => r.outcome)).toEqual(['updated', 'updated', 'updated']);
    expect(results.slice(3).every((r) => r.outcome === 'skipped')).toBe(true);
    expect(stopped).toMatchObject({ reason: 'interrupted' });
  });
});
