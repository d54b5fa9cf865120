import { KnownHosts } from '../transport/known-hosts.js';
import type { Target } from '../inventory/target.js';
import { runFleet } from '../fleet/runner.js';
import type { ErrorBudget } from '../fleet/budget.js';
import type { WaveSpec } from '../fleet/canary.js';
import { auditHost } from './host.js';
import { retryable } from '../session/failure.js';
import type { ConnectOptions } from '../session/options.js';
import { skippedResult, summarize, type HostResult, type ResultDocument } from '../core/result.js';

export interface AuditRunOptions extends ConnectOptions {
  concurrency: number;
  waves?: WaveSpec | undefined;
  budget?: ErrorBudget | undefined;
  retries?: number | undefined;
  signal?: AbortSignal | undefined;
  onWave?: (wave: number, of: number, size: number) => void;
}

/** The library entry of `audit` and `status`: facts and checks for every target, in parallel. */
export async function runAudit(
  command: 'audit' | 'status',
  targets: Target[],
  o: AuditRunOptions,
  onHost?: (h: HostResult) => void,
): Promise<ResultDocument & { stopped: { reason: string; detail: string } | null }> {
  const startedAt = new Date().toISOString();
  const knownHosts = new KnownHosts(o.knownHostsFile);
  const fleet = await runFleet(
    targets.length,
    async (i) => {
      const r = await auditHost(targets[i]!, o, knownHosts);
      // `status` reports the plug-in, not the prerequisites: its outcome is about reaching the host.
      return command === 'status' ? { ...r, checks: [], outcome: r.outcome === 'failed' && r.agent ? 'ok' : r.outcome } : r;
    },
    {
      concurrency: o.concurrency,
      waves: o.waves,
      budget: o.budget,
      retries: o.retries,
      signal: o.signal,
      outcomeOf: (h: HostResult) => h.outcome,
      retryable,
      skipped: (i, why) => skippedResult(targets[i]!, why),
      ...(onHost ? { onResult: onHost } : {}),
      ...(o.onWave ? { onWave: o.onWave } : {}),
    },
  );
  const hosts = fleet.results;
  return { command, startedAt, finishedAt: new Date().toISOString(), hosts, summary: summarize(hosts), stopped: fleet.stopped };
}
