import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { openAppend } from './files.js';

/**
 * The structured log (--log FILE): pino, one JSON object a line — run id, host, step, duration — written
 * synchronously (a killed run keeps every line it wrote). Secrets are scrubbed from the serialized line
 * itself, so they cannot leak through any field: command strings, error messages, details from hosts.
 */
export class Redactor {
  /**
   * Secrets by their first three characters, each list longest first: a text is scanned once, each position
   * looked up, whatever the number of secrets (a run with --generate holds one per host).
   */
  private readonly byPrefix = new Map<string, string[]>();
  private readonly known = new Set<string>();

  constructor(secrets: (string | undefined | null)[]) {
    this.add(...secrets);
  }

  /** More secrets, as a run learns them (a password generated for a host); JSON-escaped forms too. */
  add(...secrets: (string | undefined | null)[]): void {
    for (const s of secrets) {
      if (!s || s.length < 3) continue;
      for (const form of [s, JSON.stringify(s).slice(1, -1)]) {
        if (this.known.has(form)) continue;
        this.known.add(form);
        const key = form.slice(0, 3);
        const list = this.byPrefix.get(key) ?? [];
        const at = list.findIndex((x) => x.length < form.length);
        list.splice(at < 0 ? list.length : at, 0, form);
        this.byPrefix.set(key, list);
      }
    }
  }

  /**
   * Every occurrence of every secret replaced; where secrets overlap, the whole overlapping stretch is one
   * [REDACTED] (replacing one secret after another would leave a piece of the other readable).
   */
  redact(text: string): string {
    if (this.byPrefix.size === 0) return text;
    let out = '';
    let copied = 0;
    let start = -1;
    let end = -1;
    for (let i = 0; i + 3 <= text.length; i++) {
      const candidates = this.byPrefix.get(text.slice(i, i + 3));
      if (!candidates) continue;
      const hit = candidates.find((s) => text.startsWith(s, i));
      if (!hit) continue;
      if (i < end) {
        end = Math.max(end, i + hit.length);
        continue;
      }
      if (start >= 0) {
        out += `${text.slice(copied, start)}[REDACTED]`;
        copied = end;
      }
      start = i;
      end = i + hit.length;
    }
    if (start < 0) return text;
    return `${out}${text.slice(copied, start)}[REDACTED]${text.slice(end)}`;
  }
}

export interface LogOptions {
  file?: string | undefined;
  verbose?: boolean | undefined;
  runId?: string | undefined;
  redactor: Redactor;
}

export function createLogger(o: LogOptions): Logger {
  if (!o.file) return pino({ enabled: false });
  mkdirSync(path.dirname(path.resolve(o.file)), { recursive: true, mode: 0o700 });
  // Opened by us, never through a symbolic link; pino writes to the descriptor.
  const dest = pino.destination({ fd: openAppend(o.file, '--log'), sync: true });
  return pino(
    {
      level: o.verbose ? 'debug' : 'info',
      base: o.runId ? { run: o.runId } : {},
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: (s: string) => o.redactor.redact(s) },
    },
    dest,
  );
}
