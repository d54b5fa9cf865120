import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Target } from '../inventory/target.js';

/**
 * The operator's OpenSSH client configuration, read as `ssh` reads it (`~/.ssh/config`, or `-F FILE`), so that
 * `-H web-1` reaches the server `ssh web-1` reaches: Host and Match blocks (ssh-config's own matching), first
 * value wins, `Include` files inlined. What it gives a target — HostName, User, Port, IdentityFile, ProxyJump,
 * UserKnownHostsFile, StrictHostKeyChecking, and the algorithm lists — fills only what the inventory (and the
 * command line, for the user) left unsaid: inventory values win over the file.
 * `Match exec` is never run: a block that needs it is not applied (this tool runs no command of a config file).
 */
export interface SshConfigValues {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  proxyJump?: string;
  userKnownHostsFiles: string[];
  strictHostKeyChecking?: string;
  kexAlgorithms?: string;
  hostKeyAlgorithms?: string;
  ciphers?: string;
  macs?: string;
}

type Computed = Record<string, string | string[] | undefined>;
interface Parsed {
  compute(host: string, opts?: { matchExec?: boolean }): Computed;
}

export class SshConfigError extends Error {
  override name = 'SshConfigError';
}

export class SshConfig {
  private constructor(
    readonly file: string | null,
    private readonly parsed: Parsed | null,
  ) {}

  /** No configuration at all (`-F none`, or no ~/.ssh/config). */
  static none(): SshConfig {
    return new SshConfig(null, null);
  }

  /** `-F FILE` (it must exist), `none`, or by default ~/.ssh/config when there is one. */
  static load(file?: string): SshConfig {
    if (file === 'none') return SshConfig.none();
    const f = file ?? path.join(os.homedir(), '.ssh', 'config');
    if (!file && !existsSync(f)) return SshConfig.none();
    let text: string;
    try {
      text = inlineIncludes(readFileSync(f, 'utf8'), path.dirname(f), 0);
    } catch (e) {
      throw new SshConfigError(`-F ${f}: cannot read that OpenSSH client configuration (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a readable file, or -F none`);
    }
    // Loaded on first use: a run without a client configuration does not pay for the parser.
    const mod = createRequire(import.meta.url)('ssh-config') as { default?: { parse(t: string): Parsed }; parse?(t: string): Parsed };
    const parse = mod.parse ?? mod.default!.parse;
    try {
      return new SshConfig(f, parse(text));
    } catch (e) {
      throw new SshConfigError(`-F ${f}: not an OpenSSH client configuration (${(e as Error).message})`);
    }
  }

  /** What the file says of one host alias (the name given to ssh), tokens and ~ expanded. */
  values(alias: string): SshConfigValues {
    const out: SshConfigValues = { identityFiles: [], userKnownHostsFiles: [] };
    if (!this.parsed) return out;
    const c = this.parsed.compute(alias, { matchExec: false });
    const one = (k: string): string | undefined => {
      const v = c[k];
      return Array.isArray(v) ? v[0] : v;
    };
    const many = (k: string): string[] => {
      const v = c[k];
      return v === undefined ? [] : Array.isArray(v) ? v.flatMap((x) => x.split(/\s+/)) : v.split(/\s+/);
    };
    const hostName = one('HostName');
    const user = one('User');
    const port = one('Port');
    // In HostName, %h is the name given to ssh; everywhere else, the host it resolves to.
    if (hostName) out.hostName = tokens(hostName, { alias, host: alias, port: port ?? '22', user: user ?? '' });
    const ctx = { alias, host: out.hostName ?? alias, port: port ?? '22', user: user ?? '' };
    if (user) out.user = user;
    if (port && /^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535) out.port = Number(port);
    out.identityFiles = many('IdentityFile').map((f) => expand(tokens(f, ctx)));
    const jump = one('ProxyJump');
    if (jump && jump.toLowerCase() !== 'none') out.proxyJump = jump.split(',')[0]!.replace(/^ssh:\/\//, '');
    out.userKnownHostsFiles = many('UserKnownHostsFile').filter((f) => f !== 'none').map((f) => expand(tokens(f, ctx)));
    const strict = one('StrictHostKeyChecking');
    if (strict) out.strictHostKeyChecking = strict.toLowerCase();
    const set = <K extends keyof SshConfigValues>(k: K, v: SshConfigValues[K] | undefined) => {
      if (v !== undefined) out[k] = v;
    };
    set('kexAlgorithms', one('KexAlgorithms'));
    set('hostKeyAlgorithms', one('HostKeyAlgorithms'));
    set('ciphers', one('Ciphers'));
    set('macs', one('MACs'));
    return out;
  }
}

/** `Include` lines replaced by the files they name (globs, relative to ~/.ssh), as ssh reads them. */
function inlineIncludes(text: string, dir: string, depth: number): string {
  if (depth > 8) throw new Error('Include nested more than 8 deep');
  return text
    .split(/\r?\n/)
    .flatMap((line) => {
      const m = /^\s*Include\s+(.+)$/i.exec(line);
      if (!m) return [line];
      return m[1]!.trim().split(/\s+/).flatMap((pat) => {
        const p = expand(pat);
        const abs = path.isAbsolute(p) ? p : path.join(path.join(os.homedir(), '.ssh'), p);
        return globFiles(abs).map((f) => inlineIncludes(readFileSync(f, 'utf8'), path.dirname(f), depth + 1));
      });
    })
    .join('\n');
}

/** Files matching a path whose last part may hold * and ?, sorted as ssh's glob(3) sorts them. */
function globFiles(p: string): string[] {
  const dir = path.dirname(p);
  const base = path.basename(p);
  if (!/[*?]/.test(base)) return existsSync(p) ? [p] : [];
  if (!existsSync(dir)) return [];
  const re = new RegExp(`^${base.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return readdirSync(dir).filter((n) => re.test(n)).sort().map((n) => path.join(dir, n)).filter((f) => statSync(f).isFile());
}

function expand(p: string): string {
  return p.replace(/^~(?=\/|$)/, os.homedir());
}

/** The ssh_config tokens a value may hold: %h host, %n the alias, %p port, %r remote user, %u local user, %d home, %%. */
function tokens(v: string, c: { alias: string; host: string; port: string; user: string }): string {
  return v.replace(/%([%hnpurd])/g, (_m, t: string) => {
    switch (t) {
      case '%':
        return '%';
      case 'h':
        return c.host;
      case 'n':
        return c.alias;
      case 'p':
        return c.port;
      case 'r':
        return c.user;
      case 'u':
        return os.userInfo().username;
      default:
        return os.homedir();
    }
  });
}

/**
 * A target with what the file says filled in where the inventory said nothing: the address, port, user, key,
 * jump host, known_hosts file, host-key policy and algorithm lists. WinRM targets are not ssh's business.
 * The command line wins over the file, as with ssh: -u (`cliUser`) and an explicit --known-hosts.
 */
export function withSshConfig(t: Target, cfg: SshConfig, cli: { user?: string | undefined; knownHostsGiven?: boolean } = {}): Target {
  const cliUser = cli.user;
  if (t.connection !== 'ssh' || !cfg.file) return t;
  const c = cfg.values(t.name);
  const v = t.vars;
  const out: Target = { ...t };
  const explicitHost = v.ansible_host !== undefined && v.ansible_host !== t.name;
  if (!explicitHost && c.hostName) out.host = c.hostName;
  if (v.ansible_port === undefined && c.port) out.port = c.port;
  if (v.ansible_user === undefined && cliUser === undefined && c.user) out.user = c.user;
  if (v.ansible_ssh_private_key_file === undefined) {
    const key = c.identityFiles.find((f) => existsSync(f));
    if (key) out.keyFile = key;
  }
  if (!t.jump && c.proxyJump) out.jump = c.proxyJump;
  // The jump host is an alias of the file too, as for ssh: its HostName, User, Port and key.
  if (out.jump) {
    const m = /^(?:([^@]+)@)?([^:@]+)(?::(\d+))?$/.exec(out.jump);
    if (m) {
      const j = cfg.values(m[2]!);
      const user = m[1] ?? j.user;
      const port = m[3] ?? (j.port ? String(j.port) : undefined);
      out.jump = `${user ? `${user}@` : ''}${j.hostName ?? m[2]}${port ? `:${port}` : ''}`;
      const key = j.identityFiles.find((f) => existsSync(f));
      if (key) out.jumpKeyFile = key;
    }
  }
  if (c.userKnownHostsFiles[0] && !cli.knownHostsGiven) out.knownHostsFile = c.userKnownHostsFiles[0];
  if (c.strictHostKeyChecking) out.hostKeyPolicy = ['no', 'off', 'accept-new'].includes(c.strictHostKeyChecking) ? 'accept-new' : 'strict';
  const algs = { kex: c.kexAlgorithms, hostKey: c.hostKeyAlgorithms, cipher: c.ciphers, mac: c.macs };
  const fromFile = Object.fromEntries(Object.entries(algs).filter(([, x]) => x !== undefined)) as NonNullable<Target['sshAlgorithms']>;
  if (Object.keys(fromFile).length) out.sshAlgorithms = { ...fromFile, ...t.sshAlgorithms };
  return out;
}
