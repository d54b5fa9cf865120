import { readFileSync } from 'node:fs';
import { runLinuxChecks } from '../platform/linux/checks/index.js';
import { LINUX_FACTS_SCRIPT } from '../platform/linux/facts-script.js';
import { parseLinuxFacts, type LinuxFacts } from '../platform/linux/facts.js';
import { agentState } from '../platform/linux/agent-state.js';
import { PrivilegeError, runPrivileged, type Privilege } from '../privilege/sudo.js';
import { KnownHosts } from '../transport/known-hosts.js';
import { SshTransport, type SshTarget } from '../transport/ssh.js';
import { TransportError, type ExecOptions, type ExecResult } from '../transport/transport.js';
import type { Target } from '../inventory/target.js';
import { stepTimer, type HostResult, type StepRecord } from '../core/result.js';
import { parseHostSpec } from '../inventory/host-list.js';
import type { WindowsSession } from '../platform/windows/session.js';
import { gatherWindowsFacts, openWindowsSession, windowsAudit } from './windows-host.js';

/** How to reach and log in to hosts; secrets are already resolved from env vars, files or a prompt. */
export interface ConnectOptions {
  knownHostsFile: string;
  acceptNew: boolean;
  user?: string | undefined;
  keyFile?: string | undefined;
  keyPassphrase?: string | undefined;
  password?: string | undefined;
  become: boolean;
  becomePassword?: string | undefined;
  jump?: string | undefined;
  /** CA bundle for WinRM HTTPS hosts whose inventory names none. */
  winrmCaFile?: string | undefined;
  /** --insecure: WinRM HTTPS certificates are not verified (an explicit choice, never a fallback). */
  winrmInsecure?: boolean | undefined;
  connectTimeoutMs: number;
  stepTimeoutMs: number;
  pull: boolean;
  /** Where hosts download the package from (--pull URL); undefined: it is pushed over the connection. */
  pullUrl?: string | undefined;
}

// One read per key file per run, not one per host: a fleet of thousands shares a handful of keys.
const keyCache = new Map<string, Buffer>();
function readKey(file: string): Buffer {
  const cached = keyCache.get(file);
  if (cached) return cached;
  try {
    const key = readFileSync(file);
    keyCache.set(file, key);
    return key;
  } catch (e) {
    throw new TransportError('auth-failed', `cannot read private key ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Key (with its passphrase) and ssh-agent: the login methods a target and its jump host share. */
function withKeyAuth(s: SshTarget, keyFile: string | undefined, o: ConnectOptions): SshTarget {
  if (keyFile) s.privateKey = readKey(keyFile);
  if (o.keyPassphrase) s.passphrase = o.keyPassphrase;
  if (process.env.SSH_AUTH_SOCK) s.agent = process.env.SSH_AUTH_SOCK;
  return s;
}

export function sshTargetOf(t: Target, o: ConnectOptions): SshTarget {
  const s = withKeyAuth({ host: t.host, port: t.port, user: t.user ?? o.user ?? 'root', name: t.name }, t.keyFile ?? o.keyFile, o);
  const password = t.password ?? o.password;
  if (password !== undefined) s.password = password;
  return s;
}

function privilegeOf(t: Target, o: ConnectOptions): Privilege {
  const user = t.user ?? o.user ?? 'root';
  if (user === 'root' || !(t.become || o.become)) return { method: 'none' };
  const pw = t.becomePassword ?? o.becomePassword ?? t.password ?? o.password;
  return pw !== undefined ? { method: 'sudo', password: pw } : { method: 'sudo' };
}

function jumpOf(t: Target, o: ConnectOptions): SshTarget | undefined {
  const spec = t.jump ?? o.jump;
  if (!spec) return undefined;
  const j = parseHostSpec(spec, '--jump');
  return withKeyAuth({ host: j.host, port: j.port ?? 22, user: j.user ?? o.user ?? 'root', name: `jump ${j.host}` }, o.keyFile, o);
}

/** A logged-in host: its transport and how to run a script with root's rights there. */
export interface HostSession {
  transport: SshTransport;
  privilege: Privilege;
  /** Runs a POSIX sh script as root (directly, or through sudo with the password on stdin). */
  run(script: string, opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

export async function openSession(t: Target, o: ConnectOptions, knownHosts: KnownHosts): Promise<HostSession> {
  const target = sshTargetOf(t, o);
  const jump = jumpOf(t, o);
  const transport = await SshTransport.connect(target, { knownHosts, acceptNew: o.acceptNew, connectTimeoutMs: o.connectTimeoutMs, ...(jump ? { jump } : {}) });
  const privilege = privilegeOf(t, o);
  return {
    transport,
    privilege,
    run: (script, opts = {}) => runPrivileged(transport, privilege, script, { timeoutMs: o.stepTimeoutMs, ...opts }, t.name),
    close: () => transport.close(),
  };
}

/** The facts script, parsed: one round trip. */
export async function gatherFacts(s: HostSession): Promise<LinuxFacts> {
  return parseLinuxFacts((await s.run(LINUX_FACTS_SCRIPT)).stdout);
}

/** Turns a connection or sudo failure into the host's result fields. */
export function failureOf(e: unknown, name: string): Pick<HostResult, 'reachable' | 'outcome' | 'error'> {
  if (e instanceof TransportError) {
    // A host whose key is unknown or changed, or whose login fails, is reachable but was not worked on.
    const reachable = e.reason !== 'unreachable' && e.reason !== 'timeout';
    return { reachable, outcome: reachable ? 'failed' : 'unreachable', error: e.message };
  }
  if (e instanceof PrivilegeError) return { reachable: true, outcome: 'failed', error: e.message };
  return { reachable: true, outcome: 'failed', error: `${name}: ${(e as Error).message}` };
}

/** Connects, gathers the facts in one round trip, and runs the checks. Never throws: failures are results. */
export async function auditHost(t: Target, o: ConnectOptions, knownHosts: KnownHosts): Promise<HostResult & { facts?: LinuxFacts }> {
  const steps: StepRecord[] = [];
  const base: HostResult = {
    name: t.name, address: t.host, port: t.port, transport: t.connection, reachable: false, os: null,
    checks: [], agent: null, outcome: 'unreachable', steps, error: null,
  };
  const time = stepTimer(steps);
  if (t.os === 'windows') return auditWindowsHost(t, o, knownHosts, base, time);
  let session: HostSession | undefined;
  try {
    session = await time('connect', () => openSession(t, o, knownHosts));
    const facts = await time('facts', () => gatherFacts(session!));
    const checks = runLinuxChecks(facts, { pull: o.pull, inventoryEip: t.eip });
    return {
      ...base,
      reachable: true,
      os: { family: 'linux', id: facts.os.id, version: facts.os.version, arch: facts.os.arch },
      checks,
      agent: agentState(facts),
      outcome: checks.some((c) => c.status === 'fail') ? 'failed' : 'ok',
      facts,
    };
  } catch (e) {
    return { ...base, ...failureOf(e, t.name) };
  } finally {
    await session?.close();
  }
}

async function auditWindowsHost(t: Target, o: ConnectOptions, knownHosts: KnownHosts, base: HostResult, time: ReturnType<typeof stepTimer>): Promise<HostResult> {
  let session: WindowsSession | undefined;
  try {
    session = await time('connect', () => openWindowsSession(t, o, knownHosts));
    const facts = await time('facts', () => gatherWindowsFacts(session!, { timeoutMs: o.stepTimeoutMs }));
    return { ...base, reachable: true, ...windowsAudit(facts, t, o) };
  } catch (e) {
    return { ...base, ...failureOf(e, t.name) };
  } finally {
    await session?.close();
  }
}
