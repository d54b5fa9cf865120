import { KnownHosts } from '../transport/known-hosts.js';
import type { Target } from '../inventory/target.js';
import { auditHost, type ConnectOptions } from './host.js';
import { summarize, type HostResult, type ResultDocument } from './result.js';

/** Runs fn over items with at most `limit` in flight (a sliding window, not batches); keeps input order. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** The library entry of `audit` and `status`: facts and checks for every target, in parallel. */
export async function runAudit(
  command: 'audit' | 'status',
  targets: Target[],
  o: ConnectOptions & { concurrency: number },
  onHost?: (h: HostResult) => void,
): Promise<ResultDocument> {
  const startedAt = new Date().toISOString();
  const knownHosts = new KnownHosts(o.knownHostsFile);
  const hosts = await pool(targets, o.concurrency, async (t) => {
    const { facts: _facts, ...r } = await auditHost(t, o, knownHosts);
    // `status` reports the plug-in, not the prerequisites: its outcome is about reaching the host.
    const h: HostResult = command === 'status' ? { ...r, checks: [], outcome: r.outcome === 'failed' && r.agent ? 'ok' : r.outcome } : r;
    onHost?.(h);
    return h;
  });
  return { command, startedAt, finishedAt: new Date().toISOString(), hosts, summary: summarize(hosts) };
}
