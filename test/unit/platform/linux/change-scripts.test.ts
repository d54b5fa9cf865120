import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  FIX_SCRIPT, PREPARE_SCRIPT, USER_UPLOAD_DIR_SCRIPT, extractorOf, followScript, hashToolOf, launchScript, stageScript,
} from '../../../../src/platform/linux/change-scripts.js';
import { TXN_SCRIPT } from '../../../../src/platform/linux/txn-script.js';

/**
 * The scripts a change sends must parse under every POSIX shell a target may have, and every value that
 * comes from the package, the inventory or the host must reach the shell as one quoted word.
 */
const shells = [['dash'], ['busybox', 'sh'], ['bash', '--posix']].filter(([s]) => spawnSync('sh', ['-c', `command -v ${s}`]).status === 0);
const hostile = `x'; touch /tmp/pwned; echo '$(id)\`id\``;
const scripts: Record<string, string> = {
  txn: TXN_SCRIPT,
  prepare: PREPARE_SCRIPT,
  upload: USER_UPLOAD_DIR_SCRIPT,
  stage: stageScript({ uploadDir: '/tmp/resetpwd-fleet.abc', stage: '/var/lib/resetpwd-fleet/stage.x', files: [{ name: 'pkg.zip', sha256: 'ab'.repeat(32) }, { name: 'txn.sh', sha256: 'cd'.repeat(32) }], unpack: { extractor: 'unzip', archive: 'pkg.zip', expect: `${hostile}/setup.sh` } }),
  'stage (tar)': stageScript({ uploadDir: '/var/lib/resetpwd-fleet/stage.x', stage: '/var/lib/resetpwd-fleet/stage.x', files: [{ name: 'pkg.tar', sha256: 'ab'.repeat(32) }], unpack: { extractor: 'tar', archive: 'pkg.tar', expect: 'CloudResetPwdAgent/CloudResetPwdAgent.Linux/setup.sh' } }),
  'stage (python3)': stageScript({ uploadDir: '/u', stage: '/s', files: [], unpack: { extractor: 'python3', archive: 'pkg.zip', expect: 'a/setup.sh' } }),
  'stage (nothing to unpack)': stageScript({ uploadDir: '/u', stage: '/s', files: [{ name: 'txn.sh', sha256: 'cd'.repeat(32) }], unpack: null }),
  launch: launchScript({ action: 'install', txn: 'abc123', stage: '/var/lib/resetpwd-fleet/stage.x', linuxDir: hostile, updateDir: null, sha256: 'ab'.repeat(32), version: hostile, log4j: '2.17.1', settleSeconds: 3, startWaitSeconds: 20, tool: '0.1.0' }),
  follow: followScript(hostile, 3),
  fix: FIX_SCRIPT,
};

describe('change scripts', () => {
  for (const sh of shells) {
    for (const [name, text] of Object.entries(scripts)) {
      it(`${name} parses under ${sh.join(' ')}`, () => {
        const r = spawnSync(sh[0]!, [...sh.slice(1), '-n', '-c', text], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
      });
    }
  }

  it('passes hostile values (a package path, a version, a change id) as single-quoted words', () => {
    const q = `'x'\\''; touch /tmp/pwned; echo '\\''$(id)\`id\`'`;
    expect(scripts.launch).toContain(q);
    expect(scripts.follow).toContain(q);
    expect(scripts.stage).toContain(`${q.slice(0, -1)}/setup.sh'`);
  });

  it('the stage script runs no value it reports: a hostile file name or hash is echoed, never executed', () => {
    // The names and hashes are the tool's own today; the script must not depend on that.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stage-quote-'));
    try {
      const marker = path.join(dir, 'pwned');
      const evil = 'x$(touch pwned)`touch pwned`';
      writeFileSync(path.join(dir, evil), 'content');
      const script = stageScript({ uploadDir: dir, stage: dir, files: [{ name: evil, sha256: `${'0'.repeat(64)}$(touch pwned)` }], unpack: null });
      const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', cwd: dir });
      expect(r.stdout).toContain(`error: ${evil} has SHA-256 `);
      expect(existsSync(marker)).toBe(false);
      const missing = stageScript({ uploadDir: dir, stage: dir, files: [{ name: 'nope$(touch pwned)', sha256: 'a'.repeat(64) }], unpack: null });
      spawnSync('sh', ['-c', missing.replace(/command -v sha256sum/g, 'false && command -v sha256sum').replace(/command -v openssl/g, 'false').replace(/command -v busybox/g, 'false').replace(/python3 -c/, 'false')], { encoding: 'utf8', cwd: dir });
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds its SSH session under OpenSSH 9.8+ (the per-connection sshd-session) as under older sshd, so a dead session\'s upload folder goes', () => {
    const t = mkdtempSync(path.join(os.tmpdir(), 'session-'));
    try {
      for (const name of ['sshd-session', 'sshd', 'dropbear']) {
        // A stand-in for the session's process: a shell under that name, the parent of the one running the script.
        const fake = path.join(t, name);
        copyFileSync('/bin/dash', fake);
        chmodSync(fake, 0o755);
        const session = () => spawnSync(fake, ['-c', 'sh -c "$1"; echo "session=$$"', name, USER_UPLOAD_DIR_SCRIPT], { env: { ...process.env, TMPDIR: t }, encoding: 'utf8' });
        const r = session();
        const [dir, own] = r.stdout.trim().split('\n');
        expect(r.status, r.stderr).toBe(0);
        expect(readFileSync(path.join(dir!, '.session'), 'utf8')).toMatch(new RegExp(`^${own!.slice('session='.length)}:\\d+\n$`));
        // That session has ended: the next session's script removes its folder at once, not 10 minutes later.
        const next = session();
        expect(existsSync(dir!)).toBe(false);
        rmSync(next.stdout.trim().split('\n')[0]!, { recursive: true, force: true });
      }
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });

  it('launches the transaction detached (new session, stdin from /dev/null, output to a file)', () => {
    expect(scripts.launch).toMatch(/setsid sh \/var\/lib\/resetpwd-fleet\/stage\.x\/txn\.sh install abc123 .*<\/dev\/null >>/);
  });

  it('copies a sudo user\'s uploads into root\'s stage before checking their hashes there', () => {
    const s = scripts.stage!;
    expect(s.indexOf('cp "$U/"pkg.zip "$S/"pkg.zip')).toBeGreaterThan(0);
    expect(s.indexOf('cp "$U/"txn.sh "$S/"txn.sh')).toBeLessThan(s.indexOf('got=$(h'));
  });

  it('chooses the hash tool and the unpacker from what the host has', () => {
    expect(hashToolOf(['openssl', 'sha256sum'])).toBe('sha256sum');
    expect(hashToolOf(['busybox'])).toBe('busybox');
    expect(hashToolOf(['tar'])).toBeNull();
    expect(extractorOf(['tar', 'python3', 'unzip'])).toBe('unzip');
    expect(extractorOf(['tar', 'python3'])).toBe('tar');
    expect(extractorOf(['tar', 'python3', 'python3-zipfile'])).toBe('python3');
    expect(extractorOf([])).toBeNull();
  });
});
