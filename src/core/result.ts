import type { OsFamily } from '../inventory/os-family.js';
import type { AgentState } from './agent.js';
import type { CheckResult } from './check.js';

/** The result document of SPEC.md ("Result document"), shared by every command and reporter. */
export type Outcome =
  | 'ok' | 'failed' | 'unchanged' | 'updated' | 'installed' | 'uninstalled' | 'refused' | 'rolled-back' | 'unreachable' | 'skipped'
  | 'reset' // reset-password: the new password is set and verified (`reset.verifiedBy` says how)
  | 'requested'; // reset-password --offline: the cloud accepted the new password; the plug-in applies it at the next start

/** Which OS a host runs, named the same way for every OS (the arch as Linux names it). */
export interface HostOs {
  family: OsFamily;
  id: string | null;
  version: string | null;
  arch: string | null;
}

/** The SSH algorithms a host was reached with (SSH hosts only). */
export interface SshAlgorithmsUsed {
  kex: string;
  hostKey: string;
  cipher: string;
  mac: string;
  /** Which of them are legacy, allowed for this host by the operator (ansible_ssh_common_args). */
  legacy: string[];
}

export interface StepRecord {
  name: string;
  ms: number;
  ok: boolean;
}

export interface HostResult {
  name: string;
  address: string;
  port: number;
  transport: 'ssh' | 'winrm';
  reachable: boolean;
  os: HostOs | null;
  checks: CheckResult[];
  agent: AgentState | null;
  outcome: Outcome;
  steps: StepRecord[];
  error: string | null;
  /**
   * Why the host could not be reached or entered, when that is why it failed: unreachable, timeout,
   * host-key-unknown, host-key-changed, auth-failed, protocol, lost (the session layer's one vocabulary).
   */
  failure?: ConnectFailure;
  /** The SSH algorithms the host was reached with. */
  ssh?: SshAlgorithmsUsed;
  /** The cloud's id of the server (--cloud, or an inventory's server_id). */
  serverId?: string;
  /** reset-password: whose password, and how the new one was proven — a fresh login with it, or the stored hash. */
  reset?: {
    account: string;
    verifiedBy: 'login' | 'hash' | null;
    oldPasswordRefused?: boolean;
    /** --offline: the route, the cloud's os-resetpwd-flag read back after the call, and whether a restart was asked and done. */
    route?: 'online' | 'offline';
    resetpwdFlag?: boolean | null;
    restarted?: boolean;
  };
}

/** Why a host could not be worked on at the connection level (the session layer classifies, once). */
export type ConnectFailure =
  | 'unreachable' // refused, no route, DNS, no answer before the SSH handshake
  | 'timeout'
  | 'host-key-unknown'
  | 'host-key-changed'
  | 'auth-failed'
  | 'protocol'
  | 'lost' // the connection died after login (peer gone, sshd killed)
  | 'not-running'; // the cloud says the server is stopped (or has no address to reach): not contacted

/** A host the run did not start (error budget spent, interrupted): untouched, and said so. */
export function skippedResult(t: { name: string; host: string; port: number; connection: 'ssh' | 'winrm' }, why: string): HostResult {
  return {
    name: t.name, address: t.host, port: t.port, transport: t.connection, reachable: false, os: null, checks: [], agent: null,
    outcome: 'skipped', steps: [], error: `not started: ${why}`,
  };
}

export interface ResultDocument {
  command: string;
  startedAt: string;
  finishedAt: string;
  hosts: HostResult[];
  summary: { total: number; ok: number; failed: number; unreachable: number; skipped: number };
}

export function summarize(hosts: HostResult[]): ResultDocument['summary'] {
  const count = (o: Outcome[]) => hosts.filter((h) => o.includes(h.outcome)).length;
  return {
    total: hosts.length,
    ok: count(['ok', 'unchanged', 'updated', 'installed', 'uninstalled', 'reset', 'requested']),
    failed: count(['failed', 'refused', 'rolled-back']),
    unreachable: count(['unreachable']),
    skipped: count(['skipped']),
  };
}

/** Times a named step of a host's work into `steps` (the result's record), failed or not. */
export function stepTimer(steps: StepRecord[]) {
  return async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      const r = await f();
      steps.push({ name, ms: Date.now() - t0, ok: true });
      return r;
    } catch (e) {
      steps.push({ name, ms: Date.now() - t0, ok: false });
      throw e;
    }
  };
}
