import { API_PASSWORD_RULES, CloudError, apiPasswordChecks, type CloudApi, type CloudServer } from '../cloud/api.js';
import { Batcher } from '../cloud/batch.js';
import { brokenRules, generatePassword } from '../core/password.js';
import { stepTimer, type HostResult, type StepRecord } from '../core/result.js';
import type { Target } from '../inventory/target.js';
import { platformOf } from '../platform/index.js';
import type { PasswordVault } from './vault.js';

/**
 * The offline route of `reset-password` (--offline): no host is contacted; the ECS batch reset API asks each
 * server's plug-in to set root's or Administrator's password at the server's next start. Per host: the cloud's
 * os-resetpwd-flag first (False: the cloud sees no plug-in to apply it, nothing is asked), the API's dry run,
 * then the call, then the flag read back; with --restart, a soft reboot through the API and its job followed to
 * the end. The hosts' asks are grouped into calls of up to 1000 servers (cloud/batch.ts).
 */
export interface OfflineRoute {
  api: CloudApi;
  /** The cloud's servers, by id (their status decides whether a restart is asked). */
  servers: Map<string, CloudServer>;
  /** --restart: ask the API to reboot each server whose reset was accepted (never implied). */
  restart: boolean;
  /** How long a restart's job is followed at most (default 15 minutes). */
  restartDeadlineMs?: number | undefined;
}

export interface OfflineHostOptions {
  dryRun: boolean;
  onStep?: ((host: string, step: string) => void) | undefined;
  /** --generate: each password handed to the redactor as it is made (dry runs too), and kept in the vault (none in a dry run). */
  generate?: { vault: PasswordVault | null; onSecret: (password: string) => void } | undefined;
  /** The run's stop (Ctrl-C): a restart's job is no longer followed. */
  signal?: AbortSignal | undefined;
}

/** One server's word from a batch call: accepted, or why not and whether the API said no (nothing was asked). */
type Answer = { ok: true } | { ok: false; why: string; refused: boolean };

const BATCH = { max: 1000, delayMs: 150, maxWaitMs: 2000 };

/** The run's batchers: reset calls grouped by (password, dry run); reboots grouped on their own. */
export function offlineBatches(route: OfflineRoute) {
  const unknown = (e: unknown): Answer => ({ ok: false, why: e instanceof Error ? e.message : String(e), refused: false });
  return { route, resets: new Batcher<Answer>(BATCH, unknown), reboots: new Batcher<Answer>(BATCH, unknown) };
}
export type OfflineBatches = ReturnType<typeof offlineBatches>;

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
/** The API said no (a 4xx other than throttling): nothing was asked of the server. */
const saidNo = (e: unknown) => e instanceof CloudError && e.status !== null && e.status < 500 && e.failure !== 'throttled';

/** One call for a chunk; a refused chunk is asked again server by server, since the SDK drops the API's per-server detail. */
export async function resetChunk(api: CloudApi, ids: string[], password: string, dryRun: boolean): Promise<Map<string, Answer>> {
  try {
    const accepted = new Set(await api.resetPasswords(ids, password, dryRun));
    return new Map(ids.map((id): [string, Answer] => [id, accepted.has(id) ? { ok: true } : { ok: false, why: 'the API accepted the call but its answer does not name this server', refused: false }]));
  } catch (e) {
    if (ids.length > 1 && e instanceof CloudError && (e.failure === 'bad-request' || e.failure === 'not-found')) {
      const each = await Promise.all(ids.map((id) => resetChunk(api, [id], password, dryRun)));
      return new Map(each.flatMap((m) => [...m]));
    }
    return new Map(ids.map((id): [string, Answer] => [id, { ok: false, why: message(e), refused: saidNo(e) }]));
  }
}

/** A password the API takes for this server: its OS's API rules, and none of the names the API refuses. */
export function apiPassword(os: Target['os'], account: string): string {
  for (;;) {
    const pw = generatePassword(API_PASSWORD_RULES[os], account);
    if (apiPasswordChecks(os, account).every((c) => brokenRules(pw, c.rules, c.user).length === 0)) return pw;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A soft reboot of a chunk, its job followed until it ends (1 s, 2 s, 4 s, then every 5 s), the deadline passes or
 * the run is stopped; each server judged by its own sub-job. A chunk the API refuses is asked again server by
 * server (one server locked must not keep the others from restarting). Never sent twice: an ask whose answer was
 * lost is "may or may not have been restarted".
 */
export async function rebootChunk(api: CloudApi, ids: string[], deadlineMs: number, signal?: AbortSignal): Promise<Map<string, Answer>> {
  const all = (a: Answer) => new Map(ids.map((id): [string, Answer] => [id, a]));
  let jobId: string;
  try {
    jobId = await api.rebootServers(ids);
  } catch (e) {
    if (ids.length > 1 && saidNo(e)) {
      const each = await Promise.all(ids.map((id) => rebootChunk(api, [id], deadlineMs, signal)));
      return new Map(each.flatMap((m) => [...m]));
    }
    return all(saidNo(e) ? { ok: false, why: `the restart was refused: ${message(e)}`, refused: true } : { ok: false, why: `the restart may or may not have been asked: ${message(e)}`, refused: false });
  }
  const until = Date.now() + deadlineMs;
  let status = 'unknown';
  for (let wait = 1000; ; wait = Math.min(wait * 2, 5000)) {
    await sleep(wait);
    if (signal?.aborted) return all({ ok: false, why: `the restart was asked (job ${jobId}) but not followed to its end: the run was interrupted`, refused: false });
    try {
      const job = await api.job(jobId);
      status = job.status;
      if (job.status === 'SUCCESS' || job.status === 'FAIL') {
        const part = new Map(job.servers.map((x) => [x.serverId, x]));
        return new Map(
          ids.map((id): [string, Answer] => {
            const p = part.get(id);
            if (p?.status === 'SUCCESS' || (!p && job.status === 'SUCCESS')) return [id, { ok: true }];
            const why = p?.reason ?? job.reason;
            return [id, { ok: false, why: `the restart failed (job ${jobId}${p ? `, ${p.status}` : ''})${why ? `: ${why}` : ''}`, refused: true }];
          }),
        );
      }
    } catch (e) {
      status = `not known: ${message(e)}`;
    }
    if (Date.now() > until) return all({ ok: false, why: `the restart job ${jobId} had not ended after ${Math.round(deadlineMs / 1000)} s (status ${status})`, refused: false });
  }
}

/** One server through the API. Never throws: failures are results. */
export async function offlineHost(t: Target, given: string | null, o: OfflineHostOptions, b: OfflineBatches): Promise<HostResult> {
  const { api } = b.route;
  const steps: StepRecord[] = [];
  const time = stepTimer(steps);
  const step = (name: string) => o.onStep?.(t.name, name);
  // The API resets the management account only: root or Administrator.
  const account = platformOf(t.os).passwordReset.defaultAccount;
  const id = t.vars.server_id ?? '';
  const proof = { account, verifiedBy: null, route: 'offline' as const };
  const base: HostResult = {
    name: t.name, address: t.host, port: t.port, transport: t.connection, reachable: false, os: null, checks: [], agent: null,
    outcome: 'failed', steps, error: null, serverId: id, reset: proof,
  };
  const failed = (why: string, outcome: HostResult['outcome'] = 'failed'): HostResult => ({ ...base, outcome, error: `${t.name}: ${why}` });
  try {
    step('flag');
    if (!(await time('flag', () => api.resetPasswordFlag(id)))) {
      return failed(`the cloud's os-resetpwd-flag of server ${id} is False: the cloud sees no plug-in to apply an offline reset; nothing was requested (install the plug-in, or reset online)`, 'refused');
    }
    // The API's own rules (its special characters, and the names it refuses whatever the OS).
    const password = given ?? apiPassword(t.os, account);
    if (given === null) o.generate?.onSecret(password);
    // Linux and Windows servers never share a call (the FlexusL batch API refuses mixed batches).
    const key = `${t.os}\0${password}`;
    step('dry-run');
    const dry = await time('dry-run', () => b.resets.ask(`dry\0${key}`, id, (ids) => resetChunk(api, ids, password, true)));
    if (!dry.ok) return failed(`the API's dry run refused the request: ${dry.why}; nothing was requested`);
    if (o.dryRun) return { ...base, outcome: 'skipped', error: null };
    const vault = o.generate?.vault;
    if (vault) {
      step('record');
      // In the vault, on disk, before the call: whatever happens next, the password can be read.
      await time('record', () => vault.put({ host: t.name, address: t.host, account, password }));
    }
    step('request');
    const done = await time('request', () => b.resets.ask(`set\0${key}`, id, (ids) => resetChunk(api, ids, password, false)));
    if (!done.ok) {
      if (vault && done.refused) await vault.mark(t.name, 'failed', done.why).catch(() => undefined);
      return failed(done.refused ? `the API refused the request: ${done.why}; nothing was requested` : `${done.why}; the password may or may not have been requested`);
    }
    let vaultNote = '';
    if (vault) await vault.mark(t.name, 'requested').catch((e: unknown) => (vaultNote = `; the passwords file still says pending for this host: ${message(e)}`));
    step('flag');
    // Read back: what the cloud says of the plug-in now (the API raises no error when the in-guest step fails).
    const flag = await api.resetPasswordFlag(id).catch(() => null);
    const notes: string[] = [];
    if (flag !== true) notes.push(flag === false ? "the cloud's os-resetpwd-flag reads False now: the plug-in may not apply it (the API reports no in-guest failure); log in after the start to know" : "the cloud's os-resetpwd-flag could not be read back");
    const server = b.route.servers.get(id);
    // restarted: true (done), false (asked, and it failed or its end is not known); absent: not asked.
    let restarted: boolean | undefined;
    if (b.route.restart) {
      if (server?.status === 'ACTIVE') {
        step('restart');
        const r = await time('restart', () => b.reboots.ask(`reboot\0${t.os}`, id, (ids) => rebootChunk(api, ids, b.route.restartDeadlineMs ?? 15 * 60_000, o.signal)));
        restarted = r.ok;
        if (!r.ok) notes.push(`${r.why}; the password applies at the server's next start`);
      } else {
        notes.push(`not restarted: the server is ${server?.status ?? 'of unknown status'}; the password applies when it is started`);
      }
    }
    if (vaultNote) notes.push(vaultNote.replace(/^; /, ''));
    return { ...base, outcome: 'requested', error: notes.length ? `${t.name}: ${notes.join('; ')}` : null, reset: { ...proof, resetpwdFlag: flag, ...(restarted !== undefined ? { restarted } : {}) } };
  } catch (e) {
    return failed(`${message(e)}${steps.some((s) => s.name === 'request') ? '; the password may or may not have been requested' : '; nothing was requested'}`);
  }
}
