import type { Journal } from '../fleet/journal.js';

/**
 * The per-host state machine of a change (after the AWS SSM agent updater): the controller's states up to
 * the start of the host-side transaction, then the transaction's own states as its journal reports them.
 * Every transition is checked against this table and journaled; an impossible report from a host is an
 * error, not something to guess around.
 */
const FORWARD = [
  'started', 'stopping', 'stopped', 'unregistered', 'setting-aside', 'set-aside',
  'installing', 'installed', 'permissions', 'verified', 'boot', 'committed',
] as const;

export type HostState =
  | 'pending' | 'connected' | 'planned' | 'staging' | 'staged' | 'launched'
  | (typeof FORWARD)[number]
  | 'retry-start' | 'failed' | 'rolling-back' | 'recovering' | 'lost' | 'waiting' | 'done';

const TABLE: Record<HostState, readonly HostState[]> = {
  pending: ['connected', 'done'],
  connected: ['planned', 'done'],
  planned: ['staging', 'waiting', 'done'],
  waiting: ['done'],
  staging: ['staged', 'done'],
  staged: ['launched', 'done'],
  launched: ['started', 'recovering', 'lost'],
  started: ['stopping', 'failed', 'lost'],
  stopping: ['stopped', 'failed', 'lost'],
  stopped: ['unregistered', 'failed', 'lost'],
  unregistered: ['setting-aside', 'failed', 'lost'],
  'setting-aside': ['set-aside', 'failed', 'lost'],
  'set-aside': ['installing', 'committed', 'failed', 'lost'],
  installing: ['installed', 'failed', 'lost'],
  installed: ['permissions', 'failed', 'lost'],
  permissions: ['verified', 'retry-start', 'failed', 'lost'],
  'retry-start': ['verified', 'failed', 'lost'],
  verified: ['boot', 'failed', 'lost'],
  boot: ['committed', 'failed', 'lost'],
  committed: ['done', 'lost'],
  failed: ['rolling-back', 'lost'],
  'rolling-back': ['done', 'lost'],
  recovering: ['rolling-back', 'done', 'lost'],
  lost: ['launched', 'recovering', 'done'],
  done: ['connected'],
};

export function isHostState(s: string): s is HostState {
  return Object.prototype.hasOwnProperty.call(TABLE, s);
}

export class TransitionError extends Error {
  override name = 'TransitionError';
}

export class HostMachine {
  private current: HostState = 'pending';
  readonly history: { state: HostState; detail?: string }[] = [];
  constructor(
    readonly host: string,
    private readonly journal: Journal | null,
    private readonly onTransition?: (host: string, state: HostState, detail?: string) => void,
  ) {}

  get state(): HostState {
    return this.current;
  }

  /** The host-side states the change reached, in order (the result's steps). */
  to(next: HostState, detail?: string): void {
    if (!TABLE[this.current].includes(next)) {
      throw new TransitionError(`impossible transition ${this.current} → ${next}`);
    }
    this.current = next;
    this.history.push(detail ? { state: next, detail } : { state: next });
    this.journal?.append(this.host, next, detail);
    this.onTransition?.(this.host, next, detail);
  }

  /** The end of this host's part of the run, from whatever state it was in (the outcome says how it ended). */
  finish(outcome: string, detail?: string): void {
    if (this.current === 'done') return;
    this.current = 'done';
    const d = detail ? `${outcome}: ${detail}` : outcome;
    this.history.push({ state: 'done', detail: d });
    this.journal?.append(this.host, 'done', d);
    this.onTransition?.(this.host, 'done', d);
  }

  /** Was the old install touched? From here on a failure must end rolled back (or say what is left). */
  touched(): boolean {
    return this.history.some((h) => (FORWARD as readonly string[]).includes(h.state) && h.state !== 'started');
  }
}
