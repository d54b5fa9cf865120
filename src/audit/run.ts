import { KnownHosts } from '../transport/known-hosts.js';
import type { Target } from '../inventory/target.js';
import { runFleet } from '../fleet/runner.js';
import type { ErrorBudget } from '../fleet/budget.js';
import type { WaveSpec } from '../fleet/canary.js';
import { auditHostSeen } from './host.js';
import type { CloudView } from '../cloud/view.js';
import { retryable } from '../session/failure.js';
import type { ConnectOptions } from '../session/options.js';
import { skippedResult, summarize, type HostResult, type ResultDocument } from '../core/result.js';

export interface AuditRunOptions extends ConnectOptions, HostJobOptions {
  /** With --cloud: the cloud's verdicts join each host's row, and servers it says are stopped are not contacted. */
  cloud?: CloudView | undefined;
}

/** The library entry of `audit` and `status`: facts and checks for every target, in parallel. */
export async function runAudit(
  command: 'audit' | 'status',
  targets: Target[],
  o: AuditRunOptions,
  onHost?: (h: HostResult) => void,
): Promise<ResultDocument & { stopped: { reason: string; detail: string } | null }> {
  const knownHosts = new KnownHosts(o.knownHostsFile);
  return runHostJobs(command, targets, o, async (t) => {
    const r = o.cloud ? await withCloud(t, o, knownHosts, o.cloud, command === 'audit') : (await auditHostSeen(t, o, knownHosts)).result;
    // `status` reports the plug-in, not the prerequisites: its outcome is about reaching the host.
    return command === 'status' ? { ...r, checks: [], outcome: r.outcome === 'failed' && r.agent ? 'ok' : r.outcome } : r;
  }, onHost);
}

/** How a read-mostly command's hosts are run: the fleet runner's window, waves, budget, retries and stop. */
export interface HostJobOptions {
  concurrency: number;
  waves?: WaveSpec | undefined;
  budget?: ErrorBudget | undefined;
  retries?: number | undefined;
  signal?: AbortSignal | undefined;
  onWave?: (wave: number, of: number, size: number) => void;
}

/** One job per target on the fleet runner, each giving the host's row; the result document around them. */
export async function runHostJobs(
  command: string,
  targets: Target[],
  o: HostJobOptions,
  job: (t: Target) => Promise<HostResult>,
  onHost?: (h: HostResult) => void,
): Promise<ResultDocument & { stopped: { reason: string; detail: string } | null }> {
  const startedAt = new Date().toISOString();
  const fleet = await runFleet(targets.length, (i) => job(targets[i]!), {
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
  });
  const hosts = fleet.results;
  return { command, startedAt, finishedAt: new Date().toISOString(), hosts, summary: summarize(hosts), stopped: fleet.stopped };
}

/**
 * One host's row with the cloud's side merged in: the in-guest audit (unless the cloud says the server is not
 * running: then it is not contacted, and the row says what the cloud knows), then the cloud checks (the flag's
 * verdict depends on what the host has).
 */
async function withCloud(t: Target, o: AuditRunOptions, knownHosts: KnownHosts, cloud: CloudView, checking: boolean): Promise<HostResult> {
  const server = cloud.serverOf(t);
  const serverId = server ? { serverId: server.id } : {};
  const why = cloud.notContacted(t);
  if (why) {
    const checks = checking ? await cloud.checks(t, { agent: null, serverId: null, reached: false }) : [];
    return { ...skippedResult(t, why), ...serverId, checks, outcome: 'unreachable', error: why, failure: 'not-running' };
  }
  const audit = auditHostSeen(t, o, knownHosts);
  // The flag does not depend on the host; its verdict does (installed or not), so it waits for the audit.
  const seen = await audit;
  // `status` reports the plug-in only: the cloud's checks are not asked for.
  if (!checking) return { ...seen.result, ...serverId };
  const checks = await cloud.checks(t, { agent: seen.result.agent, serverId: seen.serverId, reached: seen.result.reachable && seen.result.os !== null });
  const r = seen.result;
  const all = [...r.checks, ...checks];
  const outcome = r.outcome === 'ok' || r.outcome === 'failed' ? (all.some((c) => c.status === 'fail') ? 'failed' : 'ok') : r.outcome;
  return { ...r, ...serverId, checks: all, outcome };
}
