import { readdirSync, realpathSync, statSync } from 'node:fs';
import { InventoryError } from './target.js';

/**
 * A folder's entries, sorted — or none if this walk has been there already (`seen` holds the real paths met):
 * however many links lead to a folder, it is read once (a link to "." would walk forever).
 */
export function listOnce(dir: string, seen: Set<string>, what: string): string[] {
  let real: string;
  let names: string[];
  try {
    real = realpathSync(dir);
    names = readdirSync(dir).sort();
  } catch (e) {
    throw new InventoryError(`${what}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (seen.has(real)) return [];
  seen.add(real);
  return names;
}

/**
 * A script the tool runs as the operator (often root): owned by them or root, and writable by nobody else — or
 * whoever could write it would run their code as root.
 */
export function checkRunnable(file: string, what: string): void {
  const st = statSync(file);
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid && st.uid !== 0) throw new InventoryError(`${what}: owned by uid ${st.uid}, not by you or root; it would run with your rights: chown it, or do not run it`);
  if ((st.mode & 0o022) !== 0) throw new InventoryError(`${what}: mode ${(st.mode & 0o777).toString(8)} lets others change it, and it runs with your rights; chmod go-w ${file}`);
}
