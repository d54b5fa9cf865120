import { addHost, groupOf, newInventory, setGroupVars, type InventoryData, type Vars } from './model.js';
import { InventoryError, shown } from './target.js';
import { decryptVault, type VaultSecret } from './vault.js';

/**
 * The JSON of a dynamic inventory script's `--list` (and of `ansible-inventory --list`), read as Ansible's
 * script plugin reads it: every top-level key but `_meta` is a group — a list of hosts, or
 * `{ hosts: [...], vars: {...}, children: [...] }` —, and `_meta.hostvars` holds each host's variables. Without
 * `_meta`, `hostVars(name)` is asked per host (the script's `--host NAME`).
 */
export function readInventoryJson(text: string, where: string, hostVars?: (host: string) => Vars, secrets: VaultSecret[] = []): InventoryData {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    // Where, never what: the text around the error may be a password.
    const at = /position (\d+)/.exec((e as Error).message)?.[1];
    throw new InventoryError(`${where}: not the JSON of an inventory (${at !== undefined ? `invalid JSON at character ${at}` : 'invalid JSON'})`);
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new InventoryError(`${where}: the inventory JSON must be an object of groups`);
  const inv = newInventory(where);
  const obj = data as Record<string, unknown>;
  const meta = obj._meta as { hostvars?: unknown } | undefined;
  const metaVars = meta && typeof meta === 'object' && meta.hostvars && typeof meta.hostvars === 'object' ? (meta.hostvars as Record<string, unknown>) : null;
  const listOf = (v: unknown, what: string): string[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new InventoryError(`${where}: ${what} must be a list of names`);
    return v as string[];
  };
  const varsOf = (v: unknown, what: string): Vars => {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) throw new InventoryError(`${where}: ${what} must be an object of variables`);
    // ansible-inventory --list writes a !vault value as {"__ansible_vault": "<vault text>"}: opened here, in memory.
    const out: Vars = {};
    for (const [k, x] of Object.entries(v as Vars)) {
      const sealed = (x as { __ansible_vault?: unknown } | null)?.__ansible_vault;
      out[k] = typeof sealed === 'string' ? decryptVault(sealed, secrets, `${where} (${what}, ${k})`) : x;
    }
    return out;
  };
  for (const [group, body] of Object.entries(obj)) {
    if (group === '_meta') continue;
    const g = group === 'all' ? null : groupOf(inv, group);
    const spec = Array.isArray(body) ? { hosts: body } : body && typeof body === 'object' ? (body as Record<string, unknown>) : null;
    if (!spec) throw new InventoryError(`${where}: group ${shown(group)} must be a list of hosts or an object with hosts, vars, children`);
    for (const h of listOf(spec.hosts, `the hosts of group ${shown(group)}`)) addHost(inv, h, where, {}, group === 'all' ? 'ungrouped' : group);
    setGroupVars(inv, group, varsOf(spec.vars, `the vars of group ${shown(group)}`), where, (m) => new InventoryError(m));
    for (const c of listOf(spec.children, `the children of group ${shown(group)}`)) {
      groupOf(inv, c);
      if (g) g.children.add(c);
    }
  }
  for (const [name, h] of inv.hosts) {
    const v = metaVars ? varsOf(metaVars[name], `_meta.hostvars of ${shown(name)}`) : hostVars ? hostVars(name) : {};
    Object.assign(h.vars, v);
  }
  return inv;
}
