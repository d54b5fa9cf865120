import type { Target } from '../inventory/target.js';
import { platformOf } from '../platform/index.js';
import type { HostShell, Platform } from '../platform/platform.js';
import type { Privilege } from '../privilege/sudo.js';
import { KnownHosts } from '../transport/known-hosts.js';
import { SshTransport, type SshTarget } from '../transport/ssh.js';
import { algorithmsFor } from '../transport/ssh-algorithms.js';
import { TransportError, type Transport } from '../transport/transport.js';
import type { ConnectOptions } from './options.js';
import { jumpOf, sshTargetOf } from './ssh.js';
import { winrmTargetOf } from './winrm.js';

/**
 * One way from a target to a host, for every command: the transport the target names (SSH, with known_hosts,
 * key/password/agent auth and a jump host; or WinRM), the privilege (none, or sudo with its password on
 * stdin), and the host's Platform, which runs its scripts. What is done there is the command's business;
 * how the host is reached is decided here only.
 */
export interface HostSession extends HostShell {
  readonly target: Target;
  readonly platform: Platform<any>;
}

export type SessionOpener = () => Promise<HostSession>;

export async function openSession(t: Target, o: ConnectOptions, knownHosts: KnownHosts): Promise<HostSession> {
  const platform = platformOf(t.os);
  const user = t.user ?? o.user ?? platform.defaultUser;
  const privilege = privilegeOf(t, o, user, platform);
  const transport = await connect(t, o, knownHosts, user);
  return { ...platform.shell(transport, privilege, { where: t.name, stepTimeoutMs: o.stepTimeoutMs }), target: t, platform };
}

/** Root already, or sudo for a non-root login that asks to become root (its password from the inventory or options). */
function privilegeOf(t: Target, o: ConnectOptions, user: string, platform: Platform<any>): Privilege {
  if (platform.becomeRefused !== null) {
    if (t.become || (o.become && t.connection === 'ssh')) throw new TransportError('auth-failed', `${t.name}: ${platform.becomeRefused}`);
    return { method: 'none' };
  }
  if (user === 'root' || !(t.become || o.become)) return { method: 'none' };
  const pw = t.becomePassword ?? o.becomePassword ?? t.password ?? o.password;
  return pw !== undefined ? { method: 'sudo', password: pw } : { method: 'sudo' };
}

// One reader per known_hosts file a target names (its ssh config's UserKnownHostsFile), shared by the run.
const knownHostsFiles = new Map<string, KnownHosts>();
const knownHostsAt = (file: string): KnownHosts => knownHostsFiles.get(file) ?? knownHostsFiles.set(file, new KnownHosts(file)).get(file)!;

async function connect(t: Target, o: ConnectOptions, runKnownHosts: KnownHosts, user: string): Promise<Transport> {
  if (t.connection === 'winrm') {
    // Loaded on the first WinRM host: a Linux-only run does not pay for the XML and NTLM stack at startup.
    const { WinRmTransport } = await import('../transport/winrm/index.js');
    return WinRmTransport.connect(winrmTargetOf(t, o, user), { maxOutputBytes: o.maxOutputBytes });
  }
  return sshConnect(t, o, runKnownHosts, sshTargetOf(t, o, user), { acceptNew: o.acceptNew || t.hostKeyPolicy === 'accept-new', maxOutputBytes: o.maxOutputBytes });
}

/** An SSH transport to a target as the session layer reaches it: its known_hosts, algorithms and jump host. */
function sshConnect(t: Target, o: ConnectOptions, runKnownHosts: KnownHosts, login: SshTarget, p: { acceptNew: boolean; maxOutputBytes?: number | undefined }): Promise<Transport> {
  const jump = jumpOf(t, o);
  return SshTransport.connect(login, {
    knownHosts: t.knownHostsFile ? knownHostsAt(t.knownHostsFile) : runKnownHosts,
    acceptNew: p.acceptNew, connectTimeoutMs: o.connectTimeoutMs, algorithms: algorithmsFor(t.sshAlgorithms), maxOutputBytes: p.maxOutputBytes, ...(jump ? { jump } : {}),
  });
}

/**
 * Whether `user` can log in to the host with this password alone — no key, no agent — as a fresh login does:
 * true (logged in), false (the host refused it: a wrong password, or password logins off for that user), or
 * null (could not tell: unreachable, a protocol error). How a reset password is proven where the host allows it.
 */
export async function passwordLogin(t: Target, o: ConnectOptions, knownHosts: KnownHosts, user: string, password: string): Promise<boolean | null> {
  if (t.connection === 'winrm') {
    // Opening a shell is the login (a wrong password is refused there, 401). Never over plain http: the reset
    // refuses such hosts before this, and a probe must not be the one place a new password crosses in clear.
    if (!t.winrm || t.winrm.scheme !== 'https') return null;
    try {
      const { WinRmTransport } = await import('../transport/winrm/index.js');
      const tr = await WinRmTransport.connect(winrmTargetOf({ ...t, password: password }, o, user), { maxOutputBytes: 1 << 20 });
      await tr.close().catch(() => undefined);
      return true;
    } catch (e) {
      if (e instanceof TransportError && e.reason === 'auth-failed') return false;
      return null;
    }
  }
  try {
    // Only the password: no key, no agent, and no host key trusted anew.
    const tr = await sshConnect(t, o, knownHosts, { host: t.host, port: t.port, user, name: t.name, password }, { acceptNew: false, maxOutputBytes: 1 << 20 });
    await tr.close().catch(() => undefined);
    return true;
  } catch (e) {
    if (e instanceof TransportError && e.reason === 'auth-failed') return false;
    return null;
  }
}
