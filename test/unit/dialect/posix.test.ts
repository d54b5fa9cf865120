import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { quote, shScript } from '../../../src/dialect/posix.js';

describe('POSIX quoting', () => {
  it('survives a real sh for every awkward string', () => {
    for (const s of ["it's", '$(reboot)', '`id`', 'a b\tc\nd', '"; rm -rf / #', '', '*', '\\', "'''", 'ünïcødé']) {
      const r = spawnSync('sh', ['-c', `printf %s ${quote(s)}`], { encoding: 'utf8' });
      expect(r.stdout).toBe(s);
    }
  });

  it('leaves plain words bare and builds sh -c scripts with quoted arguments', () => {
    expect(quote('/CloudrResetPwdAgent/bin')).toBe('/CloudrResetPwdAgent/bin');
    const cmd = shScript('printf "%s|%s" "$1" "$2"', ['a b', "c'd"]);
    expect(spawnSync('sh', ['-c', cmd], { encoding: 'utf8' }).stdout).toBe("a b|c'd");
  });
});
