/**
 * An in-process stand-in for the Huawei Cloud ECS and VPC endpoints a fleet tool calls, on 127.0.0.1 (random
 * port), for tests that drive the official Node SDK (or any client) against it:
 *
 *   GET  /v1/{project_id}/cloudservers/detail                       ECS ListServersDetails
 *   GET  /v1/{project_id}/cloudservers/{server_id}/os-resetpwd-flag ECS ShowResetPasswordFlag
 *   PUT  /v1/{project_id}/cloudservers/os-reset-passwords           ECS BatchResetServersPassword
 *   POST /v1/{project_id}/cloudservers/action                       ECS BatchRebootServers ({"reboot": …} only)
 *   GET  /v1/{project_id}/jobs/{job_id}                             ECS ShowJob
 *   GET  /v1/{project_id}/subnets                                   VPC v1 ListSubnets
 *   GET  /v3/{project_id}/vpc/security-group-rules                  VPC v3 ListSecurityGroupRules
 *
 * Every request has its AK/SK signature checked by the peer's own verifier (apig-signature.ts) the way API
 * Gateway does before the service sees it; every request is recorded in `requests`; faults (throttling, 500,
 * 502) and IAM denials can be injected. Request and response shapes follow the public API reference
 * (sources next to each piece below); where the reference is silent the choice is said so.
 *
 * Order of checks, as at the real gateway: route (APIGW.0101) → signature (APIGW.0301) → injected faults →
 * project → IAM action → the service's own parameter checks.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseQuery, verifyRequest } from './apig-signature.js';

export interface PeerServer {
  id: string;
  name: string;
  /** ACTIVE | SHUTOFF | BUILD | ERROR | REBOOT | ... (ECS status values) */
  status: string;
  osType: 'Linux' | 'Windows';
  vpcId: string;
  privateIp: string;
  eip?: string;
  securityGroups: { id: string; name: string }[];
  /** "key=value" */
  tags?: string[];
  enterpriseProjectId?: string;
  /** What ShowResetPasswordFlag answers; "False" when not set (as in the API reference's example). */
  resetpwdFlag?: 'True' | 'False';
  /** A batch reset naming this server is refused with this code (e.g. Ecs.0613, "no plug-ins installed"). */
  resetError?: { code: string; message: string };
  /** Its part of a reboot job fails with this reason (as a server whose guest does not come back). */
  rebootFails?: string;
}
export interface PeerSubnet {
  id: string;
  name: string;
  vpc_id: string;
  cidr: string;
  gateway_ip: string;
  dhcp_enable: boolean;
}
export interface PeerRule {
  id: string;
  security_group_id: string;
  direction: 'ingress' | 'egress';
  protocol: string | null;
  ethertype: 'IPv4' | 'IPv6';
  multiport: string | null;
  action: 'allow' | 'deny';
  priority: number;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
  remote_address_group_id?: string | null;
}
export interface PeerState {
  projectId: string;
  region?: string;
  credentials: { ak: string; sk: string; securityToken?: string };
  servers: PeerServer[];
  subnets: PeerSubnet[];
  rules: PeerRule[];
  /** IAM action names refused with 403 (an API is refused when its action or the action's alias is listed). */
  permissions?: { deny?: string[] };
}
export interface PeerFaults {
  /** The next N authenticated requests: 429 APIGW.0308. */
  throttle: number;
  /** The next N authenticated requests: 500 in the service's error shape. */
  serverError: number;
  /** The next N authenticated requests: 502 with an HTML (non-JSON) body. */
  badGateway?: number;
}
export interface PeerRequest {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  status: number;
  signatureOk: boolean;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
/** A batch password reset that passed the API's checks (dry runs included, flagged). Kept in memory only. */
export interface PeerPasswordReset {
  newPassword?: string;
  serverIds: string[];
  dryRun: boolean;
}
/** A reboot the peer was asked for; its job reports RUNNING on the first ShowJob, then SUCCESS (FAIL for a stopped server). */
export interface PeerJob {
  id: string;
  type: 'batchRebootServers';
  serverIds: string[];
  polls: number;
}
export interface CloudPeer {
  url: string;
  state: PeerState;
  faults: PeerFaults;
  requests: PeerRequest[];
  passwordResets: PeerPasswordReset[];
  jobs: PeerJob[];
  close(): Promise<void>;
}

/** The IAM actions of each API: the role/policy action first, then its identity-policy name (docs' "Alias" column). */
export const IAM_ACTIONS = {
  // https://support.huaweicloud.com/intl/en-us/api-ecs/en-us_topic_0094148850.html (ecs:cloudServers:listServersDetails, alias ecs:cloudServers:list)
  listServersDetails: ['ecs:cloudServers:list', 'ecs:cloudServers:listServersDetails'],
  // https://support.huaweicloud.com/api-ecs/ecs_02_1102.html (ecs:cloudServers:showResetPasswordFlag, alias ecs:cloudServers:get)
  showResetPasswordFlag: ['ecs:cloudServers:get', 'ecs:cloudServers:showResetPasswordFlag'],
  // https://support.huaweicloud.com/intl/en-us/api-ecs/ecs_02_0306.html
  batchResetServersPassword: ['ecs:cloudServers:resetServerPwd'],
  // https://support.huaweicloud.com/intl/en-us/api-ecs/ecs_02_0303.html (BatchRebootServers)
  batchRebootServers: ['ecs:cloudServers:reboot'],
  // ShowJob: the ECS permissions table lists it under ecs:cloudServers:get (as the other read-only calls).
  showJob: ['ecs:cloudServers:get'],
  // VPC "Permissions and Supported Actions" (role/policy vpc:subnets:get; identity policy vpc:subnets:list)
  listSubnets: ['vpc:subnets:get', 'vpc:subnets:list'],
  // https://support.huaweicloud.com/intl/en-us/api-vpc/vpc_sg01_0007.html (vpc:securityGroupRules:list, alias vpc:securityGroupRules:get)
  listSecurityGroupRules: ['vpc:securityGroupRules:get', 'vpc:securityGroupRules:list'],
} as const;

type Service = 'ecs' | 'vpc-v1' | 'vpc-v3';

interface Reply {
  status: number;
  json?: unknown;
  html?: string;
}

interface Ctx {
  state: PeerState;
  params: string[];
  query: Record<string, string | string[]>;
  body: Buffer;
  requestId: string;
  peer: CloudPeer;
}

interface Route {
  method: string;
  pattern: RegExp;
  service: Service;
  actions: readonly string[];
  handle(ctx: Ctx): Reply;
}

const MAX_BODY = 1024 * 1024;

// --- error bodies --------------------------------------------------------------------------------------------

/** API Gateway: `{ error_code, error_msg, request_id }` (devg-apisign api-sign-0001, api-sign-errorcode). */
function apigw(status: number, code: string, msg: string, requestId: string): Reply {
  return { status, json: { error_code: code, error_msg: msg, request_id: requestId } };
}

/**
 * A service's own error body:
 *   ECS     `{ "error": { "code": "Ecs.0114", "message": "…" } }` (ECS "Error Codes" and the KooCLI sample
 *           `{"error":{"message":"Instance[abc] could not be found.","code":"Ecs.0114"}}`)
 *   VPC v1  `{ "code": "VPC.0002", "message": "…" }` (VPC "Error Codes", vpc_api_0003)
 *   VPC v3  `{ "request_id", "error_code", "error_msg" }` (the v3 APIs' common error shape)
 */
function serviceError(service: Service, status: number, code: string, message: string, requestId: string): Reply {
  switch (service) {
    case 'ecs':
      return { status, json: { error: { code, message } } };
    case 'vpc-v1':
      return { status, json: { code, message } };
    case 'vpc-v3':
      return { status, json: { request_id: requestId, error_code: code, error_msg: message } };
  }
}

// --- helpers ------------------------------------------------------------------------------------------------

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
function many(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
function hashHex(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}
function uuidFrom(...parts: string[]): string {
  const h = hashHex(...parts);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
function macFrom(id: string): string {
  const h = hashHex('mac', id);
  return `fa:16:3e:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
}
/** A non-negative integer query value; undefined when absent, NaN when malformed. */
function intParam(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  return /^\d{1,10}$/.test(v) ? Number(v) : Number.NaN;
}
const CREATED = '2025-06-01T08:00:00Z';
const UPDATED = '2025-06-02T08:00:00Z';

/** Items after the one whose id is `marker` (none when the marker is unknown), at most `limit`. */
function markerPage<T extends { id: string }>(items: T[], marker: string | undefined, limit: number): { page: T[]; more: boolean } {
  let start = 0;
  if (marker) {
    const i = items.findIndex((x) => x.id === marker);
    start = i < 0 ? items.length : i + 1;
  }
  const page = items.slice(start, start + limit);
  return { page, more: start + limit < items.length };
}

// --- ECS ----------------------------------------------------------------------------------------------------

const VM_STATE: Record<string, string> = { ACTIVE: 'active', SHUTOFF: 'stopped', BUILD: 'building', ERROR: 'error', REBOOT: 'active', HARD_REBOOT: 'active' };
const POWER_STATE: Record<string, number> = { ACTIVE: 1, SHUTOFF: 4, BUILD: 0, ERROR: 0 };

/** One server of ListServersDetails (fields per the ECS "ServerDetail" of the API reference / the SDK's model). */
function serverDetail(s: PeerServer, state: PeerState): Record<string, unknown> {
  const portId = uuidFrom('port', s.id);
  const mac = macFrom(s.id);
  const imageId = uuidFrom('image', s.osType);
  const flavor = s.osType === 'Windows' ? 's6.large.2' : 's6.small.1';
  const ep = s.enterpriseProjectId ?? '0';
  const az = `${state.region ?? 'cn-north-4'}a`;
  const hostId = hashHex('host', s.id).slice(0, 56);
  const nics: Record<string, unknown>[] = [
    { version: '4', addr: s.privateIp, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': mac, 'OS-EXT-IPS:port_id': portId },
  ];
  if (s.eip) nics.push({ version: '4', addr: s.eip, 'OS-EXT-IPS:type': 'floating', 'OS-EXT-IPS-MAC:mac_addr': mac, 'OS-EXT-IPS:port_id': portId });
  return {
    fault: null,
    id: s.id,
    name: s.name,
    addresses: { [s.vpcId]: nics },
    links: [],
    accessIPv4: '',
    accessIPv6: '',
    status: s.status,
    progress: 0,
    hostId,
    updated: UPDATED,
    created: CREATED,
    metadata: {
      os_type: s.osType,
      vpc_id: s.vpcId,
      image_name: s.osType === 'Windows' ? 'Windows Server 2019 Datacenter 64bit English' : 'Ubuntu 22.04 server 64bit',
      charging_mode: '0',
      'metering.image_id': imageId,
      'metering.imagetype': 'gold',
      'metering.resourcespeccode': `${flavor}.${s.osType === 'Windows' ? 'win' : 'linux'}`,
      'metering.resourcetype': '1',
      os_bit: '64',
    },
    tags: s.tags ?? [],
    description: '',
    locked: false,
    config_drive: '',
    tenant_id: state.projectId,
    user_id: hashHex('user', state.credentials.ak).slice(0, 32),
    key_name: s.osType === 'Linux' ? 'KeyPair-peer' : null,
    'os-extended-volumes:volumes_attached': [],
    'OS-EXT-STS:task_state': null,
    'OS-EXT-STS:power_state': POWER_STATE[s.status] ?? 0,
    'OS-EXT-STS:vm_state': VM_STATE[s.status] ?? s.status.toLowerCase(),
    'OS-EXT-SRV-ATTR:host': hostId,
    'OS-EXT-SRV-ATTR:instance_name': `instance-${hashHex('inst', s.id).slice(0, 8)}`,
    'OS-EXT-SRV-ATTR:hypervisor_hostname': hashHex('hv', s.id).slice(0, 16),
    'OS-EXT-SRV-ATTR:hostname': s.name.toLowerCase().replace(/[^a-z0-9-]/g, '-'),
    'OS-EXT-SRV-ATTR:launch_index': 0,
    'OS-EXT-SRV-ATTR:reservation_id': `r-${hashHex('res', s.id).slice(0, 8)}`,
    'OS-EXT-SRV-ATTR:kernel_id': '',
    'OS-EXT-SRV-ATTR:ramdisk_id': '',
    'OS-EXT-SRV-ATTR:root_device_name': '/dev/vda',
    'OS-EXT-SRV-ATTR:user_data': null,
    'OS-EXT-AZ:availability_zone': az,
    'OS-DCF:diskConfig': 'MANUAL',
    'OS-SRV-USG:launched_at': '2025-06-01T08:00:30.000000',
    'OS-SRV-USG:terminated_at': '',
    flavor: { id: flavor, name: flavor, disk: '0', vcpus: s.osType === 'Windows' ? '2' : '1', ram: s.osType === 'Windows' ? '4096' : '1024' },
    image: { id: imageId },
    security_groups: s.securityGroups.map((g) => ({ id: g.id, name: g.name })),
    enterprise_project_id: ep,
    sys_tags: [{ key: '_sys_enterprise_project_id', value: ep }],
    host_status: 'UP',
    'os:scheduler_hints': {},
  };
}

/** `name` is fuzzy-matched; '.' matches any single character but \n and \r (API reference, ListServersDetails). */
function nameMatcher(name: string): RegExp {
  const src = [...name].map((c) => (c === '.' ? '[^\\n\\r]' : c.replace(/[\\^$*+?()[\]{}|/-]/g, '\\$&'))).join('');
  return new RegExp(src);
}

function tagKey(tag: string): string {
  const i = tag.indexOf('=');
  return i < 0 ? tag : tag.slice(0, i);
}

/**
 * ListServersDetails — https://support.huaweicloud.com/intl/en-us/api-ecs/en-us_topic_0094148850.html
 * offset is the page number (default 1; 0 is the same as 1), limit the page size (default 25, at most 1000),
 * `count` the number of servers matching the filters. Servers are returned in state order (the real API sorts
 * by creation time, newest first).
 */
function listServersDetails(ctx: Ctx): Reply {
  const q = ctx.query;
  const limit = intParam(one(q.limit));
  const offset = intParam(one(q.offset));
  if (Number.isNaN(limit) || (limit !== undefined && limit > 1000)) {
    return serviceError('ecs', 400, 'Ecs.0005', `Invalid parameter: limit [${one(q.limit)}] must be an integer from 0 to 1000.`, ctx.requestId);
  }
  if (Number.isNaN(offset)) {
    return serviceError('ecs', 400, 'Ecs.0005', `Invalid parameter: offset [${one(q.offset)}] must be an integer of 0 or more.`, ctx.requestId);
  }
  const size = limit === undefined || limit === 0 ? 25 : limit;
  const page = offset === undefined || offset === 0 ? 1 : offset;

  let servers = ctx.state.servers;
  const name = one(q.name);
  if (name) {
    const re = nameMatcher(name);
    servers = servers.filter((s) => re.test(s.name));
  }
  const status = one(q.status);
  if (status) servers = servers.filter((s) => s.status === status);
  const tags = one(q.tags);
  if (tags) {
    const wanted = tags.split(',').filter(Boolean);
    servers = servers.filter((s) => wanted.every((t) => (s.tags ?? []).includes(t)));
  }
  const notTags = one(q['not-tags']);
  if (notTags) {
    const unwanted = notTags.split(',').filter(Boolean);
    servers = servers.filter((s) => !(s.tags ?? []).some((t) => unwanted.includes(t) || unwanted.includes(tagKey(t))));
  }
  const ep = one(q.enterprise_project_id);
  if (ep && ep !== 'all_granted_eps') servers = servers.filter((s) => (s.enterpriseProjectId ?? '0') === ep);
  const ip = one(q.ip);
  if (ip) servers = servers.filter((s) => s.privateIp.includes(ip));
  const ipEq = one(q.ip_eq);
  if (ipEq) servers = servers.filter((s) => s.privateIp === ipEq);
  const ids = one(q.server_id);
  if (ids) {
    const wanted = ids.split(',');
    servers = servers.filter((s) => wanted.includes(s.id));
  }
  const slice = servers.slice((page - 1) * size, page * size);
  return { status: 200, json: { count: servers.length, servers: slice.map((s) => serverDetail(s, ctx.state)) } };
}

/** ShowResetPasswordFlag — https://support.huaweicloud.com/en-us/api-ecs/ecs_02_1102.html → `{ "resetpwd_flag": "True"|"False" }`. */
function showResetPasswordFlag(ctx: Ctx): Reply {
  const id = decodeURIComponent(ctx.params[1] ?? '');
  const server = ctx.state.servers.find((s) => s.id === id);
  // Ecs.0114 (404) "ECS [%s] could not be found." — ECS error-code table; the message as the live API words it.
  if (!server) return serviceError('ecs', 404, 'Ecs.0114', `Instance[${id}] could not be found.`, ctx.requestId);
  return { status: 200, json: { resetpwd_flag: server.resetpwdFlag ?? 'False' } };
}

/**
 * New-password rules of BatchResetServersPassword (API reference): 8 to 26 characters; only letters, digits and
 * !@%-_=+[]:./? ; at least three of upper case, lower case, digits and those specials; not containing "root" or
 * "Administrator", forwards or backwards. (The further Windows rule on runs of three characters of
 * "Administrator" is not checked.) Failing it: Ecs.0011 (400), ECS error-code table.
 */
function passwordProblem(pw: string): string | undefined {
  if (pw.length < 8 || pw.length > 26) return 'The password length must range from 8 to 26.';
  if (!/^[A-Za-z0-9!@%\-_=+[\]:./?]+$/.test(pw)) return 'The password contains characters that are not allowed.';
  const classes = [/[A-Z]/, /[a-z]/, /[0-9]/, /[!@%\-_=+[\]:./?]/].filter((re) => re.test(pw)).length;
  if (classes < 3) return 'The password must contain at least three of: uppercase letters, lowercase letters, digits and special characters.';
  const lower = pw.toLowerCase();
  for (const u of ['root', 'administrator']) {
    if (lower.includes(u) || lower.includes([...u].reverse().join(''))) return 'The password cannot contain the username or the username spelled backwards.';
  }
  return undefined;
}

/**
 * BatchResetServersPassword — https://support.huaweicloud.com/intl/en-us/api-ecs/ecs_02_0306.html
 * Body `{ new_password, dry_run?, servers: [{ id }] }`, 1 to 1000 servers (OpenAPI minItems/maxItems); success
 * is 200 `{ "response": [{ "id" }] }` ("Responses (Batch Requests)", ecs_07_0009). The published definition of
 * dry_run says "if the check passes, the response result is returned" (no 204 is documented), so a passing dry
 * run answers like a real one without resetting anything. A batch error carries `error` plus `internalError`
 * (`[{ id, error_code, error_message }]`) per the same page.
 */
function batchResetServersPassword(ctx: Ctx): Reply {
  const bad = (message: string) => serviceError('ecs', 400, 'Ecs.0005', message, ctx.requestId);
  let body: unknown;
  try {
    body = JSON.parse(ctx.body.toString('utf8'));
  } catch {
    return bad('Invalid request body.');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return bad('Invalid request body.');
  const b = body as { new_password?: unknown; dry_run?: unknown; servers?: unknown };
  if (b.dry_run !== undefined && typeof b.dry_run !== 'boolean') return bad('Invalid request body: dry_run must be a boolean.');
  const dryRun = b.dry_run === true;
  if (!Array.isArray(b.servers) || b.servers.length === 0) return bad('Invalid request body: servers must list 1 to 1000 ECSs.');
  if (b.servers.length > 1000) {
    return serviceError('ecs', 400, 'Ecs.0118', `The number of ECSs ${b.servers.length} is greater than the maximum number 1000.`, ctx.requestId);
  }
  const ids: string[] = [];
  for (const s of b.servers) {
    if (!s || typeof s !== 'object' || typeof (s as { id?: unknown }).id !== 'string') return bad('Invalid request body: each server needs an id.');
    ids.push((s as { id: string }).id);
  }
  if (b.new_password !== undefined && typeof b.new_password !== 'string') return bad('Invalid request body: new_password must be a string.');
  if (b.new_password === undefined && !dryRun) return bad('Invalid request body: new_password is required.');
  if (typeof b.new_password === 'string') {
    const problem = passwordProblem(b.new_password);
    if (problem) return serviceError('ecs', 400, 'Ecs.0011', problem, ctx.requestId);
  }
  const unknown = ids.filter((id) => !ctx.state.servers.some((s) => s.id === id));
  if (unknown.length) {
    return {
      status: 404,
      json: {
        error: { code: 'Ecs.0114', message: `ECS [${unknown.join(',')}] could not be found.` },
        internalError: unknown.map((id) => ({ id, error_code: 'Ecs.0114', error_message: `ECS [${id}] could not be found.` })),
      },
    };
  }
  // A server the API refuses (no plug-in, locked, …) fails the whole batch, each such server named in
  // internalError. Not from the reference: the batch's own code is the first refused server's (one server), or
  // Ecs.0611 ("batch operation failed", ECS error-code table) when several are.
  const refused = ids.flatMap((id) => {
    const e = ctx.state.servers.find((s) => s.id === id)?.resetError;
    return e ? [{ id, error_code: e.code, error_message: e.message }] : [];
  });
  if (refused.length) {
    const first = refused[0]!;
    return {
      status: 400,
      json: {
        error: refused.length === 1 ? { code: first.error_code, message: first.error_message } : { code: 'Ecs.0611', message: 'Failed to reset the passwords of the ECSs in a batch.' },
        internalError: refused,
      },
    };
  }
  ctx.peer.passwordResets.push({ ...(typeof b.new_password === 'string' ? { newPassword: b.new_password } : {}), serverIds: ids, dryRun });
  return { status: 200, json: { response: ids.map((id) => ({ id })) } };
}

/**
 * BatchRebootServers — POST /v1/{project_id}/cloudservers/action `{ "reboot": { "type": "SOFT"|"HARD", "servers": [{ "id" }] } }`
 * → 200 `{ "job_id" }` (https://support.huaweicloud.com/intl/en-us/api-ecs/ecs_02_0303.html). Other actions of
 * that URI (os-start, os-stop, delete) are not served.
 */
function batchAction(ctx: Ctx): Reply {
  const bad = (message: string) => serviceError('ecs', 400, 'Ecs.0005', message, ctx.requestId);
  let body: { reboot?: { type?: unknown; servers?: unknown } };
  try {
    body = JSON.parse(ctx.body.toString('utf8')) as typeof body;
  } catch {
    return bad('Invalid request body.');
  }
  const r = body?.reboot;
  if (!r || typeof r !== 'object') return bad('Invalid request body: only reboot is served here.');
  if (r.type !== 'SOFT' && r.type !== 'HARD') return bad('Invalid request body: reboot.type must be SOFT or HARD.');
  if (!Array.isArray(r.servers) || r.servers.length === 0 || r.servers.length > 1000) return bad('Invalid request body: servers must list 1 to 1000 ECSs.');
  const ids = r.servers.map((s: { id?: unknown }) => (s && typeof s.id === 'string' ? s.id : ''));
  if (ids.some((id) => !ctx.state.servers.some((s) => s.id === id))) return serviceError('ecs', 404, 'Ecs.0114', `ECS [${ids.join(',')}] could not be found.`, ctx.requestId);
  const job: PeerJob = { id: `ff80808${randomBytes(12).toString('hex')}`, type: 'batchRebootServers', serverIds: ids, polls: 0 };
  ctx.peer.jobs.push(job);
  return { status: 200, json: { job_id: job.id } };
}

/**
 * ShowJob — GET /v1/{project_id}/jobs/{job_id} → `{ status, entities: { sub_jobs_total, sub_jobs: [{ status,
 * entities: { server_id }, job_id, job_type, begin_time, end_time, error_code, fail_reason }] }, job_id, job_type,
 * begin_time, end_time, error_code, fail_reason }` (ECS "Querying Task Execution Status"). A reboot job is
 * RUNNING when first asked, then ends: a server that is not ACTIVE fails its sub-job (a stopped server cannot
 * reboot), and then the job is FAIL.
 */
function showJob(ctx: Ctx): Reply {
  const id = decodeURIComponent(ctx.params[1] ?? '');
  const job = ctx.peer.jobs.find((j) => j.id === id);
  if (!job) return serviceError('ecs', 404, 'Ecs.0114', `Job[${id}] could not be found.`, ctx.requestId);
  job.polls++;
  const running = job.polls === 1;
  const subs = job.serverIds.map((sid, i) => {
    const srv = ctx.state.servers.find((s) => s.id === sid);
    const ok = srv?.status === 'ACTIVE' && !srv.rebootFails;
    return {
      status: running ? 'RUNNING' : ok ? 'SUCCESS' : 'FAIL',
      entities: { server_id: sid },
      job_id: `${job.id}-${i}`,
      job_type: 'rebootServer',
      begin_time: '2026-12-04T03:00:00.000+0000',
      end_time: running ? '' : '2026-12-04T03:00:30.000+0000',
      error_code: running || ok ? null : 'Ecs.0001',
      fail_reason: running || ok ? null : (srv?.rebootFails ?? 'The server is not running.'),
    };
  });
  const failed = subs.some((s) => s.status === 'FAIL');
  return {
    status: 200,
    json: {
      status: running ? 'RUNNING' : failed ? 'FAIL' : 'SUCCESS',
      entities: { sub_jobs_total: subs.length, sub_jobs: subs },
      job_id: job.id,
      job_type: job.type,
      begin_time: '2026-12-04T03:00:00.000+0000',
      end_time: running ? '' : '2026-12-04T03:00:30.000+0000',
      error_code: null,
      fail_reason: null,
    },
  };
}

// --- VPC ----------------------------------------------------------------------------------------------------

/**
 * ListSubnets (v1) — GET /v1/{project_id}/subnets?vpc_id=&limit=&marker= : `{ "subnets": [...] }`; limit
 * defaults to 2000; marker pages from the record after the given id (an unknown marker gives no records here).
 */
function listSubnets(ctx: Ctx): Reply {
  const vpcId = one(ctx.query.vpc_id);
  const limit = intParam(one(ctx.query.limit));
  const items = ctx.state.subnets.filter((s) => !vpcId || s.vpc_id === vpcId);
  const { page } = markerPage(items, one(ctx.query.marker), limit === undefined || Number.isNaN(limit) || limit === 0 ? 2000 : limit);
  return {
    status: 200,
    json: {
      subnets: page.map((s) => ({
        id: s.id,
        name: s.name,
        description: '',
        cidr: s.cidr,
        dnsList: ['100.125.1.250', '100.125.21.250'],
        status: 'ACTIVE',
        vpc_id: s.vpc_id,
        ipv6_enable: false,
        gateway_ip: s.gateway_ip,
        dhcp_enable: s.dhcp_enable,
        primary_dns: '100.125.1.250',
        secondary_dns: '100.125.21.250',
        availability_zone: '',
        neutron_network_id: s.id,
        neutron_subnet_id: uuidFrom('neutron-subnet', s.id),
        extra_dhcp_opts: [],
        scope: 'center',
        tenant_id: ctx.state.projectId,
        created_at: CREATED,
        updated_at: UPDATED,
      })),
    },
  };
}

/**
 * ListSecurityGroupRules (v3) — https://support.huaweicloud.com/eu/api-vpc/vpc_apiv3_0017.html
 * Filters id / security_group_id / protocol (each may repeat), direction, action, ethertype; limit 0–2000
 * (values above 2000 are taken as 2000 here; the reference gives no error for them), marker = rule id.
 * `page_info.next_marker` is present only when more records follow.
 */
function listSecurityGroupRules(ctx: Ctx): Reply {
  const q = ctx.query;
  const limitRaw = intParam(one(q.limit));
  const limit = limitRaw === undefined || Number.isNaN(limitRaw) || limitRaw === 0 ? 2000 : Math.min(limitRaw, 2000);
  const ids = many(q.id);
  const groups = many(q.security_group_id);
  const protocols = many(q.protocol);
  const direction = one(q.direction);
  const action = one(q.action);
  const ethertype = one(q.ethertype);
  const items = ctx.state.rules.filter(
    (r) =>
      (!ids.length || ids.includes(r.id)) &&
      (!groups.length || groups.includes(r.security_group_id)) &&
      (!protocols.length || protocols.includes(r.protocol ?? '')) &&
      (!direction || r.direction === direction) &&
      (!action || r.action === action) &&
      (!ethertype || r.ethertype === ethertype),
  );
  const { page, more } = markerPage(items, one(q.marker), limit);
  const pageInfo: Record<string, unknown> = { current_count: page.length };
  if (page.length) pageInfo.previous_marker = page[0]!.id;
  if (more && page.length) pageInfo.next_marker = page[page.length - 1]!.id;
  return {
    status: 200,
    json: {
      request_id: ctx.requestId,
      security_group_rules: page.map((r) => ({
        id: r.id,
        description: '',
        security_group_id: r.security_group_id,
        direction: r.direction,
        protocol: r.protocol,
        ethertype: r.ethertype,
        multiport: r.multiport,
        action: r.action,
        priority: r.priority,
        remote_ip_prefix: r.remote_ip_prefix,
        remote_group_id: r.remote_group_id,
        remote_address_group_id: r.remote_address_group_id ?? null,
        created_at: CREATED,
        updated_at: UPDATED,
        project_id: ctx.state.projectId,
        enabled: true,
      })),
      page_info: pageInfo,
    },
  };
}

const ROUTES: Route[] = [
  { method: 'GET', pattern: /^\/v1\/([^/]+)\/cloudservers\/detail$/, service: 'ecs', actions: IAM_ACTIONS.listServersDetails, handle: listServersDetails },
  { method: 'GET', pattern: /^\/v1\/([^/]+)\/cloudservers\/([^/]+)\/os-resetpwd-flag$/, service: 'ecs', actions: IAM_ACTIONS.showResetPasswordFlag, handle: showResetPasswordFlag },
  { method: 'PUT', pattern: /^\/v1\/([^/]+)\/cloudservers\/os-reset-passwords$/, service: 'ecs', actions: IAM_ACTIONS.batchResetServersPassword, handle: batchResetServersPassword },
  { method: 'POST', pattern: /^\/v1\/([^/]+)\/cloudservers\/action$/, service: 'ecs', actions: IAM_ACTIONS.batchRebootServers, handle: batchAction },
  { method: 'GET', pattern: /^\/v1\/([^/]+)\/jobs\/([^/]+)$/, service: 'ecs', actions: IAM_ACTIONS.showJob, handle: showJob },
  { method: 'GET', pattern: /^\/v1\/([^/]+)\/subnets$/, service: 'vpc-v1', actions: IAM_ACTIONS.listSubnets, handle: listSubnets },
  { method: 'GET', pattern: /^\/v3\/([^/]+)\/vpc\/security-group-rules$/, service: 'vpc-v3', actions: IAM_ACTIONS.listSecurityGroupRules, handle: listSecurityGroupRules },
];

const BAD_GATEWAY_HTML =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

function queryRecord(rawQuery: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of parseQuery(rawQuery)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startCloudPeer(state: PeerState, o: { now?: () => Date } = {}): Promise<CloudPeer> {
  const now = o.now ?? (() => new Date());
  const peer: CloudPeer = {
    url: '',
    state,
    faults: { throttle: 0, serverError: 0, badGateway: 0 },
    requests: [],
    passwordResets: [],
    jobs: [],
    close: async () => undefined,
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = randomBytes(16).toString('hex');
    const rawUrl = req.url ?? '/';
    const qi = rawUrl.indexOf('?');
    const path = qi < 0 ? rawUrl : rawUrl.slice(0, qi);
    const rawQuery = qi < 0 ? '' : rawUrl.slice(qi + 1);
    const method = (req.method ?? 'GET').toUpperCase();
    const body = await readBody(req);
    const verdict = verifyRequest({ method, url: rawUrl, headers: req.headers, body: body ?? Buffer.alloc(0) }, peer.state.credentials, now());
    const record: PeerRequest = {
      method,
      path,
      query: queryRecord(rawQuery),
      status: 0,
      signatureOk: verdict.ok,
      headers: { ...req.headers },
      body: (body ?? Buffer.alloc(0)).toString('utf8'),
    };
    peer.requests.push(record);

    const reply = ((): Reply => {
      if (body === undefined) return apigw(413, 'APIGW.0201', 'Request entity too large.', requestId);
      const matches = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).filter((x) => x.m);
      // APIGW.0101 (404): unknown path / known path with another method — devg-apisign error-code table.
      if (!matches.length) return apigw(404, 'APIGW.0101', 'The API does not exist or has not been published in the environment.', requestId);
      const hit = matches.find((x) => x.r.method === method);
      if (!hit) return apigw(404, 'APIGW.0101', 'The API does not exist.', requestId);
      const { r: route, m } = hit;
      if (!verdict.ok) return apigw(401, verdict.code, verdict.msg, requestId);

      const f = peer.faults;
      if (f.throttle > 0) {
        f.throttle--;
        // APIGW.0308 (429) "The throttling threshold has been reached." — error-code table; the detail as the
        // gateway words it (APIG.0308 FAQs, e.g. support.huaweicloud.com/intl/en-us/ocr_faq/ocr_01_0041.html).
        return apigw(429, 'APIGW.0308', 'The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 second', requestId);
      }
      if (f.serverError > 0) {
        f.serverError--;
        // Not from the reference: a 500 in the service's shape, with a code the peer makes up.
        const code = route.service === 'ecs' ? 'Ecs.9999' : 'VPC.9999';
        return serviceError(route.service, 500, code, 'Internal server error (injected by the test peer).', requestId);
      }
      if ((f.badGateway ?? 0) > 0) {
        f.badGateway = (f.badGateway ?? 0) - 1;
        return { status: 502, html: BAD_GATEWAY_HTML };
      }

      const pathProject = decodeURIComponent(m![1]!);
      const headerProject = one(req.headers['x-project-id']);
      if (headerProject !== undefined && headerProject !== peer.state.projectId) {
        // Not from the reference: the project the AK/SK asks for is not one the peer knows.
        return apigw(401, 'APIGW.0301', `Incorrect IAM authentication information: project [${headerProject}] in X-Project-Id is not a project of this access key`, requestId);
      }
      if (pathProject !== peer.state.projectId) {
        // VPC: VPC.0007 (400) "urlTenantId is not equal tokenTenantId" — VPC error-code table. ECS documents no
        // such code; the peer answers 403 with Ecs.0003 ("You do not have permission…", ECS error-code table).
        if (route.service === 'ecs') return serviceError('ecs', 403, 'Ecs.0003', `The project [${pathProject}] in the URL is not the project of the request [${peer.state.projectId}].`, requestId);
        return serviceError(route.service, 400, 'VPC.0007', 'urlTenantId is not equal tokenTenantId', requestId);
      }

      const deny = peer.state.permissions?.deny ?? [];
      const denied = route.actions.find((a) => deny.includes(a));
      if (denied) {
        // VPC.2701 (403) "Token not allowed to do this action." — VPC error-code table. For ECS the reference
        // gives no IAM-denial code; Ecs.0003 ("You do not have permission…") is used. The "Policy doesn't allow
        // <action> to be performed." wording is IAM's, as users report it; it names the refused action.
        const message = `Policy doesn't allow ${denied} to be performed.`;
        if (route.service === 'ecs') return serviceError('ecs', 403, 'Ecs.0003', message, requestId);
        return serviceError(route.service, 403, 'VPC.2701', `Token not allowed to do this action. ${message}`, requestId);
      }
      return route.handle({ state: peer.state, params: m!.slice(1) as string[], query: record.query, body, requestId, peer });
    })();

    record.status = reply.status;
    res.setHeader('X-Request-Id', requestId);
    if (reply.html !== undefined) {
      res.writeHead(reply.status, { 'Content-Type': 'text/html' });
      res.end(reply.html);
    } else if (reply.json !== undefined) {
      res.writeHead(reply.status, { 'Content-Type': 'application/json;charset=UTF-8' });
      res.end(JSON.stringify(reply.json));
    } else {
      res.writeHead(reply.status);
      res.end();
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  peer.url = `http://127.0.0.1:${port}`;
  peer.close = () =>
    new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    });
  return peer;
}
