import { InventoryError, toTarget, type Target } from './target.js';

/**
 * The official batch tool's host_list.txt: one `IP` or `IP,'password'` a line (an optional [user] header
 * such as [fspuser] names the login user), and plain lists of `[user@]host[:port]`.
 */
export function parseHostList(text: string, file: string): Target[] {
  let user: string | undefined;
  const out: Target[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const header = /^\[([A-Za-z_][A-Za-z0-9_.-]*)\]$/.exec(line);
    if (header) {
      user = header[1];
      return;
    }
    const m = /^([^,\s]+)\s*(?:,\s*(['"]?)(.*)\2)?$/.exec(line);
    // Only the first word is shown: what follows may be a password.
    if (!m) throw new InventoryError(`${where}: expected IP or IP,'password' (a password with spaces in quotes), got ${JSON.stringify(line.split(/[\s,]/)[0]!.slice(0, 60))} followed by something else`);
    const spec = parseHostSpec(m[1]!, where);
    const vars = specVars(spec, user);
    if (m[3] !== undefined) vars.ansible_password = m[3];
    out.push(toTarget(spec.host, vars, ['all'], where));
  });
  return out;
}

/** The Ansible variables a host spec stands for; `defaultUser` applies where the spec names none. */
export function specVars(spec: { user?: string; host: string; port?: number }, defaultUser?: string): Record<string, string> {
  // A port only when the spec names one: otherwise the ssh config's Port, or 22.
  const vars: Record<string, string> = { ansible_host: spec.host };
  if (spec.port !== undefined) vars.ansible_port = String(spec.port);
  const user = spec.user ?? defaultUser;
  if (user) vars.ansible_user = user;
  return vars;
}

/** `[user@]host[:port]`, with [v6]:port. */
export function parseHostSpec(spec: string, where = '-H'): { user?: string; host: string; port?: number } {
  const m = /^(?:([^@\s]+)@)?(\[[0-9a-fA-F:.]+\]|[^:@\s]+)(?::(\d+))?$/.exec(spec);
  if (!m) throw new InventoryError(`${where}: ${JSON.stringify(spec)} is not [user@]host[:port]`);
  const port = m[3] !== undefined ? Number(m[3]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) throw new InventoryError(`${where}: port ${port} is out of range 1-65535`);
  const out: { user?: string; host: string; port?: number } = { host: m[2]!.replace(/^\[|\]$/g, '') };
  if (m[1]) out.user = m[1];
  if (port !== undefined) out.port = port;
  return out;
}

/** `none` as a jump host (ProxyJump none, --jump none): no bastion. */
export const isNoJump = (jump: string): boolean => jump.toLowerCase() === 'none';

/** A jump host `[ssh://][user@]host[:port]`; one that is not is refused, naming where it was given. */
export function parseJumpSpec(spec: string, where: string): { user?: string; host: string; port?: number } {
  return parseHostSpec(spec.replace(/^ssh:\/\//i, ''), where);
}
