import { describe, expect, it } from 'vitest';
import { platformOf } from '../../../src/platform/index.js';
import { uploadLimitMs, type ExecOptions, type ExecResult, type PutOptions, type Transport } from '../../../src/transport/transport.js';

/**
 * Every script a platform runs on a host — facts, prepare, stage, launch, fix, each follow poll — gets the
 * run's step limit (--timeout) unless it asks for another: a host that stops answering mid-step cannot hold
 * the run. Windows' steps had none before the one-host path; the transport kills a command past its limit.
 */
function recordingTransport(kind: 'ssh' | 'winrm'): Transport & { limits: (number | undefined)[]; putLimits: (number | undefined)[] } {
  const limits: (number | undefined)[] = [];
  const putLimits: (number | undefined)[] = [];
  return {
    kind,
    limits,
    putLimits,
    exec: async (_cmd: string, opts: ExecOptions = {}): Promise<ExecResult> => {
      limits.push(opts.timeoutMs);
      // What the PowerShell upload over SSH checks for: the host's confirmation of the size written.
      return { code: 0, stdout: 'uploaded=3\n', stderr: '' };
    },
    put: async (_c: Buffer, _p: string, _m?: number, o?: PutOptions) => void putLimits.push(o?.timeoutMs),
    close: async () => undefined,
  };
}

describe('the step limit', () => {
  it.each([
    ['linux', 'ssh'],
    ['windows', 'winrm'],
    ['windows', 'ssh'],
  ] as const)('%s over %s: every script runs within --timeout unless it asks for its own limit', async (os, kind) => {
    const t = recordingTransport(kind);
    const shell = platformOf(os).shell(t, { method: 'none' }, { where: 'h1', stepTimeoutMs: 1234 });
    await shell.run('one script');
    await shell.run('a poll', { timeoutMs: 99_000 });
    expect(t.limits).toEqual([1234, 99_000]);
    // Uploads too: the step limit plus a second per 64 KiB (over SSH to Windows, the upload is itself a script).
    await shell.transport.put(Buffer.from('abc'), os === 'windows' ? 'C:\\stage\\txn.ps1' : '/tmp/x', 0o600);
    if (os === 'windows' && kind === 'ssh') expect(t.limits.at(-1)).toBe(uploadLimitMs(1234, 3));
    else expect(t.putLimits).toEqual([uploadLimitMs(1234, 3)]);
  });
});
