/**
 * Typed facts of a Linux host, parsed from the output of LINUX_FACTS_SCRIPT. Parsing is pure, so it is
 * tested on recorded outputs; every field that the host could not tell is null, never guessed.
 */
export interface OsIdentity {
  family: 'linux';
  id: string | null; // os-release ID, or derived from the vendor file ("sles" for SuSE-release)
  version: string | null; // VERSION_ID, or "11.4" from SuSE-release VERSION/PATCHLEVEL
  name: string | null; // PRETTY_NAME or the vendor file's first line
  arch: string | null;
}

/** A process of an agent, found by what it is (agent-procs.ts), not by its pid file. */
export interface AgentProc {
  pid: number;
  role: 'wrapper' | 'jvm';
  /** A JVM's wrapper (its -Dwrapper.pid, or its parent); null for a wrapper or an orphaned JVM. */
  wrapper: number | null;
  /** Its working folder as the kernel names it ("… (deleted)" when the folder is gone). */
  cwd: string;
}

/** A TCP socket of an agent process on 31000-32999: the wrapper's socket backend (AUTO mode). */
export interface AgentSocket {
  pid: number;
  port: number;
  state: 'LISTEN' | 'CONNECTED';
}

export interface AgentFacts {
  present: boolean;
  /** conf/wrapper.conf exists (without a wrapper.backend.type line the backend is the wrapper's default, AUTO). */
  conf: boolean;
  procs: AgentProc[];
  sockets: AgentSocket[];
  pid: number | null;
  running: boolean;
  stalePid: number | null;
  backendType: string | null; // wrapper.backend.type: PIPE | AUTO
  javaCommand: string | null;
  log4jCore: string | null; // version from lib/log4j-core-<v>.jar
  version: string | null; // resource.properties resetPwdAgentVersion
  jarSha256: string | null;
  unit: boolean;
  unitEnabled: boolean;
  initd: boolean;
  modes: Record<string, string>;
  /** lib/* files whose mode is not 600 (the permission fix the docs ask for) */
  libBadModes: number | null;
  /** How it starts at boot, besides a systemd unit: SysV rc links, chkconfig, or a line in rc.local. */
  rcLinks: string[];
  chkconfigOn: boolean;
  rcLocal: string | null;
}

export interface LinuxFacts {
  user: string | null;
  uid: number | null;
  hostname: string | null;
  os: OsIdentity;
  osRelease: Record<string, string>;
  vendorFiles: Record<string, string>;
  root: { sizeKb: number | null; availKb: number | null; mountOptions: string[]; writable: boolean | null };
  memTotalKb: number | null;
  selinux: { getenforce: string | null; enforceFile: string | null; config: string | null };
  primaryNic: string | null;
  nicConfigs: Record<string, string>; // file path -> content
  /** systemd-networkd runs (its runtime state exists): its vendor .network files count too. */
  networkd: boolean;
  /** `ip -o -4 addr show dev <primary>`: the live IPv4 addresses of the primary NIC ("dynamic": a DHCP lease). */
  liveAddrs: string[];
  /** serverId: the uuid of openstack/latest/meta_data.json (the cloud's server id), or null. */
  metadata: { client: boolean; reachable: boolean | null; publicIpv4: string | null; serverId: string | null };
  systemd: boolean;
  tools: string[];
  agents: { main: AgentFacts; update: AgentFacts };
  stateFile: Record<string, string>;
  /** A change this tool started on the host (TXN_FILE): its id, phase and whether its process still runs. */
  txn: { fields: Record<string, string>; alive: boolean } | null;
}

export class FactsParseError extends Error {
  override name = 'FactsParseError';
}

/**
 * The sections of the facts script's output. Only lines that start with the token the script drew on the host
 * (its first line, "@@token T") are markers; everything else is content, whatever it looks like.
 */
function sections(out: string): { m: Map<string, string[]>; token: string } {
  const m = new Map<string, string[]>();
  const lines = out.split('\n');
  // What a login shell prints before the script (a .bashrc echo) is not the script's: skipped.
  const first = lines.findIndex((l) => /^@@token [a-z0-9]{16,40}$/.test(l));
  const token = first >= 0 ? lines[first]!.slice('@@token '.length) : undefined;
  if (!token) throw new FactsParseError('the facts script did not start (no @@token line): the shell failed before it ran');
  const marker = `@${token} `;
  let cur: string[] | null = null;
  let ended = false;
  for (const line of lines.slice(first + 1)) {
    if (line === `${marker}.end`) {
      ended = true;
      break;
    }
    if (line.startsWith(marker) && !line.startsWith(`${marker}file `) && line !== `${marker}networkd-running`) {
      cur = [];
      m.set(line.slice(marker.length).trim(), cur);
    } else if (cur) {
      cur.push(line);
    }
  }
  if (!ended) throw new FactsParseError('the facts script did not finish (no end line): output was cut or the shell failed');
  return { m, token };
}

export function kv(lines: string[] | undefined): Record<string, string> {
  const r: Record<string, string> = {};
  for (const l of lines ?? []) {
    const i = l.indexOf('=');
    if (i > 0) r[l.slice(0, i).trim()] = l.slice(i + 1).trim();
  }
  return r;
}

/** "@T file PATH" blocks as written by dump() in the script. */
function files(lines: string[] | undefined, token: string): Record<string, string> {
  const r: Record<string, string> = {};
  const head = `@${token} file `;
  let cur: string | null = null;
  for (const l of lines ?? []) {
    if (l === `@${token} networkd-running`) {
      cur = null; // a marker between the files, not part of one
    } else if (l.startsWith(head)) {
      cur = l.slice(head.length);
      r[cur] = '';
    } else if (cur !== null) {
      r[cur] += `${l}\n`;
    }
  }
  for (const k of Object.keys(r)) r[k] = r[k]!.replace(/\n+$/, '\n');
  return r;
}

export function parseOsRelease(text: string): Record<string, string> {
  const r: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) r[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return r;
}

function num(s: string | undefined): number | null {
  if (s === undefined || s === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

function identity(osr: Record<string, string>, vendor: Record<string, string>, arch: string | null): OsIdentity {
  if (osr.ID) {
    return { family: 'linux', id: osr.ID.toLowerCase(), version: osr.VERSION_ID ?? null, name: osr.PRETTY_NAME ?? osr.NAME ?? null, arch };
  }
  const suse = vendor['/etc/SuSE-release'];
  if (suse) {
    const v = /VERSION\s*=\s*(\d+)/.exec(suse)?.[1];
    const p = /PATCHLEVEL\s*=\s*(\d+)/.exec(suse)?.[1];
    const name = suse.split('\n')[0]!.trim();
    const id = /openSUSE/i.test(name) ? 'opensuse' : /Desktop/i.test(name) ? 'sled' : 'sles';
    return { family: 'linux', id, version: v ? (p ? `${v}.${p}` : v) : null, name, arch };
  }
  for (const [file, id] of [
    ['/etc/centos-release', 'centos'],
    ['/etc/euleros-release', 'euleros'],
    ['/etc/kylin-release', 'kylin'],
    ['/etc/redhat-release', 'rhel'],
  ] as const) {
    const text = vendor[file];
    if (text) {
      const name = text.split('\n')[0]!.trim();
      return { family: 'linux', id, version: /release\s+([\d.]+)/.exec(name)?.[1] ?? null, name, arch };
    }
  }
  return { family: 'linux', id: null, version: null, name: null, arch };
}

function agent(s: Record<string, string>, lines: string[] | undefined): AgentFacts {
  const modes: Record<string, string> = {};
  for (const l of lines ?? []) {
    const m = /^mode (\S+) (.+)$/.exec(l);
    // ls's mode field, less the ACL/SELinux marker some systems append ("-rwx------." or "+").
    if (m) modes[m[2]!] = m[1]!.slice(0, 10);
  }
  const pid = num(s.pid);
  const procs: AgentProc[] = [];
  const sockets: AgentSocket[] = [];
  for (const l of lines ?? []) {
    const pm = /^proc (\d+) (wrapper|jvm) (\d+|-) ?(.*)$/.exec(l);
    if (pm) procs.push({ pid: Number(pm[1]), role: pm[2] as AgentProc['role'], wrapper: pm[3] === '-' ? null : Number(pm[3]), cwd: pm[4] ?? '' });
    const sm = /^socket (\d+) (\d+) (LISTEN|CONNECTED)$/.exec(l);
    if (sm) sockets.push({ pid: Number(sm[1]), port: Number(sm[2]), state: sm[3] as AgentSocket['state'] });
  }
  return {
    present: s.dir === 'present',
    conf: s.conf === 'present',
    procs,
    sockets,
    pid,
    // A live pid whose command line is the wrapper: the same test the agent's own `status` verb makes.
    running: pid !== null && /wrapper/.test(s.cmdline ?? ''),
    stalePid: num(s.stale_pid),
    backendType: s['wrapper.backend.type']?.toUpperCase() ?? null,
    javaCommand: s['wrapper.java.command'] ?? null,
    // The jar's path (or, in older records, its name).
    log4jCore: /^log4j-core-(.+)\.jar$/.exec((s.log4j_core ?? '').split('/').pop()!)?.[1] ?? null,
    version: s.version ?? null,
    jarSha256: s.jar_sha256 ?? null,
    unit: s.unit === 'present',
    unitEnabled: s.unit_enabled === 'yes',
    initd: s.initd === 'present',
    modes,
    libBadModes: num(s.lib_bad_modes),
    rcLinks: (lines ?? []).filter((l) => l.startsWith('rc_link=')).map((l) => l.slice(8)),
    chkconfigOn: s.chkconfig === 'on',
    rcLocal: s.rc_local ?? null,
  };
}

export function parseLinuxFacts(out: string): LinuxFacts {
  const { m: sec, token } = sections(out);
  const id = kv(sec.get('id'));
  const un = kv(sec.get('uname'));
  const osReleaseText = Object.values(files(sec.get('os-release'), token)).join('\n');
  const osRelease = parseOsRelease(osReleaseText);
  const vendorFiles = files(sec.get('vendor-release'), token);
  const df = (sec.get('df') ?? []).join(' ').trim().split(/\s+/);
  const mem = kv((sec.get('meminfo') ?? []).map((l) => l.replace(':', '=').replace(/\s*kB$/, '')));
  const sel = kv(sec.get('selinux'));
  const md = kv(sec.get('metadata'));
  const client = md.meta_data !== undefined && md.meta_data !== 'none';
  const code = md.meta_data ?? '';
  return {
    user: id.user || null,
    uid: num(id.uid),
    hostname: un.hostname || null,
    os: identity(osRelease, vendorFiles, un.machine || null),
    osRelease,
    vendorFiles,
    root: {
      sizeKb: num(df[1]),
      availKb: num(df[3]),
      mountOptions: (sec.get('root-mount') ?? []).join('').trim().split(',').filter(Boolean),
      writable: (sec.get('root-writable') ?? [])[0]?.trim() === 'yes' ? true : (sec.get('root-writable') ?? [])[0]?.trim() === 'no' ? false : null,
    },
    memTotalKb: num(mem.MemTotal?.trim()),
    selinux: { getenforce: sel.getenforce ?? null, enforceFile: sel.enforce ?? null, config: sel.config?.toLowerCase() ?? null },
    primaryNic: kv(sec.get('route')).primary || null,
    nicConfigs: files(sec.get('nic-config'), token),
    networkd: (sec.get('nic-config') ?? []).includes(`@${token} networkd-running`),
    liveAddrs: (sec.get('ip-addr') ?? []).map((l) => l.trim()).filter(Boolean),
    metadata: {
      client,
      // Any HTTP answer (200 or 404) proves TCP 80 on 169.254.169.254 is reachable; 000 is no answer.
      reachable: client ? /^[1-5]\d\d$/.test(code) : null,
      publicIpv4: md.public_ipv4_code === '200' && md.public_ipv4 ? md.public_ipv4 : null,
      serverId: md.meta_data === '200' && md.server_id && /^[0-9a-f-]{36}$/i.test(md.server_id) ? md.server_id.toLowerCase() : null,
    },
    systemd: kv(sec.get('init')).systemd === 'yes',
    tools: (sec.get('tools') ?? []).map((t) => t.trim()).filter(Boolean),
    agents: {
      main: agent(kv(sec.get('agent cloudResetPwdAgent')), sec.get('agent cloudResetPwdAgent')),
      update: agent(kv(sec.get('agent cloudResetPwdUpdateAgent')), sec.get('agent cloudResetPwdUpdateAgent')),
    },
    stateFile: kv(sec.get('state')),
    txn: sec.get('txn')?.some((l) => l.trim()) ? { fields: kv(sec.get('txn')), alive: kv(sec.get('txn')).alive === 'yes' } : null,
  };
}
