import { readFileSync, statSync } from 'node:fs';
import { listOnce } from './folders.js';
import path from 'node:path';
import type { Vars } from './model.js';
import { InventoryError } from './target.js';
import { decryptVault, isVaulted, type VaultSecret } from './vault.js';
import { parseYamlVars } from './yaml-vars.js';

/**
 * group_vars/ and host_vars/ as ansible-core's host_group_vars plugin finds them: for a name, the first of
 * `<name>` (a folder: every file in it, sub-folders too, in sorted order, hidden files and backups `~` skipped,
 * only `.yml`, `.yaml`, `.json` or no extension), `<name>.yml`, `<name>.yaml`, `<name>.json`. Each file is YAML
 * or JSON, whole-file Ansible Vault or with `!vault` values, decrypted in memory only.
 */
export interface VarsFiles {
  isDir(p: string): boolean;
  /** The variables of `kind`/`name` beside `dir`, the files merged in order (later wins); {} when none. */
  load(dir: string, kind: 'group_vars' | 'host_vars', name: string): Vars;
  /** --playbook-dir: its group_vars/ and host_vars/ too, above the inventory's. */
  playbookDir?: string | undefined;
}

const EXTS = ['.yml', '.yaml', '.json'];

export function varsFiles(secrets: VaultSecret[], playbookDir?: string): VarsFiles {
  const cache = new Map<string, Vars>();
  const stat = (p: string) => {
    try {
      return statSync(p);
    } catch {
      return null;
    }
  };
  const isDir = (p: string) => stat(p)?.isDirectory() ?? false;
  // Each folder once on a walk, however many links lead to it (a link to "." would walk forever).
  const dirFiles = (d: string, seen = new Set<string>()): string[] =>
    listOnce(d, seen, `vars folder ${d}`)
      .filter((f) => !f.startsWith('.') && !f.endsWith('~'))
      .flatMap((f) => {
        const full = path.join(d, f);
        const ext = path.extname(f);
        if (isDir(full) && !ext) return dirFiles(full, seen);
        return stat(full)?.isFile() && (!ext || EXTS.includes(ext)) ? [full] : [];
      });
  const find = (base: string, name: string): string[] => {
    for (const ext of ['', ...EXTS]) {
      const p = base + ext;
      const s = stat(p);
      if (!s) continue;
      if (s.isDirectory()) return dirFiles(p);
      // Only a regular file is read (a FIFO there would hang the run).
      return s.isFile() ? [p] : [];
    }
    return [];
  };
  return {
    isDir,
    playbookDir,
    load(dir, kind, name) {
      // A host named like a path (Ansible's chroot connection) has no vars files.
      if (name.startsWith('/')) return {};
      const base = path.join(dir, kind, name);
      const key = base;
      const hit = cache.get(key);
      if (hit) return hit;
      let out: Vars = {};
      if (isDir(path.join(dir, kind))) {
        for (const f of find(base, name)) out = { ...out, ...loadVarsFile(f, secrets) };
      }
      cache.set(key, out);
      return out;
    },
  };
}

/** One vars file: YAML or JSON, a mapping (or empty), whole-file vault or `!vault` values. */
export function loadVarsFile(file: string, secrets: VaultSecret[]): Vars {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InventoryError(`${file}: cannot read this vars file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); fix its permissions or move it away`);
  }
  if (isVaulted(text)) text = decryptVault(text, secrets, file);
  return parseYamlVars(text, file, secrets);
}
