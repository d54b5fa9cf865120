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
  private secrets: string[] = [];
  constructor(secrets: (string | undefined | null)[]) {
    this.add(...secrets);
  }

  /** More secrets, as a run learns them (a password generated for a host). */
  add(...secrets: (string | undefined | null)[]): void {
    // Longest first, so a secret containing another is replaced whole; JSON-escaped forms too.
    const all = new Set<string>(this.secrets);
    for (const s of secrets) {
      if (!s || s.length < 3) continue;
      all.add(s);
      all.add(JSON.stringify(s).slice(1, -1));
    }
    this.secrets = [...all].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('[REDACTED]');
    return out;
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
