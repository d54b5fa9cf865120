import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** update / install / uninstall: every bad input is one clear line and exit 2, before any host is contacted. */
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(repo, 'dist/cli/main.js');
const zip = path.join(repo, 'packages/CloudResetPwdAgent-2.1.0.zip');
// 192.0.2.1 (TEST-NET) is never contacted: each case must fail before connecting.
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 });

describe('update, install, uninstall on the command line', () => {
  it.each([
    [['update', '-H', '192.0.2.1'], /--package ZIP is required/],
    [['install', '-H', '192.0.2.1'], /--package ZIP is required/],
    [['update', '-H', '192.0.2.1', '--package', '/nonexistent.zip'], /\/nonexistent\.zip: no such file/],
    [['update', '-H', '192.0.2.1', '--package', zip, '--force', 'disk'], /--force disk: no such check; use one of root-writable, disk-space/],
    [['update', '-H', '192.0.2.1', '--package', zip, '--pull'], /--pull: give the URL the hosts download the package from/],
    [['update', '-H', '192.0.2.1', '--package', zip, '--pull', 'ftp://mirror/x.zip'], /--pull ftp:\/\/mirror\/x\.zip: give an http/],
    [['uninstall', '-H', '192.0.2.1', '--frobnicate'], /unknown option '--frobnicate'/],
    [['update', '-H', '192.0.2.1', '--package', zip, '--settle', 'soon'], /--settle soon: give a whole number/],
    [['update', '-H', '192.0.2.1', '--package', zip, '--report', 'r.txt'], /--report r\.txt: only \.json/],
  ])('%j → exit 2', (args, msg) => {
    const r = run(...args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });

  it('each command\'s --help shows its options and an example', () => {
    for (const c of ['update', 'install', 'uninstall']) {
      const r = run(c, '--help');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/--dry-run/);
      expect(r.stdout).toMatch(/Examples:\n {2}resetpwd-fleet /);
    }
    expect(run('update', '--help').stdout).toMatch(/--package <zip>[\s\S]*--reinstall/);
  });
});
