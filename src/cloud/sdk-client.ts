import { createRequire } from 'node:module';
import { toolVersion } from '../version.js';
import { CloudError, type CloudApi, type CloudJob, type CloudFailure, type CloudRule, type CloudServer, type CloudSubnet, type ServerQuery } from './api.js';
import type { CloudCredentials } from './credentials.js';
import { DEFAULT_RETRY, notTaken, retriable, withRetry, type RetryPolicy } from './retry.js';
import { serverOf, ruleOf, subnetOf, type RawRule, type RawServer, type RawSubnet } from './raw.js';

/**
 * The cloud client over the official Node SDK (@huaweicloud/huaweicloud-sdk-core, -ecs, -vpc), tamed.
 * What the SDK does on its own, and how each is closed here (test/unit/cloud/sdk-client.test.ts proves it):
 * - its core configures log4js at import with a stdout appender at level debug; its HTTP client logs every
 *   request's headers (Authorization, X-Security-Token) and body (a new password) when DEBUG=DEBUG is set,
 *   and every failed request's full axios config at level error. → the SDK's own log4js instance is
 *   reconfigured to level "off" before any client exists.
 * - without a custom User-Agent it writes ~/.huaweicloud/application_id (a tracking id) on every client
 *   built, and sends the OS and Node version. → a custom User-Agent naming this tool.
 * - it requires `uuid` without declaring it. → a dependency of ours (docs/DEPENDENCIES.md).
 * - a credential left out is read from HUAWEICLOUD_SDK_* variables, and HUAWEICLOUD_SDK_TYPE names a module
 *   it require()s. → credentials are always given; the environment is never consulted by the SDK.
 * - axios follows redirects and would sign again for another host. → no redirects.
 * The SDK is loaded only when --cloud is used: its models take ~430 ms to load.
 */
const require = createRequire(import.meta.url);

interface Sdk {
  core: typeof import('@huaweicloud/huaweicloud-sdk-core');
  ecs: typeof import('@huaweicloud/huaweicloud-sdk-ecs');
  vpc: typeof import('@huaweicloud/huaweicloud-sdk-vpc');
}

let loaded: Sdk | undefined;
export function loadSdk(): Sdk {
  if (loaded) return loaded;
  const corePath = require.resolve('@huaweicloud/huaweicloud-sdk-core');
  const sdk: Sdk = {
    core: require(corePath) as Sdk['core'],
    ecs: require('@huaweicloud/huaweicloud-sdk-ecs') as Sdk['ecs'],
    vpc: require('@huaweicloud/huaweicloud-sdk-vpc') as Sdk['vpc'],
  };
  // The SDK configures log4js when its logger module is first loaded (by the clients, not by the core's
  // index): only after every part is loaded is the last configure() ours. Its own log4js copy, wherever npm
  // put it, is the one silenced.
  // One copy of the core, or a second one (nested under -ecs or -vpc by some npm layout) would log unsilenced.
  for (const pkg of ['@huaweicloud/huaweicloud-sdk-ecs', '@huaweicloud/huaweicloud-sdk-vpc']) {
    if (createRequire(require.resolve(pkg)).resolve('@huaweicloud/huaweicloud-sdk-core') !== corePath) {
      throw new Error(`${pkg} loads its own copy of the cloud SDK's core, whose logging this tool cannot turn off; reinstall (npm ci)`);
    }
  }
  require(createRequire(corePath).resolve('./logger/log4jLogger.js'));
  const log4js = createRequire(corePath)('log4js') as { configure(c: unknown): void; getLogger(): { isLevelEnabled(l: string): boolean } };
  log4js.configure({ appenders: { off: { type: 'stdout' } }, categories: { default: { appenders: ['off'], level: 'off' } } });
  if (log4js.getLogger().isLevelEnabled('error')) throw new Error('the cloud SDK\'s logging could not be turned off; refusing to use it (it would print request headers)');
  loaded = sdk;
  return loaded;
}

export interface SdkClientOptions {
  region: string;
  credentials: CloudCredentials;
  /** https://{service}.{region}.myhuaweicloud.com unless given ({service} and {region} are filled in). */
  endpoint?: string | undefined;
  timeoutMs?: number | undefined;
  retry?: RetryPolicy | undefined;
  /** Calls in flight at once, whatever --concurrency is: the API gateway throttles per account (default 8). */
  maxInFlight?: number | undefined;
  /** An HTTPS proxy URL (HTTPS_PROXY), or none. */
  proxy?: string | undefined;
}

/** At most n calls at once; the others wait their turn (in order). */
export function limiter(n: number): <T>(f: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(f: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await f();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

export const DEFAULT_ENDPOINT = 'https://{service}.{region}.myhuaweicloud.com';

export function endpointFor(template: string, service: 'ecs' | 'vpc', region: string): string {
  return template.replace(/\{service\}/g, service).replace(/\{region\}/g, region).replace(/\/+$/, '');
}

/** Which IAM action each call needs (docs/CLOUD.md), named when the cloud says no. */
export const ACTIONS = {
  listServers: 'ecs:cloudServers:list',
  resetPasswordFlag: 'ecs:cloudServers:get',
  resetPasswords: 'ecs:cloudServers:resetServerPwd',
  rebootServers: 'ecs:cloudServers:reboot',
  job: 'ecs:cloudServers:get',
  subnets: 'vpc:subnets:get',
  securityGroupRules: 'vpc:securityGroupRules:get',
} as const;

export function sdkCloudApi(o: SdkClientOptions): CloudApi {
  const sdk = loadSdk();
  const { core, ecs, vpc } = sdk;
  const c = o.credentials;
  const cred = new core.BasicCredentials().withAk(c.ak).withSk(c.sk).withProjectId(c.projectId);
  if (c.securityToken) cred.withSecurityToken(c.securityToken);
  const options = {
    customUserAgent: `resetpwd-fleet/${toolVersion()}`,
    axiosRequestConfig: { timeout: o.timeoutMs ?? 30_000, maxRedirects: 0 },
  };
  const template = o.endpoint ?? DEFAULT_ENDPOINT;
  // The SDK turns axios's own proxy handling off; an operator's HTTPS_PROXY is honoured here (never for loopback).
  const proxy = o.proxy;
  type Builder<T> = { withEndpoint(e: string): Builder<T>; withOptions(x: unknown): Builder<T>; withProxyAgent(p: string): Builder<T>; build(): T };
  const build = <T>(b: { withCredential(x: unknown): unknown }, service: 'ecs' | 'vpc'): T => {
    const builder = (b.withCredential(cred) as Builder<T>).withEndpoint(endpointFor(template, service, o.region)).withOptions(options);
    return (proxy ? builder.withProxyAgent(proxy) : builder).build();
  };
  const ecsClient = build<InstanceType<typeof ecs.EcsClient>>(ecs.EcsClient.newBuilder(), 'ecs');
  const vpc2 = build<InstanceType<typeof vpc.VpcClient>>(vpc.VpcClient.newBuilder(), 'vpc');
  const vpc3 = build<InstanceType<typeof vpc.v3.VpcClient>>(vpc.v3.VpcClient.newBuilder(), 'vpc');
  const policy = o.retry ?? DEFAULT_RETRY;
  const slot = limiter(o.maxInFlight ?? 8);
  // Each attempt takes a slot; a backoff wait does not hold one.
  // What the API says is quoted in errors; should it ever echo the key or the token, they are scrubbed.
  const secrets = [c.sk, c.securityToken, c.ak].filter((s): s is string => !!s && s.length >= 4);
  const scrub = (e: CloudError, more: string[] = []) => {
    let m = e.message;
    for (const s of [...secrets, ...more]) m = m.split(s).join('[REDACTED]');
    return m === e.message ? e : new CloudError(m, e.failure, e.status, e.code);
  };
  // `more`: the call's own secrets (a new password), never quoted back either.
  const call = <T>(what: string, action: string, f: () => Promise<T>, more: string[] = [], again = retriable): Promise<T> =>
    withRetry(
      () =>
        slot(async () => {
          try {
            return await f();
          } catch (e) {
            throw scrub(cloudErrorOf(e, what, action), more);
          }
        }),
      policy,
      again,
    );
  /** An answer that is not the JSON object the API documents (a proxy's page, a truncated body) is no answer. */
  const object = (what: string, r: unknown): Record<string, unknown> => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new CloudError(`${what}: the answer is not the API's JSON; check --cloud-endpoint and any proxy in between`, 'bad-answer');
    return r as Record<string, unknown>;
  };

  return {
    region: o.region,
    projectId: c.projectId,
    async listServers(q: ServerQuery): Promise<CloudServer[]> {
      const out: CloudServer[] = [];
      const seen = new Set<string>();
      const limit = 1000;
      const what = 'ECS ListServersDetails';
      // ListServersDetails pages by page number (offset starts at 1), not by item. It ends at `count` servers
      // (the total it reports), else at an empty or short page; a page of servers already listed is an API
      // that pages without end.
      for (let page = 1; ; page++) {
        const req = new ecs.ListServersDetailsRequest().withLimit(limit).withOffset(page);
        if (q.name) req.withName(q.name);
        if (q.status) req.withStatus(q.status);
        if (q.tags) req.withTags(q.tags);
        if (q.enterpriseProjectId) req.withEnterpriseProjectId(q.enterpriseProjectId);
        const r = object(what, await call(what, ACTIONS.listServers, () => ecsClient.listServersDetails(req)));
        if (!Array.isArray(r.servers)) throw new CloudError(`${what}: the answer has no server list; check --cloud-endpoint and any proxy in between`, 'bad-answer');
        const servers = (r.servers as RawServer[]).map(serverOf);
        const fresh = servers.filter((s) => !seen.has(s.id));
        if (servers.length > 0 && fresh.length === 0) throw new CloudError(`${what}: page ${page} repeats servers already listed; the API pages without end`, 'bad-answer');
        for (const s of fresh) seen.add(s.id);
        out.push(...fresh);
        const count = typeof r.count === 'number' ? r.count : null;
        if (servers.length === 0 || (count !== null ? out.length >= count : servers.length < limit)) return out;
      }
    },
    async subnets(vpcId: string): Promise<CloudSubnet[]> {
      const out: CloudSubnet[] = [];
      let marker: string | undefined;
      for (;;) {
        const req = new vpc.ListSubnetsRequest().withVpcId(vpcId).withLimit(200);
        if (marker) req.withMarker(marker);
        const what = 'VPC ListSubnets';
        const r = object(what, await call(what, ACTIONS.subnets, () => vpc2.listSubnets(req)));
        if (!Array.isArray(r.subnets)) throw new CloudError(`${what}: the answer has no subnet list`, 'bad-answer');
        const page = r.subnets as RawSubnet[];
        out.push(...page.map(subnetOf));
        const last = page[page.length - 1]?.id;
        if (page.length < 200 || typeof last !== 'string' || last === marker) return out;
        marker = last;
      }
    },
    async securityGroupRules(groupId: string): Promise<CloudRule[]> {
      const out: CloudRule[] = [];
      let marker: string | undefined;
      for (;;) {
        const req = new vpc.v3.ListSecurityGroupRulesRequest().withSecurityGroupId([groupId]).withLimit(2000);
        if (marker) req.withMarker(marker);
        const what = 'VPC ListSecurityGroupRules';
        const r = object(what, await call(what, ACTIONS.securityGroupRules, () => vpc3.listSecurityGroupRules(req)));
        if (!Array.isArray(r.security_group_rules)) throw new CloudError(`${what}: the answer has no rule list`, 'bad-answer');
        out.push(...(r.security_group_rules as RawRule[]).map(ruleOf));
        const next = (r.page_info as { next_marker?: unknown } | undefined)?.next_marker;
        if (typeof next !== 'string' || !next || next === marker) return out;
        marker = next;
      }
    },
    async resetPasswordFlag(serverId: string): Promise<boolean> {
      const req = new ecs.ShowResetPasswordFlagRequest().withServerId(serverId);
      const what = 'ECS ShowResetPasswordFlag';
      const r = object(what, await call(what, ACTIONS.resetPasswordFlag, () => ecsClient.showResetPasswordFlag(req)));
      const flag = typeof r.resetpwd_flag === 'string' ? r.resetpwd_flag.toLowerCase() : null;
      if (flag !== 'true' && flag !== 'false') throw new CloudError(`${what}: the answer has no resetpwd_flag of True or False`, 'bad-answer');
      return flag === 'true';
    },
    async resetPasswords(serverIds: string[], newPassword: string, dryRun: boolean): Promise<string[]> {
      const what = `ECS BatchResetServersPassword${dryRun ? ' (dry run)' : ''}`;
      const body = new ecs.BatchResetServersPasswordRequestBody()
        .withNewPassword(newPassword)
        .withDryRun(dryRun)
        .withServers(serverIds.map((id) => new ecs.ServerId(id)));
      const req = new ecs.BatchResetServersPasswordRequest().withBody(body);
      const r = object(what, await call(what, ACTIONS.resetPasswords, () => ecsClient.batchResetServersPassword(req), [newPassword]));
      // 200 `{ "response": [{ "id" }] }`: the servers the request was accepted for.
      if (!Array.isArray(r.response)) throw new CloudError(`${what}: the answer has no response list; check --cloud-endpoint and any proxy in between`, 'bad-answer');
      return (r.response as { id?: unknown }[]).flatMap((x) => (x && typeof x.id === 'string' ? [x.id] : []));
    },
    async rebootServers(serverIds: string[]): Promise<string> {
      const what = 'ECS BatchRebootServers';
      const body = new ecs.BatchRebootServersRequestBody().withReboot(new ecs.BatchRebootSeversOption().withType('SOFT').withServers(serverIds.map((id) => new ecs.ServerId(id))));
      // Never sent twice: a reboot that reached the cloud but whose answer was lost would reboot the servers again.
      const r = object(what, await call(what, ACTIONS.rebootServers, () => ecsClient.batchRebootServers(new ecs.BatchRebootServersRequest().withBody(body)), [], notTaken));
      if (typeof r.job_id !== 'string' || !r.job_id) throw new CloudError(`${what}: the answer has no job_id`, 'bad-answer');
      return r.job_id;
    },
    async job(jobId: string): Promise<CloudJob> {
      const what = 'ECS ShowJob';
      const r = object(what, await call(what, ACTIONS.job, () => ecsClient.showJob(new ecs.ShowJobRequest().withJobId(jobId))));
      if (typeof r.status !== 'string') throw new CloudError(`${what}: the answer has no status`, 'bad-answer');
      const subs = ((r.entities as { sub_jobs?: unknown } | undefined)?.sub_jobs ?? []) as { status?: unknown; fail_reason?: unknown; entities?: { server_id?: unknown } }[];
      const servers = (Array.isArray(subs) ? subs : []).flatMap((j) =>
        j && typeof j.entities?.server_id === 'string' && typeof j.status === 'string'
          ? [{ serverId: j.entities.server_id, status: j.status, reason: typeof j.fail_reason === 'string' && j.fail_reason ? oneLine(j.fail_reason) : null }]
          : [],
      );
      return { status: r.status, servers, reason: typeof r.fail_reason === 'string' && r.fail_reason ? oneLine(r.fail_reason) : null };
    },
  };
}

/** Throttling codes of the API gateway (APIGW.0308: the flow-control threshold was reached). */
const THROTTLE_CODES = new Set(['APIGW.0308', 'APIGW.0309', 'ECS.0013']);

/**
 * The SDK's exception (ClientRequestException, ServerResponseException, ServiceResponseException: status,
 * code, message, request id) as one line; the SDK's own objects never leave this file, so neither does a
 * request's config (headers, body) it might carry.
 */
export function cloudErrorOf(e: unknown, what: string, action: string): CloudError {
  if (e instanceof CloudError) return e;
  const x = (e ?? {}) as { httpStatusCode?: number; errorCode?: string; errorMsg?: string; requestId?: string; message?: string };
  const status = typeof x.httpStatusCode === 'number' ? x.httpStatusCode : null;
  const code = typeof x.errorCode === 'string' && x.errorCode ? x.errorCode : null;
  const msg = oneLine(typeof x.errorMsg === 'string' && x.errorMsg ? x.errorMsg : typeof x.message === 'string' ? x.message : String(e));
  const said = `${code ? `${code}: ` : ''}${msg}${x.requestId ? ` (request ${oneLine(x.requestId)})` : ''}`;
  let failure: CloudFailure;
  let fix: string;
  if (status === null && /ENOTFOUND/.test(msg)) {
    // No such host: a region or endpoint that does not exist; waiting will not make it appear.
    failure = 'not-found';
    fix = 'no such API host; check the region (e.g. cn-north-4) and --cloud-endpoint';
  } else if (status === null) {
    failure = 'network';
    fix = 'check the endpoint (--cloud-endpoint), the region and the network';
  } else if (status === 429 || (code !== null && THROTTLE_CODES.has(code.toUpperCase()))) {
    failure = 'throttled';
    fix = 'the API is throttling this account; lower --concurrency or try later';
  } else if (status >= 500) {
    failure = 'server';
    fix = 'the cloud failed to answer; try again later';
  } else if (status === 401 || (code !== null && /^APIGW\.030[1-7]$/.test(code))) {
    failure = 'auth';
    fix = 'the access key, secret key or security token is wrong or expired; check HUAWEICLOUD_SDK_AK/SK or --cloud-credentials';
  } else if (status === 403) {
    failure = 'forbidden';
    fix = `the IAM user lacks the action ${action} in this project; grant it (docs/CLOUD.md)`;
  } else if (status === 404) {
    failure = 'not-found';
    fix = 'not found in this project; check --project-id and the region';
  } else {
    failure = 'bad-request';
    fix = 'check --project-id, the region and the filters';
  }
  return new CloudError(`${what}: ${status === null ? 'no answer' : `HTTP ${status}`} (${said}); ${fix}`, failure, status, code);
}

function oneLine(s: string): string {
  const t = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return t.length > 300 ? `${t.slice(0, 300)}…` : t;
}
