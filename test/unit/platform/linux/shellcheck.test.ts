import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { AGENT_PROCS_SH } from '../../../../src/platform/linux/agent-procs.js';
import {
  FIX_SCRIPT, PREPARE_SCRIPT, USER_UPLOAD_DIR_SCRIPT, followScript, launchScript, stageScript,
} from '../../../../src/platform/linux/change-scripts.js';
import { LINUX_FACTS_SCRIPT } from '../../../../src/platform/linux/facts-script.js';
import { TXN_SCRIPT } from '../../../../src/platform/linux/txn-script.js';
import { passwordResetScript } from '../../../../src/platform/linux/password-reset.js';

/**
 * Every POSIX sh script the tool sends to a Linux host, as sent, passes `shellcheck -s sh` at its default
 * severity (style, info and above, not just warnings): a host whose /bin/sh is dash, ash or an old bash must
 * not stumble on a bashism, an unquoted expansion or a word shellcheck reads as a keyword. Where the script
 * means it (a pid list split into words, a glob), a `# shellcheck disable=SCxxxx # why` line says why.
 * shellcheck comes from Debian's package (scripts/setup installs it).
 */
const hasShellcheck = spawnSync('sh', ['-c', 'command -v shellcheck']).status === 0;
const scripts: Record<string, string> = {
  'the facts script': LINUX_FACTS_SCRIPT,
  'the transaction (txn.sh)': TXN_SCRIPT,
  'the agent process functions': AGENT_PROCS_SH,
  'the in-place fix': FIX_SCRIPT,
  'the stage preparation': PREPARE_SCRIPT,
  "a sudo login's upload folder": USER_UPLOAD_DIR_SCRIPT,
  'the follow': followScript('m0abc123', 3),
  'the launch': launchScript({ action: 'install', txn: 'm0abc123', stage: '/var/lib/resetpwd-fleet/stage.x', linuxDir: 'CloudResetPwdAgent/CloudResetPwdAgent.Linux', updateDir: null, sha256: 'ab'.repeat(32), version: '2.1.0', log4j: '2.17.1', settleSeconds: 3, startWaitSeconds: 20, tool: '0.1.0' }),
  'the stage (sudo, pull)': stageScript({ uploadDir: '/tmp/resetpwd-fleet.abc', stage: '/var/lib/resetpwd-fleet/stage.x', files: [{ name: 'pkg.zip', sha256: 'ab'.repeat(32) }, { name: 'txn.sh', sha256: 'cd'.repeat(32) }], downloads: [{ name: 'pkg.zip', url: 'http://169.254.169.254/mirror/p.zip' }], unpack: { extractor: 'unzip', archive: 'pkg.zip', expect: 'CloudResetPwdAgent/CloudResetPwdAgent.Linux/setup.sh' } }),
  'the password reset': passwordResetScript('labuser', '0123456789abcdef01234567'),
  'the stage (root, tar)': stageScript({ uploadDir: '/var/lib/resetpwd-fleet/stage.x', stage: '/var/lib/resetpwd-fleet/stage.x', files: [{ name: 'pkg.tar', sha256: 'ab'.repeat(32) }], unpack: { extractor: 'tar', archive: 'pkg.tar', expect: 'a/setup.sh' } }),
};

describe('shellcheck -s sh', () => {
  it('is installed where the tests run (CI installs it)', () => {
    expect(hasShellcheck || !process.env.CI).toBe(true);
  });
  for (const [name, text] of Object.entries(scripts)) {
    it.runIf(hasShellcheck)(`${name}: no note, warning or error`, () => {
      const r = spawnSync('shellcheck', ['-s', 'sh', '-f', 'gcc', '-'], { input: text, encoding: 'utf8' });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    });
  }
});
