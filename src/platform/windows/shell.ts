import { PS_STDIN_COMMAND, PS_STDIN_DATA_COMMAND, clixmlToText, psScript, scriptWithData } from '../../dialect/powershell.js';
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
      return { ...r, stderr: clixmlToText(r.stderr) };
    },
    close: () => t.close(),
  };
}

export class WindowsFactsError extends Error {
  override name = 'WindowsFactsError';
}

/** The facts script, parsed: one round trip. A script that did not reach its end is an error, with its stderr. */
export async function gatherWindowsFacts(s: HostShell, opts: ExecOptions = {}): Promise<WindowsFacts> {
  const r = await s.run(psScript(WINDOWS_FACTS_SCRIPT), opts);
  const f = parseWindowsFacts(r.stdout);
  if (!f.complete) {
    throw new WindowsFactsError(`the facts script did not finish (exit ${r.code ?? r.signal ?? '?'}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ').slice(0, 300) || 'no output'}`);
  }
  return f;
}
