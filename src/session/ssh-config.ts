import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { isNoJump, parseJumpSpec } from '../inventory/host-list.js';
import { InventoryError, type Target } from '../inventory/target.js';
import { platformOf } from '../platform/index.js';

/**
 * The operator's OpenSSH client configuration, read as `ssh` reads it (`~/.ssh/config`, or `-F FILE`), so that
 * `-H web-1` reaches the server `ssh web-1` reaches: Host and Match blocks, first value wins, `Include` files
 * inlined. What it gives a target — HostName, User, Port, IdentityFile, ProxyJump, UserKnownHostsFile,
 * StrictHostKeyChecking, and the algorithm lists — fills only what the inventory and the command line left
 * unsaid: the inventory wins over the command line, and both win over the file (docs/SSH.md).
 *
 * The `ssh-config` package only parses the text; which blocks apply is decided here. Its own `compute` is never
 * called: it runs `nslookup` for CanonicalizeHostName and the command of `Match exec`, and this tool runs no
 * command of a config file. A Match block that needs a command (`exec`) or a criterion not handled here is not
 * applied.
 */
export interface SshConfigValues {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  /** ProxyJump as written (a chain `a,b` too; `none` is left out), and where: `FILE:LINE`. */
  proxyJump?: string;
  proxyJumpAt?: string;
  userKnownHostsFiles: string[];
  strictHostKeyChecking?: string;
  kexAlgorithms?: string;
  hostKeyAlgorithms?: string;
  ciphers?: string;
  macs?: string;
}

/** Who asks the file: the name given to ssh, the address when it is another, the login user when known. */
export interface SshConfigQuery {
  /** The address the host is reached at, when the inventory gives one other than the name (ansible_host). */
  address?: string | undefined;
  /** The login user the inventory or the command line names (what ssh's `Match user` sees first). */
  user?: string | undefined;
  /** The login user when neither names one nor the file says one: the tool's default (root). */
  defaultUser?: string | undefined;
}

/** One line of the package's parse. */
interface Node {
  type: number;
  param?: string;
  value?: string | { val: string }[];
  before?: string;
  after?: string;
  config?: Node[];
}
interface Directive {
  key: string;
  args: string[];
  /** FILE:LINE */
  at: string;
}
type Criterion = { negate: boolean; kind: string; arg: string };
interface Section {
  /** null: the lines before the first Host or Match (they apply to every host). */
  host: string[] | null;
  match: Criterion[] | null;
  directives: Directive[];
}

/** Keywords whose every value counts (ssh adds each IdentityFile); for the others the first value wins. */
const ACCUMULATE = new Set(['identityfile']);
/** The Match criteria decided here; any other (exec, localnetwork, tagged, …) keeps its block out. */
const CRITERIA = new Set(['all', 'canonical', 'final', 'host', 'originalhost', 'user', 'localuser']);

export class SshConfigError extends Error {
  override name = 'SshConfigError';
}

export class SshConfig {
  private constructor(
    readonly file: string | null,
    private readonly sections: Section[],
  ) {}

  /** No configuration at all (`-F none`, or no ~/.ssh/config). */
  static none(): SshConfig {
    return new SshConfig(null, []);
  }

  /** `-F FILE` (it must exist), `none`, or by default ~/.ssh/config when there is one. */
  static load(file?: string): SshConfig {
    if (file === 'none') return SshConfig.none();
    const f = file ?? path.join(os.homedir(), '.ssh', 'config');
    if (!file && !existsSync(f)) return SshConfig.none();
    let lines: SourceLine[];
    try {
      lines = readWithIncludes(f, 0);
    } catch (e) {
      throw new SshConfigError(`-F ${f}: cannot read that OpenSSH client configuration (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a readable file, or -F none`);
    }
    // Loaded on first use: a run without a client configuration does not pay for the parser.
    const mod = createRequire(import.meta.url)('ssh-config') as { default?: { parse(t: string): Node[] }; parse?(t: string): Node[] };
    const parse = mod.parse ?? mod.default!.parse;
    let nodes: Node[];
    try {
      nodes = parse(lines.map((l) => l.text).join('\n'));
    } catch (e) {
      throw new SshConfigError(`-F ${f}: not an OpenSSH client configuration (${(e as Error).message})`);
    }
    return new SshConfig(f, sectionsOf(nodes, lines, f));
  }

  /**
   * What the file says of one host alias (the name given to ssh), tokens and ~ expanded. Host patterns (and
   * `Match originalhost`) are matched against the alias and `q.address`; `Match host` against the HostName
   * given so far, else the alias, and `q.address`; `Match user` against `q.user`, else the User given so far,
   * else `q.defaultUser`. A block applies when any of these names matches and none is excluded (`!pattern`).
   */
  values(alias: string, q: SshConfigQuery = {}): SshConfigValues {
    const out: SshConfigValues = { identityFiles: [], userKnownHostsFiles: [] };
    if (!this.file) return out;
    const got = this.compute(alias, q);
    const first = (k: string): Directive | undefined => got.get(k)?.[0];
    const one = (k: string): string | undefined => first(k)?.args.join(' ');
    const hostName = one('hostname');
    const user = one('user');
    const port = one('port');
    // In HostName, %h is the name given to ssh; everywhere else, the host it resolves to.
    if (hostName) out.hostName = tokens(hostName, { alias, host: alias, port: port ?? '22', user: q.user ?? user ?? q.defaultUser ?? '' });
    const ctx = { alias, host: q.address ?? out.hostName ?? alias, port: port ?? '22', user: q.user ?? user ?? q.defaultUser ?? '' };
    if (user) out.user = user;
    if (port && /^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535) out.port = Number(port);
    out.identityFiles = [...new Set((got.get('identityfile') ?? []).map((d) => expand(tokens(d.args.join(' '), ctx))))];
    const jump = first('proxyjump');
    if (jump && jump.args.join(' ').toLowerCase() !== 'none') {
      out.proxyJump = jump.args.join(' ');
      out.proxyJumpAt = jump.at;
    }
    out.userKnownHostsFiles = (first('userknownhostsfile')?.args ?? []).filter((f) => f !== 'none').map((f) => expand(tokens(f, ctx)));
    const strict = one('stricthostkeychecking');
    if (strict) out.strictHostKeyChecking = strict.toLowerCase();
    const set = <K extends keyof SshConfigValues>(k: K, v: SshConfigValues[K] | undefined) => {
      if (v !== undefined) out[k] = v;
    };
    set('kexAlgorithms', one('kexalgorithms'));
    set('hostKeyAlgorithms', one('hostkeyalgorithms'));
    set('ciphers', one('ciphers'));
    set('macs', one('macs'));
    return out;
  }

  /**
   * The directives that apply, by lower-case keyword, in file order: ssh's reading (first value wins, every
   * block tested with what is known so far), and a second pass when the file asks for one (`Match final`, or
   * CanonicalizeHostName, without the DNS lookup: the name is never canonicalized).
   */
  private compute(alias: string, q: SshConfigQuery): Map<string, Directive[]> {
    const got = new Map<string, Directive[]>();
    const add = (d: Directive) => {
      const prev = got.get(d.key);
      if (!prev) got.set(d.key, [d]);
      else if (ACCUMULATE.has(d.key)) prev.push(d);
    };
    const address = q.address !== undefined && q.address !== alias ? [q.address] : [];
    const hostName = (): string | undefined => {
      const h = got.get('hostname')?.[0]?.args.join(' ');
      return h === undefined ? undefined : tokens(h, { alias, host: alias, port: '22', user: '' });
    };
    const user = (): string => q.user ?? got.get('user')?.[0]?.args[0] ?? q.defaultUser ?? 'root';
    let finalPass = false;
    let wantFinal = false;
    const criterion = (c: Criterion): boolean => {
      switch (c.kind) {
        case 'all':
          return true;
        case 'final':
          if (!finalPass) wantFinal = true;
          return finalPass;
        case 'canonical':
          return finalPass;
        case 'host':
          return matches(c.arg.split(','), [hostName() ?? alias, ...address], true);
        case 'originalhost':
          return matches(c.arg.split(','), [alias, ...address], true);
        case 'user':
          return matches(c.arg.split(','), [user()], false);
        default: // localuser
          return matches(c.arg.split(','), [localUser()], false);
      }
    };
    const applies = (s: Section): boolean => {
      if (s.host) return matches(s.host, [finalPass ? (hostName() ?? alias) : alias, ...address], true);
      if (s.match) {
        if (s.match.some((c) => !CRITERIA.has(c.kind))) return false;
        // Every criterion is tested (as ssh does), so that `final` is seen even after one that fails.
        return s.match.map((c) => criterion(c) !== c.negate).every(Boolean);
      }
      return true;
    };
    const pass = () => {
      for (const s of this.sections) if (applies(s)) s.directives.forEach(add);
    };
    pass();
    const canon = got.get('canonicalizehostname')?.[0]?.args[0]?.toLowerCase();
    if (wantFinal || canon === 'yes' || canon === 'always') {
      finalPass = true;
      pass();
    }
    return got;
  }
}

interface SourceLine {
  text: string;
  /** FILE:LINE */
  at: string;
}

/** A file's lines, `Include` lines replaced by the files they name (globs, relative to ~/.ssh), as ssh reads them. */
function readWithIncludes(file: string, depth: number): SourceLine[] {
  if (depth > 8) throw new Error('Include nested more than 8 deep');
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .flatMap((text, i) => {
      const m = /^\s*Include\s+(.+)$/i.exec(text);
      if (!m) return [{ text, at: `${file}:${i + 1}` }];
      return m[1]!.trim().split(/\s+/).flatMap((pat) => {
        const p = expand(pat);
        const abs = path.isAbsolute(p) ? p : path.join(path.join(os.homedir(), '.ssh'), p);
        return globFiles(abs).flatMap((f) => readWithIncludes(f, depth + 1));
      });
    });
}

/** The package's parse as sections, each directive with the file and line it came from. */
function sectionsOf(nodes: Node[], lines: SourceLine[], file: string): Section[] {
  let line = 0;
  const count = (s: string | undefined) => (s ?? '').split('\n').length - 1;
  const words = (v: Node['value']): string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : v.map((x) => x.val));
  const where = (n: Node): string => {
    line += count(n.before);
    const src = lines[line];
    const at = src && n.param && src.text.toLowerCase().includes(n.param.toLowerCase()) ? src.at : file;
    line += count(n.after);
    return at;
  };
  const sections: Section[] = [{ host: null, match: null, directives: [] }];
  for (const n of nodes) {
    const at = where(n);
    if (n.type !== 1 || !n.param) continue;
    const key = n.param.toLowerCase();
    if (key === 'host' || key === 'match') {
      const s: Section = { host: key === 'host' ? words(n.value) : null, match: key === 'match' ? criteriaOf(words(n.value)) : null, directives: [] };
      for (const c of n.config ?? []) {
        const cat = where(c);
        if (c.type === 1 && c.param) s.directives.push({ key: c.param.toLowerCase(), args: words(c.value), at: cat });
      }
      sections.push(s);
    } else {
      sections[0]!.directives.push({ key, args: words(n.value), at });
    }
  }
  return sections;
}

/** `Match` arguments as criteria: `all`, `canonical` and `final` stand alone, the others take one argument. */
function criteriaOf(words: string[]): Criterion[] {
  const out: Criterion[] = [];
  for (let i = 0; i < words.length; i++) {
    const negate = words[i]!.startsWith('!');
    const kind = words[i]!.replace(/^!/, '').toLowerCase();
    if (kind === 'all' || kind === 'canonical' || kind === 'final') out.push({ negate, kind, arg: '' });
    else out.push({ negate, kind, arg: words[++i] ?? '' });
  }
  return out;
}

/**
 * ssh_config PATTERNS: `*` and `?` wildcards, `!` excludes. True when a name matches a pattern and no name
 * matches an excluded one. Host names are compared without regard to case, user names exactly.
 */
function matches(patterns: string[], names: string[], hosts: boolean): boolean {
  const re = (p: string) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, hosts ? 'i' : '');
  const neg = patterns.filter((p) => p.startsWith('!')).map((p) => re(p.slice(1)));
  const pos = patterns.filter((p) => p && !p.startsWith('!')).map(re);
  if (names.some((n) => neg.some((r) => r.test(n)))) return false;
  return names.some((n) => pos.some((r) => r.test(n)));
}

function localUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? '';
  }
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

/** What the command line says of reaching hosts, as far as the file is concerned. */
export interface SshCliValues {
  /** -u */
  user?: string | undefined;
  /** --key: the target's key, over the file's IdentityFile (as `ssh -i KEY`). */
  key?: string | undefined;
  /** --jump: the jump host, over the file's ProxyJump (as `ssh -J HOST`); itself an alias of the file. */
  jump?: string | undefined;
  /** --known-hosts given: over the file's UserKnownHostsFile. */
  knownHostsGiven?: boolean | undefined;
}

const NO_CHAIN = 'a chain of jump hosts is not supported';
const CHAIN = `${NO_CHAIN}; give one jump host ([user@]host[:port])`;

/**
 * A target with what the file says filled in where the inventory and the command line said nothing: the
 * address, port, user, key, jump host, known_hosts file, host-key policy and algorithm lists. As with ssh, the
 * command line wins over the file (-u, --key, --jump, --known-hosts), and the inventory wins over both. The
 * jump host — the inventory's, --jump, or the file's ProxyJump — is an alias of the file too, as for
 * `ssh -J NAME`. WinRM targets are not ssh's business. A chain of jump hosts, wherever it is given, is refused.
 */
export function withSshConfig(t: Target, cfg: SshConfig, cli: SshCliValues = {}): Target {
  if (t.connection !== 'ssh') return t;
  // The jump host the inventory or the command line names, checked whether or not there is a file.
  const given = t.jump ?? cli.jump;
  const givenWhere = t.jump !== undefined ? `${t.source}: host ${t.name}: ProxyJump ${t.jump} in ansible_ssh_common_args` : `--jump ${cli.jump}`;
  // `none` (the inventory's or --jump's) is no jump host: ssh.ts's jumpOf reads it so, over the file's.
  let jump: ReturnType<typeof parseJumpSpec> | undefined;
  if (given !== undefined && !isNoJump(given)) {
    if (given.includes(',')) {
      if (t.jump !== undefined) throw new InventoryError(`${givenWhere}: ${CHAIN}`);
      throw new UsageError(`${givenWhere}: ${CHAIN}`);
    }
    jump = parseJumpSpec(given, givenWhere);
  }
  if (!cfg.file) return t;
  const v = t.vars;
  // A -H target is the name given to ssh, with its port (-H web-1:2022 is `ssh -p 2022 web-1`).
  const alias = t.source === '-H' ? t.host : t.name;
  const address = t.host !== alias ? t.host : undefined;
  const user = t.user ?? cli.user;
  const c = cfg.values(alias, { address, user, defaultUser: platformOf(t.os).defaultUser });
  const out: Target = { ...t };
  if (address === undefined && c.hostName) out.host = c.hostName;
  if (v.ansible_port === undefined && c.port) out.port = c.port;
  if (user === undefined && c.user) out.user = c.user;
  if (t.keyFile === undefined && cli.key === undefined) {
    const key = c.identityFiles.find((f) => existsSync(f));
    if (key) out.keyFile = key;
  }
  if (given === undefined && c.proxyJump) {
    const where = `${c.proxyJumpAt}: ProxyJump ${c.proxyJump} (for host ${t.name})`;
    if (c.proxyJump.includes(',')) throw new SshConfigError(`${where}: ${CHAIN}, or none`);
    jump = parseJumpSpec(c.proxyJump, where);
  }
  // The jump host is an alias of the file too, as for `ssh -J NAME`: its HostName, User, Port and key.
  if (jump) {
    const s = jump;
    const j = cfg.values(s.host, { user: s.user, defaultUser: cli.user ?? 'root' });
    // Its own ProxyJump would make a chain (one naming the jump host itself is the usual `Host *` and is no hop).
    if (j.proxyJump && ![s.host, j.hostName].includes(parseJumpSpec(j.proxyJump.split(',')[0]!, `${j.proxyJumpAt}: ProxyJump`).host)) {
      throw new SshConfigError(`${j.proxyJumpAt}: ProxyJump ${j.proxyJump} (for jump host ${s.host} of host ${t.name}): ${NO_CHAIN}; give the jump host ProxyJump none, or leave it out of that block (e.g. Host * !${s.host})`);
    }
    const host = j.hostName ?? s.host;
    const port = s.port ?? j.port;
    const juser = s.user ?? j.user;
    out.jump = `${juser ? `${juser}@` : ''}${host.includes(':') ? `[${host}]` : host}${port ? `:${port}` : ''}`;
    const key = j.identityFiles.find((f) => existsSync(f));
    if (key) out.jumpKeyFile = key;
  }
  if (c.userKnownHostsFiles[0] && !cli.knownHostsGiven) out.knownHostsFile = c.userKnownHostsFiles[0];
  if (c.strictHostKeyChecking) out.hostKeyPolicy = ['no', 'off', 'accept-new'].includes(c.strictHostKeyChecking) ? 'accept-new' : 'strict';
  const algs = { kex: c.kexAlgorithms, hostKey: c.hostKeyAlgorithms, cipher: c.ciphers, mac: c.macs };
  const fromFile = Object.fromEntries(Object.entries(algs).filter(([, x]) => x !== undefined)) as NonNullable<Target['sshAlgorithms']>;
  if (Object.keys(fromFile).length) out.sshAlgorithms = { ...fromFile, ...t.sshAlgorithms };
  return out;
}

