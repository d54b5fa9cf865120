import { createRequire } from 'node:module';
import { InventoryError, expandRange, shown, toTarget, type Target } from './target.js';

type Yaml = typeof import('yaml');
type YamlNode = import('yaml').Node;

/**
 * Ansible YAML inventory: all: { hosts, vars, children: { group: { hosts, vars, children } } }. Its shape is
 * checked as it is walked: `hosts`, `vars` and `children` are mappings (a list of hosts under `hosts:` is the
 * classic mistake, and would otherwise become hosts named "0" and "1"), and every error names the line.
 */
export function parseAnsibleYaml(text: string, file: string): Target[] {
  // Required here, not imported: only a YAML inventory needs the parser, and every run pays for its load.
  const Y = createRequire(import.meta.url)('yaml') as Yaml;
  const lc = new Y.LineCounter();
  const doc = Y.parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new InventoryError(`${file}:${lc.linePos(e.pos[0]).line}: not valid YAML (${e.message.split("\n")[0]})`);
  }
  const lineOf = (node: unknown): string => {
    const r = (node as YamlNode | null)?.range;
    return r ? `${file}:${lc.linePos(r[0]).line}` : file;
  };
  const top = doc.contents;
  if (!Y.isMap(top)) throw new InventoryError(`${lineOf(top)}: expected a mapping with "all:" or groups at the top`);

  const hosts = new Map<string, { vars: Record<string, string>; groups: string[]; where: string }>();
  const order: string[] = [];
  const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v));
  const keyOf = (k: unknown) => String(Y.isScalar(k) ? k.value : k);
  /** A mapping (or nothing) where one is needed; anything else is the operator's mistake, with its line. */
  const mapping = (node: unknown, what: string, fix: string) => {
    if (node === null || node === undefined || (Y.isScalar(node) && node.value === null)) return null;
    if (Y.isMap(node)) return node;
    const kind = Y.isSeq(node) ? 'a list' : Y.isScalar(node) ? `${shown(String(node.value))}` : 'not a mapping';
    throw new InventoryError(`${lineOf(node)}: ${what} must be a mapping, not ${kind}; ${fix}`);
  };
  const plain = (node: unknown): Record<string, string> => {
    const out: Record<string, string> = {};
    const js = (node as YamlNode).toJSON() as Record<string, unknown>;
    for (const [k, v] of Object.entries(js ?? {})) out[k] = str(v);
    return out;
  };
  const walk = (group: string, node: unknown, inherited: Record<string, string>, lineage: string[]): void => {
    const g = mapping(node, `group ${group}`, 'give it hosts:, vars: or children:');
    if (!g) return;
    for (const item of g.items) {
      const k = keyOf(item.key);
      if (!['hosts', 'vars', 'children'].includes(k)) throw new InventoryError(`${lineOf(item.key)}: group ${group} has unknown key ${shown(k)} (hosts, vars, children)`);
    }
    const vars = { ...inherited };
    const v = mapping(g.get('vars', true), `vars of group ${group}`, 'write each as "name: value" on its own line');
    if (v) Object.assign(vars, plain(v));
    const hs = mapping(g.get('hosts', true), `hosts of group ${group}`, 'write each host as "name:" on its own line, with its variables under it (not "- name")');
    for (const item of hs?.items ?? []) {
      const pattern = keyOf(item.key);
      const hv = mapping(item.value, `host ${shown(pattern)}`, 'give its variables as "name: value" lines under it, or nothing');
      const where = lineOf(item.key);
      for (const name of expandRange(pattern, where)) {
        if (!hosts.has(name)) {
          hosts.set(name, { vars: {}, groups: [], where });
          order.push(name);
        }
        const h = hosts.get(name)!;
        h.vars = { ...h.vars, ...vars, ...(hv ? plain(hv) : {}) };
        h.groups = [...new Set([...h.groups, ...lineage, group])];
      }
    }
    const ch = mapping(g.get('children', true), `children of group ${group}`, 'write each child group as "name:" on its own line');
    for (const item of ch?.items ?? []) walk(keyOf(item.key), item.value, vars, [...lineage, group]);
  };
  const all = top.get('all', true);
  if (top.has('all')) walk('all', all, {}, []);
  for (const item of top.items) {
    const g = keyOf(item.key);
    if (g !== 'all') walk(g, item.value, {}, ['all']);
  }
  return order.map((name) => toTarget(name, hosts.get(name)!.vars, hosts.get(name)!.groups, hosts.get(name)!.where));
}
