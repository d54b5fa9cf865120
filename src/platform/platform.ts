import type { OsFamily } from '../inventory/os-family.js';
import type { AgentState } from '../core/agent.js';
import type { CheckContext, CheckResult } from '../core/check.js';
import type { PasswordRules } from '../core/password.js';
import type { ChangeCommand, Plan, PlanOptions } from '../core/plan.js';
import type { HostOs } from '../core/result.js';
import type { LoadedPackage } from '../package/load.js';
import type { PackageInfo } from '../package/verify.js';
import type { Privilege } from '../privilege/sudo.js';
import { uploadLimitMs, type ExecOptions, type ExecResult, type Transport } from '../transport/transport.js';

/**
 * What one OS needs, and nothing else: how a script runs there, the facts script and its reading, the checks,
 * the plug-in's state, the plan, and the scripts of a change. Audit, plan, the change driver and the run ask a
 * host's Platform and never which OS it is; a third OS is one more folder implementing this, and one line in
 * the registry (platform/index.ts).
 */
export interface Platform<F = unknown> {
  readonly id: OsFamily;
  /** The login when neither the inventory nor the options name one. */
  readonly defaultUser: string;
  /** Why a non-administrator login with become (sudo) cannot be used here, or null where it can. */
  readonly becomeRefused: string | null;
  /** The check ids this OS runs, in the order reports show them. */
  readonly checkIds: readonly string[];
  /** How scripts of this OS run over a logged-in transport, with the session's privilege and time limit. */
  shell(transport: Transport, privilege: Privilege, o: ShellOptions): HostShell;
  /** The facts script, run once and parsed. */
  facts(s: HostShell): Promise<F>;
  os(f: F): HostOs;
  checks(f: F, ctx: CheckContext): CheckResult[];
  /** The plug-in's state; null when the host's scripts could not read it at all (the checks say why). */
  agent(f: F): AgentState | null;
  /** This OS's password rules (the reset pages'): what a new password must meet here. */
  readonly passwordRules: PasswordRules;
  /** How an account's password is set here (the secret on stdin only) and checked on the host. */
  readonly passwordReset: PasswordResetKit;
  /** The server's id as its metadata service gives it (the cloud's server id), or null. */
  serverId(f: F): string | null;
  plan(command: ChangeCommand, f: F, checks: CheckResult[], pkg: PackageInfo | null, o: PlanOptions): Plan;
  /** After a change that could not roll back: what the host has now (appended to the error). */
  describeLeft(f: F): string;
  /** This OS's part of a change: the driver (lifecycle/drive.ts) does the rest, the same for every OS. */
  change(inputs: ChangeInputs): ChangeKit;
}

export interface ShellOptions {
  /** The host's name, for messages. */
  where: string;
  /** Every script's time limit unless it says otherwise (--timeout). */
  stepTimeoutMs: number;
}

/** A logged-in host, as a platform uses it. */
export interface HostShell {
  readonly transport: Transport;
  /** How scripts get root's (Administrator's) rights: already had, or sudo with its password on stdin. */
  readonly privilege: Privilege;
  /** Runs one script of this OS (POSIX sh, PowerShell) with those rights. */
  run(script: string, opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

/** What a change gives a platform's scripts. */
export interface ChangeInputs {
  command: ChangeCommand;
  pkg: LoadedPackage | null;
  plan: PlanOptions;
  /** Where hosts download the package from (--pull URL), or undefined: pushed over the connection. */
  pullUrl: string | undefined;
  stepTimeoutMs: number;
  /** How long the new agent may take to come up, in seconds. */
  startWaitSeconds: number;
  /** Knobs a test or the lab turns; the defaults are a real run's. */
  knobs?: ChangeKnobs | undefined;
}

export interface ChangeKnobs {
  /** Windows: how long one follow poll watches the journal on the host before it returns (seconds). */
  followWindowSeconds?: number;
  /** Wait before reconnect attempt n (ms); default 1000 × n, at most 10 s. */
  backoff?: (attempt: number) => number;
  /** How long following one change may take before the host is freed (default: 10 × --timeout, at least 30 min). */
  followDeadlineMs?: number;
  /** Windows: seconds any .bat file may run on the host before its process tree is killed. */
  batLimitSeconds?: number;
}

/** A staging failure that left the host as it was (the stage, if made, is removed). */
export class StageError extends Error {
  override name = 'StageError';
}

/** The scripts of one OS's change; the order of the steps, the state machine and the outcomes are the driver's. */
export interface ChangeKit {
  /** The name the in-place fix is timed under in the result's steps. */
  fixStep: string;
  fix(s: HostShell): Promise<{ ok: true } | { ok: false; error: string }>;
  /** Makes the private stage and fills it; throws StageError when the host refuses (nothing changed). */
  stage(s: HostShell, plan: Plan, txn: string): Promise<string>;
  /**
   * Starts the staged change: `{ error }` when it could not be started (nothing changed), else what the
   * journal should say of how it was started, if anything (a second launcher used, and why).
   */
  launch(s: HostShell, stage: string, plan: Plan, txn: string): Promise<{ error: string } | { note: string | null }>;
  /** One poll of the host's change journal from line `from` (lifecycle/follow.ts). */
  poll(s: HostShell, txn: string, from: number, onStdout: (chunk: string) => void): Promise<ExecResult>;
  backoff(attempt: number): number;
  /** Undoes the platform's escaping of a journal line's detail. */
  decode?: (detail: string) => string;
  /** Where an operator looks on the host when a change did not start. */
  stageLog(stage: string): string;
  /** The host's change record, for a host that kept reporting unfinished changes. */
  txnFile: string;
}

/** The default back-off before reconnect attempt n: 1 s, 2 s, … at most 10 s. */
export const defaultBackoff = (n: number): number => Math.min(1000 * n, 10_000);

/** Every upload through a host shell gets a time limit (uploadLimitMs) unless the caller gives its own. */
export function withUploadLimit(t: Transport, stepTimeoutMs: number | undefined): Transport {
  if (!stepTimeoutMs) return t;
  return {
    kind: t.kind,
    algorithms: t.algorithms,
    exec: (command, opts) => t.exec(command, opts),
    put: (content, remotePath, mode, opts) => t.put(content, remotePath, mode, { timeoutMs: uploadLimitMs(stepTimeoutMs, content.length), ...opts }),
    close: () => t.close(),
  };
}

/** What setting a password did on the host: done (and whether the stored hash was checked), or why not. */
export type PasswordSet = { ok: true; hash: 'match' | 'unknown' } | { ok: false; why: string; /** the host refused: the old password still holds */ unchanged: boolean };

/** One OS's way to set an account's password, the secret on stdin only. */
export interface PasswordResetKit {
  /** The account reset when none is named (root, Administrator). */
  readonly defaultAccount: string;
  /** Sets the account's password and checks it on the host where it can (the stored hash). */
  set(s: HostShell, account: string, password: string): Promise<PasswordSet>;
}
