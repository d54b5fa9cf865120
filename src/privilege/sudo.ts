import { quote } from '../dialect/posix.js';
import type { ExecOptions, ExecResult, Transport } from '../transport/transport.js';

/**
 * The privilege method: none (logged in as root) or sudo. With sudo the password goes over stdin as the
 * first line (`sudo -S`), never on a command line; the prompt is a fixed marker so we can tell whether
 * sudo asked for it. A sudo that needs a tty or rejects the password is a clear per-host error.
 */
export type Privilege = { method: 'none' } | { method: 'sudo'; password?: string };

export class PrivilegeError extends Error {
  override name = 'PrivilegeError';
  constructor(
    readonly reason: 'sudo-requires-tty' | 'sudo-auth-failed' | 'sudo-missing' | 'sudo-not-allowed',
    message: string,
  ) {
    super(message);
  }
}

const PROMPT = '[resetpwd-fleet sudo]';

/** Runs a POSIX sh script with the host's privilege method. The script is one quoted argument. */
export async function runPrivileged(t: Transport, privilege: Privilege, script: string, opts: ExecOptions = {}, where = 'host'): Promise<ExecResult> {
  if (privilege.method === 'none') return t.exec(`sh -c ${quote(script)}`, opts);
  const cmd = `sudo -S -p ${quote(PROMPT)} -- sh -c ${quote(script)}`;
  const pw = privilege.password !== undefined ? `${privilege.password}\n` : '';
  const stdin = opts.stdin !== undefined ? Buffer.concat([Buffer.from(pw), Buffer.from(opts.stdin)]) : pw;
  const r = await t.exec(cmd, { ...opts, stdin });
  const stderr = r.stderr.split(PROMPT).join('');
  if (r.code !== 0) {
    if (/must have a tty|a terminal is required/.test(r.stderr)) {
      throw new PrivilegeError('sudo-requires-tty', `${where}: sudo requires a terminal (Defaults requiretty); allow it without one for this user, or log in as root`);
    }
    if (/incorrect password|Sorry, try again|no password was provided|a password is required/.test(r.stderr)) {
      throw new PrivilegeError('sudo-auth-failed', `${where}: sudo rejected the password; check --become-password-env or ansible_become_password`);
    }
    if (/sudo: (command )?not found|sudo: No such file/.test(r.stderr)) {
      throw new PrivilegeError('sudo-missing', `${where}: sudo is not installed; log in as root instead`);
    }
    if (/is not in the sudoers file|is not allowed to run sudo/.test(r.stderr)) {
      throw new PrivilegeError('sudo-not-allowed', `${where}: the user may not use sudo here`);
    }
  }
  return { ...r, stderr };
}
