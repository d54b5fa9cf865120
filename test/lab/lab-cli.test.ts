import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lab, labDown, labLeftovers, labUp, ssh } from './helpers.js';

/** scripts/lab itself: refusing bad scenarios, and tearing down after a crash. */
const tmp = (name: string, text: string) => {
  const p = path.join(os.tmpdir(), name);
  writeFileSync(p, text);
  return p;
};

afterAll(() => {
  labDown();
});

describe('scripts/lab', () => {
  it('refuses a bad scenario with one line naming the file, the line and the fix, and starts nothing', () => {
    labDown();
    const cases: Array<[string, RegExp]> = [
      ['h1 os=centos7 colour=blue\n', /bad\.lab:1: unknown key 'colour' \(keys: /],
      ['# comment\nh1 os=windows\n', /bad\.lab:2: unknown os 'windows' \(profiles: .*centos7/],
      ['h1 disk=lots\n', /bad\.lab:1: 'lots' is not a size; write it like 250M or 4G/],
      ['h1 agent=9.9.9\n', /bad\.lab:1: agent '9\.9\.9' needs .*CloudResetPwdAgent-9\.9\.9\.zip; build it with scripts\/build-fixture-package/],
      ['h1\nh1\n', /host names used twice: h1/],
    ];
    for (const [text, message] of cases) {
      const r = lab(['up', '--scenario', tmp('bad.lab', text)]);
      expect(r.code, text).toBe(1);
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(message);
      expect(existsSync('/run/resetpwd-lab/hosts'), 'nothing was started').toBe(false);
    }
    expect(lab(['up', '--hosts', 'many']).stderr).toMatch(/--hosts takes a whole number/);
  });

  it('cleans up completely even after a crashed run lost its pid files', () => {
    labUp(tmp('crash.lab', 'a os=centos7\nb os=sles11sp4 agent=1.0.5 selinux=none\n'));
    expect(ssh('a', 'true').code).toBe(0);
    for (const h of readdirSync('/run/resetpwd-lab/hosts')) rmSync(`/run/resetpwd-lab/hosts/${h}/pid`);
    const r = labDown();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/stopped 2 hosts/);
    expect(labLeftovers()).toEqual([]);
  });

  it('status lists every host and whether it answers', () => {
    labUp(tmp('status.lab', 'a os=centos7\nb os=ubuntu2204 selinux=none login=sudo\n'));
    const r = lab(['status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^a\s+127\.10\.\d+\.\d+:\d+\s+centos7\s+root .* up$/m);
    expect(r.stdout).toMatch(/^b\s+.*ubuntu2204\s+sudo .* up$/m);
    expect(r.stdout).toContain('2 of 2 hosts answer ssh');
  });
});
