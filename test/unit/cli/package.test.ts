import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PackageInfo } from '../../../src/package/verify.js';
import { BAD_CASES } from '../package/bad-packages.js';
import { REPO, sha256, writeSha256, useTestDir } from '../package/helpers.js';

const bin = path.join(REPO, 'dist/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

const t = useTestDir('cli-package', { fixtures: true });

describe('resetpwd-fleet package verify', () => {
  it('prints a short summary of a sound package and exits 0', () => {
    const r = run('package', 'verify', t.zips['1.0.5']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`file     ${t.zips['1.0.5']} (`);
    expect(r.stdout).toContain(`sha256   ${sha256(t.zips['1.0.5'])} OK`);
    expect(r.stdout).toMatch(/^layout {3}old: main agent \+ update agent /m);
    expect(r.stdout).toMatch(/^version {2}1\.0\.5$/m);
    expect(r.stdout).toMatch(/^log4j {4}2\.8\.2 \(below 2\.17: the Log4Shell range/m);
    expect(r.stdout).toMatch(/^mode {5}AUTO$/m);
    expect(r.stdout).toMatch(/^windows {2}yes$/m);
    expect(r.stdout).toMatch(/^entries {2}\d+ \(\d+ bytes unpacked\)$/m);
  });

  it('--json prints the package facts as one JSON document', () => {
    const r = run('package', 'verify', t.zips['2.1.0'], '--json');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout) as PackageInfo;
    expect(info).toMatchObject({ fileName: 'CloudResetPwdAgent-2.1.0.zip', layout: 'current', version: '2.1.0', mode: 'PIPE', log4j: '2.17.1' });
    expect(info.sha256).toBe(sha256(t.zips['2.1.0']));
  });

  it('accepts a .sha256 with upper-case hex and extra text, and --sha256 given as the digest', () => {
    const zip = path.join(t.dir, 'CloudResetPwdAgent.zip');
    copyFileSync(t.zips['1.1.2'], zip);
    writeSha256(zip, `SHA256(CloudResetPwdAgent.zip)= ${sha256(zip).toUpperCase()} (published 2024-01-01)\n`);
    expect(run('package', 'verify', zip).status).toBe(0);
    expect(run('package', 'verify', t.zips['1.1.2'], '--sha256', sha256(zip)).status).toBe(0);
  });

  it.each(BAD_CASES)('exits 2 with one line naming the problem when $title', (c) => {
    const { zip, sha256: given } = c.make(t.dir);
    const r = run('package', 'verify', zip, ...(given ? ['--sha256', given] : []));
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^resetpwd-fleet: [^\n]+\n$/);
    expect(r.stderr).toMatch(c.message);
  });

  it('exits 2 on a usage error: no zip given, or an unknown option', () => {
    const none = run('package', 'verify');
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/error: missing required argument 'zip'/);
    const unknown = run('package', 'verify', t.zips['2.1.0'], '--frobnicate');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/error: unknown option '--frobnicate'/);
  });

  it('--help shows the options and an example, and exits 0', () => {
    const r = run('package', 'verify', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--sha256 <FILE|HEX>');
    expect(r.stdout).toContain('resetpwd-fleet package verify packages/CloudResetPwdAgent-2.1.0.zip');
  });
});
