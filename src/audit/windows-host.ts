import { runWindowsChecks } from '../platform/windows/checks/index.js';
import type { Target } from '../inventory/target.js';
import { windowsAgentState } from '../platform/windows/agent-state.js';
import { windowsOs, type WindowsFacts } from '../platform/windows/facts.js';
import { gatherWindowsFacts, windowsSession, type WindowsSession } from '../platform/windows/session.js';
import type { KnownHosts } from '../transport/known-hosts.js';
import { withPowerShellUpload } from '../transport/powershell-upload.js';
import { SshTransport } from '../transport/ssh.js';
import { TransportError } from '../transport/transport.js';
import type { WinRmTarget } from '../transport/winrm/index.js';
import { sshTargetOf, type ConnectOptions } from './host.js';
import type { HostResult } from '../core/result.js';

/** Windows' built-in administrator: the login when the inventory names none (root means nothing there). */
const DEFAULT_WINDOWS_USER = 'Administrator';

export function winrmTargetOf(t: Target, o: ConnectOptions): WinRmTarget {
  const where = `${t.name} (${t.host}:${t.port})`;
  if (!t.winrm) throw new TransportError('protocol', `${where}: not a WinRM host`);
  const password = t.password ?? o.password;
  if (password === undefined) {
    throw new TransportError('auth-failed', `${where}: WinRM needs a password: set ansible_password for the host, or pass --password-env VAR / --password-file FILE`);
  }
  return {
    host: t.host,
    port: t.port,
    scheme: t.winrm.scheme,
    user: t.user ?? o.user ?? DEFAULT_WINDOWS_USER,
    password,
    auth: t.winrm.auth,
    caFile: t.winrm.caFile ?? o.winrmCaFile,
    insecure: t.winrm.insecure || o.winrmInsecure === true,
    allowUnencrypted: t.vars.ansible_winrm_message_encryption === 'never',
    name: t.name,
    connectTimeoutMs: o.connectTimeoutMs,
    // Windows holds a Receive at most this long; a longer step is several Receives, not one long HTTP wait.
    operationTimeoutSec: 20,
  };
}

/**
 * Logs in to a Windows host over WinRM, or over SSH (OpenSSH on Windows Server 2019+). Either way every
 * step is a PowerShell script on stdin of the same command line; uploads over SSH go through the same
 * hash-checked PowerShell upload as over WinRM, so they need no SFTP subsystem.
 */
export async function openWindowsSession(t: Target, o: ConnectOptions, knownHosts: KnownHosts): Promise<WindowsSession> {
  if (t.become || (o.become && t.connection === 'ssh')) {
    throw new TransportError('auth-failed', `${t.name}: --become/ansible_become is for Linux sudo; log in to Windows hosts with an administrator account`);
  }
  if (t.connection === 'winrm') {
    // Loaded on the first WinRM host: a Linux-only run does not pay for the XML and NTLM stack at startup.
    const { WinRmTransport } = await import('../transport/winrm/index.js');
    return windowsSession(await WinRmTransport.connect(winrmTargetOf(t, o)));
  }
  const target = sshTargetOf({ ...t, user: t.user ?? o.user ?? DEFAULT_WINDOWS_USER }, o);
  const ssh = await SshTransport.connect(target, { knownHosts, acceptNew: o.acceptNew, connectTimeoutMs: o.connectTimeoutMs });
  return windowsSession(withPowerShellUpload(ssh));
}

/** The audit fields of a Windows host, from its facts. */
export function windowsAudit(facts: WindowsFacts, t: Target, o: ConnectOptions): Pick<HostResult, 'os' | 'checks' | 'agent' | 'outcome'> {
  const checks = runWindowsChecks(facts, { pull: o.pull, inventoryEip: t.eip });
  return {
    os: windowsOs(facts),
    checks,
    agent: windowsAgentState(facts),
    outcome: checks.some((c) => c.status === 'fail') ? 'failed' : 'ok',
  };
}

export { gatherWindowsFacts };
