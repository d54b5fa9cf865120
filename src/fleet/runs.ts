import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { HostResult, Outcome } from '../core/result.js';
import { defaultJournalDir } from './journal.js';

/**
 * Reading past runs back from their journals (one JSON object a line, fsync'd as written): which hosts a run
 * targeted, which finished and how, which were caught mid-change. A torn last line (the controller killed
 * while writing) is ignored; everything before it is trusted.
 */
export interface RunHeader {
  type: 'run';
  run: string;
  t: string;
  command: string;
  package: { fileName: string; sha256: string } | null;
  hosts: string[];
  /** reset-password: the account (null: each platform's default), and whether passwords were generated. */
  account?: string | null;
  generate?: boolean;
  /** reset-password --offline: through the cloud API. */
  offline?: boolean;
  /** reset-password --generate: the age recipients (public keys) the passwords were encrypted to. */
  recipients?: string[];
}

export interface RunRecord {
  id: string;
  file: string;
  header: RunHeader;
  /** The last result journaled for each host that finished (a resumed run may add later ones). */
  results: Map<string, HostResult>;
  /** The last state journaled for each host that started. */
  lastState: Map<string, string>;
  /** The last change launched on each host (its id on the host, and the outcome it was to give). */
  changes: Map<string, { txn: string; outcome: Outcome }>;
  /** reset-password --generate: the passwords files the run (and each resume of it) wrote, in order. */
  vaults: string[];
  interrupted: boolean;
}

export function readRun(file: string): RunRecord {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`${file}: cannot read that run journal`);
  }
  let header: RunHeader | null = null;
  const results = new Map<string, HostResult>();
  const lastState = new Map<string, string>();
  const changes = new Map<string, { txn: string; outcome: Outcome }>();
  const vaults: string[] = [];
  let finished = false;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue; // a line torn by a kill
    }
    if (rec.type === 'run') {
      header ??= rec as unknown as RunHeader;
      finished = false;
    } else if (rec.type === 'result' && typeof rec.host === 'string') results.set(rec.host, rec.result as HostResult);
    else if (rec.type === 'end') finished = rec.complete !== false;
    else if (rec.type === 'vault' && typeof rec.file === 'string') vaults.push(rec.file);
    else if (rec.type === 'change' && typeof rec.host === 'string' && typeof rec.txn === 'string') changes.set(rec.host, { txn: rec.txn, outcome: rec.outcome as Outcome });
    else if (typeof rec.host === 'string' && typeof rec.state === 'string') lastState.set(rec.host, rec.state);
  }
  if (!header) throw new UsageError(`${file}: not a resetpwd-fleet run journal (no run header)`);
  return { id: header.run, file, header, results, lastState, changes, vaults, interrupted: !finished };
}

/** A run by id, by journal path, or "latest" (the newest journal in the runs folder). */
export function findRun(ref: string, dir = defaultJournalDir(), flag = '--resume'): RunRecord {
  if (ref.includes('/') || ref.endsWith('.jsonl')) return readRun(ref);
  if (ref === 'latest') {
    const all = listRunFiles(dir);
    if (all.length === 0) throw new UsageError(`${flag} latest: no runs in ${dir}`);
    return readRun(all[0]!);
  }
  const file = path.join(dir, `${ref}.jsonl`);
  if (!existsSync(file)) throw new UsageError(`run ${ref}: no journal ${file}; see \`resetpwd-fleet runs list\``);
  return readRun(file);
}

/** Journal files, newest first. */
export function listRunFiles(dir = defaultJournalDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => path.join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
}

/** Hosts that count as done for a resume: they have a result and were not skipped. */
export function doneHosts(r: RunRecord): Set<string> {
  return new Set([...r.results].filter(([, h]) => h.outcome !== 'skipped').map(([n]) => n));
}

/** Hosts a --retry-failed run targets: those that ended failed, rolled back or unreachable. */
export function failedHosts(r: RunRecord): string[] {
  return [...r.results].filter(([, h]) => ['failed', 'rolled-back', 'unreachable'].includes(h.outcome)).map(([n]) => n);
}
