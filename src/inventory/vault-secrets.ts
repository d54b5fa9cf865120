import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { checkRunnable } from './folders.js';
import { InventoryError } from './target.js';
import type { VaultSecret } from './vault.js';

/**
 * A vault password from where Ansible takes one (`--vault-password-file`, `--vault-id label@source`,
 * ANSIBLE_VAULT_PASSWORD_FILE): a file (its content, whitespace around it stripped) or an executable (run with
 * no argument, its stdout, line ends stripped). Never echoed; an empty one is refused.
 */
export function vaultSecretFrom(label: string, source: string, flag: string): VaultSecret {
  const at = `${flag} ${label === 'default' ? '' : `${label}@`}${source}`;
  let st;
  try {
    st = statSync(source);
  } catch {
    throw new InventoryError(`${at}: no such file; give the vault password file (or a script that prints the password)`);
  }
  if (!st.isFile()) throw new InventoryError(`${at}: not a regular file`);
  let password: Buffer;
  if (executable(source)) {
    // By its path, never looked up in PATH; and only a script nobody else may change (it runs with your rights).
    const file = path.resolve(source);
    checkRunnable(file, at);
    const r = spawnSync(file, [], { timeout: 60_000, stdio: ['inherit', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
    if (r.error || r.status !== 0) throw new InventoryError(`${at}: the vault password script failed (${r.error ? ((r.error as NodeJS.ErrnoException).code ?? r.error.message) : `exit ${r.status ?? r.signal}`})`);
    password = stripLineEnds(r.stdout);
  } else {
    if ((st.mode & 0o077) !== 0) {
      // Ansible reads it anyway; the tool refuses, as for every other secret file of the operator's.
      throw new InventoryError(`${at}: mode ${(st.mode & 0o777).toString(8)} lets other users read the vault password; chmod 600 ${source}`);
    }
    try {
      password = Buffer.from(readFileSync(source, 'utf8').trim(), 'utf8');
    } catch (e) {
      throw new InventoryError(`${at}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  if (password.length === 0) throw new InventoryError(`${at}: the vault password is empty`);
  return { label, password, source };
}

function executable(f: string): boolean {
  try {
    accessSync(f, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function stripLineEnds(b: Buffer): Buffer {
  let s = 0;
  let e = b.length;
  while (s < e && (b[s] === 0x0a || b[s] === 0x0d)) s++;
  while (e > s && (b[e - 1] === 0x0a || b[e - 1] === 0x0d)) e--;
  return b.subarray(s, e);
}

/** `--vault-id label@source` or `--vault-id source` (label "default"); source "prompt" is asked on the terminal by the caller. */
export function parseVaultId(spec: string): { label: string; source: string } {
  const i = spec.indexOf('@');
  if (i < 0) return { label: 'default', source: spec };
  const label = spec.slice(0, i);
  const source = spec.slice(i + 1);
  if (!label || !source) throw new InventoryError(`--vault-id ${spec}: give LABEL@SOURCE (a file, a script or "prompt"), or SOURCE alone`);
  return { label, source };
}
