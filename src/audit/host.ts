import { readFileSync } from 'node:fs';
import { runLinuxChecks } from '../checks/index.js';
import { LINUX_FACTS_SCRIPT } from '../platform/linux/facts-script.js';
import { parseLinuxFacts, type LinuxFacts } from '../platform/linux/facts.js';
import { agentState } from '../platform/linux/agent-state.js';
import { PrivilegeError, runPrivileged, type Privilege } from '../privilege/sudo.js';
import { KnownHosts } from '../transport/known-hosts.js';
import { SshTransport, type SshTarget } from '../transport/ssh.js';
import { TransportError } from '../transport/transport.js';
import type { Target } from '../inventory/target.js';
import type { HostResult, StepRecord } from './result.js';
import { parseHostSpec } from '../inventory/host-list.js';

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
  connectTimeoutMs: number;
  stepTimeoutMs: number;
  pull: boolean;
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

/** Connects, gathers the facts in one round trip, and runs the checks. Never throws: failures are results. */
export async function auditHost(t: Target, o: ConnectOptions, knownHosts: KnownHosts): Promise<HostResult & { facts?: LinuxFacts }> {
  const steps: StepRecord[] = [];
  const base: HostResult = {
    name: t.name, address: t.host, port: t.port, transport: t.connection, reachable: false, os: null,
    checks: [], agent: null, outcome: 'unreachable', steps, error: null,
  };
  if (t.connection === 'winrm') return { ...base, outcome: 'failed', error: 'WinRM hosts are not supported yet' };
  const time = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      const r = await f();
      steps.push({ name, ms: Date.now() - t0, ok: true });
      return r;
    } catch (e) {
      steps.push({ name, ms: Date.now() - t0, ok: false });
      throw e;
    }
  };
  let transport: SshTransport | undefined;
  try {
    const target = sshTargetOf(t, o);
    const jump = jumpOf(t, o);
    transport = await time('connect', () =>
      SshTransport.connect(target, { knownHosts, acceptNew: o.acceptNew, connectTimeoutMs: o.connectTimeoutMs, ...(jump ? { jump } : {}) }),
    );
    const r = await time('facts', () => runPrivileged(transport!, privilegeOf(t, o), LINUX_FACTS_SCRIPT, { timeoutMs: o.stepTimeoutMs }, t.name));
    const facts = parseLinuxFacts(r.stdout);
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
    if (e instanceof TransportError) {
      // A host whose key is unknown or changed, or whose login fails, is reachable but was not worked on.
      const reachable = e.reason !== 'unreachable' && e.reason !== 'timeout';
      return { ...base, reachable, outcome: reachable ? 'failed' : 'unreachable', error: e.message };
    }
    if (e instanceof PrivilegeError) return { ...base, reachable: true, outcome: 'failed', error: e.message };
    return { ...base, reachable: true, outcome: 'failed', error: `${t.name}: ${(e as Error).message}` };
  } finally {
    await transport?.close();
  }
}
