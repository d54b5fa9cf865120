import { Command } from 'commander';
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { brokenForAll } from '../core/password.js';
import { ExitCode, UsageError } from '../errors.js';
import { platformOf } from '../platform/index.js';
import { renderHuman } from '../report/human.js';
import { accountFor, runReset } from '../reset/run.js';
import { PasswordVault, parseRecipients } from '../reset/vault.js';
import { secretInClear } from '../session/winrm.js';
import { addCloudOptions, runTargetsOf, type CloudCliOptions } from './cloud-options.js';
import { addRolloutOptions, observeRun, rolloutOf, type RolloutCliOptions } from './rollout.js';
import { newRunId } from '../lifecycle/run.js';
import { addTargetOptions, connectOptionsOf, emit, promptSecret } from './target-options.js';

interface ResetCliOptions extends CloudCliOptions, RolloutCliOptions {
  newPasswordEnv?: string;
  newPasswordFile?: string;
  generate?: boolean;
  encryptTo?: string[];
  recipientsFile?: string;
  out?: string;
  account?: string;
  dryRun?: boolean;
}

/** `reset-password`, online: the password set over the tool's own session to each host, then proven (SPEC "reset-password"). */
export function resetCommand(): Command {
  const cmd = new Command('reset-password')
    .description('set an account\'s password on every target over the tool\'s own connection, and prove it (a fresh login with it, or the stored hash)')
    .option('--new-password-env <var>', 'environment variable holding the new password (one for every target)')
    .option('--new-password-file <file>', 'file whose first line is the new password (mode 600)')
    .option('--generate', 'a different random password per host, meeting its rules, written only to the --out file encrypted to your age recipients')
    .option('--encrypt-to <recipient>', 'with --generate: an age recipient (age1…) that can open the passwords file; repeatable', (v: string, p: string[] = []) => [...p, v])
    .option('--recipients-file <file>', 'with --generate: a file of age recipients, one a line')
    .option('--out <file>', 'with --generate: the passwords file (default passwords-<run id>.age here; never overwritten)')
    .option('--account <name>', 'the account whose password is set (default root on Linux, Administrator on Windows); -u stays the login user')
    .option('--dry-run', 'check the password against every target\'s rules and reach the hosts; change nothing')
    .addHelpText('after', '\nExample:\n  NEW_PW=… resetpwd-fleet reset-password -i inventory.ini --new-password-env NEW_PW --key ~/.ssh/id_ed25519\n');
  addRolloutOptions(addCloudOptions(addTargetOptions(cmd)), true).action(async (o: ResetCliOptions) => {
    if (o.account !== undefined && !/^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/.test(o.account)) {
      throw new UsageError(`--account ${JSON.stringify(o.account).slice(0, 40)}: not an account name (letters, digits, _ . -; at most 32)`);
    }
    const recipients = o.generate ? await recipientsOf(o) : null;
    if (!o.generate) for (const [flag, v] of [['--encrypt-to', o.encryptTo], ['--recipients-file', o.recipientsFile], ['--out', o.out]] as const) {
      if (v !== undefined) throw new UsageError(`${flag} is for --generate; add --generate or drop it`);
    }
    const newPassword = o.generate ? null : await newPasswordOf(o);
    const { targets, cloudSecrets } = await runTargetsOf(o, { changing: !o.dryRun });
    // A new password never crosses the network readable, whatever the login was allowed to do.
    for (const t of targets) {
      const why = secretInClear(t);
      if (why) throw new UsageError(`${why}; no host was touched`);
    }
    if (newPassword !== null) {
      // One password for every target: it must meet the rules of each host's OS for its account, or nothing starts.
      const broken = brokenForAll(newPassword, targets.map((t) => ({ rules: platformOf(t.os).passwordRules, user: accountFor(t, o.account) })));
      if (broken.length) throw new UsageError(`the new password breaks ${broken.length === 1 ? 'a rule' : `${broken.length} rules`}: ${broken.join('; ')}; no host was touched`);
    }
    const conn = await connectOptionsOf(o, targets);
    const runId = newRunId();
    const out = o.out ?? `passwords-${runId}.age`;
    const run = observeRun(o, conn, targets, runId, 'reset-password', { dryRun: !!o.dryRun, account: o.account ?? null, generate: !!o.generate }, [newPassword ?? '', ...cloudSecrets]);
    // The vault exists (empty, encrypted) before any host is touched: a path that cannot take it stops the run here
    // (after the log's own checks, so a refused --log leaves no vault behind).
    let vault: PasswordVault | null = null;
    try {
      vault = recipients && !o.dryRun ? await PasswordVault.create(out, recipients, { run: runId, command: 'reset-password', account: o.account ?? null }) : null;
    } catch (e) {
      run.close();
      throw e;
    }
    run.progress.start(targets.length, `reset-password${o.dryRun ? ' --dry-run' : ''}`);
    const doc = await runReset(targets, newPassword, {
      ...conn, concurrency: o.concurrency, account: o.account, dryRun: !!o.dryRun, ...rolloutOf(o, true),
      signal: run.signal, onHost: run.host, onWave: run.wave, onStep: run.step,
      generate: vault ? { vault, onSecret: run.addSecret } : undefined,
    }).finally(run.close);
    const clean = run.end(doc);
    emit(o, clean, () => renderHuman(clean));
    if (vault) process.stderr.write(`resetpwd-fleet: the new passwords are in ${vault.file} (age; open it with: age -d -i YOUR_KEY ${vault.file})\n`);
    const done = (h: { outcome: string }) => h.outcome === 'reset' || (o.dryRun === true && h.outcome === 'skipped');
    process.exitCode = doc.stopped ? ExitCode.Stopped : doc.hosts.every(done) ? ExitCode.Ok : ExitCode.HostFailed;
  });
  return cmd;
}

/** The age recipients --generate encrypts to: --encrypt-to and --recipients-file (a file of yours, one a line). */
async function recipientsOf(o: ResetCliOptions): Promise<string[]> {
  if (o.newPasswordEnv || o.newPasswordFile) throw new UsageError('--generate makes a password per host: drop --new-password-env / --new-password-file');
  let file: { name: string; text: string } | undefined;
  if (o.recipientsFile) {
    try {
      file = { name: o.recipientsFile, text: readFileSync(o.recipientsFile, 'utf8') };
    } catch {
      throw new UsageError(`--recipients-file ${o.recipientsFile}: cannot read it; give a file of age recipients (age1…), one a line`);
    }
  }
  return parseRecipients(o.encryptTo ?? [], file);
}

/** The one new password: an environment variable, a mode-600 file, or a prompt asked twice; never argv. */
async function newPasswordOf(o: ResetCliOptions): Promise<string> {
  if (o.newPasswordEnv && o.newPasswordFile) throw new UsageError('--new-password-env and --new-password-file: give one of them');
  if (o.newPasswordEnv) {
    const v = process.env[o.newPasswordEnv];
    if (v === undefined || v === '') throw new UsageError(`--new-password-env ${o.newPasswordEnv}: that environment variable is not set; export it first`);
    return v;
  }
  if (o.newPasswordFile) return readPasswordFile(o.newPasswordFile);
  if (!process.stdin.isTTY) throw new UsageError('reset-password: no new password; give --new-password-env VAR or --new-password-file FILE (a prompt needs a terminal)');
  const a = await promptSecret('New password: ');
  const b = await promptSecret('Again: ');
  if (a !== b) throw new UsageError('reset-password: the two passwords typed differ; nothing was touched');
  return a;
}

function readPasswordFile(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--new-password-file ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'ELOOP' ? 'it is a symbolic link' : 'cannot open it'}; give the file itself (mode 600)`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`--new-password-file ${file}: not a regular file`);
    if ((st.mode & 0o077) !== 0) throw new UsageError(`--new-password-file ${file}: mode ${(st.mode & 0o777).toString(8)} lets other users read it; chmod 600 ${file}`);
    const pw = readFileSync(fd, 'utf8').split(/\r?\n/)[0] ?? '';
    if (pw === '') throw new UsageError(`--new-password-file ${file}: its first line is empty; write the new password there`);
    return pw;
  } finally {
    closeSync(fd);
  }
}
