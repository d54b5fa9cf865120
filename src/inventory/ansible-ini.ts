import { pythonLiteral, shlexSplit } from './ini-values.js';
import { addHost, groupOf, newInventory, setGroupVars, splitPort, type InventoryData } from './model.js';
import { targetsOf } from './precedence.js';
import { InventoryError, expandRange, type Target } from './target.js';

/** Ansible INI inventory as targets (its variables merged as Ansible merges them, with no vars files). */
export function parseAnsibleIni(text: string, file: string): Target[] {
  return targetsOf([readAnsibleIni(text, file)], { varsFiles: false });
}

/** Ansible INI inventory: [group], [group:vars], [group:children], host lines with key=value vars, ranges. */
export function readAnsibleIni(text: string, file: string): InventoryData {
  const inv = newInventory(file);
  let section: { group: string; kind: 'hosts' | 'vars' | 'children' } = { group: 'ungrouped', kind: 'hosts' };
  const children = new Map<string, { kids: Set<string>; where: string }>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const line = raw.replace(/^\s+|\s+$/g, '');
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const head = /^\[([^\]:]+)(?::(vars|children))?\]$/.exec(line);
    if (head) {
      section = { group: head[1]!, kind: (head[2] as 'vars' | 'children') ?? 'hosts' };
      if (section.group !== 'all') groupOf(inv, section.group);
      return;
    }
    if (line.startsWith('[')) throw new InventoryError(`${where}: bad section header ${line} (write [group], [group:vars] or [group:children])`);
    if (section.kind === 'vars') {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
      // The line is not echoed: it may hold a password.
      if (!m) throw new InventoryError(`${where}: expected key=value in [${section.group}:vars] (a value with spaces needs quotes)`);
      setGroupVars(inv, section.group, { [m[1]!]: pythonLiteral(m[2]!) }, where, (msg) => new InventoryError(msg));
      return;
    }
    if (section.kind === 'children') {
      const c = children.get(section.group) ?? { kids: new Set<string>(), where };
      c.kids.add(line.split(/\s+/)[0]!);
      children.set(section.group, c);
      return;
    }
    // Split as Ansible splits it (shlex), each value a Python literal where it is one; an unclosed quote is
    // reported with its column (splitWords), never with the line.
    const tokens = shlexSplit(raw) ?? splitWords(raw, where).map((w) => w.text);
    if (tokens.length === 0) return;
    const { pattern, port } = splitPort(tokens[0]!);
    const vars: Record<string, unknown> = port ? { ansible_port: port } : {};
    let previous = '';
    for (const [n, word] of tokens.slice(1).entries()) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(word);
      // Named by its column and the variable before it, never echoed: it is often the rest of a password.
      if (!m) {
        const column = splitWords(raw, where)[n + 1]?.column ?? 1;
        throw new InventoryError(`${where}:${column}: expected key=value${previous ? ` after ${previous}=` : ' after the host name'} (a value with spaces needs quotes)`);
      }
      vars[m[1]!] = pythonLiteral(m[2]!);
      previous = m[1]!;
    }
    for (const name of expandRange(pattern, where)) addHost(inv, name, where, vars, section.group);
  });
  for (const [g, { kids }] of children) {
    for (const k of kids) {
      if (!inv.groups.has(k)) throw new InventoryError(`${file}: group ${g} lists child group ${k}, which is not defined`);
      groupOf(inv, g).children.add(k);
    }
  }
  return inv;
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
