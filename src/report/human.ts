import type { HostResult, ResultDocument } from '../core/result.js';
import { legacySsh } from './legacy-ssh.js';
import { renderByReason } from './by-reason.js';
import { pad, printable } from './text.js';
import { agentText, checkColumns, osText } from './view.js';

/** The human summary: one table row per host (checks and plug-in state), then what failed and why, by reason. */
const SYM: Record<string, string> = { pass: 'ok', warn: 'WARN', fail: 'FAIL', skip: '-', error: 'ERR' };

export function renderHuman(doc: ResultDocument): string {
  const withChecks = doc.command === 'audit';
  const cols = withChecks ? checkColumns(doc) : [];
  const nameW = Math.max(4, ...doc.hosts.map((h) => h.name.length));
  const osW = Math.max(2, ...doc.hosts.map((h) => osText(h).length));
  const head = [pad('host', nameW), pad('outcome', 11), pad('os', osW), ...cols.map((c) => pad(c, Math.max(c.length, 4))), 'plug-in'];
  const lines = [head.join('  ')];
  for (const h of doc.hosts) {
    const byId = new Map(h.checks.map((c) => [c.id, c.status]));
    lines.push(
      [
        pad(h.name, nameW),
        pad(h.outcome, 11),
        pad(osText(h), osW),
        ...cols.map((c) => pad(byId.has(c) ? SYM[byId.get(c)!]! : '', Math.max(c.length, 4))),
        h.error ? '' : agentText(h),
      ].join('  ').trimEnd(),
    );
  }
  const problems: string[] = [];
  for (const h of doc.hosts) {
    if (h.error) problems.push(`  ${h.name}: ${h.error}`);
    for (const c of h.checks) if (c.status === 'fail' || c.status === 'warn' || c.status === 'error') problems.push(`  ${h.name}: ${c.id} ${c.status}: ${c.detail}`);
    for (const f of h.agent?.findings ?? []) problems.push(`  ${h.name}: plug-in: ${f}`);
    const legacy = legacySsh(h);
    if (legacy) problems.push(`  ${h.name}: ${legacy}`);
  }
  if (problems.length) lines.push('', 'Findings:', ...problems);
  const s = doc.summary;
  lines.push('', `${s.total} hosts: ${s.ok} ok, ${s.failed} failed, ${s.unreachable} unreachable${s.skipped ? `, ${s.skipped} skipped` : ''}`);
  return printable(`${lines.join('\n')}\n${renderByReason(doc.hosts)}`);
}
