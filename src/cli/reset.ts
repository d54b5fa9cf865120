import { Command } from 'commander';
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { brokenForAll } from '../core/password.js';
import { ExitCode, UsageError } from '../errors.js';
import { platformOf } from '../platform/index.js';
import { renderHuman } from '../report/human.js';
import { accountFor, openResetJournal, resumeTargets, runReset } from '../reset/run.js';
import { failedHosts, findRun, type RunRecord } from '../fleet/runs.js';
import type { Journal } from '../fleet/journal.js';
import type { HostResult } from '../core/result.js';
import { PasswordVault, parseRecipients } from '../reset/vault.js';
import { secretInClear } from '../session/winrm.js';
import { apiPasswordChecks } from '../cloud/api.js';
import type { Target } from '../inventory/target.js';
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
  resume?: string;
  retryFailed?: string;
  journal?: string;
  offline?: boolean;
  restart?: boolean;
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
    .option('--dry-run', 'check the password against every target\'s rules and reach the hosts (--offline: the API\'s dry run); change nothing')
    .option('--offline', 'through the ECS batch reset API (needs --cloud): no host is contacted; the plug-in applies the password at each server\'s next start')
    .option('--restart', 'with --offline: have the cloud restart each running server once its reset is accepted (a restart may cause data loss)')
    .option('--journal <file>', 'where the run\'s journal goes (default ~/.local/state/resetpwd-fleet/runs/<run-id>.jsonl)')
    .option('--resume <run>', 'continue an interrupted run (its id, or "latest"): hosts already done are not reset again')
    .option('--retry-failed <run>', 'target only the hosts that failed or were unreachable in that run')
    .addHelpText('after', '\nExamples:\n  NEW_PW=… resetpwd-fleet reset-password -i inventory.ini --new-password-env NEW_PW --key ~/.ssh/id_ed25519\n  resetpwd-fleet reset-password --cloud cn-north-4 --cloud-filter tag=env=dev --offline --generate --encrypt-to age1…\n');
  addRolloutOptions(addCloudOptions(addTargetOptions(cmd)), true).action(async (o: ResetCliOptions) => {
    if (o.account !== undefined && !/^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/.test(o.account)) {
      throw new UsageError(`--account ${JSON.stringify(o.account).slice(0, 40)}: not an account name (letters, digits, _ . -; at most 32)`);
    }
    if (o.restart && !o.offline) throw new UsageError('--restart is for --offline (the cloud restarts the servers); add --offline or drop it');
    if (o.offline && !o.cloud) throw new UsageError('--offline goes through the ECS API: add --cloud REGION (and its credentials); inventory hosts are matched to servers by server_id or address');
    if (o.offline && o.account !== undefined) throw new UsageError('--offline: the API resets root (Linux) or Administrator (Windows) only; drop --account, or reset that account online');
    if (o.resume && o.retryFailed) throw new UsageError('--resume and --retry-failed: give one of them');
    if ((o.resume || o.retryFailed) && o.dryRun) throw new UsageError(`${o.resume ? '--resume' : '--retry-failed'} with --dry-run: a dry run has no journal to continue; drop one of them`);
    if (o.resume && o.journal) throw new UsageError('--journal with --resume: the resumed run goes on in its own journal; drop --journal');
    // The runs named are read first: a mistyped id fails before any prompt or cloud call.
    const resume = o.resume ? findRun(o.resume, undefined, '--resume') : undefined;
    const retry = o.retryFailed ? findRun(o.retryFailed, undefined, '--retry-failed') : undefined;
    if (retry) checkRetried(retry, { account: o.account, offline: !!o.offline });
    // A resumed --generate run encrypts to the run's own recipients (public keys, in its journal) unless given again.
    const recipients = o.generate ? await recipientsOf(o, resume?.header.recipients) : null;
    if (!o.generate) for (const [flag, v] of [['--encrypt-to', o.encryptTo], ['--recipients-file', o.recipientsFile], ['--out', o.out]] as const) {
      if (v !== undefined) throw new UsageError(`${flag} is for --generate; add --generate or drop it`);
    }
    const newPassword = o.generate ? null : await newPasswordOf(o);
    const given = await runTargetsOf(o, { changing: !o.dryRun, contacting: !o.offline });
    const cloudSecrets = given.cloudSecrets;
    let targets = resume ? resumeTargets(resume, given.targets, { account: o.account, generate: !!o.generate, offline: !!o.offline }) : given.targets;
    if (retry) {
      const again = new Set(failedHosts(retry));
      targets = targets.filter((t) => again.has(t.name));
      if (targets.length === 0) throw new UsageError(`--retry-failed ${o.retryFailed}: no host of that run failed or was unreachable (among the given targets)`);
    }
    if (o.offline) {
      // The API needs each server's id: a host the cloud did not match has none.
      const lost = targets.filter((t) => !t.vars.server_id);
      if (lost.length) throw new UsageError(`--offline: ${lost.slice(0, 5).map((t) => t.name).join(', ')}${lost.length > 5 ? ' …' : ''} match no server of the project; set their server_id, or leave them out with --limit`);
      // Two names for one server would ask it twice (with two passwords, under --generate): only the last would hold.
      const byId = new Map<string, string>();
      for (const t of targets) {
        const other = byId.get(t.vars.server_id!);
        if (other) throw new UsageError(`--offline: ${other} and ${t.name} are the same server (${t.vars.server_id}); leave one out with --limit '!${t.name}'`);
        byId.set(t.vars.server_id!, t.name);
      }
    } else {
      // A new password never crosses the network readable, whatever the login was allowed to do.
      for (const t of targets) {
        const why = secretInClear(t);
        if (why) throw new UsageError(`${why}; no host was touched`);
      }
    }
    if (newPassword !== null) {
      // One password for every target: it must meet the rules of each host's OS for its account (and, offline, the
      // API's own, stricter in its special characters), or nothing starts.
      const checks = (t: Target) => [{ rules: platformOf(t.os).passwordRules, user: accountFor(t, o.account) }, ...(o.offline ? apiPasswordChecks(t.os, accountFor(t, o.account)) : [])];
      const broken = brokenForAll(newPassword, targets.flatMap(checks));
      if (broken.length) throw new UsageError(`the new password breaks ${broken.length === 1 ? 'a rule' : `${broken.length} rules`}: ${broken.join('; ')}; no host was touched`);
    }
    if (o.restart && !o.dryRun) {
      // The cloud's own warning (the reset pages): said before anything is asked.
      process.stderr.write('resetpwd-fleet: --restart: the cloud restarts each running server once it accepts its reset: its services stop for dozens of seconds to minutes, and an automatic restart may cause data loss (the cloud advises stopping the server first, or off-peak hours)\n');
    }
    if (resume && newPassword !== null && resume.results.size > 0) {
      // The journal holds no trace of the password (not even a hash): the operator's word is all there is.
      process.stderr.write(`resetpwd-fleet: --resume: the ${resume.results.size} host(s) this run finished keep the password it set then; give the same one, or the fleet ends with two\n`);
    }
    const conn = await connectOptionsOf(o, targets);
    const runId = resume?.id ?? newRunId();
    // A resume writes its own file: the earlier one is sealed to keys the tool does not hold.
    const out = o.out ?? (resume ? `passwords-${runId}-${resume.vaults.length + 1}.age` : `passwords-${runId}.age`);
    const run = observeRun(o, conn, targets, runId, 'reset-password', { dryRun: !!o.dryRun, account: o.account ?? null, generate: !!o.generate, resume: o.resume ?? null }, [newPassword ?? '', ...cloudSecrets]);
    // The journal, then the vault (empty, encrypted), before any host is touched: a path that cannot take either
    // stops the run here — after the log's own checks, and a refused journal leaves no vault behind.
    let vault: PasswordVault | null = null;
    let journal: Journal | undefined;
    try {
      journal = o.dryRun ? undefined : openResetJournal({ resume, journalPath: o.journal, runId, redact: run.redact });
      vault = recipients && !o.dryRun ? await PasswordVault.create(out, recipients, { run: runId, command: 'reset-password', account: o.account ?? null }) : null;
    } catch (e) {
      journal?.close();
      run.close();
      throw e;
    }
    const doc = await runReset(targets, newPassword, {
      ...conn, concurrency: o.concurrency, account: o.account, dryRun: !!o.dryRun, ...rolloutOf(o, true),
      signal: run.signal, onHost: run.host, onWave: run.wave, onStep: run.step,
      generate: recipients ? { vault, recipients, onSecret: run.addSecret } : undefined,
      runId, journal, redact: run.redact, resume,
      onStart: (n) => run.progress.start(n, `reset-password${o.dryRun ? ' --dry-run' : ''}`),
      offline: o.offline && given.cloud ? { api: given.cloud.api, servers: given.cloud.servers, restart: !!o.restart } : undefined,
    }).finally(run.close);
    const clean = run.end(doc);
    emit(o, clean, () => renderHuman(clean));
    if (vault) {
      const earlier = doc.vaults.slice(0, -1);
      process.stderr.write(`resetpwd-fleet: the new passwords are in ${vault.file} (age; open it with: age -d -i YOUR_KEY ${vault.file})${earlier.length ? `; this run's earlier attempts are in ${earlier.join(', ')}` : ''}\n`);
    }
    if (doc.stopped && doc.journal) process.stderr.write(`resetpwd-fleet: continue with --resume ${doc.runId} (journal ${doc.journal})\n`);
    if (o.offline && !o.dryRun && doc.hosts.some((h) => h.outcome === 'requested')) {
      process.stderr.write(o.restart
        ? 'resetpwd-fleet: the cloud accepted the new passwords; servers it restarted have them now (reset.restarted), the others at their next start\n'
        : 'resetpwd-fleet: the cloud accepted the new passwords; each applies at the server\'s next start or restart (--restart asks the cloud to restart them)\n');
    }
    // With --restart the operator asked for the password now: a restart that failed leaves the old one in force.
    const done = (h: HostResult) => h.outcome === 'reset' || (h.outcome === 'requested' && h.reset?.restarted !== false) || (o.dryRun === true && h.outcome === 'skipped');
    process.exitCode = doc.stopped ? ExitCode.Stopped : doc.hosts.every(done) ? ExitCode.Ok : ExitCode.HostFailed;
  });
  return cmd;
}

/** --retry-failed: the run must be a reset of the same route and account (its failed hosts are retried, not another command's). */
function checkRetried(r: RunRecord, o: { account?: string | undefined; offline: boolean }): void {
  const ref = `--retry-failed ${r.id}`;
  if (r.header.command !== 'reset-password') throw new UsageError(`${ref}: that run was \`${r.header.command}\`, not reset-password; retry it with \`${r.header.command} --retry-failed ${r.id}\``);
  if ((r.header.offline ?? false) !== o.offline) throw new UsageError(`${ref}: that run went ${r.header.offline ? 'through the cloud API: add --offline' : 'over the hosts\' own connections: drop --offline'}`);
  if ((r.header.account ?? null) !== (o.account ?? null)) throw new UsageError(`${ref}: that run reset ${r.header.account ? `--account ${r.header.account}` : "each platform's default account"}; give the same --account`);
}

/** The age recipients --generate encrypts to: --encrypt-to and --recipients-file (a file of yours, one a line). */
async function recipientsOf(o: ResetCliOptions, fromRun?: string[]): Promise<string[]> {
  if (o.newPasswordEnv || o.newPasswordFile) throw new UsageError('--generate makes a password per host: drop --new-password-env / --new-password-file');
  let file: { name: string; text: string } | undefined;
  if (o.recipientsFile) {
    try {
      file = { name: o.recipientsFile, text: readFileSync(o.recipientsFile, 'utf8') };
    } catch {
      throw new UsageError(`--recipients-file ${o.recipientsFile}: cannot read it; give a file of age recipients (age1…), one a line`);
    }
  }
  return parseRecipients(!o.encryptTo && !file && fromRun ? fromRun : (o.encryptTo ?? []), file);
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
