import { describe, expect, it } from 'vitest';
import { Batcher } from '../../../src/cloud/batch.js';

/** Asks that arrive together share a call; a call never takes more than the API's limit; each ask gets its own answer. */
describe('Batcher', () => {
  const opts = { max: 1000, delayMs: 20, maxWaitMs: 200 };

  it('groups 2,500 asks of one key into calls of 1000, 1000 and 500, each ask answered with its own id\'s result', async () => {
    const calls: string[][] = [];
    const b = new Batcher<string>(opts, () => 'lost');
    const run = async (ids: string[]) => {
      calls.push(ids);
      return new Map(ids.map((id) => [id, `done ${id}`]));
    };
    const answers = await Promise.all(Array.from({ length: 2500 }, (_, i) => b.ask('k', `s${i}`, run)));
    expect(calls.map((c) => c.length)).toEqual([1000, 1000, 500]);
    expect(answers[1234]).toBe('done s1234');
  });

  it('keeps keys apart (another password is another call), and a call that throws answers every ask of it', async () => {
    const calls: string[][] = [];
    const b = new Batcher<string>(opts, (e) => `failed: ${(e as Error).message}`);
    const run = (fail: boolean) => async (ids: string[]) => {
      calls.push(ids);
      if (fail) throw new Error('refused');
      return new Map(ids.map((id) => [id, 'ok']));
    };
    const got = await Promise.all([b.ask('a', '1', run(false)), b.ask('b', '2', run(true)), b.ask('a', '3', run(false)), b.ask('b', '4', run(true))]);
    expect(got).toEqual(['ok', 'failed: refused', 'ok', 'failed: refused']);
    expect(calls.map((c) => c.join(',')).sort()).toEqual(['1,3', '2,4']);
  });

  it('an id the call does not answer for is not left waiting', async () => {
    const b = new Batcher<string>(opts, (e) => (e as Error).message);
    expect(await b.ask('k', 'x', async () => new Map())).toMatch(/the call said nothing of x/);
  });

  it('a steady trickle of asks still goes out by the longest wait', async () => {
    const calls: number[] = [];
    const b = new Batcher<string>({ max: 1000, delayMs: 30, maxWaitMs: 100 }, () => 'lost');
    const run = async (ids: string[]) => {
      calls.push(ids.length);
      return new Map(ids.map((id) => [id, 'ok']));
    };
    const asks: Promise<string>[] = [];
    for (let i = 0; i < 20; i++) {
      asks.push(b.ask('k', String(i), run));
      await new Promise((r) => setTimeout(r, 15));
    }
    await Promise.all(asks);
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.reduce((a, n) => a + n, 0)).toBe(20);
  });
});
