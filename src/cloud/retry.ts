import { CloudError } from './api.js';

/** How a call is retried: attempts and the wait before attempt n (full jitter, capped). */
export interface RetryPolicy {
  attempts: number;
  /** Wait before retry n (1-based), in ms. */
  delay(n: number): number;
  sleep?(ms: number): Promise<void>;
}

/** Exponential backoff with full jitter (0.5 s, 1 s, 2 s, … up to 10 s), six attempts in all. */
export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 6,
  delay: (n) => Math.random() * Math.min(10_000, 500 * 2 ** (n - 1)),
};

/** Throttling, a 5xx and a dropped connection pass; a 4xx is an answer (bad key, no permission) and does not. */
export function retriable(e: unknown): boolean {
  return e instanceof CloudError && (e.failure === 'throttled' || e.failure === 'server' || e.failure === 'network');
}

/** For a call that must not be made twice (a reboot): only a throttled request, which the API did not take, is sent again. */
export function notTaken(e: unknown): boolean {
  return e instanceof CloudError && e.failure === 'throttled';
}

export async function withRetry<T>(f: () => Promise<T>, p: RetryPolicy = DEFAULT_RETRY, again: (e: unknown) => boolean = retriable): Promise<T> {
  const sleep = p.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let n = 1; ; n++) {
    try {
      return await f();
    } catch (e) {
      if (n >= p.attempts || !again(e)) throw e;
      await sleep(p.delay(n));
    }
  }
}
