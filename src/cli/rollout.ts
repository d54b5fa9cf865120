import { Option, type Command } from 'commander';
import { parseBudget, UNLIMITED, type ErrorBudget } from '../fleet/budget.js';
import { parseCanary, type WaveSpec } from '../fleet/canary.js';
import type { Logger } from 'pino';
import type { ConnectOptions } from '../session/options.js';
import type { HostResult } from '../core/result.js';
import type { Target } from '../inventory/target.js';
import { createLogger, Redactor } from '../log.js';
import { intArg } from './target-options.js';
import { Progress } from '../report/progress.js';

/** Rollout controls shared by every host-touching command (SPEC "Command line"); parsed once, here. */
export interface RolloutCliOptions {
  canary?: WaveSpec;
  maxErrors?: ErrorBudget;
  retries: number;
  log?: string;
  verbose?: boolean;
}

export function addRolloutOptions(cmd: Command, changing: boolean): Command {
  return cmd
    .addOption(new Option('--canary <waves>', 'roll out in waves, e.g. 1,5,20% (the rest is the last wave); each wave must end within the error budget').argParser(parseCanary))
    .addOption(
      new Option('--max-errors <n|n%>', `error budget: failed, rolled-back and unreachable hosts allowed before no new host starts (default ${changing ? '0' : 'unlimited'})`).argParser(parseBudget),
    )
    .addOption(new Option('--retries <n>', 'retries of hosts that could not be reached (never of a half-done change)').default(0).argParser(intArg('--retries', 0, 10)))
    .option('--log <file>', 'structured log: one JSON object a line (run, host, step, duration); secrets redacted')
    .option('-v, --verbose', 'debug detail in the log: every host\'s checks and plan');
}

/**
 * Everything secret this run knows — login and sudo passwords, key passphrases, from options and inventory, and
 * the cloud's access key, secret key and token —
 * scrubbed from the log, the progress lines, the result document and the reports.
 */
export function redactorOf(conn: ConnectOptions, targets: Target[], more: string[] = []): Redactor {
  return new Redactor([conn.password, conn.becomePassword, conn.keyPassphrase, ...targets.flatMap((t) => [t.password, t.becomePassword]), ...more]);
}

/** The result document with every secret scrubbed (a last line of defence: none should be in it). */
export function scrubbed<T>(doc: T, r: Redactor): T {
  return JSON.parse(r.redact(JSON.stringify(doc))) as T;
}

/** The run's log events, shared by every host-touching command. */
export function runLogger(o: RolloutCliOptions, redactor: Redactor, runId: string): { log: Logger; step: (host: string, state: string, detail?: string) => void; host: (h: HostResult) => void } {
  const log = createLogger({ file: o.log, verbose: o.verbose, runId, redactor });
  const since = new Map<string, number>();
  let last = new Map<string, number>();
  return {
    log,
    step: (host, state, detail) => {
      const now = Date.now();
      if (!since.has(host)) since.set(host, now);
      log.info({ host, step: state, ms: now - (last.get(host) ?? now), ...(detail ? { detail } : {}) }, 'step');
      last.set(host, now);
    },
    host: (h) => {
      const t0 = since.get(h.name);
      log.info({ host: h.name, outcome: h.outcome, ms: t0 ? Date.now() - t0 : h.steps.reduce((a, s) => a + s.ms, 0), error: h.error }, 'host done');
      log.debug({ host: h.name, checks: h.checks, steps: h.steps, plan: (h as { plan?: unknown }).plan ?? null }, 'host detail');
    },
  };
}

export function rolloutOf(o: RolloutCliOptions, changing: boolean): { waves: WaveSpec | undefined; budget: ErrorBudget; retries: number } {
  return { waves: o.canary, budget: o.maxErrors ?? (changing ? parseBudget('0') : UNLIMITED), retries: o.retries };
}

/**
 * Ctrl-C once: no new host starts, hosts in flight finish (or roll back), the summary is written, exit 3.
 * Twice: quit at once (host-side changes still finish by themselves; the journal says how far each got).
 */
export function interruptible(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  let count = 0;
  const onInt = () => {
    count++;
    if (count === 1) {
      ac.abort();
      process.stderr.write('\nresetpwd-fleet: interrupted: no new host will start; hosts in flight finish. Ctrl-C again to quit now.\n');
    } else {
      process.stderr.write('resetpwd-fleet: quitting; changes already started finish on their hosts; resume with --resume\n');
      process.exit(130);
    }
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onInt);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onInt);
    },
  };
}

/**
 * What every host-touching command does around its run: progress on stderr, the log, Ctrl-C handling, and
 * the secrets scrubbed from the document at the end.
 */
export function observeRun(o: RolloutCliOptions, conn: ConnectOptions, targets: Target[], runId: string, command: string, extra: Record<string, unknown> = {}, secrets: string[] = []) {
  const redactor = redactorOf(conn, targets, secrets);
  const logger = runLogger(o, redactor, runId);
  const progress = new Progress(process.stderr, undefined, (s) => redactor.redact(s));
  const stop = interruptible();
  logger.log.info({ command, hosts: targets.length, ...extra }, 'run start');
  return {
    signal: stop.signal,
    progress,
    /** Scrubs secrets from a line (the journal's). */
    redact: (s: string) => redactor.redact(s),
    /** A secret learnt during the run (a generated password): scrubbed from everything from now on. */
    addSecret: (s: string) => redactor.add(s),
    step: (host: string, state: string, detail?: string) => {
      progress.step(host, state);
      logger.step(host, state, detail);
    },
    host: (h: HostResult) => {
      progress.hostDone(h);
      logger.host(h);
    },
    wave: (w: number, of: number, n: number) => progress.wave(w, of, n),
    /** A host's connection dropped during its change (attempt 0), or a reconnect attempt ended. */
    reconnect: (host: string, attempt: number, error?: string) => {
      progress.reconnect(host, attempt, error);
      logger.log.warn({ host, event: attempt === 0 ? 'connection lost' : error === undefined ? 'reconnected' : 'reconnect failed', attempt, ...(error ? { error } : {}) }, 'reconnect');
    },
    /** Stops the progress and the signal handlers (also when the run threw). */
    close: () => {
      progress.stop();
      stop.dispose();
    },
    /** The document as it may be shown: logged, flushed, scrubbed. */
    end: <T extends { summary: unknown; stopped: unknown }>(doc: T): T => {
      logger.log.info({ summary: doc.summary, stopped: doc.stopped }, 'run end');
      logger.log.flush();
      return scrubbed(doc, redactor);
    },
  };
}
