import type { ChangeDocument } from '../core/change.js';
import type { ChangeHostResult } from '../core/change.js';
import { renderByReason } from './by-reason.js';
import { legacySsh } from './legacy-ssh.js';
import { pad, printable } from './text.js';

function after(h: ChangeHostResult): string {
  const a = h.agent;
  if (!a) return '-';
  if (!a.installed) return a.updateAgent ? 'update agent only' : 'no agent';
  return [a.version ? `v${a.version}` : 'version ?', a.running ? 'running' : a.running === null ? 'running ?' : 'NOT running', a.mode ?? '', a.port ? `port ${a.port}` : '', a.log4j ? `log4j ${a.log4j}` : '']
    .filter(Boolean)
    .join(', ');
}

/** The human summary of update/install/uninstall: a row per host, then the plans (dry run) or what went wrong. */
export function renderChange(doc: ChangeDocument, dryRun: boolean): string {
  const nameW = Math.max(4, ...doc.hosts.map((h) => h.name.length));
  const lines: string[] = [];
  if (doc.package) lines.push(`package ${doc.package.fileName}: version ${doc.package.version ?? '?'}, ${doc.package.layout} layout, log4j ${doc.package.log4j ?? '?'}, ${doc.package.mode ?? '?'} mode, sha256 ${doc.package.sha256}`, '');
  lines.push([pad('host', nameW), pad(dryRun ? 'plan' : 'outcome', 16), dryRun ? 'now' : 'plug-in now'].join('  '));
  for (const h of doc.hosts) {
    const what = dryRun && h.plan ? h.plan.kind : h.outcome;
    lines.push([pad(h.name, nameW), pad(what, 16), h.reachable ? after(h) : '-'].join('  ').trimEnd());
  }
  const notes: string[] = [];
  for (const h of doc.hosts) {
    if (dryRun && h.plan) {
      notes.push(`  ${h.name}: ${h.plan.kind} (${h.plan.reason})`);
      for (const [i, s] of h.plan.steps.entries()) notes.push(`      ${i + 1}. ${s}`);
    }
    if (h.error && !(dryRun && h.plan)) notes.push(`  ${h.name}: ${h.outcome}: ${h.error}`);
    const legacy = legacySsh(h);
    if (legacy && !dryRun) notes.push(`  ${h.name}: ${legacy}`);
    if (h.reconnects > 0) notes.push(`  ${h.name}: the connection dropped during the change; the controller reconnected ${h.reconnects === 1 ? 'once' : `${h.reconnects} times`}`);
    else if (!dryRun && h.outcome === 'unchanged' && h.plan) notes.push(`  ${h.name}: unchanged: ${h.plan.reason}`);
  }
  if (notes.length) lines.push('', dryRun ? 'Plans (nothing was changed):' : 'Details:', ...notes);
  const by = new Map<string, number>();
  for (const h of doc.hosts) {
    const k = dryRun && h.outcome === 'skipped' && h.plan ? 'would change' : h.outcome;
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  lines.push('', `${doc.hosts.length} hosts: ${[...by].map(([k, v]) => `${v} ${k}`).join(', ')}`);
  if (doc.journal) lines.push(`journal: ${doc.journal}`);
  return printable(`${lines.join('\n')}\n${renderByReason(doc.hosts)}`);
}
