import { linuxPasswordReset } from './password-reset.js';
import { LINUX_PASSWORD_RULES } from './password-rules.js';
import { runPrivileged } from '../../privilege/sudo.js';
import { withUploadLimit, type Platform } from '../platform.js';
import { agentState } from './agent-state.js';
import { linuxChange } from './change.js';
import { LINUX_CHECK_IDS, runLinuxChecks } from './checks/index.js';
import { LINUX_FACTS_SCRIPT } from './facts-script.js';
import { parseLinuxFacts, type LinuxFacts } from './facts.js';
import { planChange } from './plan.js';

/** Linux: POSIX sh scripts through `sh -c` (or `sudo -S … sh -c` for a non-root login), root's paths, SysV/systemd. */
export const linux: Platform<LinuxFacts> = {
  id: 'linux',
  defaultUser: 'root',
  becomeRefused: null,
  checkIds: LINUX_CHECK_IDS,
  shell: (transport, privilege, o) => ({
    transport: withUploadLimit(transport, o.stepTimeoutMs),
    privilege,
    run: (script, opts = {}) => runPrivileged(transport, privilege, script, { timeoutMs: o.stepTimeoutMs, ...opts }, o.where),
    close: () => transport.close(),
  }),
  facts: async (s) => parseLinuxFacts((await s.run(LINUX_FACTS_SCRIPT)).stdout),
  os: (f) => ({ family: 'linux', id: f.os.id, version: f.os.version, arch: f.os.arch }),
  checks: runLinuxChecks,
  agent: agentState,
  serverId: (f) => f.metadata.serverId,
  passwordRules: LINUX_PASSWORD_RULES,
  passwordReset: linuxPasswordReset,
  plan: planChange,
  describeLeft: (f) => {
    const a = agentState(f);
    return `. Now on the host: ${a.installed ? `agent ${a.version ? `${a.version} ` : ''}installed, ${a.running ? 'running' : 'NOT running'}` : 'no agent installed'}`;
  },
  change: linuxChange,
};
