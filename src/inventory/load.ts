import { readFileSync } from 'node:fs';
import { parseAnsibleIni } from './ansible-ini.js';
import { parseAnsibleYaml } from './ansible-yaml.js';
import { parseHostList, parseHostSpec, specVars } from './host-list.js';
import { applyLimit } from './limit.js';
import { InventoryError, toTarget, type Target } from './target.js';

export { InventoryError, type Target } from './target.js';

/** Reads an inventory file, recognising its format: YAML, Ansible INI, or a host list (host_list.txt). */
export function loadInventoryFile(file: string): Target[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InventoryError(`cannot read inventory ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const significant = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (/\.ya?ml$/i.test(file) || /^[A-Za-z_][\w-]*:\s*$/.test(significant[0] ?? '')) return parseAnsibleYaml(text, file);
  // host_list.txt's "IP,'password'" lines and plain "user@host:port" lists are not INI.
  const hostList = significant.some((l) => /^[^\s=\[]+\s*,/.test(l) || /^[^\s=\[]*@/.test(l) || /^[^\s=\[]+:\d+$/.test(l));
  return hostList ? parseHostList(text, file) : parseAnsibleIni(text, file);
}

export interface TargetOptions {
  inventory?: string[] | undefined;
  hosts?: string[] | undefined;
  limit?: string | undefined;
  user?: string | undefined;
}

/** All targets of a run: inventories and -H specs, narrowed by --limit. Duplicates keep the first. */
export function resolveTargets(o: TargetOptions): Target[] {
  const all: Target[] = [];
  for (const f of o.inventory ?? []) all.push(...loadInventoryFile(f));
  for (const h of o.hosts ?? []) {
    const s = parseHostSpec(h);
    all.push(toTarget(s.port && s.port !== 22 ? `${s.host}:${s.port}` : s.host, specVars(s), ['all'], '-H'));
  }
  if (all.length === 0) throw new InventoryError('no targets: give -i INVENTORY or -H [user@]host[:port]');
  const seen = new Set<string>();
  const unique = all.filter((t) => (seen.has(t.name) ? false : (seen.add(t.name), true)));
  const limited = o.limit ? applyLimit(unique, o.limit) : unique;
  if (limited.length === 0) throw new InventoryError(`--limit ${o.limit} matches no host of the ${unique.length} in the inventory`);
  return oneTargetPerAddress(limited).map((t) => (o.user && !t.vars.ansible_user ? { ...t, user: o.user } : t));
}

/** Two names for one server must not become two changes running on it at once: one target per address. */
export function oneTargetPerAddress(targets: Target[]): Target[] {
  const addrs = new Set<string>();
  return targets.filter((t) => (addrs.has(`${t.host}:${t.port}`) ? false : (addrs.add(`${t.host}:${t.port}`), true)));
}
