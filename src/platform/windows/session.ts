import { PS_STDIN_COMMAND, clixmlToText, psScript } from '../../dialect/powershell.js';
import type { ExecOptions, ExecResult, Transport } from '../../transport/transport.js';
import { WINDOWS_FACTS_SCRIPT } from './facts-script.js';
import { parseWindowsFacts, type WindowsFacts } from './facts.js';

/**
 * A logged-in Windows host: every script runs through the one fixed PowerShell command line with the script
 * on stdin (src/dialect/powershell.ts), the same over WinRM and over SSH to Windows. The login is an
 * administrator already (WinRM's default endpoint admits no one else), so there is no privilege step.
 */
export interface WindowsSession {
  transport: Transport;
  run(script: string, opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

export function windowsSession(transport: Transport): WindowsSession {
  return {
    transport,
    run: async (script, opts = {}) => {
      const r = await transport.exec(PS_STDIN_COMMAND, { ...opts, stdin: script });
      return { ...r, stderr: clixmlToText(r.stderr) };
    },
    close: () => transport.close(),
  };
}

export class WindowsFactsError extends Error {
  override name = 'WindowsFactsError';
}

/** The facts script, parsed: one round trip. A script that did not reach its end is an error, with its stderr. */
export async function gatherWindowsFacts(s: WindowsSession, opts: ExecOptions = {}): Promise<WindowsFacts> {
  const r = await s.run(psScript(WINDOWS_FACTS_SCRIPT), opts);
  const f = parseWindowsFacts(r.stdout);
  if (!f.complete) {
    throw new WindowsFactsError(`the facts script did not finish (exit ${r.code ?? r.signal ?? '?'}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ').slice(0, 300) || 'no output'}`);
  }
  return f;
}
