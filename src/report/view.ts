import { CHECK_IDS } from '../platform/index.js';
import type { CheckResult } from '../core/check.js';
import type { HostResult, Outcome, ResultDocument } from '../core/result.js';

/**
 * What every reporter reads from a result document besides its plain fields: how an outcome counts, which
 * checks fail, and the fields a change command adds (run id, journal, package, each host's plan) — read
 * structurally, so an audit document and a change document go through the same code.
 */

/** How an outcome counts in a report: passed, a failure (the host is at fault), an error (not reached), skipped. */
export type OutcomeClass = 'pass' | 'failure' | 'error' | 'skipped';

const CLASS: Record<Outcome, OutcomeClass> = {
  ok: 'pass', unchanged: 'pass', updated: 'pass', installed: 'pass', uninstalled: 'pass', reset: 'pass', requested: 'pass',
  failed: 'failure', refused: 'failure', 'rolled-back': 'failure',
  unreachable: 'error',
  skipped: 'skipped',
};

export function outcomeClass(o: Outcome): OutcomeClass {
  return CLASS[o];
}

/** Problems first, in the order an operator works them off, then the hosts that are fine. */
export const OUTCOME_ORDER: readonly Outcome[] = [
  'failed', 'rolled-back', 'refused', 'unreachable', 'skipped', 'updated', 'installed', 'uninstalled', 'unchanged', 'ok', 'requested', 'reset',
];

export interface PlanView {
  kind: string;
  reason: string;
  steps: string[];
}

export interface PackageView {
  fileName: string;
  sha256: string;
  version: string | null;
}

/** The plan of a change command's host (ChangeHostResult), null for an audit host or a host never planned. */
export function planOf(h: HostResult): PlanView | null {
  const p = (h as { plan?: PlanView | null }).plan;
  return p && typeof p.kind === 'string' ? p : null;
}

/** The host-side transaction id of a change command's host, when one ran. */
export function txnOf(h: HostResult): string | null {
  const t = (h as { txn?: unknown }).txn;
  return typeof t === 'string' ? t : null;
}

/**
 * The fields a run adds to the document where it has them: run id, journal and package (ChangeDocument), and
 * why the run stopped early (error budget, interrupt); null where the document has none.
 */
export function runInfoOf(doc: ResultDocument): {
  runId: string | null;
  journal: string | null;
  package: PackageView | null;
  stopped: { reason: string; detail: string } | null;
} {
  const d = doc as { runId?: unknown; journal?: unknown; package?: PackageView | null; stopped?: { reason: string; detail: string } | null };
  return {
    runId: typeof d.runId === 'string' ? d.runId : null,
    journal: typeof d.journal === 'string' ? d.journal : null,
    package: d.package && typeof d.package.sha256 === 'string' ? d.package : null,
    stopped: d.stopped && typeof d.stopped.reason === 'string' ? d.stopped : null,
  };
}

/** A dry run's "skipped" host with a plan is one that would change: not a problem. */
export function wouldChange(h: HostResult): boolean {
  return h.outcome === 'skipped' && planOf(h) !== null && h.error === null;
}

/** A host that did not succeed and was not a dry run's would-be change: what an operator must look at. */
export function isProblem(h: HostResult): boolean {
  return outcomeClass(h.outcome) !== 'pass' && !wouldChange(h);
}

/** Checks that fail (the ones that make an audit "failed" or a change "refused"). */
export function failingChecks(h: HostResult): CheckResult[] {
  return h.checks.filter((c) => c.status === 'fail');
}

/** Checks an operator should look at: fail, warn and error (could not be determined). */
export function problemChecks(h: HostResult): CheckResult[] {
  return h.checks.filter((c) => c.status === 'fail' || c.status === 'warn' || c.status === 'error');
}

/** The check ids of the document, as columns: the known ones in SPEC order, then any others as they come. */
export function checkColumns(doc: ResultDocument): string[] {
  const seen = new Set<string>();
  for (const h of doc.hosts) for (const c of h.checks) seen.add(c.id);
  const known = CHECK_IDS.filter((id) => seen.has(id));
  return [...known, ...[...seen].filter((id) => !known.includes(id))];
}

/** Milliseconds between two ISO times, 0 when either is missing or unreadable. */
export function spanMs(from: string, to: string): number {
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/** The time a host took: the sum of its timed steps. */
export function hostMs(h: HostResult): number {
  return h.steps.reduce((t, s) => t + s.ms, 0);
}

/** "os-id version" or "-": the column the human summary and the HTML page show. */
export function osText(h: HostResult): string {
  return h.os ? `${h.os.id ?? '?'} ${h.os.version ?? ''}`.trim() : '-';
}

/** One line of the plug-in's state: running, mode, port, version, log4j, update agent. */
export function agentText(h: HostResult): string {
  const a = h.agent;
  if (!a) return '';
  if (!a.installed) return a.updateAgent ? 'update agent only' : 'not installed';
  const parts = [a.running ? 'running' : a.running === null ? 'running ?' : 'STOPPED', a.mode ?? '?'];
  if (a.port) parts.push(`port ${a.port}`);
  if (a.version) parts.push(`v${a.version}`);
  if (a.log4j) parts.push(`log4j ${a.log4j}`);
  if (a.updateAgent) parts.push('+update agent');
  return parts.join(', ');
}
