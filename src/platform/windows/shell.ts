import { LANGUAGE_MODE_EXIT, LANGUAGE_MODE_KEY, PS_STDIN_COMMAND, PS_STDIN_DATA_COMMAND, clixmlToText, parseEmitted, psScript, scriptWithData } from '../../dialect/powershell.js';
import type { ExecOptions, Transport } from '../../transport/transport.js';
import { withUploadLimit, type HostShell } from '../platform.js';
import { WINDOWS_FACTS_SCRIPT } from './facts-script.js';
import { parseWindowsFacts, type WindowsFacts } from './facts.js';
import { withPowerShellUpload } from './upload.js';

/**
 * A logged-in Windows host: every script runs through the one fixed PowerShell command line with the script
 * on stdin (src/dialect/powershell.ts), the same over WinRM and over SSH to Windows, each within the step
 * limit unless it says otherwise. Over SSH, uploads go through the same hash-checked PowerShell upload as over
 * WinRM (no SFTP subsystem needed). The login is an administrator already (WinRM's default endpoint admits no
 * one else), so there is no privilege step.
 */
export function windowsShell(transport: Transport, stepTimeoutMs?: number): HostShell {
  const t = withUploadLimit(transport.kind === 'ssh' ? withPowerShellUpload(transport) : transport, stepTimeoutMs);
  return {
    transport: t,
    privilege: { method: 'none' },
    run: async (script, opts = {}) => {
      // Data for the script (a secret) travels after it on stdin, never as part of its text.
      const withData = opts.stdin !== undefined;
      const r = await t.exec(withData ? PS_STDIN_DATA_COMMAND : PS_STDIN_COMMAND, {
        ...(stepTimeoutMs ? { timeoutMs: stepTimeoutMs } : {}), ...opts, stdin: withData ? scriptWithData(script, opts.stdin!) : script,
      });
      const mode = r.code === LANGUAGE_MODE_EXIT ? parseEmitted(r.stdout).get(LANGUAGE_MODE_KEY)?.[0] : undefined;
      if (mode) throw new WindowsLanguageModeError(mode);
      return { ...r, stderr: clixmlToText(r.stderr) };
    },
    close: () => t.close(),
  };
}

/** PowerShell on the host is not in FullLanguage mode: none of the tool's scripts can run there. */
export class WindowsLanguageModeError extends Error {
  override name = 'WindowsLanguageModeError';
  constructor(readonly mode: string) {
    super(languageModeRefusal(mode));
  }
}

/** What an operator reads about a host whose PowerShell runs in a restricted language mode, and what to allow. */
export function languageModeRefusal(mode: string): string {
  return `PowerShell runs in ${mode} mode on this host (a WDAC/Device Guard or AppLocker policy): the tool's scripts cannot run there; allow PowerShell scripts for the administrator the tool logs in as (a policy rule or exemption for that account), or use an account the policy exempts. Nothing was changed`;
}

export class WindowsFactsError extends Error {
  override name = 'WindowsFactsError';
}

/** The facts script, parsed: one round trip. A script that did not reach its end is an error, with its stderr. */
export async function gatherWindowsFacts(s: HostShell, opts: ExecOptions = {}): Promise<WindowsFacts> {
  let r;
  try {
    r = await s.run(psScript(WINDOWS_FACTS_SCRIPT), opts);
  } catch (e) {
    // A restricted language mode is a fact of the host (os-supported fails with it), not a broken connection.
    if (e instanceof WindowsLanguageModeError) return { ...parseWindowsFacts('end=1'), languageMode: e.mode };
    throw e;
  }
  const f = parseWindowsFacts(r.stdout);
  if (!f.complete) {
    throw new WindowsFactsError(`the facts script did not finish (exit ${r.code ?? r.signal ?? '?'}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ').slice(0, 300) || 'no output'}`);
  }
  return f;
}
