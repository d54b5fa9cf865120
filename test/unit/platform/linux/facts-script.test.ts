import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { LINUX_FACTS_SCRIPT } from '../../../../src/platform/linux/facts-script.js';
import { parseLinuxFacts } from '../../../../src/platform/linux/facts.js';

/**
 * The facts script must run on old and minimal shells (SLES 11, busybox-based images): it is run here
 * under every POSIX shell this machine has, and must finish, parse, and print no shell error.
 */
const shells = [['dash'], ['busybox', 'sh'], ['bash', '--posix']].filter(
  ([s]) => spawnSync('sh', ['-c', `command -v ${s}`]).status === 0,
);

describe('the Linux facts script', () => {
  it('is found under at least two POSIX shells here', () => {
    expect(shells.length).toBeGreaterThanOrEqual(2);
  });
  for (const sh of shells) {
    it(`runs to the end under ${sh.join(' ')} with no shell error, and parses`, () => {
      const r = spawnSync(sh[0]!, [...sh.slice(1), '-c', LINUX_FACTS_SCRIPT], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stdout.trim().split('\n').at(-1)).toBe('@@end');
      expect(r.stderr).not.toMatch(/syntax error|not found|unexpected|bad substitution|illegal/i);
      const f = parseLinuxFacts(r.stdout);
      expect(f.os.arch).toBeTruthy();
      expect(f.root.availKb).toBeGreaterThan(0);
    });
  }
  it('never writes: no redirection into a file other than /dev/null or its own mktemp file', () => {
    // Single-quoted text is awk/sed programs and literals (where ">" compares), not redirections.
    const shellText = LINUX_FACTS_SCRIPT.replace(/'[^']*'/g, "''");
    const writes = shellText.match(/>\s*[^&\s|);]+/g) ?? [];
    for (const w of writes) expect(w.replace(/^>\s*/, ''), w).toMatch(/^(\/dev\/null|"\$tmp"|"\$2")$/);
  });
});
