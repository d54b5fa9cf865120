import { InventoryError, expandRange, toTarget, type Target } from './target.js';

/** Ansible INI inventory: [group], [group:vars], [group:children], host lines with key=value vars, ranges. */
export function parseAnsibleIni(text: string, file: string): Target[] {
  const hostVars = new Map<string, Record<string, string>>();
  const hostOrder: string[] = [];
  const groupHosts = new Map<string, Set<string>>();
  const groupVars = new Map<string, Record<string, string>>();
  const children = new Map<string, Set<string>>();
  const hostLine = new Map<string, number>();
  let section: { group: string; kind: 'hosts' | 'vars' | 'children' } = { group: 'ungrouped', kind: 'hosts' };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const line = raw.replace(/^\s+|\s+$/g, '');
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const head = /^\[([^\]:]+)(?::(vars|children))?\]$/.exec(line);
    if (head) {
      section = { group: head[1]!, kind: (head[2] as 'vars' | 'children') ?? 'hosts' };
      if (!groupHosts.has(section.group)) groupHosts.set(section.group, new Set());
      return;
    }
    if (line.startsWith('[')) throw new InventoryError(`${where}: bad section header ${line} (write [group], [group:vars] or [group:children])`);
    if (section.kind === 'vars') {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
      // The line is not echoed: it may hold a password.
      if (!m) throw new InventoryError(`${where}: expected key=value in [${section.group}:vars] (a value with spaces needs quotes)`);
      groupVars.set(section.group, { ...groupVars.get(section.group), [m[1]!]: unquote(m[2]!) });
      return;
    }
    if (section.kind === 'children') {
      if (!children.has(section.group)) children.set(section.group, new Set());
      children.get(section.group)!.add(line.split(/\s+/)[0]!);
      return;
    }
    const [first, ...rest] = splitWords(raw, where);
    const pattern = first!.text;
    const vars: Record<string, string> = {};
    let previous = '';
    for (const w of rest) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(w.text);
      // Named by its column and the variable before it, never echoed: it is often the rest of a password.
      if (!m) throw new InventoryError(`${where}:${w.column}: expected key=value${previous ? ` after ${previous}=` : ' after the host name'} (a value with spaces needs quotes)`);
      vars[m[1]!] = unquote(m[2]!);
      previous = m[1]!;
    }
    for (const name of expandRange(pattern, where)) {
      if (!hostVars.has(name)) {
        hostOrder.push(name);
        hostLine.set(name, i + 1);
      }
      hostVars.set(name, { ...hostVars.get(name), ...vars });
      groupHosts.get(section.group)?.add(name) ?? groupHosts.set(section.group, new Set([name]));
    }
  });
  for (const [g, kids] of children) {
    for (const k of kids) if (!groupHosts.has(k)) throw new InventoryError(`${file}: group ${g} lists child group ${k}, which is not defined`);
  }
  // Group membership through children, and vars from the most general group to the host's own.
  const groupsOf = (host: string): string[] => {
    const direct = [...groupHosts].filter(([, hs]) => hs.has(host)).map(([g]) => g);
    const all = new Set(direct);
    let grew = true;
    while (grew) {
      grew = false;
      for (const [parent, kids] of children) {
        if (!all.has(parent) && [...kids].some((k) => all.has(k))) {
          all.add(parent);
          grew = true;
        }
      }
    }
    return [...all];
  };
  return hostOrder.map((name) => {
    const groups = groupsOf(name);
    const depth = (g: string): number => (children.has(g) ? 0 : 1); // parents first, then leaf groups
    const merged: Record<string, string> = { ...groupVars.get('all') };
    for (const g of [...groups].sort((a, b) => depth(a) - depth(b))) Object.assign(merged, groupVars.get(g));
    Object.assign(merged, hostVars.get(name));
    return toTarget(name, merged, ['all', ...groups.filter((g) => g !== 'all')], `${file}:${hostLine.get(name)}`);
  });
}

function unquote(s: string): string {
  const m = /^(["'])(.*)\1$/.exec(s.trim());
  return m ? m[2]! : s.trim();
}

/** Splits on spaces outside quotes (ansible_ssh_common_args='-o ProxyJump=bastion'). */
/** The words of a host line with the column (1-based) each starts at; quotes keep spaces in a word. */
function splitWords(line: string, where: string): { text: string; column: number }[] {
  const out: { text: string; column: number }[] = [];
  let cur = '';
  let start = 0;
  let q: string | null = null;
  let qAt = 0;
  [...line].forEach((ch, i) => {
    if (q === '#') return;
    if (q) {
      cur += ch;
      if (ch === q) q = null;
    } else if (ch === '"' || ch === "'") {
      if (!cur) start = i;
      q = ch;
      qAt = i;
      cur += ch;
    } else if (/\s/.test(ch)) {
      if (cur) out.push({ text: cur, column: start + 1 });
      cur = '';
    } else if (ch === '#' && !cur) {
      q = '#'; // a comment to the end of the line
    } else {
      if (!cur) start = i;
      cur += ch;
    }
  });
  if (q && q !== '#') throw new InventoryError(`${where}:${qAt + 1}: unclosed quote`);
  if (cur) out.push({ text: cur, column: start + 1 });
  return out;
}
