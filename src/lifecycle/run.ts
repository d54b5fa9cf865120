import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ChangeDocument, ChangeHostResult } from '../core/change.js';
export type { ChangeDocument } from '../core/change.js';
import type { ChangeCommand } from '../core/plan.js';
import { skippedResult, summarize } from '../core/result.js';
import { UsageError } from '../errors.js';
import type { ErrorBudget } from '../fleet/budget.js';
import type { WaveSpec } from '../fleet/canary.js';
import { Journal, defaultJournalDir } from '../fleet/journal.js';
import { runFleet } from '../fleet/runner.js';
import { doneHosts, type RunRecord } from '../fleet/runs.js';
import type { Target } from '../inventory/target.js';
import { PackageError } from '../package/errors.js';
import { loadPackage } from '../package/load.js';
import type { ChangeKnobs } from '../platform/platform.js';
import { retryable } from '../session/failure.js';
import type { ConnectOptions } from '../session/options.js';
import { KnownHosts } from '../transport/known-hosts.js';
import { driveChange } from './drive.js';
import type { HostState } from './machine.js';

export interface ChangeRunOptions extends ConnectOptions {
  concurrency: number;
  /** The zip and its digest (update/install); verified before any host is contacted. */
  packagePath?: string | undefined;
  sha256?: string | undefined;
  reinstall: boolean;
  force: string[];
  dryRun: boolean;
  /** Where the run's journal goes (default ~/.local/state/resetpwd-fleet/runs/<run-id>.jsonl). */
  journalPath?: string | undefined;
  /** Scrubs secrets from each journal line (the run's Redactor). */
  redact?: ((line: string) => string) | undefined;
  settleSeconds: number;
  startWaitSeconds: number;
  onHost?: (h: ChangeHostResult) => void;
  onTransition?: (host: string, state: HostState, detail?: string) => void;
  onReconnect?: (host: string, attempt: number, error?: string) => void;
  waves?: WaveSpec | undefined;
  budget?: ErrorBudget | undefined;
  retries?: number | undefined;
  /** Aborted on SIGINT: no new host starts, hosts in flight finish. */
  signal?: AbortSignal | undefined;
  /** Continue this run: its finished hosts are not touched again, the rest are worked on. */
  resume?: RunRecord | undefined;
  onStart?: (hosts: number) => void;
  /** The run's id (default: a new one, or the resumed run's). */
  runId?: string | undefined;
  onWave?: (wave: number, of: number, size: number) => void;
  /** Knobs the lab and the tests turn (follow windows, back-off); a real run leaves them out. */
  knobs?: ChangeKnobs | undefined;
}

/** A run id: its start time (sortable) and a random suffix. */
export function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/**
 * The library entry of `update`, `install` and `uninstall`: package verified first (a bad one throws
 * PackageError having touched nothing), then every target changed in parallel, each transition journaled.
 */
export async function runChange(command: ChangeCommand, targetsIn: Target[], o: ChangeRunOptions): Promise<ChangeDocument> {
  let targets = targetsIn;
  const pkg = command === 'uninstall' ? null : o.packagePath ? await loadPackage(o.packagePath, o.sha256) : null;
  if (command !== 'uninstall' && !pkg) throw new PackageError(`${command} needs --package ZIP`);
  const startedAt = new Date().toISOString();
  const prior = o.resume;
  if (prior) {
    if (prior.header.command !== command) throw new UsageError(`--resume ${prior.id}: that run was \`${prior.header.command}\`, not \`${command}\``);
    if (prior.header.package && pkg && prior.header.package.sha256 !== pkg.info.sha256) {
      throw new UsageError(`--resume ${prior.id}: the run used ${prior.header.package.fileName} (${prior.header.package.sha256.slice(0, 16)}…), not this package; give the same --package`);
    }
    const names = new Set(targets.map((t) => t.name));
    const missing = prior.header.hosts.filter((h) => !names.has(h));
    if (missing.length) throw new UsageError(`--resume ${prior.id}: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ' …' : ''} not in the given inventory; give the run's inventory again`);
    const byName = new Map(targets.map((t) => [t.name, t]));
    targets = prior.header.hosts.map((h) => byName.get(h)!);
  }
  const runId = prior?.id ?? o.runId ?? newRunId();
  const journal = o.dryRun ? null : new Journal(prior?.file ?? o.journalPath ?? path.join(defaultJournalDir(), `${runId}.jsonl`), runId, o.redact);
  const knownHosts = new KnownHosts(o.knownHostsFile);
  const done = prior ? doneHosts(prior) : new Set<string>();
  const pending = targets.filter((t) => !done.has(t.name));
  try {
    journal?.write({
      type: 'run',
      command,
      package: pkg ? { fileName: pkg.info.fileName, sha256: pkg.info.sha256 } : null,
      hosts: targets.map((t) => t.name),
      ...(prior ? { resumed: true, pending: pending.length } : {}),
    });
    o.onStart?.(pending.length);
    const fleet = await runFleet(
      pending.length,
      async (i) => {
        const h = await driveChange(pending[i]!, {
          command,
          conn: o,
          knownHosts,
          pkg,
          plan: { reinstall: o.reinstall, force: o.force, settleSeconds: o.settleSeconds, pullUrl: o.pullUrl },
          pullUrl: o.pullUrl,
          stepTimeoutMs: o.stepTimeoutMs,
          knobs: o.knobs,
          dryRun: o.dryRun,
          journal,
          startWaitSeconds: o.startWaitSeconds,
          ...(o.onTransition ? { onTransition: o.onTransition } : {}),
          ...(o.onReconnect ? { onReconnect: o.onReconnect } : {}),
          resume: prior?.changes.get(pending[i]!.name),
        });
        return h;
      },
      {
        concurrency: o.concurrency,
        waves: o.waves,
        budget: o.budget,
        retries: o.retries,
        signal: o.signal,
        outcomeOf: (h) => h.outcome,
        retryable,
        ...(o.onWave ? { onWave: o.onWave } : {}),
        skipped: (i, why) => skippedHost(pending[i]!, why),
        // Every finished host is journaled with its result at once, so a crash loses nothing already done.
        onResult: (h: ChangeHostResult) => {
          journal?.write({ type: 'result', host: h.name, result: h });
          o.onHost?.(h);
        },
      },
    );
    const fresh = new Map(fleet.results.map((h) => [h.name, h]));
    const hosts = targets.map((t) => fresh.get(t.name) ?? (prior!.results.get(t.name) as ChangeHostResult));
    journal?.write({ type: 'end', complete: fleet.stopped === null, stopped: fleet.stopped });
    return {
      command,
      runId,
      journal: journal?.file ?? null,
      package: pkg ? { fileName: pkg.info.fileName, sha256: pkg.info.sha256, layout: pkg.info.layout, version: pkg.info.version, log4j: pkg.info.log4j, mode: pkg.info.mode } : null,
      startedAt,
      finishedAt: new Date().toISOString(),
      hosts,
      summary: summarize(hosts),
      stopped: fleet.stopped,
    };
  } finally {
    journal?.close();
  }
}

/** A host the run did not start (budget spent, interrupted): untouched, and said so. */
export function skippedHost(t: Target, why: string): ChangeHostResult {
  return { ...skippedResult(t, why), plan: null, txn: null, reconnects: 0 };
}
