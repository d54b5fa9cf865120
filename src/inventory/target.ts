import { z } from 'zod';

/** One host to work on, whatever inventory format it came from. Secrets here came from files the
 * operator controls (inventory vars, host_list.txt) or env vars — never from argv. */
export interface Target {
  name: string;
  host: string;
  port: number;
  user?: string | undefined;
  password?: string | undefined;
  keyFile?: string | undefined;
  become: boolean;
  becomePassword?: string | undefined;
  connection: 'ssh' | 'winrm';
  /** Windows over WinRM, or over SSH when the inventory says the login shell is PowerShell/cmd. */
  os: 'linux' | 'windows';
  /** How to speak WinRM to this host (only for connection winrm). */
  winrm?: WinRmVars | undefined;
  eip?: string | undefined;
  jump?: string | undefined;
  groups: string[];
  vars: Record<string, string>;
}

export interface WinRmVars {
  scheme: 'http' | 'https';
  auth: 'basic' | 'ntlm';
  /** CA bundle that signed the host's HTTPS certificate (ansible_winrm_ca_trust_path). */
  caFile?: string | undefined;
  /** Certificate not verified: only when the inventory says ansible_winrm_server_cert_validation=ignore. */
  insecure: boolean;
}

const bool = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(['true', 'false', 'yes', 'no', '1', '0']))
  .transform((s) => ['true', 'yes', '1'].includes(s));

/** The Ansible variables this tool understands, validated; unknown variables are kept as they are. */
export const HostVars = z.object({
  ansible_host: z.string().min(1).optional(),
  ansible_port: z.coerce.number().int().min(1).max(65535).optional(),
  ansible_user: z.string().min(1).optional(),
  ansible_password: z.string().optional(),
  ansible_ssh_pass: z.string().optional(),
  ansible_ssh_private_key_file: z.string().min(1).optional(),
  ansible_become: bool.optional(),
  ansible_become_password: z.string().optional(),
  ansible_become_pass: z.string().optional(),
  ansible_connection: z.enum(['ssh', 'winrm', 'paramiko', 'smart']).optional(),
  ansible_ssh_common_args: z.string().optional(),
  ansible_shell_type: z.enum(['sh', 'csh', 'fish', 'powershell', 'cmd']).optional(),
  windows: bool.optional(),
  ansible_winrm_scheme: z.enum(['http', 'https']).optional(),
  // Kerberos and CredSSP need a domain ticket or delegated credentials this tool does not handle.
  ansible_winrm_transport: z.enum(['basic', 'ntlm'], { message: 'supported: basic, ntlm (kerberos and credssp are not)' }).optional(),
  ansible_winrm_server_cert_validation: z.enum(['validate', 'ignore']).optional(),
  ansible_winrm_ca_trust_path: z.string().min(1).optional(),
  eip: z.ipv4().optional(),
});

export function toTarget(name: string, vars: Record<string, string>, groups: string[], where: string): Target {
  const parsed = HostVars.safeParse(vars);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    throw new InventoryError(`${where}: host ${name}: ${key}=${JSON.stringify(vars[key] ?? '')} is not valid (${issue.message})`);
  }
  const v = parsed.data;
  const jump = /ProxyJump[= ]\s*([^\s'"]+)/.exec(v.ansible_ssh_common_args ?? '')?.[1] ?? /-J\s+([^\s'"]+)/.exec(v.ansible_ssh_common_args ?? '')?.[1];
  const winrm = v.ansible_connection === 'winrm';
  const port = v.ansible_port ?? (winrm ? 5986 : 22);
  const windows = winrm || v.windows === true || v.ansible_shell_type === 'powershell' || v.ansible_shell_type === 'cmd';
  return {
    name,
    host: v.ansible_host ?? name,
    port,
    os: windows ? 'windows' : 'linux',
    winrm: winrm
      ? {
          // As Ansible: https unless the port is WinRM's plain-HTTP one.
          scheme: v.ansible_winrm_scheme ?? (port === 5985 ? 'http' : 'https'),
          auth: v.ansible_winrm_transport ?? 'ntlm',
          caFile: v.ansible_winrm_ca_trust_path,
          insecure: v.ansible_winrm_server_cert_validation === 'ignore',
        }
      : undefined,
    user: v.ansible_user,
    password: v.ansible_password ?? v.ansible_ssh_pass,
    keyFile: v.ansible_ssh_private_key_file,
    become: v.ansible_become ?? false,
    becomePassword: v.ansible_become_password ?? v.ansible_become_pass,
    connection: v.ansible_connection === 'winrm' ? 'winrm' : 'ssh',
    eip: v.eip,
    jump,
    groups,
    vars,
  };
}

export class InventoryError extends Error {
  override name = 'InventoryError';
}

/** Expands Ansible host ranges: web[01:20] (zero-padded), db[a:c], node[0:10:2]. */
export function expandRange(pattern: string): string[] {
  const m = /^(.*?)\[([0-9a-z]+):([0-9a-z]+)(?::(\d+))?\](.*)$/i.exec(pattern);
  if (!m) return [pattern];
  const [, pre, a, b, stepText, post] = m as unknown as [string, string, string, string, string | undefined, string];
  const step = stepText ? Number(stepText) : 1;
  const out: string[] = [];
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const width = a.length;
    for (let i = Number(a); i <= Number(b); i += step) out.push(`${pre}${String(i).padStart(width, '0')}`);
  } else if (/^[a-z]$/i.test(a) && /^[a-z]$/i.test(b)) {
    for (let c = a.charCodeAt(0); c <= b.charCodeAt(0); c += step) out.push(`${pre}${String.fromCharCode(c)}`);
  } else {
    throw new InventoryError(`bad host range [${a}:${b}] in ${pattern}`);
  }
  return out.flatMap((h) => expandRange(h + post));
}
