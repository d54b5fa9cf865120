import { addHost, groupOf, newInventory, setGroupVars, splitPort, type InventoryData, type Vars } from './model.js';
import { targetsOf } from './precedence.js';
import { InventoryError, expandRange, shown, type Target } from './target.js';
import type { VaultSecret } from './vault.js';
import { loadYaml, parseAnsibleYamlDoc, yamlValue } from './yaml-vars.js';

type YamlNode = import('yaml').Node;

/** Ansible YAML inventory as targets (its variables merged as Ansible merges them, with no vars files). */
export function parseAnsibleYaml(text: string, file: string): Target[] {
  return targetsOf([readAnsibleYaml(text, file, [])], { varsFiles: false });
}

/**
 * Ansible YAML inventory: all: { hosts, vars, children: { group: { hosts, vars, children } } }. Its shape is
 * checked as it is walked: `hosts`, `vars` and `children` are mappings (a list of hosts under `hosts:` is the
 * classic mistake, and would otherwise become hosts named "0" and "1"), and every error names the line.
 * `!vault` values are decrypted with the run's vault secrets.
 */
export function readAnsibleYaml(text: string, file: string, secrets: VaultSecret[]): InventoryData {
  const Y = loadYaml();
  const { doc, lineOf: lineAt } = parseAnsibleYamlDoc(text, file, secrets);
  const lineOf = (node: unknown): string => {
    const r = (node as YamlNode | null)?.range;
    return r ? `${file}:${lineAt(r[0])}` : file;
  };
  const top = doc.contents;
  if (!Y.isMap(top)) throw new InventoryError(`${lineOf(top)}: expected a mapping with "all:" or groups at the top`);

  const inv = newInventory(file);
  const keyOf = (k: unknown) => String(Y.isScalar(k) ? k.value : k);
  /** A mapping (or nothing) where one is needed; anything else is the operator's mistake, with its line. */
  const mapping = (given: unknown, what: string, fix: string) => {
    // An alias (`*common`) stands for the node it names.
    const node = Y.isAlias(given) ? given.resolve(doc) : given;
    if (node === null || node === undefined || (Y.isScalar(node) && node.value === null)) return null;
    if (Y.isMap(node)) return node;
    // Never the value itself: `h1: ansible_password=…` (an INI habit) would print a password.
    const kind = Y.isSeq(node) ? 'a list' : Y.isScalar(node) ? 'a single value' : 'not a mapping';
    throw new InventoryError(`${lineOf(given)}: ${what} must be a mapping, not ${kind}; ${fix}`);
  };
  const plain = (node: unknown): Vars => (yamlValue(doc, node, lineOf(node)) as Vars | null) ?? {};
  const walk = (group: string, node: unknown, parent: string | null): void => {
    if (group !== 'all') groupOf(inv, group);
    if (parent && parent !== 'all') groupOf(inv, parent).children.add(group);
    const g = mapping(node, `group ${group}`, 'give it hosts:, vars: or children:');
    if (!g) return;
    for (const item of g.items) {
      const k = keyOf(item.key);
      if (!['hosts', 'vars', 'children'].includes(k)) throw new InventoryError(`${lineOf(item.key)}: group ${group} has unknown key ${shown(k)} (hosts, vars, children)`);
    }
    const v = mapping(g.get('vars', true), `vars of group ${group}`, 'write each as "name: value" on its own line');
    if (v) setGroupVars(inv, group, plain(v), lineOf(v), (msg) => new InventoryError(msg));
    const hs = mapping(g.get('hosts', true), `hosts of group ${group}`, 'write each host as "name:" on its own line, with its variables under it (not "- name")');
    for (const item of hs?.items ?? []) {
      const { pattern, port } = splitPort(keyOf(item.key));
      const hv = mapping(item.value, `host ${shown(pattern)}`, 'give its variables as "name: value" lines under it, or nothing');
      const where = lineOf(item.key);
      const vars = { ...(port ? { ansible_port: port } : {}), ...(hv ? plain(hv) : {}) };
      for (const name of expandRange(pattern, where)) addHost(inv, name, where, vars, group === 'all' ? 'ungrouped' : group);
    }
    const ch = mapping(g.get('children', true), `children of group ${group}`, 'write each child group as "name:" on its own line');
    for (const item of ch?.items ?? []) walk(keyOf(item.key), item.value, group);
  };
  if (top.has('all')) walk('all', top.get('all', true), null);
  for (const item of top.items) {
    const g = keyOf(item.key);
    if (g !== 'all') walk(g, item.value, 'all');
  }
  return inv;
}
