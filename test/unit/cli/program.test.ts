import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(repo, 'dist/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

describe('resetpwd-fleet (the built executable)', () => {
  it('--version prints the package version and exits 0', () => {
    const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    const r = run('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('--help describes the tool and exits 0', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: resetpwd-fleet/);
    expect(r.stdout).toContain('password-reset plug-in');
  });

  it('an unknown command or option is a usage error: one clear line on stderr, exit 2', () => {
    for (const args of [['frobnicate'], ['--frobnicate']]) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/error: (unknown command 'frobnicate'|unknown option '--frobnicate')/);
      expect(r.stdout).toBe('');
    }
  });
});
