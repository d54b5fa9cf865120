import type { Target } from '../inventory/target.js';
import { TransportError } from '../transport/transport.js';
import type { WinRmTarget } from '../transport/winrm/index.js';
import { cleartextBasicRefused } from '../transport/winrm/cleartext.js';
import type { ConnectOptions } from './options.js';

/** Where and how to speak WS-Management to a host: the inventory's ansible_winrm_* first, then the options. */
export function winrmTargetOf(t: Target, o: ConnectOptions, user: string): WinRmTarget {
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
    user,
    password,
    auth: t.winrm.auth,
    caFile: t.winrm.caFile ?? o.winrmCaFile,
    insecure: t.winrm.insecure || o.winrmInsecure === true,
    messageEncryption: t.winrm.messageEncryption,
    cleartextBasic: t.winrm.cleartextBasic || o.winrmCleartextBasic === true,
    name: t.name,
    connectTimeoutMs: o.connectTimeoutMs,
    // Windows holds a Receive at most this long; a longer step is several Receives, not one long HTTP wait.
    operationTimeoutSec: 20,
  };
}

/**
 * Why a WinRM host may not be reached as the run asks, or null: Basic over plain http (the password would
 * cross in clear on every request) unless opted in by name; any jump host (a bastion is SSH's: the host would
 * be contacted around it). Checked for every target before any host is contacted.
 */
export function refusedReach(t: Target, o: Pick<ConnectOptions, 'jump' | 'winrmCleartextBasic'>): string | null {
  if (!t.winrm) return null;
  const where = `${t.source}: host ${t.name}`;
  if (t.winrm.auth === 'basic' && t.winrm.scheme === 'http' && !t.winrm.cleartextBasic && !o.winrmCleartextBasic) return cleartextBasicRefused(where);
  if (t.jump ?? o.jump) {
    const how = t.jump ? 'ProxyJump in its ansible_ssh_common_args' : '--jump';
    return `${where} is reached over WinRM, which cannot go through an SSH jump host (${how}); reach it over SSH (ansible_shell_type=powershell), or leave it out of this run (--limit)`;
  }
  return null;
}

/**
 * Why a secret sent to this host (a new password) would cross the network readable, or null. WinRM over plain
 * http carries stdin as it is with Basic or message_encryption=never; and NTLM's own message encryption (RC4,
 * keyed by the login) is only as strong as the login's password against anyone who recorded the exchange and
 * breaks it offline — no channel for a new password. A login may be allowed there by the operator's choice, a
 * new password never is. SSH and WinRM over HTTPS are encrypted.
 */
export function secretInClear(t: Target): string | null {
  if (t.connection !== 'winrm' || !t.winrm || t.winrm.scheme !== 'http') return null;
  return `${t.source}: host ${t.name}: WinRM over plain http would carry the new password unencrypted; reach it over HTTPS (ansible_winrm_scheme=https, port 5986) or SSH, or leave it out (--limit '!${t.name}')`;
}
