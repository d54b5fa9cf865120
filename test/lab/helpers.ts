import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Helpers for tests that run against the lab (scripts/lab): real sshd hosts on 127.10.x.y. */
export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const labScript = path.join(repo, 'scripts/lab');
export const labOut = path.join(repo, 'var/lab');

export interface LabHost {
  name: string;
  address: string;
  port: number;
  os: string;
  arch: string;
  disk: string;
  mem: string;
  selinux: string;
  selinux_runtime: string;
  net: 'dhcp' | 'static';
  /** The NIC configuration the host really has: its distribution's own, or the scenario's networkd/none. */
  netfmt: 'rhel' | 'suse' | 'netplan' | 'interfaces' | 'networkd' | 'none';
  /** modern: ed25519 host key only; legacy: an old sshd offering ssh-rsa (and CBC/SHA-1) only. */
  sshd: 'modern' | 'legacy';
  /** The host key pinned in known_hosts: [type, base64]. */
  hostkey: [string, string];
  init: 'systemd' | 'sysv';
  metadata: 'on' | 'off';
  eip: string;
  agent: string;
  agent_state: 'running' | 'stopped';
  login: 'root' | 'sudo';
  flags: string;
  nic: string;
  uuid: string;
}

export interface LabDoc {
  port: number;
  user: string;
  password: string;
  key: string;
  knownHosts: string;
  inventory: string;
  hosts: LabHost[];
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function result(r: SpawnSyncReturns<string>): Run {
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function lab(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Run {
  return result(
    spawnSync(labScript, args, {
      encoding: 'utf8',
      env: { ...process.env, ...opts.env },
      timeout: opts.timeoutMs ?? 600_000,
    }),
  );
}

/** Brings the lab up (default scenario unless given) and returns what it wrote to hosts.json. */
export function labUp(scenario?: string, hosts?: number): LabDoc {
  if (process.getuid?.() !== 0) {
    throw new Error('the lab tests need root (they mount overlays and create namespaces): run them as root, as CI does');
  }
  const r = lab(['up', ...(scenario ? ['--scenario', scenario] : []), ...(hosts ? ['--hosts', String(hosts)] : [])]);
  if (r.code !== 0) throw new Error(`scripts/lab up failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return labDoc();
}

export function labDoc(): LabDoc {
  return JSON.parse(readFileSync(path.join(labOut, 'hosts.json'), 'utf8')) as LabDoc;
}

export function labDown(): Run {
  return lab(['down']);
}

/** OpenSSH into a lab host with the lab's ssh_config (pinned host keys, lab key, BatchMode). */
export function ssh(host: string, command: string, opts: { input?: string; user?: string; tty?: boolean } = {}): Run {
  const args = ['-F', path.join(labOut, 'ssh_config')];
  if (opts.user) args.push('-l', opts.user);
  if (opts.tty) args.push('-tt');
  args.push(host, command);
  return result(spawnSync('ssh', args, { encoding: 'utf8', input: opts.input ?? '', timeout: 60_000 }));
}

/** scp a local file to a lab host. */
export function scp(host: string, local: string, remote: string): Run {
  return result(
    spawnSync('scp', ['-q', '-F', path.join(labOut, 'ssh_config'), local, `${host}:${remote}`], {
      encoding: 'utf8',
      timeout: 60_000,
    }),
  );
}

/** What is left of the lab on this machine: wrapper processes, mounts, listeners. Empty when clean. */
export function labLeftovers(): string[] {
  const left: string[] = [];
  const hostInit = path.join(repo, 'scripts/lab.d/host-init.py');
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    if (cmd.includes(hostInit) || cmd.includes('/usr/lib/lab/inetd.pl')) left.push(`process ${pid}: ${cmd.trim()}`);
  }
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    if (line.includes('/run/resetpwd-lab')) left.push(`mount: ${line}`);
  }
  const tcp = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1);
  for (const line of tcp) {
    const [, local = '', , state = ''] = line.trim().split(/\s+/);
    // 127.10.x.y in /proc/net/tcp's little-endian hex ends in "0A7F" (10.127 reversed); 0A is LISTEN.
    // (Closed connections linger in TIME_WAIT for a minute; they are the kernel's, not a leftover.)
    if (/^[0-9A-F]{4}0A7F:/.test(local) && state === '0A') left.push(`listener: ${line.trim()}`);
  }
  if (existsSync('/run/resetpwd-lab')) left.push('directory /run/resetpwd-lab');
  const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.trim();
  if (netns) left.push(`named netns: ${netns}`);
  return left;
}

/** Runs a shell script inside a lab host as root, by nsenter (not through the tool's own SSH path). */
export function onHost(host: string, script: string): string {
  const r = spawnSync(labScript, ['shell', host, '/bin/sh', '-c', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${host}: ${script}: ${r.stderr}`);
  return r.stdout;
}

/**
 * The same in the background (a fault injector watching the host, say); the promise settles when it ends.
 * Every script given here must end by itself, so a test leaves no process behind.
 */
export function onHostAsync(host: string, script: string): { child: ChildProcess; done: Promise<void> } {
  const child = spawn(labScript, ['shell', host, '/bin/sh', '-c', script], { stdio: 'ignore' });
  return { child, done: new Promise((resolve) => child.on('close', () => resolve())) };
}

/** Kills every sshd of the host (its per-connection `sshd -i`): the controller's connection drops mid-step. */
export const KILL_SSHD = 'for d in /proc/[0-9]*; do [ "$(cat $d/comm 2>/dev/null)" = sshd ] && kill -9 ${d#/proc/}; done; true';
