import { randomBytes } from 'node:crypto';
import { quote } from '../../dialect/posix.js';
import type { HostShell, PasswordResetKit, PasswordSet } from '../platform.js';
import { kv } from './facts.js';

/**
 * A Linux account's new password, set with `chpasswd` and checked against the stored hash, the secret on
 * stdin only: never in argv, the environment or the script text. Through sudo, the sudo password is the first
 * line of stdin; the new password comes after a marker line with a fresh nonce, and the script reads nothing
 * before that marker as the password — so the two are not confused when sudo did not ask (NOPASSWD, a cached
 * ticket) and its line reaches the script; and sudo is proven with its password alone first (see set()), so a
 * refused sudo password cannot make sudo read on into the new one. `printf` is a shell builtin: no process shows the password.
 */
export function passwordResetScript(account: string, nonce: string): string {
  return `set -u
acct=${quote(account)}
while IFS= read -r l; do [ "$l" = ${quote(`@@resetpwd ${nonce}`)} ] && break; done
IFS= read -r pw || { echo "reset=no-password"; exit 0; }
awk -F: -v a="$acct" '$1 == a { f = 1 } END { exit !f }' /etc/passwd || { echo "reset=no-account"; exit 0; }
command -v chpasswd >/dev/null 2>&1 || { echo "reset=no-chpasswd"; exit 0; }
if err=$(printf '%s:%s\\n' "$acct" "$pw" | chpasswd 2>&1 >/dev/null); then echo "reset=done"; else echo "reset=failed"; printf 'error=%s\\n' "$(printf '%s' "$err" | head -n 1 | tr -d '\\r')"; exit 0; fi
# The stored hash, checked with the C library's crypt() (every scheme the system itself uses: yescrypt, SHA-512...).
v=unknown
if command -v perl >/dev/null 2>&1; then
  v=$(printf '%s\\n' "$pw" | perl -e 'my $a = shift; my $p = <STDIN>; chomp $p; my $h = (getpwnam($a))[1]; if (!defined $h || $h !~ /^\\$/) { print "unknown" } elsif (crypt($p, $h) eq $h) { print "match" } else { print "mismatch" }' "$acct" 2>/dev/null) || v=unknown
fi
pw=
echo "hash=$v"
`;
}

export function passwordResetStdin(password: string, nonce: string): string {
  return `@@resetpwd ${nonce}\n${password}\n`;
}

/** What the script said, as the kit's answer. */
export function parsePasswordReset(stdout: string, account: string): PasswordSet {
  const said = kv(stdout.split(/\r?\n/));
  switch (said.reset) {
    case 'done': {
      const hash = said.hash;
      if (hash === 'mismatch') return { ok: false, why: `chpasswd said yes, but the stored hash of ${account} does not match the new password`, unchanged: false };
      return { ok: true, hash: hash === 'match' ? 'match' : 'unknown' };
    }
    case 'no-account':
      return { ok: false, why: `no account ${account} on the host; name an existing one with --account`, unchanged: true };
    case 'no-chpasswd':
      return { ok: false, why: 'the host has no chpasswd', unchanged: true };
    case 'failed':
      return { ok: false, why: `chpasswd refused it: ${said.error?.trim() || 'no reason given'}`, unchanged: true };
    case 'no-password':
      return { ok: false, why: 'the new password did not reach the host', unchanged: true };
    default:
      return { ok: false, why: 'the reset script did not run to its end', unchanged: false };
  }
}

export const linuxPasswordReset: PasswordResetKit = {
  defaultAccount: 'root',
  async set(s: HostShell, account: string, password: string): Promise<PasswordSet> {
    // sudo -S retries a refused password with the next lines of stdin: were the sudo password wrong (or a second
    // question asked), the marker and then the new password would go to sudo's PAM stack as login attempts.
    // So sudo is proven first with nothing but its own password on stdin; a refusal throws here, before any secret.
    if (s.privilege.method === 'sudo') await s.run('true');
    const nonce = randomBytes(12).toString('hex');
    const r = await s.run(passwordResetScript(account, nonce), { stdin: passwordResetStdin(password, nonce) });
    return parsePasswordReset(r.stdout, account);
  },
};
