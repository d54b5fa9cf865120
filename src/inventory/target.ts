import type { OsFamily } from './os-family.js';
import { isIP, isIPv4 } from 'node:net';
import os from 'node:os';

/** One host to work on, whatever inventory format it came from. Secrets here came from files the
 * operator controls (inventory vars, host_list.txt) or env vars — never from argv. */
export interface Target {
  name: string;
  /** Where it was defined ("inventory.ini:12", "-H"), for messages about it. */
  source: string;
  host: string;
  port: number;
  user?: string | undefined;
  password?: string | undefined;
  keyFile?: string | undefined;
  become: boolean;
  becomePassword?: string | undefined;
  connection: 'ssh' | 'winrm';
  /** Windows over WinRM, or over SSH when the inventory says the login shell is PowerShell/cmd. */
  os: OsFamily;
  /** How to speak WinRM to this host (only for connection winrm). */
  winrm?: WinRmVars | undefined;
  eip?: string | undefined;
  jump?: string | undefined;
  /** The jump host's key, when the operator's ssh config names one for it (else the run's --key). */
  jumpKeyFile?: string | undefined;
  /**
   * SSH algorithm lists as OpenSSH takes them (`+` appends, `-` removes, `^` puts first, else replaces), from
   * `-o KexAlgorithms=…` and the like in ansible_ssh_common_args / ansible_ssh_extra_args: how an operator
   * lets an old server's SHA-1 key exchange or CBC cipher in, for that host or group only.
   */
  sshAlgorithms?: SshAlgorithmSpec | undefined;
  /** The known_hosts file for this host (UserKnownHostsFile of the operator's ssh config); default: the run's. */
  knownHostsFile?: string | undefined;
  /** StrictHostKeyChecking of the operator's ssh config: `accept-new` trusts and records a first key (never a changed one). */
  hostKeyPolicy?: 'strict' | 'accept-new' | undefined;
  groups: string[];
  vars: Record<string, string>;
}

export interface SshAlgorithmSpec {
  kex?: string;
  hostKey?: string;
  cipher?: string;
  mac?: string;
}

/** The SSH client options we read from Ansible's ssh args: `-o Name=value`, `-oName=value`, `-o "Name value"`. */
const SSH_ALGORITHM_OPTIONS: Record<string, keyof SshAlgorithmSpec> = {
  kexalgorithms: 'kex', hostkeyalgorithms: 'hostKey', ciphers: 'cipher', macs: 'mac',
};
export function sshAlgorithmsOf(args: string): SshAlgorithmSpec | undefined {
  const out: SshAlgorithmSpec = {};
  for (const m of args.matchAll(/-o\s*(["']?)([A-Za-z]+)\s*[= ]\s*([^\s"']+)\1/g)) {
    const key = SSH_ALGORITHM_OPTIONS[m[2]!.toLowerCase()];
    // As ssh: the first value given for an option wins.
    if (key && out[key] === undefined) out[key] = m[3]!;
  }
  return Object.keys(out).length ? out : undefined;
}

export interface WinRmVars {
  scheme: 'http' | 'https';
  auth: 'basic' | 'ntlm';
  /** CA bundle that signed the host's HTTPS certificate (ansible_winrm_ca_trust_path). */
  caFile?: string | undefined;
  /** Basic over plain http allowed for this host: only when the inventory says winrm_cleartext_basic=true. */
  cleartextBasic: boolean;
  /** Certificate not verified: only when the inventory says ansible_winrm_server_cert_validation=ignore. */
  insecure: boolean;
  /**
   * ansible_winrm_message_encryption, as pywinrm reads it (default auto): auto seals NTLM over http, always
   * over https too, never sends the SOAP as it is (over http only a host with AllowUnencrypted=true takes it).
   */
  messageEncryption: 'auto' | 'always' | 'never';
}

/** A value's check: its parsed form, or the reason it is not valid. */
type Field<T> = (v: string) => { ok: true; value: T } | { ok: false; why: string };

const str =
  (nonEmpty: boolean): Field<string> =>
  (v) =>
    nonEmpty && v.length === 0 ? { ok: false, why: 'must not be empty' } : { ok: true, value: v };
const oneOf =
  <T extends string>(values: readonly T[], why = `one of: ${values.join(', ')}`): Field<T> =>
  (v) =>
    (values as readonly string[]).includes(v) ? { ok: true, value: v as T } : { ok: false, why };
const bool: Field<boolean> = (v) => {
  const l = v.toLowerCase();
  if (['true', 'yes', '1'].includes(l)) return { ok: true, value: true };
  if (['false', 'no', '0'].includes(l)) return { ok: true, value: false };
  return { ok: false, why: 'true or false (yes/no, 1/0)' };
};
const port: Field<number> = (v) => {
  const n = /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? { ok: true, value: n } : { ok: false, why: 'a port number, 1 to 65535' };
};
const ipv4: Field<string> = (v) => (isIPv4(v) ? { ok: true, value: v } : { ok: false, why: 'an IPv4 address' });

/**
 * The Ansible variables this tool understands, each with its check; unknown variables are kept as they
 * are. Checked by hand rather than with a schema library: every run reads an inventory, and a schema
 * library's load time (~60 ms for zod) is paid by every run.
 */
const HOST_VARS = {
  ansible_host: str(true),
  ansible_port: port,
  ansible_user: str(true),
  ansible_password: str(false),
  ansible_ssh_pass: str(false),
  ansible_ssh_private_key_file: str(true),
  ansible_become: bool,
  ansible_become_password: str(false),
  ansible_become_pass: str(false),
  ansible_connection: oneOf(['ssh', 'winrm', 'paramiko', 'smart'] as const),
  ansible_ssh_common_args: str(false),
  ansible_ssh_extra_args: str(false),
  ansible_shell_type: oneOf(['sh', 'csh', 'fish', 'powershell', 'cmd'] as const),
  windows: bool,
  ansible_winrm_scheme: oneOf(['http', 'https'] as const),
  // Kerberos and CredSSP need a domain ticket or delegated credentials this tool does not handle.
  ansible_winrm_transport: oneOf(['basic', 'ntlm'] as const, 'supported: basic, ntlm (kerberos and credssp are not)'),
  ansible_winrm_server_cert_validation: oneOf(['validate', 'ignore'] as const),
  ansible_winrm_ca_trust_path: str(true),
  ansible_winrm_message_encryption: oneOf(['auto', 'always', 'never'] as const, 'one of: auto, always, never (as pywinrm)'),
  // Basic over http puts the password on the wire as base64 on every request: only when the operator says so.
  winrm_cleartext_basic: bool,
  eip: ipv4,
} as const;

type HostVars = { [K in keyof typeof HOST_VARS]?: (typeof HOST_VARS)[K] extends Field<infer T> ? T : never };

/** The known variables of one host, parsed; the first that is not valid throws, naming it and its value. */
export function parseHostVars(vars: Record<string, string>, where: string, name: string): HostVars {
  const out: Record<string, unknown> = {};
  for (const [key, check] of Object.entries(HOST_VARS) as [keyof HostVars, Field<unknown>][]) {
    const raw = vars[key];
    if (raw === undefined) continue;
    const r = check(raw);
    if (!r.ok) throw new InventoryError(`${where}: host ${name.length <= 60 ? name : shown(name)}: ${key}=${shown(raw)} is not valid (${r.why})`);
    out[key] = r.value;
  }
  return out as HostVars;
}

/** A name to show in a message: a hostile or broken inventory can hold megabytes in one name. */
export function shown(s: string): string {
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length <= 60 ? JSON.stringify(clean) : `${JSON.stringify(clean.slice(0, 40))}… (${s.length} characters)`;
}

const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOSTNAME = new RegExp(`^(?=.{1,253}\\.?$)${LABEL}(?:\\.${LABEL})*\\.?$`);

/**
 * The IPv4 address the system resolver makes of a numeric name, as inet_aton does: one to four parts, each
 * decimal, 0x-hex or 0-octal (`0`, `0x0`, `0.0`, `00.0.0.0` are all 0.0.0.0; `1` is 0.0.0.1); null for a
 * name that is not such a number.
 */
function inetAton(host: string): number | null {
  const parts = host.split('.');
  if (parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    const m = /^(?:0x([0-9a-f]*)|(0[0-7]*)|([1-9][0-9]*))$/i.exec(p);
    if (!m) return null;
    const n = m[1] !== undefined ? (m[1] === '' ? 0 : parseInt(m[1], 16)) : m[2] !== undefined ? parseInt(m[2], 8) : Number(m[3]);
    if (!Number.isFinite(n)) return null;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255) || last >= 2 ** (8 * (4 - nums.length))) return null;
  return nums.reduce((acc, n, i) => acc + n * 2 ** (8 * (3 - i)), 0) + last;
}
const dotted = (n: number): string => [24, 16, 8, 0].map((b) => Math.floor(n / 2 ** b) % 256).join('.');

/** What we connect to must be a DNS name or an IP address — not a sentence, not "this machine". */
function checkHost(name: string, host: string, where: string): void {
  if (name.length > 253 || /[\s\u0000-\u001f\u007f]/.test(name)) {
    throw new InventoryError(`${where}: host name ${shown(name)} is not a host name (at most 253 characters, no spaces or control characters); fix the inventory`);
  }
  const ip = isIP(host);
  if (ip === 0 && !HOSTNAME.test(host)) {
    throw new InventoryError(`${where}: host ${shown(name)}: ${shown(host)} is not a host name or IP address; fix ansible_host or the host's name in the inventory`);
  }
  // A number the resolver reads as an address (`0`, `0x0`, `10.1`) is one only when written in full, and
  // 0.0.0.0/8 is no host's address: connecting to it reaches this machine.
  const aton = ip === 6 ? null : inetAton(host);
  if ((aton !== null && aton < 2 ** 24) || (ip === 6 && /^[0:]+$/.test(host))) {
    throw new InventoryError(`${where}: host ${shown(name)}: ${shown(host)} is no host's address (${aton !== null ? `${dotted(aton)}, ` : ''}it means this machine); give the server's address in ansible_host`);
  }
  if (aton !== null && ip !== 4) {
    throw new InventoryError(`${where}: host ${shown(name)}: ${shown(host)} is a number the resolver reads as the address ${dotted(aton)}; write the address in full (or the server's name) in ansible_host`);
  }
}

export function toTarget(name: string, vars: Record<string, string>, groups: string[], where: string): Target {
  const v = parseHostVars(vars, where, name);
  checkHost(name, v.ansible_host ?? name, where);
  const jump = /ProxyJump[= ]\s*([^\s'"]+)/.exec(v.ansible_ssh_common_args ?? '')?.[1] ?? /-J\s+([^\s'"]+)/.exec(v.ansible_ssh_common_args ?? '')?.[1];
  const winrm = v.ansible_connection === 'winrm';
  const port = v.ansible_port ?? (winrm ? 5986 : 22);
  const windows = winrm || v.windows === true || v.ansible_shell_type === 'powershell' || v.ansible_shell_type === 'cmd';
  return {
    name,
    source: where,
    host: v.ansible_host ?? name,
    port,
    os: windows ? 'windows' : 'linux',
    winrm: winrm
      ? {
          // As Ansible: https unless the port is WinRM's plain-HTTP one.
          scheme: v.ansible_winrm_scheme ?? (port === 5985 ? 'http' : 'https'),
          auth: v.ansible_winrm_transport ?? 'ntlm',
          caFile: v.ansible_winrm_ca_trust_path,
          cleartextBasic: v.winrm_cleartext_basic === true,
          insecure: v.ansible_winrm_server_cert_validation === 'ignore',
          messageEncryption: v.ansible_winrm_message_encryption ?? 'auto',
        }
      : undefined,
    user: v.ansible_user,
    password: v.ansible_password ?? v.ansible_ssh_pass,
    // As Ansible: "~/" is the operator's home.
    keyFile: v.ansible_ssh_private_key_file?.replace(/^~(?=\/)/, os.homedir()),
    become: v.ansible_become ?? false,
    becomePassword: v.ansible_become_password ?? v.ansible_become_pass,
    connection: v.ansible_connection === 'winrm' ? 'winrm' : 'ssh',
    eip: v.eip,
    jump,
    sshAlgorithms: sshAlgorithmsOf(`${v.ansible_ssh_common_args ?? ''} ${v.ansible_ssh_extra_args ?? ''}`),
    groups,
    vars,
  };
}

/** An OS family from another source's word for it (a cloud's `os_type`: "Windows", "Linux"); anything else is Linux. */
export function osFamilyOf(word: string): Target['os'] {
  return word.trim().toLowerCase() === 'windows' ? 'windows' : 'linux';
}

/** The variables a host of this OS gets when its source names no connection: WinRM for Windows, as Ansible's default. */
export function defaultConnectionVars(os: Target['os']): Record<string, string> {
  return os === 'windows' ? { ansible_connection: 'winrm' } : {};
}

export class InventoryError extends Error {
  override name = 'InventoryError';
}

/** Expands Ansible host ranges: web[01:20] (zero-padded), db[a:c], node[0:10:2]. */
export function expandRange(pattern: string, where?: string): string[] {
  try {
    return expandRangeOf(pattern);
  } catch (e) {
    if (e instanceof InventoryError && where) throw new InventoryError(`${where}: ${e.message}`);
    throw e;
  }
}

function expandRangeOf(pattern: string): string[] {
  const m = /^(.*?)\[([0-9a-z]+):([0-9a-z]+)(?::(\d+))?\](.*)$/i.exec(pattern);
  if (!m) return [pattern];
  const [, pre, a, b, stepText, post] = m as unknown as [string, string, string, string, string | undefined, string];
  const step = stepText ? Number(stepText) : 1;
  // A step of 0 would never end; a range of millions is a typo, not a fleet.
  if (!(step >= 1)) throw new InventoryError(`bad host range [${a}:${b}:${stepText}] in ${shown(pattern)}: the step must be 1 or more`);
  if (/^\d+$/.test(a) && /^\d+$/.test(b) && (Number(b) - Number(a)) / step > 100_000) {
    throw new InventoryError(`host range [${a}:${b}] in ${shown(pattern)} makes more than 100000 hosts; split the inventory`);
  }
  const out: string[] = [];
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const width = a.length;
    for (let i = Number(a); i <= Number(b); i += step) out.push(`${pre}${String(i).padStart(width, '0')}`);
  } else if (/^[a-z]$/i.test(a) && /^[a-z]$/i.test(b)) {
    for (let c = a.charCodeAt(0); c <= b.charCodeAt(0); c += step) out.push(`${pre}${String.fromCharCode(c)}`);
  } else {
    throw new InventoryError(`bad host range [${a}:${b}] in ${pattern}`);
  }
  return out.flatMap((h) => expandRangeOf(h + post));
}
