import { TransportError, type ExecResult } from '../transport/transport.js';
import { isHostState, type HostMachine } from './machine.js';

export type FollowEnd = { result: 'ok' | 'rolled-back' | 'failed' | 'lost'; detail: string };

export interface FollowOptions {
  /** The machine the host's transitions are copied into; null: only wait (someone else's change). */
  mach: HostMachine | null;
  /** Runs the host's follow script from journal line `from`, streaming its stdout to `onStdout`. */
  poll: (from: number, onStdout: (chunk: string) => void) => Promise<ExecResult>;
  /** Opens a new connection for the next poll (the old one dropped). */
  reconnect: () => Promise<unknown>;
  /** Wait before reconnect attempt n (counted from 1 after each drop), in ms. */
  backoff: (attempt: number) => number;
  /**
   * How long to keep trying to get back in after a drop, in ms (the per-step limit): the host-side change
   * runs on meanwhile, and an sshd restarted, frozen or briefly gone must not end the follow.
   */
  reconnectWindowMs: number;
  /** Called with each drop, before the first reconnect attempt. */
  onDrop?: (e: TransportError) => void;
  /** Called after each reconnect attempt: its number since the drop, and why it failed (undefined: it worked). */
  onReconnect?: (attempt: number, error?: string) => void;
  /** Undoes the platform's escaping of a line's detail (Windows' Emit escapes). */
  decode?: (detail: string) => string;
  /**
   * How long the whole follow may take, in ms: past it the controller stops following and frees the host
   * (FollowDeadline), while the change goes on by itself on the host. A change whose journal keeps growing
   * but never ends — a host-side hang the step limits did not catch — must not hold a run forever.
   */
  deadlineMs?: number | undefined;
  /** The clock (tests). */
  now?: () => number;
}

/** The follow's overall deadline passed; the change on the host was not stopped. */
export class FollowDeadline extends Error {
  override name = 'FollowDeadline';
  constructor(ms: number) {
    super(`the change did not end within ${ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`} of following it`);
  }
}

/** A connection that flaps (back, then gone again at once) is given up after this many drops. */
const MAX_DROPS = 20;
/** Connection-level failures worth another attempt; a refused login or host key is not. */
const RETRIABLE = new Set(['lost', 'unreachable', 'timeout']);
const retriable = (e: unknown): e is TransportError => e instanceof TransportError && RETRIABLE.has(e.reason);

/**
 * Copies a host-side change's journal — `<epoch> <state> [detail]` lines; epoch 0 lines are the follow
 * script's own (`0 lost …`, window ends) — into the machine until its `done` line. Lines are handled as
 * they arrive, so the run's journal and the progress see each transition when it happens. When the
 * connection drops it reconnects, backing off, for as long as `reconnectWindowMs` allows (a failed attempt
 * is just the next one's reason to wait), and resumes from the last line seen. The same for every platform.
 */
export async function followJournal(o: FollowOptions): Promise<FollowEnd> {
  const decode = o.decode ?? ((s: string) => s);
  const now = o.now ?? Date.now;
  const started = now();
  const overdue = () => o.deadlineMs !== undefined && now() - started >= o.deadlineMs;
  let from = 0;
  let drops = 0;
  let end: FollowEnd | null = null;
  let bad: unknown = null;
  const onLine = (raw: string) => {
    const mm = /^(\d+) (\S+)(?: (.*))?$/.exec(raw.replace(/\r$/, ''));
    if (!mm || end || bad) return;
    const state = mm[2]!;
    const detail = decode(mm[3] ?? '');
    if (mm[1] === '0') {
      if (state === 'lost') end = { result: 'lost', detail };
      return;
    }
    from++;
    if (state === 'done') {
      const [word, ...rest] = detail.split(' ');
      end = { result: word === 'ok' || word === 'rolled-back' ? word : 'failed', detail: rest.join(' ') };
      return;
    }
    try {
      if (o.mach && isHostState(state)) o.mach.to(state, detail || undefined);
    } catch (e) {
      bad = e;
    }
  };
  /** After a drop: attempts until one gets back in, or the window is spent (then its last error is thrown). */
  const getBackIn = async (): Promise<void> => {
    const deadline = now() + o.reconnectWindowMs;
    for (let attempt = 1; ; attempt++) {
      await new Promise((r) => setTimeout(r, o.backoff(attempt)));
      try {
        await o.reconnect();
        o.onReconnect?.(attempt);
        return;
      } catch (err) {
        if (!retriable(err)) throw err;
        o.onReconnect?.(attempt, err.message);
        if (now() + o.backoff(attempt + 1) > deadline) throw err;
      }
    }
  };
  for (;;) {
    let partial = '';
    let streamed = false;
    try {
      const out = await o.poll(from, (chunk) => {
        streamed = true;
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        lines.forEach(onLine);
      });
      // A transport that does not stream hands the whole output over at the end.
      if (streamed) onLine(partial);
      else out.stdout.split('\n').forEach(onLine);
    } catch (e) {
      if (bad) throw bad;
      if (end) return end;
      if (!retriable(e) || drops >= MAX_DROPS) throw e;
      if (overdue()) throw new FollowDeadline(o.deadlineMs!);
      drops++;
      o.onDrop?.(e);
      await getBackIn();
      continue;
    }
    if (bad) throw bad;
    if (end) return end;
    if (overdue()) throw new FollowDeadline(o.deadlineMs!);
  }
}
