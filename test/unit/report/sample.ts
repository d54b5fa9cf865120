import type { HostResult, Outcome, ResultDocument } from '../../../src/core/result.js';
import { summarize } from '../../../src/core/result.js';
import type { CheckResult, CheckStatus } from '../../../src/core/check.js';

/** Result documents for the reporter tests: a mixed fleet (every outcome), a change run, a hostile host. */

const IDS = ['root-writable', 'disk-space', 'selinux', 'memory', 'dhcp', 'metadata', 'eip', 'os-supported'] as const;
const DETAIL: Record<string, string> = {
  'root-writable': '/ is writable',
  'disk-space': '12.3 GB free on /',
  selinux: 'SELinux disabled',
  memory: 'not SUSE 11 SP4',
  dhcp: 'eth0 uses DHCP',
  metadata: '169.254.169.254:80 answers',
  eip: 'push mode: no EIP needed',
  'os-supported': 'sles 12.5 is supported',
};

/** All eight Linux checks passing (memory skipped), with the given ones overridden. */
export function checks(over: Record<string, [CheckStatus, string]> = {}): CheckResult[] {
  return IDS.map((id) => {
    const o = over[id];
    return { id, status: o ? o[0] : id === 'memory' ? 'skip' : 'pass', detail: o ? o[1] : DETAIL[id]! };
  });
}

export function host(name: string, outcome: Outcome, more: Partial<HostResult> & Record<string, unknown> = {}): HostResult {
  const reachable = outcome !== 'unreachable' && outcome !== 'skipped';
  return {
    name,
    address: `192.0.2.${10 + (name.length % 200)}`,
    port: 22,
    transport: 'ssh',
    reachable,
    os: reachable ? { family: 'linux', id: 'sles', version: '12.5', arch: 'x86_64' } : null,
    checks: reachable ? checks() : [],
    agent: reachable
      ? { installed: true, updateAgent: false, version: '1.0.3', running: true, mode: 'AUTO', port: 31000, log4j: '2.17.1', packageSha256: null, findings: [] }
      : null,
    outcome,
    steps: reachable ? [{ name: 'connect', ms: 41, ok: true }, { name: 'facts', ms: 230, ok: true }] : [{ name: 'connect', ms: 3000, ok: false }],
    error: null,
    ...more,
  };
}

export function doc(command: string, hosts: HostResult[], more: Record<string, unknown> = {}): ResultDocument {
  return { command, startedAt: '2026-11-23T10:00:00.000Z', finishedAt: '2026-11-23T10:00:09.512Z', hosts, summary: summarize(hosts), ...more };
}

/** An audit of a mixed fleet: ok, failed with failing checks (and a warning and an error), unreachable. */
export function auditDoc(): ResultDocument {
  return doc('audit', [
    host('web-1', 'ok'),
    host('web-2', 'failed', {
      checks: checks({ 'disk-space': ['fail', '120 MiB free on / (300 MiB needed)'], selinux: ['warn', 'SELinux is permissive'], metadata: ['error', 'curl is missing'] }),
    }),
    host('db-1', 'failed', { checks: checks({ 'disk-space': ['fail', '12 MiB free on /'], dhcp: ['fail', 'eth0 is static'] }) }),
    host('db-2', 'unreachable', { error: 'db-2 (192.0.2.14:22): connection refused' }),
    host('old-1', 'ok', { agent: { installed: true, updateAgent: true, version: null, running: false, mode: null, port: null, log4j: '1.2.17', packageSha256: null, findings: ['log4j 1.2.17 is vulnerable'] } }),
  ]);
}

const plan = (kind: string, reason: string, steps: string[] = []) => ({ kind, reason, steps });
const STEPS = ['upload the package and check its SHA-256 on the host', 'stop CloudResetPwdAgent and set it aside', 'run setup.sh', 'verify the new agent runs'];

/** An update run with every change outcome: updated, unchanged, refused, rolled-back, failed, unreachable, skipped. */
export function updateDoc(): ResultDocument {
  const timed = [
    { name: 'connect', ms: 40, ok: true }, { name: 'facts', ms: 210, ok: true }, { name: 'stage', ms: 1800, ok: true },
    { name: 'launch', ms: 90, ok: true }, { name: 'apply', ms: 6400, ok: true }, { name: 'facts', ms: 200, ok: true },
  ];
  return doc(
    'update',
    [
      host('app-1', 'updated', { plan: plan('transaction', 'CloudResetPwdAgent 1.0.3 running', STEPS), txn: 'm1abc', steps: timed }),
      host('app-2', 'unchanged', { plan: plan('unchanged', 'already runs this package: same jar'), txn: null }),
      host('app-3', 'refused', {
        checks: checks({ 'disk-space': ['fail', '12 MiB free on /'], selinux: ['fail', 'SELinux is enforcing'] }),
        plan: plan('refused', 'disk-space: 12 MiB free on /; selinux: SELinux is enforcing'),
        error: 'disk-space: 12 MiB free on /; selinux: SELinux is enforcing',
        txn: null,
      }),
      host('app-4', 'rolled-back', {
        plan: plan('transaction', 'CloudResetPwdAgent 1.0.3 running', STEPS),
        txn: 'm1def',
        steps: [...timed.slice(0, 4), { name: 'apply', ms: 25_000, ok: true }],
        error: 'app-4: the new agent did not start within 20 s; the old agent was restored and runs',
      }),
      host('app-5', 'failed', {
        plan: plan('transaction', 'CloudResetPwdAgent 1.0.3 running', STEPS),
        txn: null,
        steps: [...timed.slice(0, 2), { name: 'stage', ms: 900, ok: false }],
        error: 'app-5: the package hash on the host differs (nothing on the host was changed)',
      }),
      host('app-6', 'unreachable', { plan: null, txn: null, error: 'app-6 (192.0.2.16:22): timed out waiting for the SSH handshake' }),
      host('app-7', 'skipped', { plan: null, txn: null }),
    ],
    {
      runId: '20261123T100000Z-a1b2c3',
      journal: '/root/.local/state/resetpwd-fleet/runs/20261123T100000Z-a1b2c3.jsonl',
      package: { fileName: 'CloudResetPwdAgent.zip', sha256: 'ab'.repeat(32), layout: 'combined', version: '2.1.0', log4j: '2.17.1', mode: 'AUTO' },
    },
  );
}

/** What a hostile host could send back: markup, quotes, ampersands and control characters everywhere. */
export const EVIL = `<script>alert(1)</script>"'&\u0001\u001b[31m]]></x>`;

export function hostileDoc(): ResultDocument {
  return doc('audit', [
    host(`evil-${EVIL}`, 'failed', {
      address: `192.0.2.66"><img src=x onerror=alert(2)>`,
      os: { family: 'linux', id: `sles${EVIL}`, version: EVIL, arch: EVIL },
      checks: checks({ 'disk-space': ['fail', `full ${EVIL}`] }),
      error: `boom ${EVIL}`,
      agent: { installed: true, updateAgent: false, version: EVIL, running: true, mode: EVIL, port: 1, log4j: EVIL, packageSha256: null, findings: [EVIL] },
      steps: [{ name: EVIL, ms: 1, ok: false }],
    }),
    host('plain', 'ok'),
  ]);
}

/** A large fleet: n hosts cycling through outcomes, for the page's size and speed. */
export function bigDoc(n: number): ResultDocument {
  const outcomes: Outcome[] = ['ok', 'ok', 'ok', 'failed', 'unreachable'];
  const hosts: HostResult[] = [];
  for (let i = 0; i < n; i++) {
    const o = outcomes[i % outcomes.length]!;
    hosts.push(host(`node-${String(i).padStart(5, '0')}`, o, o === 'failed' ? { checks: checks({ 'disk-space': ['fail', '1 MiB free on /'] }) } : o === 'unreachable' ? { error: 'connection refused' } : {}));
  }
  return doc('audit', hosts);
}

/** Every outcome on one page: the update run plus an ok host and one failed on its checks. */
export function mixedDoc(): ResultDocument {
  const u = updateDoc();
  const a = auditDoc();
  const hosts = [a.hosts[0]!, ...u.hosts, a.hosts[1]!, a.hosts[2]!];
  return { ...u, hosts, summary: summarize(hosts) };
}
