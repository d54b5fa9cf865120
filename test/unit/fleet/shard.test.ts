import { describe, expect, it } from 'vitest';
import { inShard, parseShard, shardOf } from '../../../src/fleet/shard.js';

describe('--shard K/N', () => {
  const hosts = Array.from({ length: 10_000 }, (_, i) => ({ name: `ecs-${i}` }));

  it('splits a fleet into N disjoint shards that together hold every host, evenly', () => {
    const shards = Array.from({ length: 8 }, (_, k) => inShard(hosts, { k: k + 1, n: 8 }));
    expect(shards.reduce((a, s) => a + s.length, 0)).toBe(hosts.length);
    expect(new Set(shards.flat().map((h) => h.name)).size).toBe(hosts.length);
    for (const s of shards) expect(Math.abs(s.length - 1250)).toBeLessThan(150);
  });

  it('gives a host the same shard whatever the inventory order (controllers agree without talking)', () => {
    expect(shardOf('ecs-42', 16)).toBe(shardOf('ecs-42', 16));
    const reversed = inShard([...hosts].reverse(), { k: 3, n: 8 }).map((h) => h.name).sort();
    expect(reversed).toEqual(inShard(hosts, { k: 3, n: 8 }).map((h) => h.name).sort());
  });

  it('refuses a malformed shard with the fix', () => {
    expect(parseShard('3/16')).toEqual({ k: 3, n: 16 });
    expect(() => parseShard('0/4')).toThrow(/--shard 0\/4: give K\/N with 1 <= K <= N/);
    expect(() => parseShard('5/4')).toThrow(/--shard 5\/4/);
    expect(() => parseShard('half')).toThrow(/--shard half/);
  });
});
