import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Every test file's temporary folders and files go under one private folder for the run (TMPDIR, which
 * os.tmpdir() reads and the forked test workers and their children inherit), removed when the run ends —
 * so a run leaves nothing in /tmp, also when a test is killed by its timeout before its own cleanup.
 * What was left there is named, for the test that forgot.
 */
export default function setup(): () => void {
  const root = mkdtempSync(path.join(os.tmpdir(), 'resetpwd-fleet-tests-'));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    const left = readdirSync(root);
    if (left.length && process.env.TEST_TMP_REPORT) process.stderr.write(`test temp left behind (removed now): ${left.join(', ')}\n`);
    rmSync(root, { recursive: true, force: true });
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  };
}
