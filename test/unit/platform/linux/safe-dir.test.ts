import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAFE_DIR_SH } from '../../../../src/platform/linux/safe-dir.js';

/**
 * The tool's folders on a Linux host (state folder, set-aside root) must be root's own before root runs or
 * restores anything from them: safe_dir, run here with this machine's sh (as root, as on a host), on folders
 * another user made first, symbolic links on the path, and planted files.
 */
const tmp = mkdtempSync(path.join(os.tmpdir(), 'safe-dir-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const NOBODY = 65534;

function safeDir(dir: string): { ok: boolean; why: string } {
  const r = spawnSync('sh', ['-c', `${SAFE_DIR_SH}\nsafe_dir "$1" && echo ok || echo "refused: $SAFE_WHY"`, 'sh', dir], { encoding: 'utf8' });
  const out = r.stdout.trim();
  return { ok: out === 'ok', why: out.replace(/^refused: /, '') };
}
const mode = (p: string) => statSync(p).mode & 0o777;

describe('safe_dir', () => {
  it('makes a missing folder, root\'s and mode 700', () => {
    const d = path.join(tmp, 'fresh');
    expect(safeDir(d)).toEqual({ ok: true, why: 'ok' });
    expect(statSync(d).uid).toBe(0);
    expect(mode(d)).toBe(0o700);
  });

  it('refuses a folder another user made first', () => {
    const d = path.join(tmp, 'theirs');
    mkdirSync(d);
    chownSync(d, NOBODY, NOBODY);
    expect(safeDir(d)).toEqual({ ok: false, why: `${d} belongs to uid ${NOBODY}, not root: another user may have made it to swap what root runs; remove it and run again` });
  });

  it('refuses a folder that is a symbolic link, or is reached through a link another user made or could replace', () => {
    const real = path.join(tmp, 'real');
    mkdirSync(path.join(real, 'state'), { recursive: true });
    symlinkSync(real, path.join(tmp, 'link'));
    lchownSync(path.join(tmp, 'link'), NOBODY, NOBODY); // planted by another user
    expect(safeDir(path.join(tmp, 'link', 'state')).why).toBe(`${tmp}/link is a symbolic link another user than root made or could replace: the tool's folders are never reached through one; remove it and run again`);
    symlinkSync(path.join(real, 'state'), path.join(tmp, 'state-link'));
    expect(safeDir(path.join(tmp, 'state-link')).why).toBe(`${tmp}/state-link is a symbolic link: the tool's folders are never one; remove it and run again`);
    // Not made through the link either.
    expect(safeDir(path.join(tmp, 'link', 'new')).ok).toBe(false);
    expect(() => statSync(path.join(real, 'new'))).toThrow();
    // Root's own link in a folder others may write to could be replaced: refused too.
    const open = path.join(tmp, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    symlinkSync(real, path.join(open, 'link'));
    expect(safeDir(path.join(open, 'link', 'state')).ok).toBe(false);
  });

  it('goes through a link root made in a folder only root may change (/var/lib moved to a data disk)', () => {
    const disk = path.join(tmp, 'data-disk');
    mkdirSync(disk);
    symlinkSync(disk, path.join(tmp, 'varlib'));
    expect(safeDir(path.join(tmp, 'varlib', 'resetpwd-fleet'))).toEqual({ ok: true, why: 'ok' });
    expect(statSync(path.join(disk, 'resetpwd-fleet')).isDirectory()).toBe(true);
  });

  it('a root folder with a loose mode is fixed, unless it holds another user\'s file', () => {
    const d = path.join(tmp, 'loose');
    mkdirSync(d);
    chmodSync(d, 0o777);
    expect(safeDir(d).ok).toBe(true);
    expect(mode(d)).toBe(0o700);
    chmodSync(d, 0o777);
    writeFileSync(path.join(d, 'txn'), 'pid=1\n');
    chownSync(path.join(d, 'txn'), NOBODY, NOBODY);
    expect(safeDir(d).why).toBe(`${d}/txn in ${d} belongs to another user than root: remove it and run again`);
  });
});
