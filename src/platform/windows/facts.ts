import { parseEmitted } from '../../dialect/powershell.js';
import { ASIDE_DIR, MAIN_AGENT, UPDATE_AGENT } from './paths.js';

/**
 * Typed facts of a Windows host, parsed from the Emit lines of WINDOWS_FACTS_SCRIPT. Parsing is pure and
 * tolerant: a line the host could not produce (a failed CIM query, an older PowerShell) leaves its field
 * null, never guessed; `complete` says whether the script reached its end.
 */
export interface WindowsOs {
  caption: string | null; // Win32_OperatingSystem.Caption: for people only (localized on some editions)
  version: string | null; // "10.0.17763"
  build: number | null;
  /** 1 workstation, 2 domain controller, 3 server */
  productType: number | null;
  arch: string | null; // PROCESSOR_ARCHITECTURE of the OS: AMD64, ARM64, x86
  edition: string | null;
  installation: string | null; // "Server", "Server Core", "Client"
}

export interface WindowsAdapter {
  ifIndex: number;
  name: string;
  dhcp: boolean;
  ipv4: string[];
}

export interface WindowsAgentFacts {
  present: boolean;
  version: string | null;
  /** conf\wrapper.conf exists (without a wrapper.backend.type line the backend is the wrapper's default, AUTO). */
  conf: boolean;
  backendType: string | null;
  log4jCore: string | null;
  jarSha256: string | null;
  /** SIDs besides SYSTEM/Administrators that may change the folder; null when not read. */
  aclWriters: string[] | null;
  /** Win32_Service: null when the service is not registered. */
  service: { state: string | null; status: string | null; startMode: string | null; pid: number | null; path: string | null } | null;
  jvmPid: number | null;
  /** TCP sockets of the service's wrapper and its JVM on 31000-32999 (the socket backend). */
  sockets: { pid: number; port: number; state: 'LISTEN' | 'CONNECTED' }[];
  /** The service runs (its wrapper has a pid); null when the service could not be read. */
  running: boolean | null;
  /** Parts of this agent's facts the host could not read, with the error: each fails on its own. */
  unread: Partial<Record<AgentFactPart, string>>;
}

/**
 * A process of either agent, found by what it is (AgentProcs, ps-functions.ts) rather than by what the service
 * manager says: the services' own wrappers and JVMs, and any other (agent-state.ts tells them apart).
 */
export interface WindowsAgentProc {
  pid: number;
  parent: number;
  /** wrapper.exe, java.exe, … */
  name: string;
  exe: string | null;
  commandLine: string;
  /** Whose it is: a JVM's wrapper's; else the wrapper.name its command line sets, the folder it runs from or names. */
  agent: 'main' | 'update';
  /** The agent folder, or set-aside copy of one (C:\.resetpwd-fleet\<change>\<folder>), it runs from or else names; null when neither. */
  folder: string | null;
}

/** The facts script reads each agent in these parts, each in its own try/catch (error.agent.<k>.<part>). */
export type AgentFactPart = 'files' | 'hash' | 'acl' | 'service' | 'process';
export const AGENT_FACT_PARTS: readonly AgentFactPart[] = ['files', 'hash', 'acl', 'service', 'process'];

export interface WindowsFacts {
  complete: boolean;
  /** PowerShell's language mode when it is not FullLanguage (the scripts could not run); null when they ran. */
  languageMode: string | null;
  hostname: string | null;
  user: string | null;
  admin: boolean | null;
  psVersion: string | null;
  clrVersion: string | null;
  os: WindowsOs;
  c: { freeBytes: number | null; sizeBytes: number | null; format: string | null; writable: boolean | null; writeError: string | null };
  adapters: WindowsAdapter[];
  /** Default routes (0.0.0.0/0), lowest metric first. */
  defaultRoutes: { ifIndex: number; metric: number | null; nextHop: string | null }[];
  /** serverId: the uuid of openstack/latest/meta_data.json (the cloud's server id), or null. */
  metadata: { reachable: boolean | null; code: number | null; publicIpv4: string | null; serverId: string | null };
  tools: { getFileHash: boolean; expandArchive: boolean; zipFile: boolean; cim: boolean };
  agents: { main: WindowsAgentFacts; update: WindowsAgentFacts };
  stateFile: Record<string, string>;
  txn: { fields: Record<string, string>; alive: boolean } | null;
  /** Both agents' processes found by what they are; null when not read (`error.agent.procs`, or an output without them). */
  agentProcs: WindowsAgentProc[] | null;
  /** Sections the host could not read, with its error message. */
  errors: Record<string, string>;
}

const num = (s: string | undefined): number | null => {
  if (s === undefined || s.trim() === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
};
const yes = (s: string | undefined): boolean | null => (s === 'yes' ? true : s === 'no' ? false : null);

function kvLines(lines: string[] | undefined): Record<string, string> {
  const r: Record<string, string> = {};
  for (const l of lines ?? []) {
    const i = l.indexOf('=');
    if (i > 0) r[l.slice(0, i).trim()] = l.slice(i + 1).trim();
  }
  return r;
}

function agent(get: (k: string) => string | undefined, k: string, errors: Record<string, string>): WindowsAgentFacts {
  const unread: WindowsAgentFacts['unread'] = {};
  for (const part of AGENT_FACT_PARTS) if (errors[`agent.${k}.${part}`] !== undefined) unread[part] = errors[`agent.${k}.${part}`];
  const state = get(`${k}.service_state`) ?? null;
  const status = get(`${k}.status`) ?? null;
  const registered = state !== null || status !== null;
  const pid = num(get(`${k}.service_pid`));
  const writers = get(`${k}.acl_writers`);
  const svcRunning = (state ?? status) === 'Running';
  return {
    present: get(`${k}.dir`) === 'present',
    version: get(`${k}.version`) ?? null,
    conf: get(`${k}.conf`) === 'present',
    backendType: get(`${k}.backend`)?.toUpperCase() ?? null,
    log4jCore: /^log4j-core-(.+)\.jar$/i.exec(get(`${k}.log4j_core`) ?? '')?.[1] ?? null,
    jarSha256: get(`${k}.jar_sha256`)?.toLowerCase() ?? null,
    aclWriters: writers === undefined ? null : writers.split(',').filter(Boolean),
    service: registered ? { state, status, startMode: get(`${k}.start_mode`) ?? null, pid: pid || null, path: get(`${k}.service_path`) ?? null } : null,
    jvmPid: num(get(`${k}.jvm_pid`)),
    sockets: (get(`${k}.sockets`) ?? '').split(',').flatMap((x) => {
      const s = /^(\d+):(\d+):(LISTEN|CONNECTED)$/.exec(x.trim());
      return s ? [{ pid: Number(s[1]), port: Number(s[2]), state: s[3] as 'LISTEN' | 'CONNECTED' }] : [];
    }),
    // The service manager's word: the wrapper runs. Its JVM is a separate fact (jvmPid).
    running: unread.service !== undefined ? null : svcRunning && (pid ?? 0) > 0,
    unread,
  };
}

const escRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const LEAVES = `(${escRe(MAIN_AGENT.dir.slice(3))}|${escRe(UPDATE_AGENT.dir.slice(3))})`;
/** An agent folder, or a set-aside copy of one, as a path names it (C:\CloudResetPwdAgent, C:\.resetpwd-fleet\<change>\CloudResetPwdAgent). */
const FOLDER_RE = new RegExp(`C:\\\\(?:${escRe(ASIDE_DIR.slice(3))}\\\\[^\\\\"]+\\\\)?${LEAVES}(?=[\\\\"\\s]|$)`, 'gi');
const agentOfLeaf = (leaf: string): 'main' | 'update' => (leaf.toLowerCase() === MAIN_AGENT.dir.slice(3).toLowerCase() ? 'main' : 'update');

/** The agent folders (or set-aside copies) a text names, each with whose it is. */
function foldersIn(text: string): Array<{ folder: string; agent: 'main' | 'update' }> {
  return [...text.matchAll(FOLDER_RE)].map((m) => ({ folder: m[0], agent: agentOfLeaf(m[1]!) }));
}

/**
 * `agent_proc` lines (pid|parent|name|exe|command line), each given to an agent: a JVM whose parent is one of them
 * goes with its wrapper (old builds run the main agent on the update agent's Java); else `wrapper.name=<agent>` on
 * its command line; else the folder its executable lies in (a JVM: the folder its command line names first, its
 * Java may be the other agent's); else the folder its command line names (the main agent's when both are named).
 */
function agentProcs(lines: string[]): WindowsAgentProc[] {
  const raw = lines.flatMap((l) => {
    const m = /^(\d+)\|(\d*)\|([^|]*)\|([^|]*)\|(.*)$/s.exec(l);
    return m ? [{ pid: Number(m[1]), parent: Number(m[2] || 0), name: m[3]!, exe: m[4] || null, commandLine: m[5]! }] : [];
  });
  const byPid = new Map(raw.map((p) => [p.pid, p]));
  const done = new Map<number, WindowsAgentProc>();
  const place = (p: (typeof raw)[number], depth: number): WindowsAgentProc => {
    const known = done.get(p.pid);
    if (known) return known;
    const exeAt = p.exe ? foldersIn(p.exe).find((x) => p.exe!.toLowerCase().startsWith(`${x.folder.toLowerCase()}\\`)) : undefined;
    const named = foldersIn(p.commandLine);
    const cmdAt = named.find((x) => x.agent === 'main') ?? named[0];
    const jvm = /^javaw?\.exe$/i.test(p.name);
    const parent = byPid.get(p.parent);
    const setName = /(?:^|[\s"])wrapper\.name=(\S+?)(?:"|\s|$)/i.exec(p.commandLine)?.[1]?.toLowerCase();
    const byName = setName === MAIN_AGENT.name.toLowerCase() ? 'main' : setName === UPDATE_AGENT.name.toLowerCase() ? 'update' : undefined;
    const up = jvm && parent && parent.pid !== p.pid && depth < 8 ? place(parent, depth + 1) : undefined;
    const at = jvm ? (cmdAt ?? exeAt) : (exeAt ?? cmdAt);
    const agent = up?.agent ?? byName ?? at?.agent ?? 'main';
    const folder = exeAt?.folder ?? cmdAt?.folder ?? up?.folder ?? null;
    const r: WindowsAgentProc = { ...p, agent, folder };
    done.set(p.pid, r);
    return r;
  };
  return raw.map((p) => place(p, 0));
}

export function parseWindowsFacts(stdout: string): WindowsFacts {
  const m = parseEmitted(stdout);
  const get = (k: string): string | undefined => m.get(k)?.[0];
  const all = (k: string): string[] => m.get(k) ?? [];
  const adapters: WindowsAdapter[] = [];
  for (const line of all('nic')) {
    const [idx, how, ips] = line.split('|');
    const ifIndex = num(idx);
    if (ifIndex === null) continue;
    adapters.push({ ifIndex, dhcp: how === 'dhcp', ipv4: (ips ?? '').split(',').filter(Boolean), name: get(`nic_name.${ifIndex}`) ?? `interface ${ifIndex}` });
  }
  const defaultRoutes = all('route')
    .map((l) => l.split('|'))
    .map(([i, metric, hop]) => ({ ifIndex: num(i), metric: num(metric), nextHop: hop || null }))
    .filter((r): r is { ifIndex: number; metric: number | null; nextHop: string | null } => r.ifIndex !== null)
    .sort((a, b) => (a.metric ?? Infinity) - (b.metric ?? Infinity));
  const code = num(get('meta_data'));
  const errors: Record<string, string> = {};
  for (const [k, v] of m) if (k.startsWith('error.')) errors[k.slice(6)] = v[0] ?? '';
  const txnLines = all('txn');
  return {
    complete: get('end') === '1',
    languageMode: null,
    hostname: get('hostname') ?? null,
    user: get('user') ?? null,
    admin: yes(get('admin')),
    psVersion: get('ps_version') ?? null,
    clrVersion: get('clr_version') || null,
    os: {
      caption: get('os_caption') ?? null,
      version: get('os_version') ?? null,
      build: num(get('os_build')),
      productType: num(get('os_product_type')),
      arch: get('os_arch') ?? null,
      edition: get('os_edition') || null,
      installation: get('os_installation') || null,
    },
    c: {
      freeBytes: num(get('c_free')),
      sizeBytes: num(get('c_size')),
      format: get('c_format') ?? null,
      writable: yes(get('c_writable')),
      writeError: get('c_write_error') ?? null,
    },
    adapters,
    defaultRoutes,
    // Any HTTP status (200, 404) proves TCP 80 to 169.254.169.254 works; 0 is no answer.
    metadata: { code, reachable: code === null ? null : code >= 100 && code < 600, publicIpv4: get('public_ipv4_code') === '200' && get('public_ipv4') ? get('public_ipv4')! : null,
      serverId: code === 200 && /^[0-9a-f-]{36}$/i.test(get('server_id') ?? '') ? get('server_id')!.toLowerCase() : null },
    tools: {
      getFileHash: get('get_file_hash') === 'yes',
      expandArchive: get('expand_archive') === 'yes',
      zipFile: get('zipfile') === 'yes',
      cim: get('cim') === 'yes',
    },
    agents: { main: agent(get, 'main', errors), update: agent(get, 'update', errors) },
    stateFile: kvLines(all('state')),
    txn: txnLines.length > 0 ? { fields: kvLines(txnLines), alive: get('txn_alive') === 'yes' } : null,
    agentProcs: errors['agent.procs'] === undefined && get('agent_procs') !== undefined ? agentProcs(all('agent_proc')) : null,
    errors,
  };
}

/** The `os` object of a HostResult. The arch is named as on Linux hosts, so one fleet report reads the same. */
export function windowsOs(f: WindowsFacts): { family: 'windows'; id: string | null; version: string | null; arch: string | null } {
  const arch = f.os.arch?.toUpperCase();
  return {
    family: 'windows',
    id: windowsServerName(f.os) ?? (f.os.productType === 1 ? 'windows-client' : f.os.version ? 'windows' : null),
    version: f.os.version,
    arch: arch === 'AMD64' ? 'x86_64' : arch === 'ARM64' ? 'aarch64' : arch === 'X86' ? 'x86' : (f.os.arch ?? null),
  };
}

/** Windows Server releases by build number (the caption is localized; the build is not). */
export const SERVER_BUILDS: ReadonlyArray<readonly [number, string]> = [
  [26100, 'windows-server-2025'],
  [20348, 'windows-server-2022'],
  [17763, 'windows-server-2019'],
  [14393, 'windows-server-2016'],
  [9600, 'windows-server-2012r2'],
  [9200, 'windows-server-2012'],
  [7600, 'windows-server-2008r2'],
  [6001, 'windows-server-2008'],
];

export function windowsServerName(os: WindowsOs): string | null {
  if (os.build === null || (os.productType !== 2 && os.productType !== 3)) return null;
  // Semi-annual channel builds (1709 .. 20H2) fall between the LTSC releases: named by the release below.
  for (const [b, name] of SERVER_BUILDS) if (os.build >= b) return name;
  return null;
}
