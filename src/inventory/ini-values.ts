/**
 * How ansible-core's INI plugin reads a line, so a value here is the value Ansible uses: a host line is split as
 * Python's `shlex.split(line, comments=True)` splits it (POSIX rules: quotes removed, backslashes escape, `#`
 * starts a comment even inside a word), and each value then goes through `ast.literal_eval` — a Python literal
 * (number, True/False/None, a quoted string) becomes that value, anything else stays the text it is.
 */

/** Python's shlex.split(s, comments=True), posix mode: the words, or null for an unclosed quote or a trailing escape. */
export function shlexSplit(s: string): string[] | null {
  const out: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '#') break; // a comment to the end of the line, in a word or between words
    if (/\s/.test(c)) {
      if (inWord) out.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === '\\') {
      if (i + 1 >= s.length) return null;
      word += s[i + 1];
      inWord = true;
      i += 2;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) return null;
      word += s.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      // Inside double quotes a backslash escapes only a double quote or a backslash.
      i++;
      let closed = false;
      while (i < s.length) {
        const d = s[i]!;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < s.length && (s[i + 1] === '"' || s[i + 1] === '\\')) {
          word += s[i + 1];
          i += 2;
          continue;
        }
        word += d;
        i++;
      }
      if (!closed) return null;
      inWord = true;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) out.push(word);
  return out;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v' };

/**
 * ast.literal_eval for what an inventory value can be: integers (decimal, 0x, 0o, 0b, `_`), floats, True, False,
 * None, and one quoted string (a `#` comment after it ignored, as Python's tokenizer does). Anything else —
 * lists, dicts, or text that is no literal — stays the text, as Ansible keeps it when literal_eval fails.
 */
export function pythonLiteral(v: string): unknown {
  const t = v.replace(/\s+#.*$/, '').trim();
  if (t === 'True') return true;
  if (t === 'False') return false;
  if (t === 'None') return null;
  if (/^[-+]?(?:[1-9](?:_?[0-9])*|0(?:_?0)*)$/.test(t)) {
    const n = BigInt(t.replace(/_/g, ''));
    return Number.isSafeInteger(Number(n)) ? Number(n) : n;
  }
  const based = /^([-+]?)0([xob])((?:_?[0-9a-fA-F])+)$/i.exec(t);
  if (based) {
    const digits = based[3]!.replace(/_/g, '');
    const valid = { x: /^[0-9a-f]+$/i, o: /^[0-7]+$/, b: /^[01]+$/ }[based[2]!.toLowerCase() as 'x' | 'o' | 'b'];
    if (valid.test(digits)) {
      const n = BigInt(`0${based[2]!.toLowerCase()}${digits}`) * (based[1] === '-' ? -1n : 1n);
      return Number.isSafeInteger(Number(n)) ? Number(n) : n;
    }
  }
  if (/^[-+]?(?:(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*|[0-9](?:_?[0-9])*\.?)(?:[eE][-+]?[0-9](?:_?[0-9])*)?$/.test(t) && /[.eE]/.test(t)) {
    return Number(t.replace(/_/g, ''));
  }
  for (const text of [v.trim(), t]) {
    const q = /^(['"])((?:\\.|(?!\1)[^\\])*)\1$/s.exec(text);
    if (q) return q[2]!.replace(/\\(.)/gs, (m, c: string) => ESCAPES[c] ?? m);
  }
  return v;
}
