import { createRequire } from 'node:module';
import { InventoryError, expandRange, toTarget, type Target } from './target.js';

/** Ansible YAML inventory: all: { hosts, vars, children: { group: { hosts, vars, children } } }. */
export function parseAnsibleYaml(text: string, file: string): Target[] {
  // Required here, not imported: only a YAML inventory needs the parser, and every run pays for its load.
  const { parse, YAMLParseError } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    const pos = e instanceof YAMLParseError ? `:${e.linePos?.[0]?.line ?? '?'}` : '';
    throw new InventoryError(`${file}${pos}: not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  if (!doc || typeof doc !== 'object') throw new InventoryError(`${file}: expected a mapping with "all:" or groups at the top`);
  const hosts = new Map<string, { vars: Record<string, string>; groups: string[] }>();
  const order: string[] = [];
  const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v));
  const walk = (group: string, node: unknown, inherited: Record<string, string>, lineage: string[]): void => {
    if (node === null || node === undefined) return;
    if (typeof node !== 'object') throw new InventoryError(`${file}: group ${group} must be a mapping (hosts, vars, children)`);
    const g = node as Record<string, unknown>;
    for (const k of Object.keys(g)) {
      if (!['hosts', 'vars', 'children'].includes(k)) throw new InventoryError(`${file}: group ${group} has unknown key ${k} (hosts, vars, children)`);
    }
    const vars = { ...inherited };
    for (const [k, v] of Object.entries((g.vars as Record<string, unknown>) ?? {})) vars[k] = str(v);
    for (const [pattern, hv] of Object.entries((g.hosts as Record<string, unknown>) ?? {})) {
      for (const name of expandRange(pattern)) {
        if (!hosts.has(name)) {
          hosts.set(name, { vars: {}, groups: [] });
          order.push(name);
        }
        const h = hosts.get(name)!;
        const own: Record<string, string> = {};
        for (const [k, v] of Object.entries((hv as Record<string, unknown>) ?? {})) own[k] = str(v);
        h.vars = { ...h.vars, ...vars, ...own };
        h.groups = [...new Set([...h.groups, ...lineage, group])];
      }
    }
    for (const [child, cn] of Object.entries((g.children as Record<string, unknown>) ?? {})) walk(child, cn, vars, [...lineage, group]);
  };
  const top = doc as Record<string, unknown>;
  if ('all' in top) walk('all', top.all, {}, []);
  for (const [g, n] of Object.entries(top)) if (g !== 'all') walk(g, n, {}, ['all']);
  return order.map((name) => toTarget(name, hosts.get(name)!.vars, hosts.get(name)!.groups, file));
}
