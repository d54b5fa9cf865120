import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../support/cli-run.js';
import { CloudError, type CloudApi } from '../../../src/cloud/api.js';
import type { Target } from '../../../src/inventory/target.js';
import { offlineBatches, offlineHost, rebootChunk } from '../../../src/reset/offline.js';
import { sdkCloudApi } from '../../../src/cloud/sdk-client.js';
import type { PasswordVault } from '../../../src/reset/vault.js';
import { startCloudPeer, type CloudPeer, type PeerServer } from '../../support/cloud-peer.js';

/**
 * `reset-password --offline`: the CLI, as an operator runs it, against the ECS API peer (every request's AK/SK
 * signature checked by the peer's own verifier, not the SDK's signer). No host is contacted: the peer is the
 * only thing the run talks to.
 */
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(repo, 'dist/cli/main.js');
const AK = 'OFFLINEAKEXAMPLE0001';
const SK = 'offline-secret-key-never-shown-7';
const PROJECT = '0ff1ine0000111122223333444455556';
const PW = 'Offline-Reset-2026.q';

const id = (i: number) => `0ff10000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const server = (i: number, o: Partial<PeerServer> = {}): PeerServer => ({
  id: id(i), name: `off-${i}`, status: 'ACTIVE', osType: 'Linux', vpcId: 'vpc-1', privateIp: `192.168.7.${10 + i}`,
  securityGroups: [{ id: 'sg-1', name: 'default' }], tags: ['env=dev'], resetpwdFlag: 'True', ...o,
});

let peer: CloudPeer;
let work: string;

function cli(args: string[], env: Record<string, string> = {}, sample?: (ps: string) => void) {
  const base = { PATH: process.env.PATH ?? '', HOME: work, XDG_STATE_HOME: path.join(work, 'state'), HUAWEICLOUD_SDK_AK: AK, HUAWEICLOUD_SDK_SK: SK, HUAWEICLOUD_SDK_PROJECT_ID: PROJECT };
  return runCli(bin, ['reset-password', '--cloud', 'lab-region-1', '--cloud-endpoint', peer.url, '--json', ...args], { env: { ...base, ...env }, cwd: work, sample });
}
type Row = { name: string; outcome: string; error: string | null; serverId: string; reset?: { account: string; route: string; resetpwdFlag?: boolean | null; restarted?: boolean } };
const rows = (stdout: string) => Object.fromEntries((JSON.parse(stdout) as { hosts: Row[] }).hosts.map((h) => [h.name, h]));
const only = (...n: number[]) => n.flatMap((i) => ['--cloud-filter', `name=off-${i}`]);
const resets = () => peer.requests.filter((q) => q.path.endsWith('/os-reset-passwords'));
const bodyOf = (q: { body: string }) => JSON.parse(q.body) as { new_password?: string; dry_run?: boolean; servers: { id: string }[] };

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'offline-'));
  peer = await startCloudPeer({
    projectId: PROJECT, credentials: { ak: AK, sk: SK },
    servers: [
      server(1), server(2), server(3, { osType: 'Windows' }),
      server(4, { status: 'SHUTOFF' }),
      server(5, { resetpwdFlag: 'False' }),
      server(6, { resetError: { code: 'Ecs.0613', message: 'The ECS has no plug-ins installed.' } }),
    ],
    subnets: [], rules: [],
  });
});
afterAll(async () => {
  await peer.close();
  rmSync(work, { recursive: true, force: true });
});
afterEach(() => {
  peer.faults.serverError = 0;
  peer.requests.length = 0;
  peer.passwordResets.length = 0;
  peer.jobs.length = 0;
});

describe('reset-password --offline, through the ECS batch reset API', () => {
  it('one password: the flag first, a dry run, then one call for the batch; each server\'s own word mapped; the password nowhere', async () => {
    const seen: string[] = [];
    const log = path.join(work, 'offline.log');
    const r = await cli(['--offline', '--new-password-env', 'NEW_PW', '--log', log, '-v'], { NEW_PW: PW }, (ps) => seen.push(ps));
    expect(r.code, r.stderr).toBe(1);
    const h = rows(r.stdout);
    for (const n of ['off-1', 'off-2', 'off-3', 'off-4']) {
      expect(h[n]).toMatchObject({ outcome: 'requested', reset: { route: 'offline', resetpwdFlag: true } });
      expect(h[n]!.reset!.restarted, 'no restart asked').toBeUndefined();
    }
    expect(h['off-1']!.reset!.account).toBe('root');
    expect(h['off-3']!.reset!.account).toBe('Administrator');
    // False: the cloud sees no plug-in; nothing asked for it.
    expect(h['off-5']).toMatchObject({ outcome: 'refused' });
    expect(h['off-5']!.error).toMatch(/os-resetpwd-flag of server .* is False: .*nothing was requested/);
    // The API refused one server: its batch was asked again server by server, and only it failed, with the API's code.
    expect(h['off-6']).toMatchObject({ outcome: 'failed' });
    expect(h['off-6']!.error).toMatch(/dry run refused the request: .*Ecs\.0613.*no plug-ins installed.*nothing was requested/);
    expect(r.stderr).toContain('each applies at the server\'s next start or restart');

    // Every call signed as the gateway checks it; no server absent from the flag check reached the reset API.
    expect(peer.requests.length).toBeGreaterThan(0);
    expect(peer.requests.every((q) => q.signatureOk)).toBe(true);
    const calls = resets().map((q) => ({ ...bodyOf(q), status: q.status }));
    expect(calls.flatMap((c) => c.servers.map((s) => s.id))).not.toContain(id(5));
    // The dry runs come first; then one real call for all that passed, with the password given.
    // One call per OS (Linux and Windows servers never share one), each for every server of it that passed.
    const real = calls.filter((c) => c.dry_run === false);
    expect(real.map((c) => c.servers.map((s) => s.id).sort()).sort()).toEqual([[id(1), id(2), id(4)], [id(3)]]);
    expect(real.every((c) => c.new_password === PW)).toBe(true);
    const firstReal = calls.findIndex((c) => c.dry_run === false);
    expect(calls.slice(0, firstReal).every((c) => c.dry_run === true)).toBe(true);
    // The refused batch was split: a call of one for each server of it.
    expect(calls.filter((c) => c.dry_run && c.status === 400).some((c) => c.servers.length > 1)).toBe(true);
    expect(calls.filter((c) => c.dry_run && c.servers.length === 1).map((c) => c.servers[0]!.id)).toContain(id(6));

    const journal = readdirSync(path.join(work, 'state', 'resetpwd-fleet', 'runs')).map((f) => readFileSync(path.join(work, 'state', 'resetpwd-fleet', 'runs', f), 'utf8')).join('');
    expect(seen.length).toBeGreaterThan(0);
    for (const text of [r.stdout, r.stderr, readFileSync(log, 'utf8'), journal, ...seen]) expect(text).not.toContain(PW);
  });

  it('--dry-run: the API\'s dry run only, nothing requested (exit 0 when every dry run passes)', async () => {
    const r = await cli(['--offline', '--new-password-env', 'NEW_PW', '--dry-run', ...only(1, 2, 3)], { NEW_PW: PW });
    expect(r.code, r.stderr).toBe(0);
    expect(Object.values(rows(r.stdout)).map((h) => h.outcome)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(resets().length).toBeGreaterThan(0);
    expect(resets().every((q) => bodyOf(q).dry_run === true)).toBe(true);
  });

  it('--restart: the running servers restarted through one job per OS followed to its end; a stopped one left for its next start; the warning said first', async () => {
    const r = await cli(['--offline', '--restart', '--new-password-env', 'NEW_PW', ...only(1, 2, 3, 4)], { NEW_PW: PW });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--restart: .*may cause data loss/);
    const h = rows(r.stdout);
    for (const n of ['off-1', 'off-2', 'off-3']) expect(h[n]).toMatchObject({ outcome: 'requested', reset: { restarted: true } });
    expect(h['off-4']).toMatchObject({ outcome: 'requested' });
    expect(h['off-4']!.reset!.restarted, 'a stopped server is not restarted: its password applies when it starts').toBeUndefined();
    expect(h['off-4']!.error).toMatch(/not restarted: the server is SHUTOFF; the password applies when it is started/);
    expect(peer.jobs.map((j) => j.serverIds.sort()).sort()).toEqual([[id(1), id(2)], [id(3)]]);
    expect(peer.jobs.every((j) => j.polls >= 2)).toBe(true);
    // The reboot was asked only after the reset was accepted.
    const paths = peer.requests.map((q) => `${q.method} ${q.path.replace(/^\/v1\/[^/]+/, '')}`);
    expect(paths.indexOf('POST /cloudservers/action')).toBeGreaterThan(paths.lastIndexOf('PUT /cloudservers/os-reset-passwords'));
  });

  it('--restart: a server whose restart fails is not done (exit 1): its old password is still in force; the others restart', async () => {
    peer.state.servers.find((s) => s.id === id(2))!.rebootFails = 'The guest did not come back.';
    try {
      const r = await cli(['--offline', '--restart', '--new-password-env', 'NEW_PW', ...only(1, 2)], { NEW_PW: PW });
      expect(r.code, r.stderr).toBe(1);
      const h = rows(r.stdout);
      expect(h['off-1']).toMatchObject({ outcome: 'requested', reset: { restarted: true } });
      expect(h['off-2']).toMatchObject({ outcome: 'requested', reset: { restarted: false } });
      expect(h['off-2']!.error).toMatch(/the restart failed \(job .*FAIL\): The guest did not come back\.; the password applies at the server's next start/);
    } finally {
      delete peer.state.servers.find((s) => s.id === id(2))!.rebootFails;
    }
  });

  it('a reboot is never sent twice: a 5xx on it is "may or may not", not retried', async () => {
    const api = sdkCloudApi({ region: 'lab-region-1', credentials: { ak: AK, sk: SK, projectId: PROJECT }, endpoint: peer.url, retry: { attempts: 4, delay: () => 1 } });
    peer.faults.serverError = 1;
    const m = await rebootChunk(api, [id(1)], 10_000);
    expect(m.get(id(1))).toMatchObject({ ok: false, refused: false });
    expect((m.get(id(1)) as { why: string }).why).toMatch(/may or may not have been asked/);
    expect(peer.requests.filter((q) => q.path.endsWith('/cloudservers/action'))).toHaveLength(1);
    expect(peer.jobs).toHaveLength(0);
  });

  it('two inventory names for one server are refused (it would be asked twice): exit 2, nothing asked', async () => {
    const inv = path.join(work, 'twice.ini');
    writeFileSync(inv, `a ansible_host=192.168.7.11\nb ansible_host=10.9.9.9 server_id=${id(1)}\n`);
    const r = await cli(['-i', inv, '--offline', '--new-password-env', 'NEW_PW'], { NEW_PW: PW });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--offline: a and b are the same server \(0ff1/);
    expect(resets()).toHaveLength(0);
  });

  it('--generate: a password per server, each what the API received, kept only in the age file (state requested)', async () => {
    const key = path.join(work, 'age.key');
    spawnSync('age-keygen', ['-o', key]);
    const recipient = spawnSync('age-keygen', ['-y', key], { encoding: 'utf8' }).stdout.trim();
    const out = path.join(work, 'offline.age');
    const r = await cli(['--offline', '--generate', '--encrypt-to', recipient, '--out', out, ...only(1, 2, 3)]);
    expect(r.code, r.stderr).toBe(0);
    const vault = JSON.parse(spawnSync('age', ['-d', '-i', key, out], { encoding: 'utf8' }).stdout) as { hosts: { host: string; account: string; password: string; state: string }[] };
    expect(vault.hosts.map((e) => [e.host, e.account, e.state]).sort()).toEqual([['off-1', 'root', 'requested'], ['off-2', 'root', 'requested'], ['off-3', 'Administrator', 'requested']]);
    expect(new Set(vault.hosts.map((e) => e.password)).size).toBe(3);
    const received = new Map(peer.passwordResets.filter((p) => !p.dryRun).flatMap((p) => p.serverIds.map((s) => [s, p.newPassword])));
    for (const e of vault.hosts) {
      expect(received.get(id(Number(e.host.slice(4))))).toBe(e.password);
      // The API's own special characters only.
      expect(e.password).toMatch(/^[A-Za-z0-9!@%\-_=+[\]:./?]+$/);
      expect(r.stdout + r.stderr).not.toContain(e.password);
    }
  });

  it('refuses before any call: a password with a character the API forbids, --restart without --offline, --offline without --cloud or with --account', async () => {
    const r = await cli(['--offline', '--new-password-env', 'NEW_PW'], { NEW_PW: 'Good^Pass1234' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the new password breaks a rule: may hold only letters, digits and !@%-_=\+\[\]:\.\/\? \(it has another character\) \(the ECS API \(Linux\), account root; .*Windows, account Administrator.*\); no host was touched$/m);
    expect(resets()).toHaveLength(0);
    const bad = async (args: string[], msg: RegExp) => {
      const p = spawnSync(process.execPath, [bin, 'reset-password', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: work, NEW_PW: PW } });
      expect(p.status, p.stderr).toBe(2);
      expect(p.stderr).toMatch(msg);
    };
    await bad(['-H', '127.0.0.1', '--restart', '--new-password-env', 'NEW_PW'], /--restart is for --offline/);
    await bad(['-H', '127.0.0.1', '--offline', '--new-password-env', 'NEW_PW'], /--offline goes through the ECS API: add --cloud REGION/);
    await bad(['--cloud', 'lab-region-1', '--offline', '--account', 'deploy', '--new-password-env', 'NEW_PW'], /--offline: the API resets root \(Linux\) or Administrator \(Windows\) only/);
  });
});

describe('offlineHost, with a scripted API: what a failed call means for the server and its vault entry', () => {
  const t = { name: 'srv', host: '192.0.2.9', port: 22, connection: 'ssh', os: 'linux', vars: { server_id: 'id-1' } } as unknown as Target;
  const api = (real: () => Promise<string[]>): CloudApi =>
    ({
      resetPasswordFlag: async () => true,
      resetPasswords: async (ids: string[], _pw: string, dry: boolean) => (dry ? ids : real()),
    }) as unknown as CloudApi;
  const vault = () => {
    const calls: string[] = [];
    return { calls, v: { put: async () => void calls.push('put'), mark: async (_h: string, s: string) => void calls.push(`mark ${s}`) } as unknown as PasswordVault };
  };
  const run = (a: CloudApi, v: PasswordVault) =>
    offlineHost(t, null, { dryRun: false, generate: { vault: v, onSecret: () => undefined } }, offlineBatches({ api: a, servers: new Map(), restart: false }));

  it('the API refused the call (a 4xx): failed, nothing requested, the entry marked failed', async () => {
    const { v, calls } = vault();
    const r = await run(api(async () => Promise.reject(new CloudError('ECS BatchResetServersPassword: HTTP 400 (Ecs.0605: locked)', 'bad-request', 400, 'Ecs.0605'))), v);
    expect(r).toMatchObject({ outcome: 'failed', reachable: false });
    expect(r.error).toMatch(/the API refused the request: .*Ecs\.0605.*nothing was requested/);
    expect(calls).toEqual(['put', 'mark failed']);
  });

  it('the call\'s fate unknown (no answer after the retries): failed "may or may not", the entry left pending', async () => {
    const { v, calls } = vault();
    const r = await run(api(async () => Promise.reject(new CloudError('ECS BatchResetServersPassword: no answer (socket hang up)', 'network'))), v);
    expect(r.error).toMatch(/may or may not have been requested/);
    expect(calls).toEqual(['put']);
  });

  it('accepted, but the answer does not name the server: not counted as requested', async () => {
    const { v, calls } = vault();
    const r = await run(api(async () => ['another-id']), v);
    expect(r.outcome).toBe('failed');
    expect(r.error).toMatch(/its answer does not name this server.*may or may not/);
    expect(calls).toEqual(['put']);
  });
});
