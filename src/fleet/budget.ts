import { UsageError } from '../errors.js';

/**
 * The error budget (--max-errors N|N%): how many hosts may end failed, rolled back or unreachable before no
 * new host starts. `refused` hosts were not touched and do not count (SPEC, "Result document").
 */
export interface ErrorBudget {
  /** The number of errors allowed for a run of `total` hosts (Infinity: unlimited). */
  allowed(total: number): number;
  text: string;
}

export const UNLIMITED: ErrorBudget = { allowed: () => Infinity, text: 'unlimited' };

export function parseBudget(v: string): ErrorBudget {
  const m = /^(\d+)(%?)$/.exec(v.trim());
  if (!m) throw new UsageError(`--max-errors ${v}: give a number of hosts (3) or a percentage (5%)`);
  const n = Number(m[1]);
  if (m[2]) {
    if (n > 100) throw new UsageError(`--max-errors ${v}: a percentage is at most 100%`);
    return { allowed: (total) => Math.floor((total * n) / 100), text: `${n}%` };
  }
  return { allowed: () => n, text: String(n) };
}

/** Outcomes that spend the budget. */
export const COUNTS_AS_ERROR = new Set(['failed', 'rolled-back', 'unreachable']);
