import { windowsPasswordReset } from './password-reset.js';
import { WINDOWS_PASSWORD_RULES } from './password-rules.js';
import type { Platform } from '../platform.js';
import { windowsAgentState } from './agent-state.js';
import { windowsChange } from './change.js';
import { WINDOWS_CHECK_IDS, runWindowsChecks } from './checks/index.js';
import { windowsOs, type WindowsFacts } from './facts.js';
import { planWindowsChange } from './plan.js';
import { gatherWindowsFacts, windowsShell } from './shell.js';

/** Windows (WinRM, or OpenSSH on Server 2019+): PowerShell scripts on stdin, services, the ProgramData stage. */
export const windows: Platform<WindowsFacts> = {
  id: 'windows',
  // Windows' built-in administrator: root means nothing there.
  defaultUser: 'Administrator',
  becomeRefused: '--become/ansible_become is for Linux sudo; log in to Windows hosts with an administrator account',
  checkIds: WINDOWS_CHECK_IDS,
  shell: (transport, _privilege, o) => windowsShell(transport, o.stepTimeoutMs),
  facts: (s) => gatherWindowsFacts(s),
  os: windowsOs,
  checks: runWindowsChecks,
  // Where PowerShell runs in a restricted language mode nothing of the plug-in could be read: unknown, not absent.
  agent: (f) => (f.languageMode ? null : windowsAgentState(f)),
  serverId: (f) => f.metadata.serverId,
  passwordRules: WINDOWS_PASSWORD_RULES,
  passwordReset: windowsPasswordReset,
  plan: planWindowsChange,
  describeLeft: (f) => {
    if (f.languageMode) return '. What the host has now could not be read (PowerShell in ' + f.languageMode + ' mode)';
    const a = windowsAgentState(f);
    return `. Now on the host: ${a.installed ? `agent ${a.version ? `${a.version} ` : ''}installed, ${a.running ? 'running' : a.running === null ? 'whether it runs is unknown' : 'NOT running'}` : 'no agent installed'}`;
  },
  change: windowsChange,
};
