import { UsageError } from '../errors.js';

/**
 * Rollout waves (--canary 1,5,20%): each entry is the size of one wave, as a host count or a percentage of
 * the run's hosts (at least 1); the hosts left after the listed waves form the last wave. A wave starts only
 * when the one before it has finished within the error budget.
 */
export type WaveSpec = ({ kind: 'count'; n: number } | { kind: 'percent'; p: number })[];

export function parseCanary(v: string): WaveSpec {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new UsageError(`--canary ${v}: give wave sizes separated by commas, e.g. 1,5,20%`);
  return parts.map((p) => {
    const m = /^(\d+)(%?)$/.exec(p);
    const n = m ? Number(m[1]) : NaN;
    if (!m || n < 1 || (m[2] && n > 100)) throw new UsageError(`--canary ${v}: '${p}' is not a wave size; use a host count (5) or a percentage (1% to 100%)`);
    return m[2] ? { kind: 'percent' as const, p: n } : { kind: 'count' as const, n };
  });
}

/** Splits `total` hosts into wave sizes; the sizes always add up to total. */
export function waveSizes(spec: WaveSpec, total: number): number[] {
  const sizes: number[] = [];
  let left = total;
  for (const w of spec) {
    if (left <= 0) break;
    const want = w.kind === 'count' ? w.n : Math.max(1, Math.ceil((total * w.p) / 100));
    const n = Math.min(want, left);
    sizes.push(n);
    left -= n;
  }
  if (left > 0) sizes.push(left);
  return sizes;
}
