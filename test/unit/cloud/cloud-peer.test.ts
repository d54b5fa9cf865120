import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import {
  BatchResetServersPasswordRequest,
  BatchResetServersPasswordRequestBody,
  EcsClient,
  ListServersDetailsRequest,
  ServerId,
  ShowResetPasswordFlagRequest,
} from '@huaweicloud/huaweicloud-sdk-ecs';
import { ListSubnetsRequest, VpcClient, v3 } from '@huaweicloud/huaweicloud-sdk-vpc';
import { authorizationHeader, canonicalRequest, formatSdkDate, signature, stringToSign } from '../../support/apig-signature.js';
import { startCloudPeer, type CloudPeer, type PeerState } from '../../support/cloud-peer.js';

/**
 * The Huawei Cloud test peer (test/support/cloud-peer.ts), exercised with the official Node SDK as its client:
 * what the SDK sends must pass the peer's own signature check, what the peer answers must be what the SDK and
 * a fleet tool read from the real ECS and VPC APIs, and its faults must look like the real gateway's.
 */

// The SDK configures log4js at import to log to stdout (errors include the request, headers and body): off.
const require = createRequire(import.meta.url);
createRequire(require.resolve('@huaweicloud/huaweicloud-sdk-core'))('log4js').configure({
  appenders: { off: { type: 'stdout' } },
  categories: { default: { appenders: ['off'], level: 'off' } },
});
const APP_ID_DIR = path.join(os.homedir(), '.huaweicloud');
const appIdDirBefore = existsSync(APP_ID_DIR);

const PID = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const AK = 'PEERTESTAK00000000001';
const SK = 'peerTestSecretKey0000000000000000000000';
const VPC = 'vpc-00000000-0000-4000-8000-000000000001';
const SG_WEB = 'sg000000-0000-4000-8000-0000000000aa';
const SG_DB = 'sg000000-0000-4000-8000-0000000000bb';

function fleet(): PeerState {
  const srv = (n: number, over: Partial<PeerState['servers'][number]> = {}): PeerState['servers'][number] => ({
    id: `00000000-0000-4000-8000-00000000000${n}`,
    name: `web-${n}`,
    status: 'ACTIVE',
    osType: 'Linux',
    vpcId: VPC,
    privateIp: `192.168.0.${10 + n}`,
    securityGroups: [{ id: SG_WEB, name: 'web' }],
    tags: ['env=prod', `idx=${n}`],
    ...over,
  });
  return {
    projectId: PID,
    region: 'cn-north-4',
    credentials: { ak: AK, sk: SK },
    servers: [
      srv(1, { eip: '203.0.113.1', resetpwdFlag: 'True' }),
      srv(2, { status: 'SHUTOFF' }),
      srv(3, { name: 'db-3', securityGroups: [{ id: SG_WEB, name: 'web' }, { id: SG_DB, name: 'db' }], enterpriseProjectId: 'ep-db' }),
      srv(4, { name: 'win-4', osType: 'Windows', privateIp: '192.168.1.4', tags: ['env=dev'], resetpwdFlag: 'False' }),
      srv(5, { name: 'win-5', osType: 'Windows', privateIp: '192.168.1.5', tags: ['env=prod'] }),
    ],
    subnets: ['a', 'b', 'c'].map((x, i) => ({
      id: `subnet00-0000-4000-8000-00000000000${i}`,
      name: `subnet-${x}`,
      vpc_id: i < 2 ? VPC : 'vpc-other',
      cidr: `192.168.${i}.0/24`,
      gateway_ip: `192.168.${i}.1`,
      dhcp_enable: true,
    })),
    rules: [
      { id: 'rule-1', security_group_id: SG_WEB, direction: 'ingress', protocol: 'tcp', ethertype: 'IPv4', multiport: '22', action: 'allow', priority: 1, remote_ip_prefix: '10.0.0.0/8', remote_group_id: null },
      { id: 'rule-2', security_group_id: SG_WEB, direction: 'ingress', protocol: 'tcp', ethertype: 'IPv4', multiport: '5985-5986', action: 'allow', priority: 1, remote_ip_prefix: '10.0.0.0/8', remote_group_id: null },
      { id: 'rule-3', security_group_id: SG_WEB, direction: 'egress', protocol: null, ethertype: 'IPv4', multiport: null, action: 'allow', priority: 100, remote_ip_prefix: '0.0.0.0/0', remote_group_id: null },
      { id: 'rule-4', security_group_id: SG_DB, direction: 'ingress', protocol: 'tcp', ethertype: 'IPv4', multiport: '3306', action: 'deny', priority: 1, remote_ip_prefix: null, remote_group_id: SG_WEB, remote_address_group_id: null },
      { id: 'rule-5', security_group_id: 'sg-unrelated', direction: 'ingress', protocol: 'icmp', ethertype: 'IPv4', multiport: null, action: 'allow', priority: 1, remote_ip_prefix: '0.0.0.0/0', remote_group_id: null },
    ],
  };
}

function creds(o: { ak?: string; sk?: string; projectId?: string; token?: string } = {}): BasicCredentials {
  const c = new BasicCredentials().withAk(o.ak ?? AK).withSk(o.sk ?? SK).withProjectId(o.projectId ?? PID);
  return o.token ? c.withSecurityToken(o.token) : c;
}
function ecs(peer: CloudPeer, c = creds()): EcsClient {
  return EcsClient.newBuilder().withCredential(c).withEndpoint(peer.url).withOptions({ customUserAgent: 'cloud-peer-test' }).build();
}
function vpc(peer: CloudPeer, c = creds()): VpcClient {
  return VpcClient.newBuilder().withCredential(c).withEndpoint(peer.url).withOptions({ customUserAgent: 'cloud-peer-test' }).build();
}
function vpc3(peer: CloudPeer, c = creds()): v3.VpcClient {
  return v3.VpcClient.newBuilder().withCredential(c).withEndpoint(peer.url).withOptions({ customUserAgent: 'cloud-peer-test' }).build();
}

/** What the SDK throws for an HTTP error (ClientRequestException / ServerResponseException). */
interface SdkError {
  httpStatusCode?: number;
  errorCode?: string;
  errorMsg?: string;
  requestId?: string;
}
async function sdkError(p: Promise<unknown>): Promise<SdkError> {
  try {
    await p;
  } catch (e) {
    return e as SdkError;
  }
  throw new Error('expected the SDK call to fail');
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}
/** A request with exactly these headers (fetch would add or refuse some). */
function raw(url: string, o: { method?: string; headers?: Record<string, string | string[] | undefined>; body?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(o.headers ?? {})) if (v !== undefined && k !== 'content-length' && k !== 'connection') headers[k] = v;
    const req = http.request(url, { method: o.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}
/** A request signed by the test itself (with the peer's own signer functions), for what the SDK cannot send. */
function signedRaw(peer: CloudPeer, pathAndQuery: string, o: { method?: string; projectHeader?: string; body?: string } = {}): Promise<RawResponse> {
  const host = new URL(peer.url).host;
  const date = formatSdkDate(new Date());
  const headers: Record<string, string> = { host, 'x-sdk-date': date, 'content-type': 'application/json', 'x-project-id': o.projectHeader ?? PID };
  const [p, q = ''] = pathAndQuery.split('?');
  const names = Object.keys(headers);
  const c = canonicalRequest(o.method ?? 'GET', p!, q, headers, names, Buffer.from(o.body ?? ''));
  const auth = authorizationHeader(AK, names, signature(SK, stringToSign(c, date)));
  return raw(`${peer.url}${pathAndQuery}`, { ...(o.method ? { method: o.method } : {}), headers: { ...headers, authorization: auth }, ...(o.body !== undefined ? { body: o.body } : {}) });
}

let peer: CloudPeer;
const peers: CloudPeer[] = [];
async function newPeer(state = fleet(), o?: { now?: () => Date }): Promise<CloudPeer> {
  const p = await startCloudPeer(state, o);
  peers.push(p);
  return p;
}
beforeAll(async () => {
  peer = await newPeer();
});
afterEach(() => {
  peer.state = fleet();
  peer.faults.throttle = 0;
  peer.faults.serverError = 0;
  peer.faults.badGateway = 0;
});
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

/** Every request the peer recorded since `from` passed its signature check. */
function allSigned(from: number): void {
  const rs = peer.requests.slice(from);
  expect(rs.length).toBeGreaterThan(0);
  expect(rs.filter((r) => !r.signatureOk).map((r) => `${r.method} ${r.path}`)).toEqual([]);
}

describe('ListServersDetails through the SDK', () => {
  it('pages by page number (offset), counts every match, and the SDK reads ids, addresses, security groups and tags', async () => {
    const from = peer.requests.length;
    const client = ecs(peer);
    const seen: Record<string, unknown>[] = [];
    for (let page = 1; ; page++) {
      const r = (await client.listServersDetails(new ListServersDetailsRequest().withOffset(page).withLimit(2))) as unknown as {
        httpStatusCode: number;
        count: number;
        servers: Record<string, unknown>[];
      };
      expect(r.httpStatusCode).toBe(200);
      expect(r.count).toBe(5);
      seen.push(...r.servers);
      if (r.servers.length < 2) break;
    }
    expect(seen.map((s) => s.id)).toEqual(fleet().servers.map((s) => s.id));

    const web1 = seen[0]!;
    expect(web1).toMatchObject({
      name: 'web-1',
      status: 'ACTIVE',
      'OS-EXT-STS:vm_state': 'active',
      tenant_id: PID,
      metadata: { os_type: 'Linux', vpc_id: VPC },
      security_groups: [{ id: SG_WEB, name: 'web' }],
      tags: ['env=prod', 'idx=1'],
      enterprise_project_id: '0',
      'os-extended-volumes:volumes_attached': [],
      locked: false,
    });
    const nics = (web1.addresses as Record<string, Record<string, unknown>[]>)[VPC]!;
    expect(nics.map((a) => [a.addr, a['OS-EXT-IPS:type'], a.version])).toEqual([
      ['192.168.0.11', 'fixed', '4'],
      ['203.0.113.1', 'floating', '4'],
    ]);
    expect(nics[0]!['OS-EXT-IPS-MAC:mac_addr']).toMatch(/^fa:16:3e(:[0-9a-f]{2}){3}$/);
    expect(nics[1]!['OS-EXT-IPS:port_id']).toBe(nics[0]!['OS-EXT-IPS:port_id']);
    expect(seen[1]).toMatchObject({ status: 'SHUTOFF', 'OS-EXT-STS:vm_state': 'stopped' });
    expect(seen[3]).toMatchObject({ metadata: { os_type: 'Windows' } });
    expect(peer.requests.slice(from).map((r) => r.query)).toEqual([
      { limit: '2', offset: '1' },
      { limit: '2', offset: '2' },
      { limit: '2', offset: '3' },
    ]);
    allSigned(from);
  });

  it('defaults to page 1 of 25, and treats offset 0 as page 1', async () => {
    const client = ecs(peer);
    const all = (await client.listServersDetails(new ListServersDetailsRequest())) as unknown as { servers: unknown[] };
    expect(all.servers).toHaveLength(5);
    const zero = (await client.listServersDetails(new ListServersDetailsRequest().withOffset(0).withLimit(1))) as unknown as { servers: { id: string }[] };
    expect(zero.servers.map((s) => s.id)).toEqual([fleet().servers[0]!.id]);
  });

  it('filters by fuzzy name ("." is any character), status, tag, enterprise project and IP', async () => {
    const from = peer.requests.length;
    const client = ecs(peer);
    const names = async (req: ListServersDetailsRequest) =>
      ((await client.listServersDetails(req)) as unknown as { servers: { name: string }[] }).servers.map((s) => s.name);
    expect(await names(new ListServersDetailsRequest().withName('win'))).toEqual(['win-4', 'win-5']);
    expect(await names(new ListServersDetailsRequest().withName('w.b'))).toEqual(['web-1', 'web-2']);
    expect(await names(new ListServersDetailsRequest().withStatus('SHUTOFF'))).toEqual(['web-2']);
    expect(await names(new ListServersDetailsRequest().withTags('env=dev'))).toEqual(['win-4']);
    expect(await names(new ListServersDetailsRequest().withEnterpriseProjectId('ep-db'))).toEqual(['db-3']);
    expect(await names(new ListServersDetailsRequest().withIp('192.168.1.'))).toEqual(['win-4', 'win-5']);
    // Reserved characters in the query (the SDK sends '*' unencoded and a space as %20) still verify.
    expect(await names(new ListServersDetailsRequest().withName("no such (name)*!'"))).toEqual([]);
    allSigned(from);
  });

  it('refuses more than 1000 servers a page with 400 Ecs.0005', async () => {
    const e = await sdkError(ecs(peer).listServersDetails(new ListServersDetailsRequest().withLimit(1001)));
    expect(e).toMatchObject({ httpStatusCode: 400, errorCode: 'Ecs.0005' });
    expect(e.requestId).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('ShowResetPasswordFlag through the SDK', () => {
  it('answers each server\'s resetpwd_flag ("False" when none is set)', async () => {
    const from = peer.requests.length;
    const client = ecs(peer);
    const flag = async (id: string) =>
      ((await client.showResetPasswordFlag(new ShowResetPasswordFlagRequest().withServerId(id))) as unknown as { resetpwd_flag: string }).resetpwd_flag;
    const [s1, s2, , s4] = fleet().servers;
    expect(await flag(s1!.id)).toBe('True');
    expect(await flag(s2!.id)).toBe('False');
    expect(await flag(s4!.id)).toBe('False');
    allSigned(from);
  });

  it('answers 404 Ecs.0114 for a server that does not exist', async () => {
    const e = await sdkError(ecs(peer).showResetPasswordFlag(new ShowResetPasswordFlagRequest().withServerId('no-such-server')));
    expect(e).toMatchObject({ httpStatusCode: 404, errorCode: 'Ecs.0114', errorMsg: 'Instance[no-such-server] could not be found.' });
  });
});

describe('BatchResetServersPassword through the SDK', () => {
  const reset = (ids: string[], password?: string, dryRun?: boolean) => {
    const body = new BatchResetServersPasswordRequestBody().withServers(ids.map((id) => new ServerId().withId(id)));
    if (password !== undefined) body.withNewPassword(password);
    if (dryRun !== undefined) body.withDryRun(dryRun);
    return ecs(peer).batchResetServersPassword(new BatchResetServersPasswordRequest().withBody(body));
  };
  const ids = () => fleet().servers.map((s) => s.id);

  it('accepts a reset for known servers: 200 with their ids, and the password arrives (signed) in the body', async () => {
    const from = peer.requests.length;
    const r = (await reset(ids().slice(0, 2), 'Fleet@2026pw')) as unknown as { httpStatusCode: number; response: { id: string }[] };
    expect(r.httpStatusCode).toBe(200);
    expect(r.response).toEqual(ids().slice(0, 2).map((id) => ({ id })));
    expect(peer.passwordResets.at(-1)).toEqual({ newPassword: 'Fleet@2026pw', serverIds: ids().slice(0, 2), dryRun: false });
    const sent = peer.requests.at(-1)!;
    expect(sent).toMatchObject({ method: 'PUT', path: `/v1/${PID}/cloudservers/os-reset-passwords`, status: 200, signatureOk: true });
    expect(JSON.parse(sent.body)).toMatchObject({ new_password: 'Fleet@2026pw', servers: ids().slice(0, 2).map((id) => ({ id })) });
    allSigned(from);
  });

  it('answers a dry run like a real request and records it as a dry run', async () => {
    const r = (await reset([ids()[0]!], undefined, true)) as unknown as { response: { id: string }[] };
    expect(r.response).toEqual([{ id: ids()[0] }]);
    expect(peer.passwordResets.at(-1)).toEqual({ serverIds: [ids()[0]], dryRun: true });
  });

  it('refuses unknown servers with Ecs.0114 and an internalError per server', async () => {
    const before = peer.passwordResets.length;
    const e = await sdkError(reset([ids()[0]!, 'ghost-1'], 'Fleet@2026pw'));
    expect(e).toMatchObject({ httpStatusCode: 404, errorCode: 'Ecs.0114' });
    const body = JSON.parse(peer.requests.at(-1)!.body) as unknown;
    expect(body).toMatchObject({ servers: [{ id: ids()[0] }, { id: 'ghost-1' }] });
    expect(peer.passwordResets.length).toBe(before);
  });

  it('refuses more than 1000 servers (Ecs.0118), none (Ecs.0005), a missing password (Ecs.0005) and a weak one (Ecs.0011)', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => `id-${i}`);
    expect(await sdkError(reset(many, 'Fleet@2026pw'))).toMatchObject({ httpStatusCode: 400, errorCode: 'Ecs.0118' });
    expect(await sdkError(reset([], 'Fleet@2026pw'))).toMatchObject({ httpStatusCode: 400, errorCode: 'Ecs.0005' });
    expect(await sdkError(reset([ids()[0]!]))).toMatchObject({ httpStatusCode: 400, errorCode: 'Ecs.0005' });
    for (const weak of ['short1!', 'alllowercase1', 'Has Space1!', 'myroot@Pass1', 'Admin#istrator1']) {
      expect(await sdkError(reset([ids()[0]!], weak)), weak).toMatchObject({ httpStatusCode: 400, errorCode: 'Ecs.0011' });
    }
  });
});

describe('ListSubnets (VPC v1) through the SDK', () => {
  it('lists the subnets of one VPC with their gateway and DHCP setting, marker-paged', async () => {
    const from = peer.requests.length;
    const client = vpc(peer);
    const list = async (req: ListSubnetsRequest) => (await client.listSubnets(req)) as unknown as { subnets: Record<string, unknown>[] };
    const all = await list(new ListSubnetsRequest().withVpcId(VPC));
    expect(all.subnets.map((s) => s.name)).toEqual(['subnet-a', 'subnet-b']);
    expect(all.subnets[0]).toMatchObject({ vpc_id: VPC, cidr: '192.168.0.0/24', gateway_ip: '192.168.0.1', dhcp_enable: true, status: 'ACTIVE' });
    const first = await list(new ListSubnetsRequest().withVpcId(VPC).withLimit(1));
    expect(first.subnets.map((s) => s.name)).toEqual(['subnet-a']);
    const next = await list(new ListSubnetsRequest().withVpcId(VPC).withLimit(1).withMarker(String(first.subnets[0]!.id)));
    expect(next.subnets.map((s) => s.name)).toEqual(['subnet-b']);
    allSigned(from);
  });
});

describe('ListSecurityGroupRules (VPC v3) through the SDK', () => {
  it('lists the rules of several security groups, with page_info and next_marker while more follow', async () => {
    const from = peer.requests.length;
    const client = vpc3(peer);
    const list = async (req: v3.ListSecurityGroupRulesRequest) =>
      (await client.listSecurityGroupRules(req)) as unknown as {
        request_id: string;
        security_group_rules: Record<string, unknown>[];
        page_info: { previous_marker?: string; current_count: number; next_marker?: string };
      };
    const all = await list(new v3.ListSecurityGroupRulesRequest().withSecurityGroupId([SG_WEB, SG_DB]));
    expect(all.security_group_rules.map((r) => r.id)).toEqual(['rule-1', 'rule-2', 'rule-3', 'rule-4']);
    expect(all.page_info).toEqual({ previous_marker: 'rule-1', current_count: 4 });
    expect(all.request_id).toMatch(/^[0-9a-f]{32}$/);
    expect(all.security_group_rules[3]).toMatchObject({
      security_group_id: SG_DB,
      direction: 'ingress',
      protocol: 'tcp',
      ethertype: 'IPv4',
      multiport: '3306',
      action: 'deny',
      priority: 1,
      remote_ip_prefix: null,
      remote_group_id: SG_WEB,
      remote_address_group_id: null,
      project_id: PID,
    });
    expect(peer.requests.at(-1)!.query.security_group_id).toEqual([SG_WEB, SG_DB]);

    const page1 = await list(new v3.ListSecurityGroupRulesRequest().withSecurityGroupId([SG_WEB]).withDirection('ingress').withLimit(1));
    expect(page1.page_info).toEqual({ previous_marker: 'rule-1', current_count: 1, next_marker: 'rule-1' });
    const page2 = await list(new v3.ListSecurityGroupRulesRequest().withSecurityGroupId([SG_WEB]).withDirection('ingress').withLimit(1).withMarker('rule-1'));
    expect(page2.security_group_rules.map((r) => r.id)).toEqual(['rule-2']);
    expect(page2.page_info.next_marker).toBeUndefined();
    allSigned(from);
  });
});

describe('the signature check', () => {
  it('refuses the SDK signing with a wrong SK: 401 APIGW.0301 "verify aksk signature fail"', async () => {
    const e = await sdkError(ecs(peer, creds({ sk: 'not-the-secret-key' })).listServersDetails(new ListServersDetailsRequest()));
    expect(e).toMatchObject({ httpStatusCode: 401, errorCode: 'APIGW.0301', errorMsg: 'Incorrect IAM authentication information: verify aksk signature fail' });
    expect(peer.requests.at(-1)).toMatchObject({ status: 401, signatureOk: false });
  });

  it('refuses an AK it does not know', async () => {
    const e = await sdkError(ecs(peer, creds({ ak: 'UNKNOWNAK0000000000' })).listServersDetails(new ListServersDetailsRequest()));
    expect(e).toMatchObject({ httpStatusCode: 401, errorCode: 'APIGW.0301' });
    expect(e.errorMsg).toContain('ak not exist');
  });

  it('accepts the SDK\'s exact request replayed, but not with its query changed under the same Authorization', async () => {
    await ecs(peer).listServersDetails(new ListServersDetailsRequest().withLimit(2).withOffset(1));
    const original = peer.requests.at(-1)!;
    expect(original.signatureOk).toBe(true);
    const same = await raw(`${peer.url}${original.path}?limit=2&offset=1`, { headers: original.headers });
    expect(same.status).toBe(200);
    const tampered = await raw(`${peer.url}${original.path}?limit=2&offset=2`, { headers: original.headers });
    expect(tampered.status).toBe(401);
    expect(JSON.parse(tampered.body)).toMatchObject({ error_code: 'APIGW.0301', error_msg: 'Incorrect IAM authentication information: verify aksk signature fail' });
    expect(peer.requests.at(-1)).toMatchObject({ signatureOk: false, status: 401, query: { limit: '2', offset: '2' } });
  });

  it('refuses the SDK\'s requests when the peer\'s clock is 20 minutes ahead (stale X-Sdk-Date)', async () => {
    const ahead = await newPeer(fleet(), { now: () => new Date(Date.now() + 20 * 60 * 1000) });
    const e = await sdkError(ecs(ahead).listServersDetails(new ListServersDetailsRequest()));
    expect(e).toMatchObject({ httpStatusCode: 401, errorCode: 'APIGW.0301' });
    expect(e.errorMsg).toContain('signature expired');
    expect(ahead.requests.at(-1)!.signatureOk).toBe(false);
  });

  it('with temporary credentials, requires the matching X-Security-Token, which the SDK signs', async () => {
    const state = fleet();
    state.credentials.securityToken = 'temporary-token-1';
    const temp = await newPeer(state);
    const ok = (await ecs(temp, creds({ token: 'temporary-token-1' })).listServersDetails(new ListServersDetailsRequest())) as unknown as { count: number };
    expect(ok.count).toBe(5);
    expect(String(temp.requests.at(-1)!.headers.authorization)).toContain('x-security-token');
    for (const c of [creds(), creds({ token: 'another-token' })]) {
      expect(await sdkError(ecs(temp, c).listServersDetails(new ListServersDetailsRequest()))).toMatchObject({ httpStatusCode: 401, errorCode: 'APIGW.0301' });
    }
  });

  it('records every request with its headers, and answers each with an X-Request-Id', async () => {
    const r = await signedRaw(peer, `/v1/${PID}/cloudservers/detail?limit=1`);
    expect(r.status).toBe(200);
    expect(r.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    const unsigned = await raw(`${peer.url}/v1/${PID}/cloudservers/detail`);
    expect(unsigned.status).toBe(401);
    expect(unsigned.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.parse(unsigned.body)).toEqual({
      error_code: 'APIGW.0301',
      error_msg: 'Incorrect IAM authentication information: Unauthorized',
      request_id: unsigned.headers['x-request-id'],
    });
    expect(peer.requests.at(-1)).toMatchObject({ method: 'GET', path: `/v1/${PID}/cloudservers/detail`, status: 401, signatureOk: false });
  });
});

describe('routes and projects', () => {
  it('answers 404 APIGW.0101 for a path it does not serve, and for a served path with another method', async () => {
    const unknown = await signedRaw(peer, `/v1/${PID}/cloudservers/nothing-here`);
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toMatchObject({ error_code: 'APIGW.0101' });
    const wrongMethod = await signedRaw(peer, `/v1/${PID}/cloudservers/detail`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(404);
    expect(JSON.parse(wrongMethod.body)).toMatchObject({ error_code: 'APIGW.0101', error_msg: 'The API does not exist.' });
  });

  it('refuses a project in the path that is not the request\'s project, in each service\'s error shape', async () => {
    const other = 'ffffffffffffffffffffffffffffffff';
    const e = await signedRaw(peer, `/v1/${other}/cloudservers/detail`);
    expect(e.status).toBe(403);
    expect(JSON.parse(e.body)).toMatchObject({ error: { code: 'Ecs.0003' } });
    const v = await signedRaw(peer, `/v1/${other}/subnets`);
    expect(v.status).toBe(400);
    expect(JSON.parse(v.body)).toEqual({ code: 'VPC.0007', message: 'urlTenantId is not equal tokenTenantId' });
  });

  it('refuses an X-Project-Id the access key does not own (the SDK sends its project there)', async () => {
    const e = await sdkError(ecs(peer, creds({ projectId: 'ffffffffffffffffffffffffffffffff' })).listServersDetails(new ListServersDetailsRequest()));
    expect(e).toMatchObject({ httpStatusCode: 401, errorCode: 'APIGW.0301' });
  });
});

describe('injected faults', () => {
  it('throttles the next N requests with 429 APIGW.0308, then serves again', async () => {
    peer.faults.throttle = 2;
    const client = ecs(peer);
    for (let i = 0; i < 2; i++) {
      const e = await sdkError(client.listServersDetails(new ListServersDetailsRequest()));
      expect(e).toMatchObject({ httpStatusCode: 429, errorCode: 'APIGW.0308' });
      expect(e.errorMsg).toMatch(/^The throttling threshold has been reached: policy user over ratelimit,limit:\d+/);
    }
    expect(peer.faults.throttle).toBe(0);
    expect(((await client.listServersDetails(new ListServersDetailsRequest())) as unknown as { count: number }).count).toBe(5);
  });

  it('fails the next N requests with 500 in the service\'s error shape', async () => {
    peer.faults.serverError = 1;
    expect(await sdkError(ecs(peer).showResetPasswordFlag(new ShowResetPasswordFlagRequest().withServerId(fleet().servers[0]!.id)))).toMatchObject({
      httpStatusCode: 500,
      errorCode: 'Ecs.9999',
    });
    peer.faults.serverError = 1;
    expect(await sdkError(vpc3(peer).listSecurityGroupRules(new v3.ListSecurityGroupRulesRequest()))).toMatchObject({ httpStatusCode: 500, errorCode: 'VPC.9999' });
    expect(peer.faults.serverError).toBe(0);
  });

  it('answers the next N requests with 502 and an HTML body that is not JSON', async () => {
    peer.faults.badGateway = 1;
    const r = await signedRaw(peer, `/v1/${PID}/subnets`);
    expect(r.status).toBe(502);
    expect(r.headers['content-type']).toBe('text/html');
    expect(() => JSON.parse(r.body)).toThrow();
    peer.faults.badGateway = 1;
    expect(await sdkError(vpc(peer).listSubnets(new ListSubnetsRequest()))).toMatchObject({ httpStatusCode: 502 });
  });

  it('injects no fault into a request that fails its signature check', async () => {
    peer.faults.throttle = 1;
    expect(await sdkError(ecs(peer, creds({ sk: 'wrong-secret-key' })).listServersDetails(new ListServersDetailsRequest()))).toMatchObject({ httpStatusCode: 401 });
    expect(peer.faults.throttle).toBe(1);
  });
});

describe('IAM permissions', () => {
  it('refuses an API whose action is denied with 403 naming the action, and still serves the others', async () => {
    peer.state.permissions = { deny: ['ecs:cloudServers:list', 'vpc:securityGroupRules:get'] };
    const e = await sdkError(ecs(peer).listServersDetails(new ListServersDetailsRequest()));
    expect(e).toMatchObject({ httpStatusCode: 403, errorCode: 'Ecs.0003' });
    expect(e.errorMsg).toContain('ecs:cloudServers:list');
    const v = await sdkError(vpc3(peer).listSecurityGroupRules(new v3.ListSecurityGroupRulesRequest()));
    expect(v).toMatchObject({ httpStatusCode: 403, errorCode: 'VPC.2701' });
    expect(v.errorMsg).toContain('vpc:securityGroupRules:get');
    const flag = (await ecs(peer).showResetPasswordFlag(new ShowResetPasswordFlagRequest().withServerId(fleet().servers[0]!.id))) as unknown as {
      resetpwd_flag: string;
    };
    expect(flag.resetpwd_flag).toBe('True');
  });

  it('also refuses on the identity-policy name of an action (ecs:cloudServers:showResetPasswordFlag)', async () => {
    peer.state.permissions = { deny: ['ecs:cloudServers:showResetPasswordFlag'] };
    const e = await sdkError(ecs(peer).showResetPasswordFlag(new ShowResetPasswordFlagRequest().withServerId(fleet().servers[0]!.id)));
    expect(e).toMatchObject({ httpStatusCode: 403 });
    expect(e.errorMsg).toContain('ecs:cloudServers:showResetPasswordFlag');
  });

  it('refuses ListSubnets (VPC v1) with 403 VPC.2701 in the flat v1 shape, which the SDK does not parse into errorCode', async () => {
    peer.state.permissions = { deny: ['vpc:subnets:get'] };
    const e = await sdkError(vpc(peer).listSubnets(new ListSubnetsRequest()));
    // The SDK reads error.code / error_code only, so a v1 `{ code, message }` body leaves errorCode unset.
    expect(e.httpStatusCode).toBe(403);
    expect(e.errorCode).toBeUndefined();
    expect(peer.requests.at(-1)).toMatchObject({ status: 403, signatureOk: true });
    const r = await signedRaw(peer, `/v1/${PID}/subnets`);
    expect(JSON.parse(r.body)).toEqual({ code: 'VPC.2701', message: "Token not allowed to do this action. Policy doesn't allow vpc:subnets:get to be performed." });
  });

  it('refuses the batch reset when ecs:cloudServers:resetServerPwd is denied, and nothing is reset', async () => {
    peer.state.permissions = { deny: ['ecs:cloudServers:resetServerPwd'] };
    const before = peer.passwordResets.length;
    const body = new BatchResetServersPasswordRequestBody().withNewPassword('Fleet@2026pw').withServers([new ServerId().withId(fleet().servers[0]!.id)]);
    const e = await sdkError(ecs(peer).batchResetServersPassword(new BatchResetServersPasswordRequest().withBody(body)));
    expect(e).toMatchObject({ httpStatusCode: 403 });
    expect(e.errorMsg).toContain('ecs:cloudServers:resetServerPwd');
    expect(peer.passwordResets.length).toBe(before);
  });
});

describe('the SDK in these tests', () => {
  it('built with a custom user agent, writes no ~/.huaweicloud/application_id', () => {
    if (!appIdDirBefore) expect(existsSync(APP_ID_DIR)).toBe(false);
  });
});
