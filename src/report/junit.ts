import type { HostResult, ResultDocument } from '../core/result.js';
import { xmlAttr, xmlText } from './escape.js';
import { pad } from './text.js';
import {
  agentText, failingChecks, hostMs, osText, outcomeClass, planOf, runInfoOf, spanMs, txnOf, wouldChange,
} from './view.js';

/**
 * The result document as JUnit XML, for CI systems that show test reports (Jenkins, GitLab, Azure, …): one
 * testsuite per run, one testcase per host. Passing outcomes pass; failed, refused and rolled-back are
 * failures; unreachable is an error; skipped is skipped. Follows the common JUnit schema: testsuite with
 * name, tests, failures, errors, skipped, time and timestamp, then properties, then the testcases, each
 * with at most one of skipped, error or failure, then system-out.
 */
export function renderJunit(doc: ResultDocument): string {
  const classes = doc.hosts.map((h) => outcomeClass(h.outcome));
  const count = (c: string) => classes.filter((x) => x === c).length;
  const suite: [string, string][] = [
    ['name', `resetpwd-fleet ${doc.command}`],
    ['tests', String(doc.hosts.length)],
    ['failures', String(count('failure'))],
    ['errors', String(count('error'))],
    ['skipped', String(count('skipped'))],
    ['time', seconds(spanMs(doc.startedAt, doc.finishedAt))],
  ];
  // The schema's timestamp is a local date-time without zone or fraction; the run's times are UTC.
  const t0 = Date.parse(doc.startedAt);
  if (Number.isFinite(t0)) suite.push(['timestamp', new Date(t0).toISOString().slice(0, 19)]);
  const out = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuite ${attrs(suite)}>`, '  <properties>'];
  for (const [name, value] of properties(doc)) out.push(`    <property ${attrs([['name', name], ['value', value]])}/>`);
  out.push('  </properties>');
  for (const h of doc.hosts) out.push(...testcase(h));
  out.push('</testsuite>');
  return `${out.join('\n')}\n`;
}

function attrs(list: [string, string][]): string {
  return list.map(([k, v]) => `${k}="${xmlAttr(v)}"`).join(' ');
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

function properties(doc: ResultDocument): [string, string][] {
  const run = runInfoOf(doc);
  const p: [string, string][] = [['command', doc.command], ['startedAt', doc.startedAt], ['finishedAt', doc.finishedAt]];
  if (run.runId) p.push(['runId', run.runId]);
  if (run.journal) p.push(['journal', run.journal]);
  if (run.stopped) p.push(['stopped', `${run.stopped.reason}: ${run.stopped.detail}`]);
  if (run.package) {
    p.push(['package', run.package.fileName], ['package.sha256', run.package.sha256]);
    if (run.package.version) p.push(['package.version', run.package.version]);
  }
  return p;
}

function testcase(h: HostResult): string[] {
  const head = `  <testcase ${attrs([['classname', h.os?.id ?? h.transport], ['name', h.name], ['time', seconds(hostMs(h))]])}>`;
  const out = [head];
  const plan = planOf(h);
  switch (outcomeClass(h.outcome)) {
    case 'failure': {
      const failing = failingChecks(h).map((c) => c.id);
      const what = h.error ?? (failing.length ? failing.join(', ') : 'no reason given');
      out.push(`    <failure ${attrs([['message', `${h.outcome}: ${what}`], ['type', h.outcome]])}>${xmlText(failureBody(h))}</failure>`);
      break;
    }
    case 'error':
      out.push(`    <error ${attrs([['message', `${h.outcome}: ${h.error ?? 'no reason given'}`], ['type', h.outcome]])}>${xmlText(h.error ?? '')}</error>`);
      break;
    case 'skipped': {
      const why = wouldChange(h) && plan ? `would change (dry run): ${plan.kind}: ${plan.reason}` : (h.error ?? 'not attempted');
      out.push(`    <skipped ${attrs([['message', why]])}/>`);
      break;
    }
    case 'pass':
      break;
  }
  out.push(`    <system-out>${xmlText(systemOut(h))}</system-out>`, '  </testcase>');
  return out;
}

/** What a failure's body says: the error, the plan's reason, and each failing check with its detail. */
function failureBody(h: HostResult): string {
  const lines = [`outcome: ${h.outcome}`];
  if (h.error) lines.push(`error: ${h.error}`);
  const plan = planOf(h);
  if (plan && plan.reason !== h.error) lines.push(`plan: ${plan.kind}: ${plan.reason}`);
  const bad = h.checks.filter((c) => c.status === 'fail' || c.status === 'error');
  if (bad.length) lines.push('failing checks:', ...bad.map((c) => `  ${c.id}: ${c.status}: ${c.detail}`));
  return lines.join('\n');
}

/** The host's record as text: where, what runs there, the checks table, the plan, the timed steps. */
function systemOut(h: HostResult): string {
  const lines = [`host ${h.name} ${h.address}:${h.port} (${h.transport}), os ${osText(h)}${h.os?.arch ? ` ${h.os.arch}` : ''}, outcome ${h.outcome}`];
  if (h.serverId) lines.push(`cloud server id: ${h.serverId}`);
  if (h.agent) lines.push(`plug-in: ${agentText(h)}`);
  for (const f of h.agent?.findings ?? []) lines.push(`plug-in finding: ${f}`);
  if (h.checks.length) {
    const w = Math.max(...h.checks.map((c) => c.id.length));
    lines.push('checks:', ...h.checks.map((c) => `  ${pad(c.id, w)}  ${pad(c.status, 5)}  ${c.detail}`));
  }
  const plan = planOf(h);
  if (plan) {
    lines.push(`plan: ${plan.kind}: ${plan.reason}`, ...plan.steps.map((s, i) => `  ${i + 1}. ${s}`));
  }
  const txn = txnOf(h);
  if (txn) lines.push(`transaction: ${txn}`);
  if (h.steps.length) {
    const w = Math.max(...h.steps.map((s) => s.name.length));
    lines.push('steps:', ...h.steps.map((s) => `  ${pad(s.name, w)}  ${String(s.ms).padStart(7)} ms  ${s.ok ? 'ok' : 'FAILED'}`));
  }
  if (h.error) lines.push(`error: ${h.error}`);
  return lines.join('\n');
}
