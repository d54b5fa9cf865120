import { writeFileAtomic } from '../files.js';
import path from 'node:path';
import type { ResultDocument } from '../core/result.js';
import { UsageError } from '../errors.js';
import { renderHtml } from './html.js';
import { renderJunit } from './junit.js';

/**
 * The file reporters behind `--report FILE`, chosen by the file's extension. Each renders a whole result
 * document — an audit's, or a change command's (ChangeDocument: run id, journal, package and each host's
 * plan are shown where present) — to the text of one file.
 */
export interface Reporter {
  format: 'json' | 'junit' | 'html';
  /** The extension that selects it, with its dot. */
  extension: string;
  render(doc: ResultDocument): string;
}

/** The result document exactly as `--json` prints it. */
export function renderJson(doc: ResultDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export const REPORTERS: readonly Reporter[] = [
  { format: 'json', extension: '.json', render: renderJson },
  { format: 'junit', extension: '.xml', render: renderJunit },
  { format: 'html', extension: '.html', render: renderHtml },
];

/** The reporter for a report file, by its extension (case-insensitive); any other is a usage error. */
export function reporterFor(file: string): Reporter {
  const ext = path.extname(file).toLowerCase();
  const r = REPORTERS.find((x) => x.extension === ext);
  if (!r) {
    const names = REPORTERS.map((x) => `${x.extension}${x.format === 'junit' ? ' (JUnit)' : ''}`);
    throw new UsageError(`--report ${file}: only ${names.slice(0, -1).join(', ')} and ${names.at(-1)} reports are written; name the file with one of those extensions`);
  }
  return r;
}

/**
 * Writes a report readable by its owner only (it names hosts and their weaknesses): mode 0600, also when the
 * file was already there with a wider mode; replaced whole, never through a symbolic link (files.ts).
 */
export function writeReport(file: string, doc: ResultDocument): void {
  writeFileAtomic(file, reporterFor(file).render(doc), '--report');
}
