/**
 * Runs test/support/ntlm-judge.py: ntlm-auth, pywinrm and requests-ntlm as Debian packages them, the
 * independent judge of our NTLM sealing, WinRM encryption and channel binding. Debian's own python3 is
 * used (its packages live in /usr/lib/python3/dist-packages, which another python3 on PATH — pyenv's, say —
 * does not see). A missing package fails the spec with its name: never a skip.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { JUDGE_INSTALL as INSTALL, JUDGE_PYTHON as PYTHON, JUDGE_SCRIPT as JUDGE, judgeEnv } from '../../../support/wsman-peer-seal.js';

export function judge<T>(request: Record<string, unknown>): T {
  if (!existsSync(PYTHON)) throw new Error(`the NTLM judge needs Debian's ${PYTHON} with python3-ntlm-auth and python3-winrm: ${INSTALL}`);
  const r = spawnSync(PYTHON, [JUDGE], { input: JSON.stringify(request), encoding: 'utf8', env: judgeEnv(), maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status === 3) throw new Error(`${r.stderr.trim()} — ${INSTALL}`);
  if (r.status !== 0) throw new Error(`ntlm-judge.py failed (exit ${r.status}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}

export const b64 = (b: Buffer): string => b.toString('base64');
export const unb64 = (s: string): Buffer => Buffer.from(s, 'base64');
export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
