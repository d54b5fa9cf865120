import type { HostResult } from '../core/result.js';

/** A host reached with legacy SSH algorithms (allowed for it by the operator) is said so in every summary. */
export function legacySsh(h: HostResult): string | null {
  const l = h.ssh?.legacy ?? [];
  return l.length ? `ssh: reached with legacy algorithms ${l.join(', ')} (allowed for this host by its ssh args; upgrade its OpenSSH when you can)` : null;
}
