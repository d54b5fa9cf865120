/**
 * An inventory source as Ansible holds it before any variable is merged: hosts with their own (inline) variables,
 * groups with theirs, their hosts and child groups, and the group priority (`ansible_group_priority`). Every
 * format (INI, YAML, a dynamic script's JSON) reads into this; precedence.ts merges it the way Ansible does.
 */
export type Vars = Record<string, unknown>;

export interface InvHost {
  vars: Vars;
  /** file:line of its first mention, for messages. */
  where: string;
}

export interface InvGroup {
  vars: Vars;
  hosts: Set<string>;
  children: Set<string>;
  /** ansible_group_priority (default 1): among groups of the same depth, the higher one's variables win. */
  priority: number;
}

export interface InventoryData {
  /** The file or folder it came from: its group_vars/ and host_vars/ sit beside it (in it, for a folder). */
  source: string;
  /** Hosts, in the order they first appear. */
  hosts: Map<string, InvHost>;
  groups: Map<string, InvGroup>;
}

export function newInventory(source: string): InventoryData {
  return { source, hosts: new Map(), groups: new Map() };
}

export function groupOf(inv: InventoryData, name: string): InvGroup {
  let g = inv.groups.get(name);
  if (!g) {
    g = { vars: {}, hosts: new Set(), children: new Set(), priority: 1 };
    inv.groups.set(name, g);
  }
  return g;
}

/** A host (created at its first mention), with more inline variables, in a group. */
export function addHost(inv: InventoryData, name: string, where: string, vars: Vars, group?: string): void {
  const h = inv.hosts.get(name);
  if (h) Object.assign(h.vars, vars);
  else inv.hosts.set(name, { vars: { ...vars }, where });
  if (group && group !== 'all') groupOf(inv, group).hosts.add(name);
}

/**
 * A group's variables. `ansible_group_priority` is not a variable: Ansible takes it as the group's priority
 * (set only from the inventory itself, never from group_vars files).
 */
export function setGroupVars(inv: InventoryData, group: string, vars: Vars, where: string, invalid: (msg: string) => Error): void {
  const g = groupOf(inv, group);
  for (const [k, v] of Object.entries(vars)) {
    if (k === 'ansible_group_priority') {
      const n = Number(v);
      if (!Number.isInteger(n)) throw invalid(`${where}: group ${group}: ansible_group_priority must be an integer`);
      g.priority = n;
    } else g.vars[k] = v;
  }
}

/**
 * A host pattern with a port, as Ansible's parse_address reads it: `web1:2222` and `[2001:db8::1]:2222` give the
 * name and `ansible_port`; a bare IPv6 address has no port.
 */
export function splitPort(pattern: string): { pattern: string; port?: string } {
  const v6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(pattern);
  if (v6) return { pattern: v6[1]!, port: v6[2]! };
  const m = /^([^:]+):(\d{1,5})$/.exec(pattern);
  return m ? { pattern: m[1]!, port: m[2]! } : { pattern };
}
