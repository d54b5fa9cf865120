import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderHtml } from '../../../src/report/html.js';
import { EVIL, auditDoc, bigDoc, hostileDoc, mixedDoc, updateDoc } from './sample.js';

/**
 * The HTML report: one self-contained page an operator opens in a browser. Its markup is checked here as
 * text; what its script does (filters from the URL hash, sorting, details) is checked in headless Chromium.
 */
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The host rows of a page, in page order: each row's start tag and its attributes. */
function rows(page: string): { tag: string; name: string; outcome: string; hidden: boolean }[] {
  return [...page.matchAll(/<tr ([^>]*\bdata-o="([^"]*)"[^>]*)>(?:<td[^>]*>.*?<\/td>)<td class="host"[^>]*>(.*?)<\/td>/g)].map((m) => ({
    tag: m[1]!,
    outcome: m[2]!,
    name: m[3]!,
    hidden: /\shidden(="")?(\s|$)/.test(` ${m[1]!} `),
  }));
}

const inline = (page: string, tag: 'style' | 'script') => [...page.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]!);
const sha = (s: string) => `sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}`;

describe('HTML report: the page', () => {
  const page = renderHtml(mixedDoc());

  it('has a header with the command, run id, package, start, finish, duration and journal', () => {
    expect(page.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(page).toContain('<title>resetpwd-fleet update — 2026-11-23 10:00:00 UTC</title>');
    expect(page).toContain('<h1>resetpwd-fleet <span class="cmd">update</span></h1>');
    for (const [k, v] of [
      ['run', '20261123T100000Z-a1b2c3'],
      ['package', `CloudResetPwdAgent.zip, version 2.1.0, sha256 ${'ab'.repeat(32)}`],
      ['started', '2026-11-23 10:00:00 UTC'],
      ['finished', '2026-11-23 10:00:09 UTC'],
      ['duration', '9.5 s'],
      ['journal', '/root/.local/state/resetpwd-fleet/runs/20261123T100000Z-a1b2c3.jsonl'],
    ]) expect(page).toContain(`<dt>${k}</dt><dd>${v}</dd>`);
  });

  it('an audit page has no run id or package, and a run stopped early says why', () => {
    const audit = renderHtml(auditDoc());
    expect(audit).not.toMatch(/<dt>(run|package|journal)<\/dt>/);
    const stopped = renderHtml({ ...auditDoc(), stopped: { reason: 'budget', detail: '3 hosts failed, 0 allowed' } } as never);
    expect(stopped).toContain('<div class="stopped"><dt>stopped early</dt><dd>budget: 3 hosts failed, 0 allowed</dd></div>');
  });

  it('shows a tile per outcome with its count, problems first, and one for all hosts and one for the problems', () => {
    const tiles = [...page.matchAll(/<button type="button" class="tile[^"]*" data-outcome="([^"]*)"[^>]*><b>(\d+)<\/b>/g)].map((m) => [m[1], Number(m[2])]);
    expect(tiles).toEqual([
      ['', 10], ['problems', 7], ['failed', 3], ['rolled-back', 1], ['refused', 1], ['unreachable', 1], ['skipped', 1], ['updated', 1], ['unchanged', 1], ['ok', 1],
    ]);
  });

  it('has a row per host, failing hosts first, each with address, os, outcome, plug-in state, a cell per check and the reason', () => {
    const r = rows(page);
    expect(r.map((x) => x.outcome)).toEqual(['failed', 'failed', 'failed', 'rolled-back', 'refused', 'unreachable', 'skipped', 'updated', 'unchanged', 'ok']);
    expect(r.map((x) => x.name)).toEqual(['app-5', 'web-2', 'db-1', 'app-4', 'app-3', 'app-6', 'app-7', 'app-1', 'app-2', 'web-1']);
    expect(r.every((x) => !x.hidden)).toBe(true);
    const head = /<thead><tr>(.*?)<\/tr><\/thead>/.exec(page)![1]!;
    expect([...head.matchAll(/<th[^>]*>(.*?)<\/th>/g)].map((m) => m[1])).toEqual([
      '', 'host', 'address', 'os', 'outcome', 'plug-in', 'root-writable', 'disk-space', 'selinux', 'memory', 'dhcp', 'metadata', 'eip', 'os-supported', 'error / reason',
    ]);
    const web2 = /<tr [^>]*data-i="8"[^>]*>(.*?)<\/tr>/.exec(page)![1]!;
    const cells = [...web2.matchAll(/<td([^>]*)>(.*?)<\/td>/g)].map((m) => [m[1]!.trim(), m[2]]);
    expect(cells.slice(1, 6)).toEqual([
      ['class="host" title="web-2"', 'web-2'], ['class="nw"', '192.0.2.15:22'], ['class="nw"', 'sles 12.5'],
      ['class="outcome"', '<span class="badge o-failed">failed</span>'], ['class="agent"', 'running, AUTO, port 31000, v1.0.3, log4j 2.17.1'],
    ]);
    expect(cells.slice(6, 14)).toEqual([
      ['class="s-pass" title="/ is writable"', 'pass'],
      ['class="s-fail" title="120 MiB free on / (300 MiB needed)"', 'FAIL'],
      ['class="s-warn" title="SELinux is permissive"', 'warn'],
      ['class="s-skip" title="not SUSE 11 SP4"', '–'],
      ['class="s-pass" title="eth0 uses DHCP"', 'pass'],
      ['class="s-error" title="curl is missing"', 'error'],
      ['class="s-pass" title="push mode: no EIP needed"', 'pass'],
      ['class="s-pass" title="sles 12.5 is supported"', 'pass'],
    ]);
    expect(cells[14]).toEqual(['class="reason"', 'disk-space: 120 MiB free on / (300 MiB needed)']);
  });

  it('colours failing checks: fail red, warn amber, error purple', () => {
    const css = inline(page, 'style')[0]!;
    expect(css).toMatch(/--fail:#c62828/);
    expect(css).toMatch(/--warn-bg:#ffedb3/);
    expect(css).toMatch(/--error:#6a1b9a/);
    expect(css).toMatch(/td\.s-fail\{background:var\(--fail-bg\);color:var\(--fail\)/);
    expect(css).toMatch(/td\.s-warn\{background:var\(--warn-bg\)/);
    expect(css).toMatch(/td\.s-error\{background:var\(--error-bg\)/);
  });

  it('marks each row with what the filters need: outcome, rank, failing check ids, whether it is a problem', () => {
    expect(page).toMatch(/<tr data-i="9" data-o="failed" data-r="0" data-f="disk-space dhcp" data-problem="" class="o-failed">/);
    expect(page).toMatch(/<tr data-i="0" data-o="ok" data-r="9" data-f="" class="o-ok">/);
    const checkOptions = /<select id="f-check">(.*?)<\/select>/.exec(page)![1]!;
    expect(checkOptions).toContain('<option value="disk-space">disk-space fails (3)</option>');
    expect(checkOptions).toContain('<option value="selinux">selinux fails (1)</option>');
    expect(/<select id="f-outcome">(.*?)<\/select>/.exec(page)![1]).toContain('<option value="rolled-back">rolled-back (1)</option>');
  });

  it('shows a dry run\'s would-be changes as "would change", not as skipped problems', () => {
    const d = updateDoc();
    d.hosts[0] = { ...d.hosts[0]!, outcome: 'skipped' };
    const p = renderHtml(d);
    expect(p).toMatch(/<tr data-i="0" data-o="would change" data-r="5" data-f="" class="o-would-change">/);
    expect(p).toContain('<td class="reason">transaction: CloudResetPwdAgent 1.0.3 running</td>');
  });

  it('embeds each host\'s plan steps, timed steps and check details for its details row, as JSON', () => {
    const json = /<script type="application\/json" id="report-data">(.*?)<\/script>/.exec(page)![1]!;
    const data = JSON.parse(json) as { plan: { steps: string[] } | null; steps: [string, number, boolean][]; checks: string[][]; txn: string | null }[];
    expect(data).toHaveLength(10);
    expect(data[4]!.plan!.steps[2]).toBe('run setup.sh');
    expect(data[4]!.steps.at(-1)).toEqual(['apply', 25000, true]);
    expect(data[4]!.txn).toBe('m1def');
    expect(data[8]!.checks[1]).toEqual(['disk-space', 'fail', '120 MiB free on / (300 MiB needed)']);
  });

  it('is self-contained: nothing is fetched, and a Content-Security-Policy allows only its own inline style and script', () => {
    expect(page).not.toMatch(/\b(src|href)=|<link|@import|url\(|https?:\/\//i);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(page)![1]!.replaceAll('&#39;', "'");
    const [style] = inline(page, 'style');
    const [script] = inline(page, 'script');
    expect(csp).toBe(`default-src 'none'; style-src '${sha(style!)}'; script-src '${sha(script!)}'; img-src data:; base-uri 'none'; form-action 'none'`);
    expect(page).not.toMatch(/<[a-z][^>]*\son[a-z]+=/i); // no inline event handlers (the policy would block them anyway)
  });

  it('stays linear in the number of hosts: 5,000 hosts are 5,000 rows, twice the hosts about twice the bytes', () => {
    const big = renderHtml(bigDoc(5000));
    expect(rows(big)).toHaveLength(5000);
    expect(rows(big).slice(0, 2000).every((r) => r.outcome === 'failed' || r.outcome === 'unreachable')).toBe(true);
    const ratio = renderHtml(bigDoc(4000)).length / renderHtml(bigDoc(2000)).length;
    expect(ratio).toBeGreaterThan(1.9);
    expect(ratio).toBeLessThan(2.1);
  });
});

describe('HTML report: what hosts send is inert', () => {
  const page = renderHtml(hostileDoc());
  const shown = `&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;\\u0001\\u001b[31m]]&gt;&lt;/x&gt;`;

  it('escapes a host name, address, OS, plug-in state, check detail and error: markup and quotes become text', () => {
    expect(page).toContain(`<td class="host" title="evil-${shown}">evil-${shown}</td>`);
    expect(page).toContain('<td class="nw">192.0.2.66&quot;&gt;&lt;img src=x onerror=alert(2)&gt;:22</td>');
    expect(page).toContain(`title="full ${shown}">FAIL</td>`);
    expect(page).toContain(`<td class="reason">boom ${shown}</td>`);
    expect(page).toContain(`<td class="nw">sles${shown} ${shown}</td>`);
  });

  it('leaves no markup of the host\'s in the page: two script elements (ours), no img, no handler attribute', () => {
    expect(page.match(/<script/g)).toHaveLength(2);
    expect(page).not.toMatch(/<img|<\/x>|<[a-z][^>]*\son[a-z]+=/i);
    expect(page).not.toContain('<script>alert');
    // eslint-disable-next-line no-control-regex
    expect(page).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
  });

  it('keeps the JSON for the details rows unable to close its script element, and reading it back gives the original text', () => {
    const json = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(page)![1]!;
    expect(json).not.toMatch(/[<>]/);
    const data = JSON.parse(json) as { error: string; findings: string[]; steps: [string][] }[];
    expect(data[0]!.error).toBe(`boom ${EVIL}`);
    expect(data[0]!.findings).toEqual([EVIL]);
    expect(data[0]!.steps[0]![0]).toBe(EVIL);
  });
});

/* ------------------------------------------------------------------------------------------------------ */

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
// scripts/setup installs Chromium; without it these fail, saying so (a skipped test would check nothing).
describe('HTML report in headless Chromium', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'html-report-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'report.html');
  writeFileSync(file, renderHtml(mixedDoc()));
  const evil = path.join(dir, 'evil.html');
  writeFileSync(evil, renderHtml(hostileDoc()));

  function chromium(...args: string[]): string {
    if (!CHROMIUM) throw new Error('chromium is not installed: run scripts/setup (apt-get install chromium)');
    return execFileSync(
      CHROMIUM,
      ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${path.join(dir, 'profile')}`, ...args],
      { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] },
    );
  }
  const dom = (hash: string, f = file) => chromium('--dump-dom', `file://${f}${hash}`);
  const visible = (page: string) => rows(page).filter((r) => !r.hidden).map((r) => r.name);
  const shownText = (page: string) => /<output id="shown">(.*?)<\/output>/.exec(page)![1];

  it('renders a mixed fleet to a screenshot', () => {
    const png = path.join(dir, 'report.png');
    chromium(`--screenshot=${png}`, '--window-size=1400,1000', `file://${file}`);
    expect(existsSync(png)).toBe(true);
    expect(statSync(png).size).toBeGreaterThan(10 * 1024);
    // UPDATE_REPORT_EXAMPLE=1 refreshes the picture in the docs.
    if (process.env.UPDATE_REPORT_EXAMPLE) {
      mkdirSync(path.join(repo, 'docs/img'), { recursive: true });
      copyFileSync(png, path.join(repo, 'docs/img/report-example.png'));
    }
  }, 120_000);

  it('runs its script: every row is there and shown, counted, marked ready', () => {
    const page = dom('');
    expect(page).toMatch(/<html lang="en" data-ready="">/);
    expect(visible(page)).toHaveLength(10);
    expect(shownText(page)).toBe('10 of 10 hosts shown');
  }, 120_000);

  it('#outcome=failed hides every other row, and presses the failed tile', () => {
    const page = dom('#outcome=failed');
    expect(visible(page)).toEqual(['app-5', 'web-2', 'db-1']);
    expect(rows(page).filter((r) => r.hidden)).toHaveLength(7);
    expect(rows(page).filter((r) => r.hidden).every((r) => r.outcome !== 'failed')).toBe(true);
    expect(shownText(page)).toBe('3 of 10 hosts shown');
    expect(page).toMatch(/data-outcome="failed" aria-pressed="true"/);
    expect(page).toMatch(/data-outcome="" aria-pressed="false"/);
  }, 120_000);

  it('#check=disk-space shows only the hosts where that check fails; #q= searches the row text', () => {
    expect(visible(dom('#check=disk-space'))).toEqual(['web-2', 'db-1', 'app-3']);
    expect(visible(dom('#q=HANDSHAKE'))).toEqual(['app-6']);
    expect(visible(dom('#outcome=problems&check=dhcp'))).toEqual(['db-1']);
  }, 120_000);

  it('#sort=name orders the rows by host name, and #open=HOST opens that host\'s plan and timed steps', () => {
    const page = dom('#outcome=problems&sort=name&open=app-4');
    expect(rows(page).map((r) => r.name)).toEqual(['app-1', 'app-2', 'app-3', 'app-4', 'app-5', 'app-6', 'app-7', 'db-1', 'web-1', 'web-2']);
    expect(visible(page)).toEqual(['app-3', 'app-4', 'app-5', 'app-6', 'app-7', 'db-1', 'web-2']);
    const det = /<tr class="det" data-for="4">(.*?)<\/tr>(?=<tr data-i)/s.exec(page)![1]!;
    expect(det).toContain('<h3>plan: transaction</h3>');
    expect(det).toContain('<li>run setup.sh</li>');
    expect(det).toContain('<td>apply</td><td>25000 ms</td><td>ok</td>');
    expect(det).toContain('<td>total</td><td>27140 ms</td>');
    expect(det).toContain('<pre>app-4: the new agent did not start within 20 s; the old agent was restored and runs</pre>');
    expect(page.indexOf('data-for="4"')).toBeGreaterThan(page.indexOf('<tr data-i="4"'));
  }, 120_000);

  it('runs nothing a host sent: the hostile page has only its own two scripts and no img, and shows the text', () => {
    const page = dom('#open=' + encodeURIComponent(`evil-${EVIL.replace(/[\u0001\u001b]/g, (c) => `\\u00${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`), evil);
    expect(page.match(/<script/g)).toHaveLength(2);
    expect(page).not.toMatch(/<img|<x>|<\/x>/);
    expect(page).toContain('evil-&lt;script&gt;alert(1)&lt;/script&gt;"\'&amp;\\u0001\\u001b[31m]]&gt;&lt;/x&gt;</td>');
    // its details row was built from the JSON with textContent: the host's text is text there too
    expect(page).toMatch(/<tr class="det" data-for="0">.*<pre>boom &lt;script&gt;alert\(1\)&lt;\/script&gt;/s);
  }, 120_000);
});
