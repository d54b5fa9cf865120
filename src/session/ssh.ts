import { readFileSync } from 'node:fs';
import { isNoJump, parseJumpSpec } from '../inventory/host-list.js';
import type { Target } from '../inventory/target.js';
import type { SshTarget } from '../transport/ssh.js';
import { TransportError } from '../transport/transport.js';
import type { ConnectOptions } from './options.js';

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

/** Where and as whom to log in over SSH: the inventory's values first, then the options, then `user`. */
export function sshTargetOf(t: Target, o: ConnectOptions, user: string): SshTarget {
  const s = withKeyAuth({ host: t.host, port: t.port, user, name: t.name }, t.keyFile ?? o.keyFile, o);
  const password = t.password ?? o.password;
  if (password !== undefined) s.password = password;
  return s;
}

/**
 * The bastion: ProxyJump in the inventory's ssh args, else --jump, else the ssh config's ProxyJump (resolved
 * through the config by withSshConfig, key included); `none` is no bastion. Logged in to with its own key from
 * the config, else --key, or the agent; as the user its spec or the config names, else -u, else root.
 */
export function jumpOf(t: Target, o: ConnectOptions): SshTarget | undefined {
  const spec = t.jump ?? o.jump;
  if (!spec || isNoJump(spec)) return undefined;
  const j = parseJumpSpec(spec, t.jump ? `${t.source}: host ${t.name}: jump host` : '--jump');
  return withKeyAuth({ host: j.host, port: j.port ?? 22, user: j.user ?? o.user ?? 'root', name: `jump ${j.host}` }, t.jumpKeyFile ?? o.keyFile, o);
}
