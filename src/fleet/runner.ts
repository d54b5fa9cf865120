import { COUNTS_AS_ERROR, UNLIMITED, type ErrorBudget } from './budget.js';
import { waveSizes, type WaveSpec } from './canary.js';

/**
 * Runs one job per host, knowing nothing of the plug-in: a sliding window of `concurrency` jobs (a new host
 * starts as soon as one finishes, not in lockstep batches), in waves, within an error budget, with retries of
 * connection-level failures, and a stop signal (SIGINT). Once the budget is spent or a stop is asked for, no
 * new host starts; jobs in flight finish (a change is completed or rolled back, never abandoned); hosts not
 * started are `skipped`.
 */
export interface FleetOptions<R> {
  concurrency: number;
  waves?: WaveSpec | undefined;
  budget?: ErrorBudget | undefined;
  /** Extra attempts for a host whose job ended `unreachable` (it was never worked on). */
  retries?: number | undefined;
  retryDelayMs?: number | undefined;
  signal?: AbortSignal | undefined;
  outcomeOf: (r: R) => string;
  /** Whether a host's result is worth another attempt (default: its outcome is `unreachable`). */
  retryable?: ((r: R) => boolean) | undefined;
  /** What a host that was not started reports. */
  skipped: (index: number, why: string) => R;
  onWave?: (wave: number, of: number, size: number) => void;
  /** Each host's final result, as soon as it is known (after its retries). */
  onResult?: (r: R) => void;
}

export interface FleetResult<R> {
  results: R[];
  /** Why the run stopped early, or null when every host was attempted. */
  stopped: null | { reason: 'budget' | 'interrupted'; detail: string };
}

export async function runFleet<R>(count: number, job: (index: number, attempt: number) => Promise<R>, o: FleetOptions<R>): Promise<FleetResult<R>> {
  const results = new Array<R>(count);
  const budget = o.budget ?? UNLIMITED;
  const allowed = budget.allowed(count);
  let errors = 0;
  // A holder, not a let: TypeScript would narrow a closure-assigned variable to its initial null.
  const state: { stopped: FleetResult<R>['stopped'] } = { stopped: null };
  const stopCheck = () => {
    if (state.stopped) return true;
    if (o.signal?.aborted) state.stopped = { reason: 'interrupted', detail: 'interrupted: no new host was started; hosts in flight finished' };
    else if (errors > allowed) state.stopped = { reason: 'budget', detail: `error budget spent: ${errors} hosts failed or were unreachable, --max-errors ${budget.text} allows ${allowed}` };
    return state.stopped !== null;
  };
  const runOne = async (i: number): Promise<void> => {
    let r = await job(i, 0);
    const again = o.retryable ?? ((x: R) => o.outcomeOf(x) === 'unreachable');
    for (let a = 1; a <= (o.retries ?? 0) && again(r) && !o.signal?.aborted; a++) {
      await new Promise((res) => setTimeout(res, (o.retryDelayMs ?? 2000) * a));
      r = await job(i, a);
    }
    results[i] = r;
    o.onResult?.(r);
    if (COUNTS_AS_ERROR.has(o.outcomeOf(r))) errors++;
  };
  const sizes = o.waves ? waveSizes(o.waves, count) : [count];
  let start = 0;
  for (const [w, size] of sizes.entries()) {
    if (stopCheck()) break;
    if (size === 0) continue;
    o.onWave?.(w + 1, sizes.length, size);
    let next = start;
    const end = start + size;
    const worker = async () => {
      while (next < end && !stopCheck()) await runOne(next++);
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, size)) }, worker));
    start = end;
  }
  // Stopped early means hosts were left unstarted: a budget spent by the last hosts stopped nothing.
  let unstarted = false;
  for (let i = 0; i < count; i++) {
    if (results[i] !== undefined) continue;
    unstarted = true;
    stopCheck();
    results[i] = o.skipped(i, state.stopped?.detail ?? 'not started');
  }
  return { results, stopped: unstarted ? state.stopped : null };
}
