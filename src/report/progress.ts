import type { HostResult } from '../core/result.js';
import { oneLine } from './text.js';

/**
 * Live progress on stderr. On a terminal: a block redrawn a few times a second — counts done / failed /
 * in flight / queued, rate and ETA, the current step of the most recently active in-flight hosts (a few
 * lines, however large the fleet) — with each failure printed above it as it happens. Elsewhere (CI, a pipe,
 * a log file): one plain line per finished host and per wave.
 */
const OK = new Set(['ok', 'unchanged', 'updated', 'installed', 'uninstalled', 'reset', 'requested']);
const SHOWN = 6;

export class Progress {
  private readonly tty: boolean;
  private total = 0;
  private done = 0;
  private failed = 0;
  private readonly inFlight = new Map<string, { step: string; since: number }>();
  private readonly t0 = Date.now();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    tty?: boolean,
    /** Scrubs secrets from what is shown (host errors can quote anything). */
    scrub: (s: string) => string = (s) => s,
  ) {
    this.tty = tty ?? !!out.isTTY;
    // Host text reaches the terminal scrubbed of secrets and of control characters, one line each.
    this.scrub = (s) => oneLine(scrub(s));
  }

  private readonly scrub: (s: string) => string;

  start(total: number, what: string): void {
    this.total = total;
    if (this.tty) this.timer = setInterval(() => this.draw(), 250);
    else this.out.write(`${what}: ${total} hosts\n`);
  }

  wave(n: number, of: number, size: number): void {
    if (of === 1) return; // no --canary: one wave is no news
    this.print(`wave ${n}/${of}: ${size} host${size === 1 ? '' : 's'}`);
  }

  step(host: string, step: string): void {
    if (step === 'done') return;
    const cur = this.inFlight.get(host);
    this.inFlight.set(host, { step: this.scrub(step), since: cur?.since ?? Date.now() });
  }

  /**
   * A host's connection dropped while its change runs on the host (attempt 0), or a reconnect attempt
   * ended (error undefined: back in). Shown as the host's current step; the drop and the way back are
   * also printed as lines, so a log of the run shows them.
   */
  reconnect(host: string, attempt: number, error?: string): void {
    if (attempt === 0) {
      this.step(host, 'connection lost: reconnecting');
      this.print(this.scrub(`${host}: connection lost (${error ?? 'no reason given'}); the change goes on on the host, reconnecting`));
    } else if (error !== undefined) {
      this.step(host, `reconnecting (attempt ${attempt} failed: ${error})`);
    } else {
      this.step(host, 'reconnected: following the change');
      this.print(this.scrub(`${host}: reconnected (attempt ${attempt}); following the change on`));
    }
  }

  hostDone(h: HostResult): void {
    const since = this.inFlight.get(h.name)?.since;
    this.inFlight.delete(h.name);
    this.done++;
    const bad = !OK.has(h.outcome);
    if (bad) this.failed++;
    const secs = since ? ` ${((Date.now() - since) / 1000).toFixed(1)}s` : '';
    if (this.tty) {
      if (bad) this.print(this.scrub(`${h.name}: ${h.outcome}${h.error ? `: ${h.error}` : ''}`));
    } else {
      this.out.write(`${this.scrub(`[${this.done}/${this.total}] ${h.name} ${h.outcome}${secs}${bad && h.error ? `: ${h.error}` : ''}`)}\n`);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) {
      this.clear();
      this.out.write(`${this.line()}\n`);
    }
  }

  /** A message above the live block (or a plain line). */
  print(msg: string): void {
    if (this.tty) this.clear();
    this.out.write(`${msg}\n`);
    if (this.tty) this.draw();
  }

  private line(): string {
    const el = (Date.now() - this.t0) / 1000;
    const rate = this.done / Math.max(el, 0.001);
    const queued = Math.max(0, this.total - this.done - this.inFlight.size);
    const eta = rate > 0 && this.done < this.total ? ` eta ${Math.ceil((this.total - this.done) / rate)}s` : '';
    return `${this.done}/${this.total} done, ${this.failed} failed, ${this.inFlight.size} in flight, ${queued} queued — ${rate.toFixed(1)} hosts/s, ${el.toFixed(0)}s${eta}`;
  }

  private clear(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    this.clear();
    const recent = [...this.inFlight].sort((a, b) => b[1].since - a[1].since).slice(0, SHOWN);
    const width = (this.out.columns ?? 100) - 1;
    const lines = [this.line(), ...recent.map(([h, s]) => `  ${this.scrub(h)}: ${s.step}`.slice(0, width))];
    if (this.inFlight.size > SHOWN) lines.push(`  … and ${this.inFlight.size - SHOWN} more in flight`);
    this.out.write(`${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }
}
