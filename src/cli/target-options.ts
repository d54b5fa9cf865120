import { Option, type Command } from 'commander';
import os from 'node:os';
import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { checkWritablePath } from '../files.js';
import { inShard, parseShard, type Shard } from '../fleet/shard.js';
import type { ConnectOptions } from '../session/options.js';
import type { ResultDocument } from '../core/result.js';
import { InventoryError, oneTargetPerAddress, resolveTargets } from '../inventory/load.js';
import { SshConfig, SshConfigError, withSshConfig } from '../session/ssh-config.js';
import { refusedReach } from '../session/winrm.js';
import type { Target } from '../inventory/target.js';
import type { VaultSecret } from '../inventory/vault.js';
import { parseVaultId, vaultSecretFrom } from '../inventory/vault-secrets.js';
import { renderJson, reporterFor, writeReport } from '../report/reporter.js';
import { checkKeyFile } from '../transport/key-file.js';
import { SshAlgorithmError, algorithmsFor } from '../transport/ssh-algorithms.js';

const DEFAULT_KNOWN_HOSTS = path.join(os.homedir(), '.ssh', 'known_hosts');

/** The target options every host-touching command shares (SPEC "Command line"). */
export function addTargetOptions(cmd: Command): Command {
  const collect = (v: string, prev: string[] = []) => [...prev, v];
  return cmd
    .option('-i, --inventory <source>', 'Ansible inventory: a file (INI, YAML, JSON), a folder of them, a dynamic inventory script, host_list.txt, or a list of [user@]host[:port]; with its group_vars/ and host_vars/; repeatable', collect)
    .option('--vault-password-file <file>', 'Ansible Vault password: a file, or a script that prints it (default ANSIBLE_VAULT_PASSWORD_FILE); repeatable', collect)
    .option('--vault-id <label@source>', 'an Ansible Vault id: LABEL@FILE, LABEL@SCRIPT or LABEL@prompt; repeatable', collect)
    .option('--ask-vault-pass', 'prompt for the Ansible Vault password (needs a terminal)')
    .option('--playbook-dir <dir>', 'also apply the group_vars/ and host_vars/ beside this playbook folder, as Ansible does')
    .option('-H, --host <spec>', 'one target [user@]host[:port]; repeatable', collect)
    .option('-l, --limit <pattern>', 'only hosts/groups matching, as Ansible --limit (a:b, &g, !g, globs)')
    .option('-u, --user <name>', 'login user where the inventory names none (default root)')
    .option('--key <file>', 'private key file')
    .option('--key-passphrase-env <var>', 'environment variable holding the key\'s passphrase')
    .option('--password-env <var>', 'environment variable holding the login password')
    .option('--password-file <file>', 'file whose first line is the login password (keep it mode 600)')
    .option('--ask-pass', 'prompt for the login password (needs a terminal)')
    .option('--become', 'log in as a non-root user and use sudo for privileged steps')
    .option('--become-password-env <var>', 'environment variable holding the sudo password (sent over stdin)')
    .option('-F, --ssh-config <file>', 'OpenSSH client configuration for Host aliases, HostName, User, Port, IdentityFile, ProxyJump, UserKnownHostsFile (default ~/.ssh/config; "none" for none); the inventory and the command line win over it')
    .option('--known-hosts <file>', 'known_hosts file to verify host keys against', DEFAULT_KNOWN_HOSTS)
    .option('--accept-new', 'trust and record host keys seen for the first time (a changed key is always refused)')
    .option('--jump <spec>', 'reach targets through a bastion [user@]host[:port], an alias of the ssh config (ProxyJump; one hop; "none" for none)')
    .option('--winrm-ca <file>', 'CA bundle (PEM) that signed the WinRM HTTPS certificates (per host: ansible_winrm_ca_trust_path)')
    .option('--insecure', 'do not verify WinRM HTTPS certificates (per host: ansible_winrm_server_cert_validation=ignore); never the default')
    .option('--winrm-cleartext-basic', 'allow WinRM Basic login over plain http, which sends the password in clear text (per host: winrm_cleartext_basic=true); never the default')
    .addOption(new Option('-c, --concurrency <n>', 'hosts worked on at once').default(50).argParser(intArg('--concurrency', 1, 10000)))
    .addOption(new Option('--timeout <seconds>', 'per-step time limit').default(120).argParser(intArg('--timeout', 1, 86400)))
    .addOption(new Option('--max-output <MiB>', 'what one command on a host may send back before it is stopped and the step fails ("output too large")').default(64).argParser(intArg('--max-output', 1, 4096)))
    .addOption(new Option('--connect-timeout <seconds>', 'time limit for connecting and logging in (default: the smaller of --timeout and 30)').argParser(intArg('--connect-timeout', 1, 3600)))
    .option('--json', 'print the result document (JSON) on stdout instead of the summary')
    .option('--report <file>', 'also write the result to FILE; format by extension: .json, .xml (JUnit), .html')
    .addOption(new Option('--shard <K/N>', "this controller's share of the hosts when N controllers split the fleet (stable, by host name)").argParser(parseShard))
    .option('--pull [url]', 'hosts download the package themselves from URL (a mirror or the official bucket) and check its SHA-256; for audit: the eip check then fails without an EIP');
}

export function intArg(flag: string, min: number, max: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} ${v}: give a whole number from ${min} to ${max}`);
    return n;
  };
}

function fromEnv(flag: string, name: string | undefined): string | undefined {
  if (!name) return undefined;
  const v = process.env[name];
  if (v === undefined) throw new UsageError(`${flag} ${name}: that environment variable is not set; export it first`);
  return v;
}

export interface TargetCliOptions {
  inventory?: string[];
  vaultPasswordFile?: string[];
  vaultId?: string[];
  askVaultPass?: boolean;
  playbookDir?: string;
  host?: string[];
  limit?: string;
  user?: string;
  key?: string;
  keyPassphraseEnv?: string;
  passwordEnv?: string;
  passwordFile?: string;
  askPass?: boolean;
  become?: boolean;
  becomePasswordEnv?: string;
  knownHosts: string;
  sshConfig?: string;
  acceptNew?: boolean;
  jump?: string;
  winrmCa?: string;
  insecure?: boolean;
  winrmCleartextBasic?: boolean;
  concurrency: number;
  timeout: number;
  connectTimeout?: number;
  maxOutput: number;
  json?: boolean;
  report?: string;
  pull?: boolean | string;
  shard?: Shard;
}

/**
 * How to reach the targets, with every secret resolved (env var, file, prompt — never argv), and every
 * private key file the run would use checked once, before any host is contacted.
 */
export async function connectOptionsOf(o: TargetCliOptions, targets: Target[]): Promise<ConnectOptions> {
  if (o.winrmCa) {
    try {
      readFileSync(o.winrmCa);
    } catch {
      throw new UsageError(`--winrm-ca ${o.winrmCa}: cannot read that file; give the PEM file of the CA that signed the WinRM certificates`);
    }
  }
  let password = fromEnv('--password-env', o.passwordEnv);
  if (o.passwordFile) {
    try {
      password = readFileSync(o.passwordFile, 'utf8').split(/\r?\n/)[0]!;
    } catch {
      throw new UsageError(`--password-file ${o.passwordFile}: cannot read that file; give a file whose first line is the password`);
    }
  }
  if (o.askPass) password = await promptSecret('SSH password: ');
  const keyPassphrase = fromEnv('--key-passphrase-env', o.keyPassphraseEnv);
  const keys = new Map<string, string>();
  if (o.key) keys.set(o.key, '--key');
  for (const t of targets) if (t.connection === 'ssh' && t.keyFile && !keys.has(t.keyFile)) keys.set(t.keyFile, `${t.source}: host ${t.name}`);
  for (const [file, from] of keys) checkKeyFile(file, keyPassphrase, from);
  // How a host is reached that the session layer refuses outright: the whole run is refused before any host.
  for (const t of targets) {
    const why = refusedReach(t, { jump: o.jump, winrmCleartextBasic: o.winrmCleartextBasic });
    if (why) throw new UsageError(why);
  }
  // The SSH algorithms an inventory allows a host, checked once: one this client cannot do is the operator's typo.
  for (const t of targets) {
    try {
      algorithmsFor(t.sshAlgorithms);
    } catch (e) {
      if (e instanceof SshAlgorithmError) throw new UsageError(`${t.source}: host ${t.name}: ${e.message}`);
      throw e;
    }
  }
  return {
    knownHostsFile: o.knownHosts,
    acceptNew: !!o.acceptNew,
    user: o.user,
    keyFile: o.key,
    keyPassphrase,
    password,
    become: !!o.become,
    becomePassword: fromEnv('--become-password-env', o.becomePasswordEnv),
    jump: o.jump,
    winrmCaFile: o.winrmCa,
    winrmInsecure: !!o.insecure,
    winrmCleartextBasic: !!o.winrmCleartextBasic,
    maxOutputBytes: (o.maxOutput ?? 64) * (1 << 20),
    connectTimeoutMs: (o.connectTimeout ?? Math.min(o.timeout, 30)) * 1000,
    stepTimeoutMs: o.timeout * 1000,
    pull: !!o.pull,
    pullUrl: typeof o.pull === 'string' ? o.pull : undefined,
  };
}

/** Reads a secret from the terminal without echo. Never in a non-interactive run. */
export async function promptSecret(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError('--ask-pass needs a terminal; use --password-env VAR in scripts');
  process.stderr.write(prompt);
  process.stdin.setRawMode(true);
  process.stdin.resume();
  return new Promise((resolve) => {
    let s = '';
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          process.stdin.setRawMode(false);
          process.stdin.pause();
          process.stdin.off('data', onData);
          process.stderr.write('\n');
          return resolve(s);
        }
        if (ch === '\u0003') process.exit(130);
        s = ch === '\u007f' ? s.slice(0, -1) : s + ch;
      }
    };
    process.stdin.on('data', onData);
  });
}

/** The targets the options name (inventories, -H, --limit); an inventory problem is a usage error (exit 2). */
export async function targetsOf(o: TargetCliOptions): Promise<{ targets: Target[]; secrets: string[] }> {
  checkReportPath(o);
  const vault = await vaultSecretsOf(o);
  try {
    return { targets: finishTargets(o, resolveTargets({ ...inventoryOptionsOf(o, vault), hosts: o.host, limit: o.limit, user: o.user })), secrets: vault.map((v) => v.password.toString('utf8')) };
  } catch (e) {
    if (e instanceof InventoryError || e instanceof SshConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/** What loading the inventory needs from the options. */
export function inventoryOptionsOf(o: TargetCliOptions, vault: VaultSecret[]) {
  if (o.playbookDir !== undefined && !existsSync(o.playbookDir)) throw new UsageError(`--playbook-dir ${o.playbookDir}: no such folder`);
  return { inventory: o.inventory, vault, playbookDir: o.playbookDir };
}

/**
 * The Ansible Vault passwords the options name — --vault-id (LABEL@FILE|SCRIPT|prompt), --vault-password-file
 * (else ANSIBLE_VAULT_PASSWORD_FILE), --ask-vault-pass — read before any host is contacted; none asked for
 * unless given (an encrypted file then fails, naming itself and these options).
 */
export async function vaultSecretsOf(o: TargetCliOptions): Promise<VaultSecret[]> {
  const out: VaultSecret[] = [];
  const ask = async (label: string) => {
    if (!process.stdin.isTTY) throw new UsageError(`${label === 'default' ? '--ask-vault-pass' : `--vault-id ${label}@prompt`} needs a terminal; use --vault-password-file FILE in scripts`);
    const pw = await promptSecret(label === 'default' ? 'Vault password: ' : `Vault password (${label}): `);
    if (!pw) throw new UsageError('the vault password is empty');
    return { label, password: Buffer.from(pw, 'utf8'), source: 'prompt' };
  };
  try {
    for (const spec of o.vaultId ?? []) {
      const { label, source } = parseVaultId(spec);
      out.push(source === 'prompt' ? await ask(label) : vaultSecretFrom(label, source, '--vault-id'));
    }
    const files = o.vaultPasswordFile ?? (process.env.ANSIBLE_VAULT_PASSWORD_FILE ? [process.env.ANSIBLE_VAULT_PASSWORD_FILE] : []);
    for (const f of files) out.push(vaultSecretFrom('default', f, o.vaultPasswordFile ? '--vault-password-file' : 'ANSIBLE_VAULT_PASSWORD_FILE'));
    if (o.askVaultPass) out.push(await ask('default'));
  } catch (e) {
    if (e instanceof InventoryError) throw new UsageError(e.message);
    throw e;
  }
  return out;
}

/** An unknown report format, or a report path that is a symbolic link, is refused before any host is contacted. */
export function checkReportPath(o: TargetCliOptions): void {
  if (o.report) {
    reporterFor(o.report);
    checkWritablePath(o.report, '--report');
  }
}

/** What every source of targets goes through: this controller's shard, the operator's ssh config, one target per address. */
export function finishTargets(o: TargetCliOptions, all: Target[], notContacted: (t: Target) => boolean = () => false): Target[] {
  try {
    const mine = inShard(all, o.shard);
    if (mine.length === 0) throw new UsageError(`--shard ${o.shard!.k}/${o.shard!.n}: none of the ${all.length} hosts falls in this shard`);
    const cfg = SshConfig.load(o.sshConfig);
    const reached = mine.map((t) => (notContacted(t) ? t : withSshConfig(t, cfg, { user: o.user, key: o.key, jump: o.jump, knownHostsGiven: o.knownHosts !== DEFAULT_KNOWN_HOSTS })));
    // A target that will not be contacted keeps its row even where its address is another's.
    const kept = new Set(oneTargetPerAddress(reached.filter((t) => !notContacted(t))));
    return reached.filter((t) => notContacted(t) || kept.has(t));
  } catch (e) {
    if (e instanceof InventoryError || e instanceof SshConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * Writes the result to --report in the format its extension names (private: it names hosts and their
 * weaknesses), and the result document or the human summary to stdout.
 */
export function emit(o: TargetCliOptions, doc: ResultDocument, human: () => string): void {
  if (o.report) writeReport(o.report, doc);
  process.stdout.write(o.json ? renderJson(doc) : human());
}
