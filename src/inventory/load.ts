import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { checkRunnable, listOnce } from './folders.js';
import path from 'node:path';
import { readInventoryJson } from './ansible-json.js';
import { readAnsibleIni } from './ansible-ini.js';
import { readAnsibleYaml } from './ansible-yaml.js';
import { parseHostList, parseHostSpec, specVars } from './host-list.js';
import { applyLimit } from './limit.js';
import type { InventoryData } from './model.js';
import { targetsOf } from './precedence.js';
import { InventoryError, toTarget, type Target } from './target.js';
import { varsFiles } from './vars-files.js';
import { decryptVault, isVaulted, type VaultSecret } from './vault.js';

export { InventoryError, type Target } from './target.js';

/** Files an inventory folder holds that are not inventories (ansible-core's INVENTORY_IGNORE_EXTS). */
const IGNORED_EXTS = ['.pyc', '.pyo', '.swp', '.bak', '~', '.rpm', '.md', '.txt', '.rst', '.orig', '.ini', '.cfg', '.retry'];
/** How long a dynamic inventory script may take (Ansible has no limit; an operator's run should not hang on one). */
const SCRIPT_TIMEOUT_MS = 60_000;

export interface InventoryOptions {
  /** Vault secrets for encrypted vars files, `!vault` values and encrypted inventories. */
  vault?: VaultSecret[] | undefined;
  /** --playbook-dir: its group_vars/ and host_vars/ also apply (above the inventory's own). */
  playbookDir?: string | undefined;
}

/** One inventory file's hosts, with its group_vars/ and host_vars/ (a single source). */
export function loadInventoryFile(file: string, o: InventoryOptions = {}): Target[] {
  const { data, lists } = readSource(file, o.vault ?? []);
  return [...targetsOf(data, { varsFiles: varsFiles(o.vault ?? [], o.playbookDir) }), ...lists];
}

/**
 * What one -i names: a file (INI, YAML, JSON, or the batch tool's host_list.txt), a folder of them (as Ansible
 * walks it: sorted, group_vars/ and host_vars/ and ignored extensions skipped, sub-folders too), or an executable
 * dynamic inventory (run with --list). Host lists give targets directly: they have no groups or vars files.
 */
function readSource(src: string, secrets: VaultSecret[]): { data: InventoryData[]; lists: Target[] } {
  let st;
  try {
    st = statSync(src);
  } catch (e) {
    throw new InventoryError(`cannot read inventory ${src}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const data: InventoryData[] = [];
  const lists: Target[] = [];
  // Each folder once, however many links lead to it (a link to "." would walk forever).
  const seen = new Set<string>();
  const walk = (p: string) => {
    for (const f of listOnce(p, seen, `inventory folder ${p}`)) {
      // Not inventories: the vars folders, Ansible's vars plugins, hidden files, the ignored extensions.
      if (f.startsWith('.') || ['group_vars', 'host_vars', 'vars_plugins'].includes(f) || IGNORED_EXTS.some((x) => f.endsWith(x))) continue;
      const full = path.join(p, f);
      let s;
      try {
        s = statSync(full);
      } catch {
        continue; // a dangling link: nothing to read
      }
      if (s.isDirectory()) walk(full);
      else if (s.isFile()) one(full);
    }
  };
  const one = (file: string) => {
    const r = readFile(file, secrets);
    if (Array.isArray(r)) lists.push(...r);
    // Vars files sit beside the source -i named (for a folder: in it), whoever holds the hosts.
    else data.push({ ...r, source: st.isDirectory() ? src : file });
  };
  if (st.isDirectory()) {
    walk(src);
    if (data.length + lists.length === 0) throw new InventoryError(`inventory folder ${src}: no inventory file in it (as Ansible, a folder's .ini, .txt and .cfg files are skipped: name the file without that extension, or give it with -i)`);
  } else one(src);
  return { data, lists };
}

function readFile(file: string, secrets: VaultSecret[]): InventoryData | Target[] {
  if (isScript(file)) return runScript(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InventoryError(`cannot read inventory ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (isVaulted(text)) text = decryptVault(text, secrets, file);
  const significant = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (/\.json$/i.test(file) || significant[0]?.startsWith('{')) {
    // JSON is YAML: a file in the YAML inventory's shape ({"all": {"hosts": {…}}}) is read as one; else as --list JSON.
    return yamlShaped(text) ? readAnsibleYaml(text, file, secrets) : readInventoryJson(text, file, undefined, secrets);
  }
  if (/\.ya?ml$/i.test(file) || /^---(\s|$)/.test(significant[0] ?? '') || /^[A-Za-z_][\w.-]*:\s*(#.*)?$/.test(significant[0] ?? '')) return readAnsibleYaml(text, file, secrets);
  // host_list.txt's "IP,'password'" lines and plain "user@host:port" lists are not INI (an INI file has sections).
  const sections = significant.some((l) => l.startsWith('['));
  const hostList = !sections && significant.some((l) => /^[^\s=\[]+\s*,/.test(l) || /^[^\s=\[]*@/.test(l) || /^[^\s=\[]+:\d+$/.test(l));
  return hostList ? parseHostList(text, file) : readAnsibleIni(text, file);
}

/** JSON in the YAML inventory's shape: some group whose hosts or children are a mapping, not a list. */
function yamlShaped(text: string): boolean {
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    return !!o && typeof o === 'object' && !('_meta' in o) && Object.values(o).some((g) => {
      const x = g as { hosts?: unknown; children?: unknown } | null;
      return !!x && typeof x === 'object' && !Array.isArray(x) && [x.hosts, x.children].some((v) => !!v && typeof v === 'object' && !Array.isArray(v));
    });
  } catch {
    return false;
  }
}

/** An executable file that starts with "#!": a dynamic inventory (an executable INI copied from a share is not). */
function isScript(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
  } catch {
    return false;
  }
  const head = Buffer.alloc(2);
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    readSync(fd, head, 0, 2, 0);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return head.toString() === '#!';
}

/** A dynamic inventory: `script --list`, its JSON read as Ansible reads it; `--host NAME` per host when it gives no _meta. */
function runScript(given: string): InventoryData {
  // Run by its path, never looked up in PATH; and, as it runs as this (root) user, only one nobody else may change.
  const file = path.resolve(given);
  checkRunnable(file, `dynamic inventory ${given}`);
  const run = (args: string[]) => {
    const r = spawnSync(file, args, { encoding: 'utf8', timeout: SCRIPT_TIMEOUT_MS, maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
    const what = `dynamic inventory ${file} ${args.join(' ')}`;
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw new InventoryError(`${what}: no answer within ${SCRIPT_TIMEOUT_MS / 1000} s`);
    if (r.error) throw new InventoryError(`${what}: cannot run it (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`);
    if (r.status !== 0) {
      const said = r.stderr.replace(/\s+/g, ' ').trim();
      throw new InventoryError(`${what}: exit ${r.status ?? r.signal}${said ? `: ${said.slice(0, 300)}` : ''}`);
    }
    return r.stdout;
  };
  return readInventoryJson(run(['--list']), `dynamic inventory ${file}`, (host) => {
    const out = run(['--host', host]);
    try {
      const v = JSON.parse(out) as unknown;
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
    } catch {
      throw new InventoryError(`dynamic inventory ${file} --host ${host}: not JSON`);
    }
  });
}

export interface TargetOptions extends InventoryOptions {
  inventory?: string[] | undefined;
  hosts?: string[] | undefined;
  limit?: string | undefined;
  user?: string | undefined;
}

/**
 * All targets of a run: the inventory sources (-i, repeatable: one inventory, as Ansible merges them) and -H
 * specs, narrowed by --limit. Duplicates keep the first.
 */
export function resolveTargets(o: TargetOptions): Target[] {
  const all: Target[] = [];
  const data: InventoryData[] = [];
  for (const src of o.inventory ?? []) {
    const r = readSource(src, o.vault ?? []);
    data.push(...r.data);
    all.push(...r.lists);
  }
  if (data.length) all.unshift(...targetsOf(data, { varsFiles: varsFiles(o.vault ?? [], o.playbookDir) }));
  for (const h of o.hosts ?? []) {
    const s = parseHostSpec(h);
    all.push(toTarget(s.port && s.port !== 22 ? `${s.host}:${s.port}` : s.host, specVars(s), ['all'], '-H'));
  }
  if (all.length === 0) throw new InventoryError('no targets: give -i INVENTORY or -H [user@]host[:port]');
  const seen = new Set<string>();
  const unique = all.filter((t) => (seen.has(t.name) ? false : (seen.add(t.name), true)));
  const limited = o.limit ? applyLimit(unique, o.limit) : unique;
  if (limited.length === 0) throw new InventoryError(`--limit ${o.limit} matches no host of the ${unique.length} in the inventory`);
  return oneTargetPerAddress(limited).map((t) => (o.user && !t.vars.ansible_user ? { ...t, user: o.user } : t));
}

/** Two names for one server must not become two changes running on it at once: one target per address. */
export function oneTargetPerAddress(targets: Target[]): Target[] {
  const addrs = new Set<string>();
  return targets.filter((t) => (addrs.has(`${t.host}:${t.port}`) ? false : (addrs.add(`${t.host}:${t.port}`), true)));
}
