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
  /** Wait before reconnect number n, in ms. */
  backoff: (attempt: number) => number;
  /** Called with each drop that is retried. */
  onDrop?: (e: TransportError) => void;
  /** Undoes the platform's escaping of a line's detail (Windows' Emit escapes). */
  decode?: (detail: string) => string;
}

const MAX_DROPS = 5;

/**
 * Copies a host-side change's journal — `<epoch> <state> [detail]` lines; epoch 0 lines are the follow
 * script's own (`0 lost …`, window ends) — into the machine until its `done` line. Lines are handled as
 * they arrive, so the run's journal and the progress see each transition when it happens. Reconnects (up
 * to 5 times) when the connection drops, resuming from the last line seen. The same for every platform.
 */
export async function followJournal(o: FollowOptions): Promise<FollowEnd> {
  const decode = o.decode ?? ((s: string) => s);
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
      if (!(e instanceof TransportError) || !['lost', 'unreachable', 'timeout'].includes(e.reason) || drops >= MAX_DROPS) throw e;
      drops++;
      o.onDrop?.(e);
      await new Promise((r) => setTimeout(r, o.backoff(drops)));
      try {
        await o.reconnect();
      } catch (err) {
        if (drops >= MAX_DROPS) throw err;
      }
      continue;
    }
    if (bad) throw bad;
    if (end) return end;
  }
}
