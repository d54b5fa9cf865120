import { afterAll, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../../src/errors.js';
import { emit, targetsOf, type TargetCliOptions } from '../../../src/cli/target-options.js';
import { REPORTERS, renderJson, reporterFor, writeReport } from '../../../src/report/reporter.js';
import { renderHtml } from '../../../src/report/html.js';
import { renderJunit } from '../../../src/report/junit.js';
import { auditDoc, updateDoc } from './sample.js';

/** `--report FILE`: one Reporter per format, chosen by the file's extension; the file is private (0600). */
const tmp = mkdtempSync(path.join(os.tmpdir(), 'reporter-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('reporterFor', () => {
  it.each([
    ['audit.json', 'json'],
    ['out/run.xml', 'junit'],
    ['/var/reports/fleet.v2/report.html', 'html'],
    ['REPORT.XML', 'junit'],
    ['Report.Html', 'html'],
  ])('%s → %s', (file, format) => {
    expect(reporterFor(file).format).toBe(format);
  });

  it('renders with the format\'s own renderer', () => {
    const d = updateDoc();
    expect(reporterFor('r.json').render(d)).toBe(`${JSON.stringify(d, null, 2)}\n`);
    expect(reporterFor('r.xml').render(d)).toBe(renderJunit(d));
    expect(reporterFor('r.html').render(d)).toBe(renderHtml(d));
  });

  it.each(['r.txt', 'report', 'r.htm', 'r.junit', 'r.json.gz', '.html.bak'])('refuses %s with one line naming the file and the extensions', (file) => {
    let err: unknown;
    try {
      reporterFor(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    const msg = (err as Error).message;
    expect(msg.split('\n')).toHaveLength(1);
    expect(msg).toBe(`--report ${file}: only .json, .xml (JUnit) and .html reports are written; name the file with one of those extensions`);
  });

  it('knows exactly the three formats', () => {
    expect(REPORTERS.map((r) => [r.format, r.extension])).toEqual([['json', '.json'], ['junit', '.xml'], ['html', '.html']]);
  });
});

describe('the JSON report', () => {
  it('is the --json document, change fields included, and reads back to the same document', () => {
    const d = updateDoc();
    const text = renderJson(d);
    expect(JSON.parse(text)).toEqual(d);
    expect(JSON.parse(text)).toMatchObject({ runId: '20261123T100000Z-a1b2c3', package: { sha256: 'ab'.repeat(32) } });
    expect(text.endsWith('}\n')).toBe(true);
  });
});

describe('writeReport', () => {
  it('writes the rendered report readable by its owner only', () => {
    const f = path.join(tmp, 'a.xml');
    writeReport(f, auditDoc());
    expect(readFileSync(f, 'utf8')).toBe(renderJunit(auditDoc()));
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it('makes an existing world-readable file private before writing into it, and replaces its content', () => {
    const f = path.join(tmp, 'b.html');
    writeFileSync(f, 'x'.repeat(100_000));
    chmodSync(f, 0o644);
    writeReport(f, auditDoc());
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(readFileSync(f, 'utf8')).toBe(renderHtml(auditDoc()));
  });
});

describe('the CLI\'s --report', () => {
  const opts = (report: string, json = false) => ({ host: ['192.0.2.1'], report, json, knownHosts: '/dev/null', concurrency: 1, timeout: 1 }) as TargetCliOptions;

  it('accepts the three extensions before any host is contacted', async () => {
    for (const f of ['r.json', 'r.xml', 'r.html']) expect((await targetsOf(opts(f))).targets.map((t) => t.host)).toEqual(['192.0.2.1']);
    await expect(targetsOf(opts('r.csv'))).rejects.toThrow(UsageError);
  });

  it('emit writes the report in its format and prints the human summary, or the JSON document with --json', () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const d = auditDoc();
      emit(opts(path.join(tmp, 'e.html')), d, () => 'human\n');
      emit(opts(path.join(tmp, 'e.xml'), true), d, () => 'human\n');
      expect(out.mock.calls.map((c) => c[0])).toEqual(['human\n', renderJson(d)]);
      expect(readFileSync(path.join(tmp, 'e.html'), 'utf8')).toBe(renderHtml(d));
      expect(readFileSync(path.join(tmp, 'e.xml'), 'utf8')).toBe(renderJunit(d));
    } finally {
      out.mockRestore();
    }
  });

  it('an unknown extension is a usage error: exit 2, one line, nothing on stdout, no host contacted', () => {
    const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/cli/main.js');
    const r = spawnSync(process.execPath, [bin, 'audit', '-H', '192.0.2.1', '--report', 'r.pdf'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.trim()).toMatch(/^.*--report r\.pdf: only \.json, \.xml \(JUnit\) and \.html reports are written; name the file with one of those extensions$/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });
});
