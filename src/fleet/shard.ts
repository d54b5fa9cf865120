import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';

/**
 * --shard K/N: this controller's share of the fleet, for N controllers run side by side (e.g. a Kubernetes
 * Indexed Job with N completions, K = index + 1). A host belongs to shard 1 + (first 4 bytes of
 * SHA-256(name) mod N): stable across controllers and runs whatever the inventory's order, and even.
 */
export interface Shard {
  k: number;
  n: number;
}

export function parseShard(v: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  const k = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || n < 1 || k < 1 || k > n) throw new UsageError(`--shard ${v}: give K/N with 1 <= K <= N, e.g. 3/16`);
  return { k, n };
}

export function shardOf(name: string, n: number): number {
  return 1 + (createHash('sha256').update(name).digest().readUInt32BE(0) % n);
}

export function inShard<T extends { name: string }>(items: T[], s: Shard | undefined): T[] {
  return s ? items.filter((t) => shardOf(t.name, s.n) === s.k) : items;
}
