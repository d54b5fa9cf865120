import path from 'node:path';
import type { InvGroup, InventoryData, Vars } from './model.js';
import { InventoryError, toTarget, type Target } from './target.js';
import type { VarsFiles } from './vars-files.js';

/**
 * Every host's variables merged as Ansible merges them (ansible-core's VariableManager with the default
 * VARIABLE_PRECEDENCE and hash_behaviour=replace), lowest first:
 *   1. the inventory's `all` group vars          4. group_vars/all beside the playbook (--playbook-dir)
 *   2. the inventory's other group vars          5. group_vars/<group> beside each inventory source
 *   3. group_vars/all beside each source         6. group_vars/<group> beside the playbook
 *   7. the inventory's host vars                 8. host_vars/<host> beside each source; 9. beside the playbook
 * Groups in order of depth (all = 0, its children 1, theirs 2…), then `ansible_group_priority`, then name: a
 * child group's value beats its parent's. Several sources are one inventory: a host or group named in two has
 * the variables of both, the later source's winning.
 */
export interface PrecedenceOptions {
  /** group_vars/ and host_vars/ beside each source (and the playbook folder); false: the inventory alone. */
  varsFiles: VarsFiles | false;
}

export function targetsOf(sources: InventoryData[], o: PrecedenceOptions): Target[] {
  const hosts = new Map<string, { vars: Vars; where: string }>();
  const groups = new Map<string, InvGroup>();
  for (const inv of sources) {
    for (const [name, h] of inv.hosts) {
      const seen = hosts.get(name);
      if (seen) Object.assign(seen.vars, h.vars);
      else hosts.set(name, { vars: { ...h.vars }, where: h.where });
    }
    for (const [name, g] of inv.groups) {
      const seen = groups.get(name);
      if (!seen) groups.set(name, { vars: { ...g.vars }, hosts: new Set(g.hosts), children: new Set(g.children), priority: g.priority });
      else {
        Object.assign(seen.vars, g.vars);
        for (const x of g.hosts) seen.hosts.add(x);
        for (const x of g.children) seen.children.add(x);
        if (g.priority !== 1) seen.priority = g.priority;
      }
    }
  }
  const parents = new Map<string, Set<string>>();
  for (const [name, g] of groups) for (const c of g.children) (parents.get(c) ?? parents.set(c, new Set()).get(c)!).add(name);
  const depths = new Map<string, number>([['all', 0]]);
  const depth = (g: string, trail: string[] = []): number => {
    const known = depths.get(g);
    if (known !== undefined) return known;
    if (trail.includes(g)) throw new InventoryError(`inventory: group ${g} is its own ancestor (${[...trail, g].join(' -> ')})`);
    const ps = [...(parents.get(g) ?? [])].filter((p) => p !== 'all');
    const d = ps.length ? 1 + Math.max(...ps.map((p) => depth(p, [...trail, g]))) : 1;
    depths.set(g, d);
    return d;
  };
  const ancestors = (g: string, out: Set<string>) => {
    for (const p of parents.get(g) ?? []) {
      if (!out.has(p)) {
        out.add(p);
        ancestors(p, out);
      }
    }
  };
  const groupsOf = (host: string): string[] => {
    // A host in any group is not "ungrouped", whatever its first mention said (as Ansible reconciles it).
    const direct = [...groups].filter(([n, g]) => n !== 'all' && n !== 'ungrouped' && g.hosts.has(host)).map(([n]) => n);
    const all = new Set(direct.length ? direct : ['ungrouped']);
    for (const g of [...all]) ancestors(g, all);
    all.delete('all');
    return [...all].sort((a, b) => depth(a) - depth(b) || (groups.get(a)?.priority ?? 1) - (groups.get(b)?.priority ?? 1) || (a < b ? -1 : a > b ? 1 : 0));
  };
  // The folders whose group_vars/ and host_vars/ apply: each source's own (a file's folder), in the order given —
  // a folder named again applies again there, as Ansible walks its sources.
  const perSource = sources.map((s) => s.source).filter((s, i, all) => all.indexOf(s) === i);
  const dirs = perSource.map((s) => (o.varsFiles && o.varsFiles.isDir(s) ? s : path.dirname(s)));
  const files = o.varsFiles;
  const fromDirs = (kind: 'group_vars' | 'host_vars', name: string, where: string[]): Vars =>
    files ? Object.assign({}, ...where.map((d) => files.load(d, kind, name))) : {};
  const play = files && files.playbookDir ? [files.playbookDir] : [];

  return [...hosts].map(([name, h]) => {
    const gs = groupsOf(name);
    const merged: Vars = { ...groups.get('all')?.vars };
    for (const g of gs) Object.assign(merged, groups.get(g)?.vars);
    Object.assign(merged, fromDirs('group_vars', 'all', dirs), fromDirs('group_vars', 'all', play));
    // Source by source, and within one source group by group in order (as the vars plugin walks them).
    for (const d of dirs) for (const g of gs) Object.assign(merged, fromDirs('group_vars', g, [d]));
    for (const g of gs) Object.assign(merged, fromDirs('group_vars', g, play));
    Object.assign(merged, h.vars, fromDirs('host_vars', name, dirs), fromDirs('host_vars', name, play));
    return toTarget(name, stringVars(merged), ['all', ...gs], h.where);
  });
}

/** YAML integers are read as BigInt (none rounded): in JSON, a number where it is exact, else its digits. */
const bigints = (_k: string, v: unknown) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v);

/**
 * Variables as the tool reads them: strings. Numbers and booleans as Ansible prints them, a mapping or a list
 * as JSON (the tool reads none of those: kept, unused); a null (YAML `~`, an empty value) is no value at all.
 */
export function stringVars(v: Vars): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null || x === undefined) continue;
    out[k] = typeof x === 'string' ? x : typeof x === 'number' || typeof x === 'bigint' ? String(x) : typeof x === 'boolean' ? (x ? 'True' : 'False') : JSON.stringify(x, bigints);
  }
  return out;
}
