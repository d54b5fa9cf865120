import { Option, type Command } from 'commander';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';
import { CloudError } from '../cloud/api.js';
import { resolveCredentials, type CloudCredentials } from '../cloud/credentials.js';
import { parseCloudFilters, resolveCloudTargets, type AddressKind, type CloudRun } from '../cloud/inventory.js';
import { DEFAULT_ENDPOINT } from '../cloud/sdk-client.js';
import { resolveTargets } from '../inventory/load.js';
import { InventoryError, type Target } from '../inventory/target.js';
import { checkReportPath, finishTargets, inventoryOptionsOf, targetsOf, vaultSecretsOf, type TargetCliOptions } from './target-options.js';

/** Targets from the cloud (SPEC "Targets from the cloud"): the ECS API as the inventory. */
export function addCloudOptions(cmd: Command): Command {
  const collect = (v: string, prev: string[] = []) => [...prev, v];
  return cmd
    .addOption(new Option('--cloud <region>', 'list the servers of the project in REGION (e.g. cn-north-4) through the ECS API and target them (beside -i: match the inventory\'s hosts to servers)').argParser(regionArg))
    .option('--cloud-filter <filter>', 'with --cloud: name=GLOB, tag=KEY=VALUE, status=STATUS, enterprise-project=ID; repeatable', collect)
    .addOption(new Option('--address <kind>', 'with --cloud: reach servers at their private address (default) or their EIP').choices(['private', 'eip']))
    .option('--project-id <id>', 'with --cloud: the project (default: HUAWEICLOUD_SDK_PROJECT_ID or the credentials file)')
    .option('--cloud-credentials <file>', 'with --cloud: file with ak, sk (security_token, project_id), mode 600 (default: HUAWEICLOUD_SDK_AK/SK/SECURITY_TOKEN)')
    .option('--cloud-endpoint <url>', `with --cloud: API endpoint template (default ${DEFAULT_ENDPOINT}); https, or http on a loopback address only`);
}

function regionArg(v: string): string {
  if (!/^[a-z0-9]+(?:-[a-z0-9]+){1,4}$/.test(v)) throw new UsageError(`--cloud ${v}: not a region id; give one such as cn-north-4 or ap-southeast-1`);
  return v;
}

export interface CloudCliOptions extends TargetCliOptions {
  cloud?: string;
  cloudFilter?: string[];
  address?: AddressKind;
  projectId?: string;
  cloudCredentials?: string;
  cloudEndpoint?: string;
}

function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return (isIP(host) === 4 && host.startsWith('127.')) || host === '::1' || host === 'localhost';
  } catch {
    return false;
  }
}

/** The endpoint template, checked: the AK signs every request, and only TLS keeps the answers honest. */
export function checkEndpoint(v: string): string {
  let u: URL;
  try {
    u = new URL(v.replace(/\{service\}|\{region\}/g, 'x'));
  } catch {
    throw new UsageError(`--cloud-endpoint ${v}: not a URL; give https://{service}.{region}.example.com`);
  }
  if (u.protocol === 'http:' && !isLoopbackUrl(u.href)) throw new UsageError(`--cloud-endpoint ${v}: plain http would send signed requests and trust unsigned answers; give an https:// endpoint`);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UsageError(`--cloud-endpoint ${v}: give an https:// URL`);
  if (u.search || u.hash || u.username || u.password) throw new UsageError(`--cloud-endpoint ${v}: give the endpoint without query, fragment or user`);
  return v;
}

/** The run's targets: the inventory's, the cloud's, or the inventory's matched to the cloud's servers. */
export async function runTargetsOf(o: CloudCliOptions, opts: { changing: boolean; contacting?: boolean } = { changing: false }): Promise<{ targets: Target[]; cloud?: CloudRun; cloudSecrets: string[] }> {
  const cloudOnly = ['cloudFilter', 'address', 'projectId', 'cloudCredentials', 'cloudEndpoint'] as const;
  if (!o.cloud) {
    for (const k of cloudOnly) if (o[k] !== undefined) throw new UsageError(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for --cloud REGION; add --cloud or drop it`);
    const { targets, secrets } = await targetsOf(o);
    return { targets, cloudSecrets: secrets };
  }
  checkReportPath(o);
  const filter = parseCloudFilters(o.cloudFilter);
  const endpoint = o.cloudEndpoint ? checkEndpoint(o.cloudEndpoint) : undefined;
  const credentials: CloudCredentials = resolveCredentials({ credentialsFile: o.cloudCredentials, projectId: o.projectId });
  let inventory: Target[] | undefined;
  const vault = await vaultSecretsOf(o);
  if ((o.inventory?.length ?? 0) + (o.host?.length ?? 0) > 0) {
    try {
      inventory = resolveTargets({ ...inventoryOptionsOf(o, vault), hosts: o.host, limit: o.limit, user: o.user });
    } catch (e) {
      if (e instanceof InventoryError) throw new UsageError(e.message);
      throw e;
    }
  }
  // The SDK is loaded only now: a run without --cloud never pays for it.
  const { sdkCloudApi, endpointFor } = await import('../cloud/sdk-client.js');
  const proxy = process.env.HTTPS_PROXY ?? process.env.https_proxy;
  const loopback = isLoopbackUrl(endpointFor(endpoint ?? DEFAULT_ENDPOINT, 'ecs', o.cloud));
  const api = sdkCloudApi({ region: o.cloud, credentials, endpoint, timeoutMs: Math.min(o.timeout, 60) * 1000, proxy: proxy && !loopback ? proxy : undefined });
  let made: Awaited<ReturnType<typeof resolveCloudTargets>>;
  try {
    made = await resolveCloudTargets(api, {
      filter, address: o.address ?? 'private', limit: inventory ? undefined : o.limit, inventory,
      resolve: async (host) => (await lookup(host, { all: true, family: 4 })).map((a) => a.address),
    });
  } catch (e) {
    if (e instanceof CloudError) {
      // A refused key, a wrong project or a missing permission is the operator's input to fix: nothing was touched.
      if (e.failure === 'auth' || e.failure === 'forbidden' || e.failure === 'not-found' || e.failure === 'bad-request') throw new UsageError(`--cloud ${o.cloud}: ${e.message}`);
      throw new Error(`--cloud ${o.cloud}: ${e.message}`);
    }
    if (e instanceof InventoryError) throw new UsageError(e.message);
    throw e;
  }
  let targets = made.targets;
  // A run that contacts no host (reset-password --offline) keeps stopped servers: the cloud works on them.
  const contacting = opts.contacting ?? true;
  if (opts.changing && contacting && made.cloud.notContacted.size > 0) {
    // A change cannot reach a stopped server: it is left out, and said so, rather than waited on.
    const skip = made.cloud.notContacted;
    const left = targets.filter((t) => t.vars.server_id && skip.has(t.vars.server_id));
    process.stderr.write(`resetpwd-fleet: ${left.length} server(s) not targeted: ${left.slice(0, 10).map((t) => `${t.name} (${skip.get(t.vars.server_id!)!.replace(/: not contacted$/, '')})`).join('; ')}${left.length > 10 ? '; …' : ''}\n`);
    targets = targets.filter((t) => !(t.vars.server_id && skip.has(t.vars.server_id)));
    if (targets.length === 0) throw new UsageError(`--cloud ${o.cloud}: none of the listed servers is running; nothing to change`);
  }
  if (opts.changing && made.cloud.unmatched.size > 0) {
    const names = [...made.cloud.unmatched];
    process.stderr.write(`resetpwd-fleet: ${names.length} inventory host(s) match no listed server (no server id to check against): ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}\n`);
  }
  const skip = made.cloud.notContacted;
  return {
    targets: finishTargets(o, targets, (t) => !contacting || (!!t.vars.server_id && skip.has(t.vars.server_id))),
    cloud: made.cloud,
    cloudSecrets: [credentials.sk, credentials.securityToken ?? '', credentials.ak, ...vault.map((v) => v.password.toString('utf8'))],
  };
}
