/**
 * POSIX sh dialect: the one place that quotes for a remote shell. Everything interpolated into a command
 * sent to a Linux host goes through quote(); scripts are sent as a single quoted argument of `sh -c` or on
 * stdin, never pasted unquoted.
 */
export function quote(s: string): string {
  if (s === '') return "''";
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `sh -c '<script>' sh arg1 arg2…`: runs a script with positional arguments, all quoted. */
export function shScript(script: string, args: string[] = []): string {
  return ['sh', '-c', quote(script), 'sh', ...args.map(quote)].join(' ');
}
