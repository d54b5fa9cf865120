/** Left-aligns s in a column n wide (the human tables). */
export function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/**
 * Text for a terminal: control characters (C0 but the line break, DEL, C1) and the bidirectional overrides
 * become visible escapes (`\x1b`, `\u202e`), a tab a space. What a host sends (os-release fields, its stderr
 * quoted in an error, CLIXML's `_x001B_` decoded to ESC) can then neither drive the terminal nor reorder what
 * the operator reads. The XML and HTML reports have their own escaping (escape.ts).
 */
export function printable(s: string): string {
  // CRLF is a line break (Windows hosts send it); a lone CR would let a line overwrite what precedes it.
  return s.replace(/\r\n/g, '\n').replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === '\t') return ' ';
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16)}`;
  });
}

/** One line of a terminal: printable, with line breaks shown as ⏎ (a progress line must stay one line). */
export function oneLine(s: string): string {
  return printable(s.replace(/\r?\n/g, ' ⏎ '));
}
