import path from 'node:path';
import { runHostJobs, type HostJobOptions } from '../audit/run.js';
import { UsageError } from '../errors.js';
import { Journal, defaultJournalDir } from '../fleet/journal.js';
import { doneHosts, type RunRecord } from '../fleet/runs.js';
import { stepTimer, summarize, type HostResult, type ResultDocument, type StepRecord } from '../core/result.js';
import type { Target } from '../inventory/target.js';
import { platformOf } from '../platform/index.js';
import { failureOf } from '../session/failure.js';
import { openSession, passwordLogin, type HostSession } from '../session/open.js';
import type { ConnectOptions } from '../session/options.js';
import { KnownHosts } from '../transport/known-hosts.js';
import { generatePassword } from '../core/password.js';
import type { PasswordVault } from './vault.js';
import { offlineBatches, offlineHost, type OfflineRoute } from './offline.js';

/**
 * The library entry of `reset-password`, online route: over the tool's own session to each host, the
 * account's password set by the host's platform (the secret on stdin only) and then proven — by a fresh
 * login with it where the host allows password logins, else by the stored hash checked on the host. The
 * password was checked against every target's rules before this runs (cli/reset.ts).
 */
export interface ResetRunOptions extends ConnectOptions, HostJobOptions {
  /** The account whose password is set; default: the platform's (root, Administrator). */
  account?: string | undefined;
  /** The policy checked and the hosts reached; nothing changed. */
  dryRun: boolean;
  onHost?: (h: HostResult) => void;
  onStep?: (host: string, step: string) => void;
  /**
   * --generate: a different random password per host, meeting its OS's rules, recorded in the vault (durably,
   * before the host is changed) and handed to `onSecret` so every output scrubs it. Else the one given.
   */
  generate?: { vault: PasswordVault | null; recipients: string[]; onSecret: (password: string) => void } | undefined;
  /** The run's id (a resumed run keeps its own). */
  runId: string;
  /** Where the run's journal goes (default ~/.local/state/resetpwd-fleet/runs/<run-id>.jsonl); none for a dry run. */
  journalPath?: string | undefined;
  /** The journal, already open (the CLI opens it before it makes the vault, so a bad path leaves no vault behind). */
  journal?: Journal | undefined;
  /** Scrubs secrets from each journal line (the run's Redactor). */
  redact?: ((line: string) => string) | undefined;
  /** --resume: the interrupted run; its finished hosts are not touched again. */
  resume?: RunRecord | undefined;
  /** Told how many hosts this run works on (a resumed run: those not done yet), before the first starts. */
  onStart?: ((hosts: number) => void) | undefined;
  /** --offline: through the ECS batch reset API; no host is contacted. */
  offline?: OfflineRoute | undefined;
}

export function accountFor(t: Target, account: string | undefined): string {
  return account ?? platformOf(t.os).passwordReset.defaultAccount;
}

/**
 * --resume: the run must be a reset-password run of the same kind (generated or one password, the same account)
 * over targets that include all its hosts; returns them in the run's order. Checked before anything is made.
 */
export function resumeTargets(prior: RunRecord, targets: Target[], o: { account?: string | undefined; generate: boolean; offline: boolean }): Target[] {
  const ref = `--resume ${prior.id}`;
  if (prior.header.command !== 'reset-password') throw new UsageError(`${ref}: that run was \`${prior.header.command}\`; resume it with \`${prior.header.command} --resume ${prior.id}\``);
  if (!prior.interrupted) throw new UsageError(`${ref}: that run is complete; nothing to resume (--retry-failed ${prior.id} targets its failed hosts)`);
  if ((prior.header.generate ?? false) !== o.generate) {
    throw new UsageError(`${ref}: that run ${prior.header.generate ? 'generated a password per host: add --generate' : 'set one password: drop --generate and give it again'}`);
  }
  if ((prior.header.offline ?? false) !== o.offline) throw new UsageError(`${ref}: that run went ${prior.header.offline ? 'through the cloud API: add --offline' : 'over the hosts\' own connections: drop --offline'}`);
  if ((prior.header.account ?? null) !== (o.account ?? null)) {
    throw new UsageError(`${ref}: that run reset ${prior.header.account ? `--account ${prior.header.account}` : "each platform's default account"}; give the same --account`);
  }
  const byName = new Map(targets.map((t) => [t.name, t]));
  const missing = prior.header.hosts.filter((h) => !byName.has(h));
  if (missing.length) throw new UsageError(`${ref}: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ' …' : ''} not in the given targets; give the run's inventory again`);
  return prior.header.hosts.map((h) => byName.get(h)!);
}

/** The run's journal: the resumed run's own file, --journal, or the default place. */
export function openResetJournal(o: Pick<ResetRunOptions, 'resume' | 'journalPath' | 'runId' | 'redact'>): Journal {
  return new Journal(o.resume?.file ?? o.journalPath ?? path.join(defaultJournalDir(), `${o.runId}.jsonl`), o.runId, o.redact);
}

/**
 * Every host of the run, journaled as it goes (the header — hosts, account, the age recipients, which are public —,
 * each step, each host's result, the end), so that a run killed half-way is resumed without resetting a host that
 * is done. A resumed run journals into the same file and writes its passwords to a new vault file (the tool cannot
 * open the earlier one: only the recipients can); the journal lists every vault file of the run.
 */
export async function runReset(targetsIn: Target[], newPassword: string | null, o: ResetRunOptions): Promise<ResultDocument & { runId: string; journal: string | null; vaults: string[]; stopped: { reason: string; detail: string } | null }> {
  const prior = o.resume;
  const targets = prior ? resumeTargets(prior, targetsIn, { account: o.account, generate: !!o.generate, offline: !!o.offline }) : targetsIn;
  const knownHosts = new KnownHosts(o.knownHostsFile);
  const journal = o.dryRun ? null : (o.journal ?? openResetJournal(o));
  const done = prior ? doneHosts(prior) : new Set<string>();
  const pending = targets.filter((t) => !done.has(t.name));
  o.onStart?.(pending.length);
  const vaultFile = o.generate?.vault ? path.resolve(o.generate.vault.file) : null;
  const vaults = [...(prior?.vaults ?? []), ...(vaultFile ? [vaultFile] : [])];
  try {
    journal?.write({
      type: 'run', command: 'reset-password', package: null, hosts: targets.map((t) => t.name), account: o.account ?? null, generate: !!o.generate, offline: !!o.offline,
      ...(o.generate ? { recipients: o.generate.recipients } : {}),
      ...(prior ? { resumed: true, pending: pending.length } : {}),
    });
    if (vaultFile) journal?.write({ type: 'vault', file: vaultFile });
    const onStep = (host: string, state: string) => {
      journal?.append(host, state);
      o.onStep?.(host, state);
    };
    const jobs = { ...o, onStep };
    const batches = o.offline ? offlineBatches(o.offline) : null;
    const job = (t: Target) => (batches ? offlineHost(t, newPassword, { ...jobs, signal: o.signal }, batches) : resetHost(t, newPassword, jobs, knownHosts));
    const doc = await runHostJobs('reset-password', pending, o, job, (h) => {
      // Every finished host is journaled with its result at once: a crash loses nothing already done.
      journal?.write({ type: 'result', host: h.name, result: h });
      o.onHost?.(h);
    });
    journal?.write({ type: 'end', complete: doc.stopped === null, stopped: doc.stopped });
    const fresh = new Map(doc.hosts.map((h) => [h.name, h]));
    const hosts = prior ? targets.map((t) => fresh.get(t.name) ?? prior.results.get(t.name)!) : doc.hosts;
    return { ...doc, hosts, summary: summarize(hosts), runId: o.runId, journal: journal?.file ?? null, vaults };
  } finally {
    journal?.close();
  }
}

/** One host: reach it, set the password, prove it. Never throws: failures are results. */
export async function resetHost(t: Target, given: string | null, o: ResetRunOptions, knownHosts: KnownHosts): Promise<HostResult> {
  const steps: StepRecord[] = [];
  const account = accountFor(t, o.account);
  const base: HostResult = {
    name: t.name, address: t.host, port: t.port, transport: t.connection, reachable: false, os: null, checks: [], agent: null,
    outcome: 'unreachable', steps, error: null, ...(t.vars.server_id ? { serverId: t.vars.server_id } : {}),
  };
  const time = stepTimer(steps);
  const step = (name: string) => o.onStep?.(t.name, name);
  let s: HostSession | undefined;
  try {
    step('connect');
    s = await time('connect', () => openSession(t, o, knownHosts));
    const kit = s.platform.passwordReset;
    if (o.dryRun) return { ...base, reachable: true, outcome: 'skipped', error: null, reset: { account, verifiedBy: null } };
    const newPassword = given ?? generatePassword(s.platform.passwordRules, account);
    const vault = o.generate?.vault;
    if (o.generate && vault) {
      o.generate.onSecret(newPassword);
      step('record');
      // In the vault, on disk, before the host is touched: from here on, whatever happens, it can be read.
      await time('record', () => vault.put({ host: t.name, address: t.host, account, password: newPassword }));
    }
    const { result, refused } = await setAndProve(t, s, account, newPassword, o, knownHosts, base, step, time);
    if (vault) {
      // Applied when proven; failed only when the host refused the change; anything else (a lost connection,
      // set but unproven) stays `pending`: it may hold, so it must stay readable.
      try {
        if (result.outcome === 'reset') await vault.mark(t.name, 'applied');
        else if (refused) await vault.mark(t.name, 'failed', result.error ?? undefined);
      } catch (e) {
        // The host's outcome stands; only the file's word on it is behind.
        return { ...result, error: `${result.error ? `${result.error}; ` : ''}${t.name}: the passwords file still says pending for this host: ${(e as Error).message}` };
      }
    }
    return result;
  } catch (e) {
    return { ...base, ...failureOf(e, t.name, s !== undefined) };
  } finally {
    await s?.close().catch(() => undefined);
  }
}

/** Sets the password through the platform's kit and proves it; `refused`: the host said no (nothing changed). */
async function setAndProve(
  t: Target, s: HostSession, account: string, newPassword: string, o: ResetRunOptions, knownHosts: KnownHosts, base: HostResult,
  step: (name: string) => void, time: ReturnType<typeof stepTimer>,
): Promise<{ result: HostResult; refused: boolean }> {
  const kit = s.platform.passwordReset;
  const done = (result: HostResult) => ({ result, refused: false });
  // From here on the host may be changing: whatever fails is `failed` on a host that was entered, never an
  // `unreachable` that --retries would start again (with another password, over one that may hold).
  const changing = (e: unknown): HostResult => {
    const f = failureOf(e, t.name);
    return { ...base, reachable: true, outcome: 'failed', error: `${f.error ?? `${t.name}: failed`} (the password may or may not have changed)` };
  };
  try {
    step('set');
    const set = await time('set', () => kit.set(s, account, newPassword));
    if (!set.ok) return { result: { ...base, reachable: true, outcome: 'failed', error: `${t.name}: ${set.why}` }, refused: set.unchanged };
    step('verify');
    const login = await time('verify', () => passwordLogin(t, o, knownHosts, account, newPassword));
    // The old password, where the run knows it (the account is the login user) and the host allows password
    // logins at all (the new one got in): now refused.
    const loginUser = t.user ?? o.user ?? s.platform.defaultUser;
    const old = loginUser === account ? (t.password ?? o.password) : undefined;
    // true: the old one is refused now; false: it still logs in; undefined: not known, or the host could not tell.
    const oldLogin = login === true && old !== undefined && old !== newPassword ? await passwordLogin(t, o, knownHosts, account, old) : null;
    const oldRefused = oldLogin === null ? undefined : !oldLogin;
    if (oldRefused === false) return done({ ...base, reachable: true, outcome: 'failed', error: `${t.name}: the old password of ${account} still logs in after the reset` });
    const proof = { account, ...(oldRefused !== undefined ? { oldPasswordRefused: oldRefused } : {}) };
    if (login === true) return done({ ...base, reachable: true, outcome: 'reset', reset: { ...proof, verifiedBy: 'login' } });
    if (set.hash === 'match') return done({ ...base, reachable: true, outcome: 'reset', reset: { ...proof, verifiedBy: 'hash' } });
    const why = [
      login === false ? 'a fresh login with it was refused (password logins off for it?)' : 'a fresh login could not be tried',
      'the host could not check its stored password (no perl, or not a crypt hash)',
    ].join('; ');
    return done({ ...base, reachable: true, outcome: 'failed', reset: { ...proof, verifiedBy: null }, error: `${t.name}: the password of ${account} was set but could not be proven: ${why}` });
  } catch (e) {
    return done(changing(e));
  }
}
