import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloudError } from '../../../src/cloud/api.js';
import { sdkCloudApi } from '../../../src/cloud/sdk-client.js';
import type { RetryPolicy } from '../../../src/cloud/retry.js';
import { startCloudPeer, type CloudPeer, type PeerServer, type PeerState } from '../../support/cloud-peer.js';

/**
 * The cloud client over the official SDK, against the API peer (which verifies every signature with its own
 * implementation): paging, mapping, retries, errors as one line — and the SDK's traps closed: nothing printed,
 * no file written, no secret in an error.
 */
const AK = 'UNITAKEXAMPLE00000001';
const SK = 'unit-secret-key-never-shown-42';
const TOKEN = 'unit-security-token-never-shown';
const PROJECT = 'aaaabbbbccccddddeeeeffff00001111';
const fast: RetryPolicy = { attempts: 4, delay: () => 1 };
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
function fleet(n: number): PeerState {
  const servers: PeerServer[] = Array.from({ length: n }, (_, i) => ({
    id: uuid(i), name: `srv-${i}`, status: 'ACTIVE', osType: i % 2 ? 'Windows' : 'Linux', vpcId: 'vpc-1', privateIp: `192.168.${Math.floor(i / 250)}.${(i % 250) + 2}`,
    ...(i === 0 ? { eip: '203.0.113.50' } : {}), securityGroups: [{ id: 'sg-1', name: 'default' }], tags: ['env=prod'], resetpwdFlag: i === 0 ? 'True' : 'False',
  }));
  return {
    projectId: PROJECT, credentials: { ak: AK, sk: SK, securityToken: TOKEN }, servers,
    subnets: [{ id: 'subnet-1', name: 'app', vpc_id: 'vpc-1', cidr: '192.168.0.0/16', gateway_ip: '192.168.0.1', dhcp_enable: true }],
    rules: [{ id: 'r-1', security_group_id: 'sg-1', direction: 'egress', protocol: null, ethertype: 'IPv4', multiport: null, action: 'allow', priority: 100, remote_ip_prefix: '0.0.0.0/0', remote_group_id: null }],
  };
}

let peer: CloudPeer;
beforeAll(async () => {
  peer = await startCloudPeer(fleet(1005));
});
afterAll(() => peer.close());
afterEach(() => {
  peer.requests.length = 0;
  peer.faults.throttle = 0;
  peer.faults.serverError = 0;
  peer.state.permissions = {};
  peer.state.credentials.sk = SK;
});
const api = (o: { sk?: string } = {}) =>
  sdkCloudApi({ region: 'r1', credentials: { ak: AK, sk: o.sk ?? SK, securityToken: TOKEN, projectId: PROJECT }, endpoint: peer.url, retry: fast });

describe('the SDK-backed cloud client', () => {
  it('lists every server over pages of 1000 (offset counts pages), every request passing the independent verifier', async () => {
    const servers = await api().listServers({});
    expect(servers).toHaveLength(1005);
    expect(peer.requests.map((q) => q.query.offset)).toEqual(['1', '2']);
    expect(peer.requests.every((q) => q.signatureOk && q.status === 200)).toBe(true);
  });

  it('reads what a target needs from each server: id, status, OS, private address, EIP, VPC, groups, tags', async () => {
    const [first, second] = await api().listServers({ tags: 'env=prod' });
    expect(first).toEqual({
      id: uuid(0), name: 'srv-0', status: 'ACTIVE', os: 'linux', privateIp: '192.168.0.2', eip: '203.0.113.50', vpcId: 'vpc-1',
      securityGroups: [{ id: 'sg-1', name: 'default' }], tags: ['env=prod'], enterpriseProjectId: expect.anything(),
    });
    expect(second).toMatchObject({ os: 'windows', eip: null });
    expect(peer.requests[0]!.query.tags).toBe('env=prod');
  });

  it('reads a VPC\'s subnets, a group\'s v3 rules and a server\'s flag', async () => {
    const a = api();
    expect(await a.subnets('vpc-1')).toEqual([{ id: 'subnet-1', name: 'app', vpcId: 'vpc-1', cidr: '192.168.0.0/16', dhcpEnable: true }]);
    expect(await a.securityGroupRules('sg-1')).toMatchObject([{ id: 'r-1', direction: 'egress', action: 'allow', priority: 100, remoteIpPrefix: '0.0.0.0/0' }]);
    expect(await a.resetPasswordFlag(uuid(0))).toBe(true);
    expect(await a.resetPasswordFlag(uuid(1))).toBe(false);
  });

  it('retries throttling (429 APIGW.0308) and 5xx, then answers', async () => {
    peer.faults.throttle = 2;
    peer.faults.serverError = 1;
    expect(await api().resetPasswordFlag(uuid(0))).toBe(true);
    expect(peer.requests.map((q) => q.status)).toEqual([429, 429, 500, 200]);
  });

  it('gives up after its attempts with one line saying the cloud failed', async () => {
    peer.faults.serverError = 10;
    const e = await api().resetPasswordFlag(uuid(0)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CloudError);
    expect((e as CloudError).failure).toBe('server');
    expect(peer.requests).toHaveLength(4);
  });

  it('does not retry a refused key: one line naming the fix, with no key or secret in it', async () => {
    const e = (await api({ sk: 'wrong-secret-key-value' }).listServers({}).catch((x: unknown) => x)) as CloudError;
    expect(e).toBeInstanceOf(CloudError);
    expect(e.failure).toBe('auth');
    expect(e.message).toMatch(/^ECS ListServersDetails: HTTP 401 \(APIGW\.0301: .*\); the access key, secret key or security token is wrong or expired/);
    expect(peer.requests).toHaveLength(1);
    for (const s of [SK, 'wrong-secret-key-value', TOKEN]) expect(e.message).not.toContain(s);
  });

  it('names the IAM action the user lacks', async () => {
    peer.state.permissions = { deny: ['vpc:securityGroupRules:get'] };
    const e = (await api().securityGroupRules('sg-1').catch((x: unknown) => x)) as CloudError;
    expect(e.failure).toBe('forbidden');
    expect(e.message).toContain('the IAM user lacks the action vpc:securityGroupRules:get');
  });

  it('prints nothing itself, even with DEBUG=DEBUG and failing calls (the SDK would print headers and bodies)', async () => {
    const before = process.env.DEBUG;
    process.env.DEBUG = 'DEBUG';
    const written: string[] = [];
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string | Uint8Array) => (written.push(String(s)), true)) as typeof process.stdout.write;
    process.stderr.write = ((s: string | Uint8Array) => (written.push(String(s)), true)) as typeof process.stderr.write;
    try {
      const a = api();
      await a.listServers({});
      peer.faults.serverError = 10;
      await a.resetPasswordFlag(uuid(0)).catch(() => undefined);
    } finally {
      process.stdout.write = out;
      process.stderr.write = err;
      if (before === undefined) delete process.env.DEBUG;
      else process.env.DEBUG = before;
    }
    expect(written).toEqual([]);
  });
});

describe('the CLI with --cloud, outside the lab', () => {
  let work: string;
  let home: string;
  beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'cloud-cli-'));
    home = mkdtempSync(path.join(os.tmpdir(), 'cloud-home-'));
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });
  const cli = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
      const p = spawn(process.execPath, [path.join(repo, 'dist/cli/main.js'), ...args], { cwd: work, env: { PATH: process.env.PATH ?? '', HOME: home, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  const env = { HUAWEICLOUD_SDK_AK: AK, HUAWEICLOUD_SDK_SK: SK, HUAWEICLOUD_SDK_SECURITY_TOKEN: TOKEN, HUAWEICLOUD_SDK_PROJECT_ID: PROJECT, DEBUG: 'DEBUG' };

  it('reports stopped servers without contacting them, writes no file anywhere and shows no secret', async () => {
    for (const s of peer.state.servers.slice(0, 3)) s.status = 'SHUTOFF';
    try {
      const r = await cli(['audit', '--cloud', 'ut-region-1', '--cloud-endpoint', peer.url, '--cloud-filter', 'status=SHUTOFF', '--json'], env);
      const doc = JSON.parse(r.stdout) as { hosts: { name: string; outcome: string; failure: string; serverId: string; steps: unknown[] }[] };
      expect(doc.hosts.map((h) => [h.name, h.outcome, h.failure, h.steps.length])).toEqual([
        ['srv-0', 'unreachable', 'not-running', 0], ['srv-1', 'unreachable', 'not-running', 0], ['srv-2', 'unreachable', 'not-running', 0],
      ]);
      expect(r.code).toBe(1);
      expect(readdirSync(work)).toEqual([]);
      expect(readdirSync(home)).toEqual([]);
      for (const s of [AK, SK, TOKEN]) expect(r.stdout + r.stderr).not.toContain(s);
    } finally {
      for (const s of peer.state.servers.slice(0, 3)) s.status = 'ACTIVE';
    }
  });

  it('refuses a refused key before any host with exit 2 and one line, and plain http to a non-loopback endpoint', async () => {
    const bad = await cli(['audit', '--cloud', 'ut-region-1', '--cloud-endpoint', peer.url], { ...env, HUAWEICLOUD_SDK_SK: 'not-the-right-one' });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/HTTP 401 .*check HUAWEICLOUD_SDK_AK\/SK or --cloud-credentials/);
    const http = await cli(['audit', '--cloud', 'ut-region-1', '--cloud-endpoint', 'http://{service}.ut-region-1.example.com'], env);
    expect(http.code).toBe(2);
    expect(http.stderr).toMatch(/plain http would send signed requests/);
    expect(readdirSync(work)).toEqual([]);
    expect(readdirSync(home)).toEqual([]);
  });
});

describe('the call limiter', () => {
  it('keeps at most n calls in flight and runs the rest in order', async () => {
    const { limiter } = await import('../../../src/cloud/sdk-client.js');
    const slot = limiter(2);
    let active = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        slot(async () => {
          active++;
          most = Math.max(most, active);
          await new Promise((r) => setTimeout(r, 5));
          order.push(i);
          active--;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('answers that are not the API\'s', () => {
  it('refuses a 200 that is not the API\'s JSON (a proxy\'s page), and a listing that repeats its pages, instead of looping or reporting no server', async () => {
    const http = await import('node:http');
    let mode: 'html' | 'loop' = 'html';
    let hits = 0;
    const srv = http.createServer((_req, res) => {
      hits++;
      if (mode === 'html') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>proxy login</html>');
      } else {
        // Full pages without a count, the same servers every time.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ servers: Array.from({ length: 1000 }, (_, i) => ({ id: uuid(i), name: `s${i}`, status: 'ACTIVE' })) }));
      }
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    const client = sdkCloudApi({ region: 'r1', credentials: { ak: AK, sk: SK, projectId: PROJECT }, endpoint: url, retry: fast });
    try {
      await expect(client.listServers({})).rejects.toMatchObject({ failure: 'bad-answer', message: expect.stringMatching(/the answer has no server list; check --cloud-endpoint and any proxy/) });
      await expect(client.resetPasswordFlag(uuid(0))).rejects.toMatchObject({ failure: 'bad-answer' });
      mode = 'loop';
      hits = 0;
      await expect(client.listServers({})).rejects.toMatchObject({ failure: 'bad-answer', message: expect.stringMatching(/page 2 repeats servers already listed/) });
      expect(hits).toBe(2);
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('takes a host name that does not resolve for a wrong region: not retried, one line', async () => {
    const { cloudErrorOf } = await import('../../../src/cloud/sdk-client.js');
    const e = cloudErrorOf({ message: 'getaddrinfo ENOTFOUND ecs.cn-nowhere-9.myhuaweicloud.com' }, 'ECS ListServersDetails', 'ecs:cloudServers:list');
    expect(e).toMatchObject({ failure: 'not-found', message: expect.stringContaining('check the region') });
  });

  it('scrubs the key and token from what the API says back, should it echo them', async () => {
    const unknown = 'UNKNOWNAKUNKNOWNAK01';
    const e = (await sdkCloudApi({ region: 'r1', credentials: { ak: unknown, sk: SK, securityToken: TOKEN, projectId: PROJECT }, endpoint: peer.url, retry: fast }).listServers({}).catch((x: unknown) => x)) as CloudError;
    // The gateway's message for an unknown key names it ("Get secretKey failed,ak:…,err:ak not exist").
    expect(e.failure).toBe('auth');
    expect(e.message).toContain('[REDACTED]');
    expect(e.message).not.toContain(unknown);
  });
});
