import type { HostResult, Outcome } from '../core/result.js';
import { failingChecks, isProblem } from './view.js';

/**
 * "By reason": the hosts that did not succeed, grouped by what went wrong, so a fleet of thousands reads as a
 * handful of causes. The reason is normalized: the failing check ids for a host refused (or an audit failed)
 * because of its prerequisites, otherwise the first clause of the error without the host's own name.
 */
export interface ReasonGroup {
  outcome: Outcome;
  reason: string;
  hosts: string[];
}

/** How many host names a group lists before "… and N more". */
export const NAMES_SHOWN = 20;

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The normalized reason of one host that did not succeed. */
export function reasonOf(h: HostResult): string {
  const failing = failingChecks(h).map((c) => c.id);
  if (h.outcome === 'refused' || (h.outcome === 'failed' && h.error === null)) {
    // A refusal names the checks it refused for ("disk-space: …; selinux: …"); a forced check is not one.
    const named = h.error === null ? failing : failing.filter((id) => new RegExp(`(^|; )${escapeRe(id)}: `).test(h.error!));
    if (named.length) return named.join(', ');
  }
  // A refused host key names its fingerprint, different on every host: the session layer's word groups them.
  if (h.failure === 'host-key-unknown') return 'host key not in known_hosts (host-key-unknown)';
  if (h.failure === 'host-key-changed') return 'HOST KEY CHANGED (host-key-changed)';
  if (h.error) return firstClause(h.error, h) || h.outcome;
  return h.outcome === 'skipped' ? 'not attempted' : h.outcome;
}

/**
 * The first clause of an error, without the place it names first ("web-1: ", "web-1 (192.0.2.10:22): "),
 * cut at the first "; ", " (" or line end, and with the host's name and address written as HOST.
 */
function firstClause(error: string, h: HostResult): string {
  const who = [h.name, h.address].filter(Boolean).map(escapeRe).join('|');
  let e = error.trim().replace(new RegExp(`^(?:${who})(?: \\([^)]*\\))?: `), '');
  e = e.split(/; | \(|\r?\n/)[0]!.replace(/[\s.:;,]+$/, '');
  for (const s of new Set([h.name, h.address])) if (s.length >= 3) e = e.split(s).join('HOST');
  return e;
}

/** The groups, largest first (ties in the order they first occur); hosts in document order. */
export function groupByReason(hosts: readonly HostResult[]): ReasonGroup[] {
  const groups = new Map<string, ReasonGroup>();
  for (const h of hosts) {
    if (!isProblem(h)) continue;
    const reason = reasonOf(h);
    const key = `${h.outcome}\u0000${reason}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { outcome: h.outcome, reason, hosts: [] }));
    g.hosts.push(h.name);
  }
  return [...groups.values()].sort((a, b) => b.hosts.length - a.hosts.length);
}

/**
 * The "By reason:" block the human summaries end with: a line per group (outcome, reason, count) and a line
 * of its host names, the first 20 and "… and N more". Empty when every host succeeded.
 */
export function renderByReason(hosts: readonly HostResult[]): string {
  const groups = groupByReason(hosts);
  if (!groups.length) return '';
  const lines = ['', 'By reason:'];
  for (const g of groups) {
    const n = g.hosts.length;
    const more = n > NAMES_SHOWN ? ` … and ${n - NAMES_SHOWN} more` : '';
    lines.push(`  ${g.outcome}: ${g.reason} (${n} host${n === 1 ? '' : 's'})`, `    ${g.hosts.slice(0, NAMES_SHOWN).join(', ')}${more}`);
  }
  return `${lines.join('\n')}\n`;
}
