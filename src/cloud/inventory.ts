import { isIP } from 'node:net';
import { UsageError } from '../errors.js';
import { applyLimit } from '../inventory/limit.js';
import { defaultConnectionVars, toTarget, type Target } from '../inventory/target.js';
import type { CloudApi, CloudServer, ServerQuery } from './api.js';

/** What `--cloud` adds to a run: the API, the servers it listed, and which target is which server. */
export interface CloudRun {
  api: CloudApi;
  /** By server id. */
  servers: Map<string, CloudServer>;
  /** Servers listed but not to be contacted, and why (stopped, no address of the kind asked for). */
  notContacted: Map<string, string>;
  /** Inventory hosts no listed server has the address of (by target name). */
  unmatched: Set<string>;
  /** Whether --cloud-filter narrowed the listing (an unmatched host may be a filtered-out server). */
  filtered?: boolean;
}

export interface CloudFilter {
  names: string[];
  tags: string[];
  statuses: string[];
  enterpriseProjects: string[];
}

/** --cloud-filter name=GLOB | tag=KEY=VALUE | status=STATUS | enterprise-project=ID (repeatable; the same key ORs, keys AND). */
export function parseCloudFilters(specs: string[] = []): CloudFilter {
  const f: CloudFilter = { names: [], tags: [], statuses: [], enterpriseProjects: [] };
  for (const spec of specs) {
    const m = /^(name|tag|status|enterprise-project)=(.+)$/.exec(spec);
    if (!m) throw new UsageError(`--cloud-filter ${spec}: give name=GLOB, tag=KEY=VALUE, status=STATUS or enterprise-project=ID`);
    const v = m[2]!;
    if (m[1] === 'name') f.names.push(v);
    else if (m[1] === 'tag') {
      if (!/^[^=]+=.*$/.test(v)) throw new UsageError(`--cloud-filter tag=${v}: give tag=KEY=VALUE`);
      f.tags.push(v);
    } else if (m[1] === 'status') {
      if (!/^[A-Z_]+$/i.test(v)) throw new UsageError(`--cloud-filter status=${v}: give a server status such as ACTIVE or SHUTOFF`);
      f.statuses.push(v.toUpperCase());
    } else f.enterpriseProjects.push(v);
  }
  return f;
}

const globRe = (g: string) => new RegExp(`^${g.replace(/[.+^${}()|\\[\]]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);

/** Whether a listed server passes every filter (the API's own filters are fuzzy or take one value: this is the judge). */
export function matchesFilter(s: CloudServer, f: CloudFilter): boolean {
  return (
    (f.names.length === 0 || f.names.some((g) => globRe(g).test(s.name))) &&
    (f.statuses.length === 0 || f.statuses.includes(s.status.toUpperCase())) &&
    f.tags.every((t) => s.tags.includes(t) || (t.endsWith('=') && s.tags.includes(t.slice(0, -1)))) &&
    (f.enterpriseProjects.length === 0 || (s.enterpriseProjectId !== null && f.enterpriseProjects.includes(s.enterpriseProjectId)))
  );
}

/** The narrowing the API can do itself (one value per filter), so a large project is not listed whole. */
export function serverQueryOf(f: CloudFilter): ServerQuery {
  return {
    status: f.statuses.length === 1 ? f.statuses[0] : undefined,
    tags: f.tags[0],
    enterpriseProjectId: f.enterpriseProjects.length === 1 ? f.enterpriseProjects[0] : undefined,
  };
}

export type AddressKind = 'private' | 'eip';

/** The groups a cloud server is in, for --limit: all, cloud, its OS, its status, and each tag. */
function groupsOf(s: CloudServer): string[] {
  const safe = (x: string) => x.replace(/[^A-Za-z0-9_]/g, '_');
  return ['all', 'cloud', s.os, `status_${s.status.toLowerCase()}`, ...s.tags.map((t) => `tag_${safe(t)}`)];
}

/**
 * Each listed server as a target: named by the server's name (a second server of the same name gets its id's
 * first characters), reached at the address asked for, Windows over WinRM (HTTPS, 5986) as Ansible's default.
 */
export function cloudTargets(servers: CloudServer[], address: AddressKind, region: string): { targets: Target[]; notContacted: Map<string, string> } {
  const notContacted = new Map<string, string>();
  // A name is what --limit, reports, --resume and --shard use; the API allows characters a host name does not.
  const baseName = (s: CloudServer) => (s.name || s.id).replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 200);
  const count = new Map<string, number>();
  for (const s of servers) count.set(baseName(s), (count.get(baseName(s)) ?? 0) + 1);
  // Which running server an address reaches first: two VPCs may use the same private range.
  const firstAt = new Map<string, CloudServer>();
  const targets = servers.map((s) => {
    // Every server of a shared name is named with its id, so a name never moves to a newer server.
    const name = count.get(baseName(s))! > 1 ? `${baseName(s)}~${s.id.slice(0, 8)}` : baseName(s);
    const want = address === 'eip' ? s.eip : s.privateIp;
    const host = want ?? s.privateIp ?? s.eip;
    const other = want ? firstAt.get(want) : undefined;
    if (s.status.toUpperCase() !== 'ACTIVE') notContacted.set(s.id, `the cloud says the server is ${s.status} (not running): not contacted`);
    else if (!want) notContacted.set(s.id, address === 'eip' ? 'the server has no EIP (--address eip): not contacted' : 'the server has no private IPv4 address: not contacted');
    else if (other) notContacted.set(s.id, `its address ${want} is also server ${other.name} (${other.id})'s, in another VPC: not contacted (reach it with --address eip, or from inside its VPC)`);
    else firstAt.set(want, s);
    const vars: Record<string, string> = { server_id: s.id, ...defaultConnectionVars(s.os) };
    if (host) vars.ansible_host = host;
    if (s.eip) vars.eip = s.eip;
    // A server without any address still gets a row (what the cloud knows of it), never a connection.
    return toTarget(host ? name : s.id, vars, groupsOf(s), `--cloud ${region}: server ${s.id}`);
  });
  return { targets, notContacted };
}

/**
 * An inventory meets the cloud: each host is matched to a listed server by its `server_id` variable, else by
 * address (private or EIP). A host matching none is reported (unmatched), never guessed.
 */
export function matchInventory(targets: Target[], servers: CloudServer[], addressesOf: (t: Target) => string[] = (t) => [t.host]): { targets: Target[]; unmatched: Set<string> } {
  const byId = new Map(servers.map((s) => [s.id, s]));
  const byAddr = new Map<string, CloudServer>();
  for (const s of servers) for (const a of [s.privateIp, s.eip]) if (a && !byAddr.has(a)) byAddr.set(a, s);
  const unmatched = new Set<string>();
  const out = targets.map((t) => {
    // The inventory's server_id is the operator's word: a server not listed is unmatched, never another by address.
    const s = t.vars.server_id ? byId.get(t.vars.server_id) : addressesOf(t).map((a) => byAddr.get(a)).find((x) => x !== undefined);
    if (!s) {
      unmatched.add(t.name);
      return t;
    }
    return { ...t, vars: { ...t.vars, server_id: s.id }, eip: t.eip ?? s.eip ?? undefined };
  });
  return { targets: out, unmatched };
}

export interface CloudTargetOptions {
  filter: CloudFilter;
  address: AddressKind;
  limit?: string | undefined;
  /** The inventory's targets, when -i/-H are given too: then these are the run's hosts, matched to servers. */
  inventory?: Target[] | undefined;
  /** The addresses a host name resolves to (inventories name hosts by DNS name too); default: none. */
  resolve?: ((host: string) => Promise<string[]>) | undefined;
}

/** Lists the servers and makes the run's targets and its CloudRun. A CloudError (bad key, no permission) propagates. */
export async function resolveCloudTargets(api: CloudApi, o: CloudTargetOptions): Promise<{ targets: Target[]; cloud: CloudRun }> {
  const listed = (await api.listServers(serverQueryOf(o.filter))).filter((s) => matchesFilter(s, o.filter));
  const servers = new Map(listed.map((s) => [s.id, s]));
  if (o.inventory) {
    if (listed.length === 0) throw new UsageError(`--cloud ${api.region}: the project lists no server${o.filter.names.length + o.filter.tags.length + o.filter.statuses.length + o.filter.enterpriseProjects.length ? ' matching --cloud-filter' : ''} to match the inventory's hosts to; check the region, --project-id and the filters`);
    const resolved = new Map<string, string[]>();
    for (const t of o.inventory) {
      if (isIP(t.host) || !o.resolve) continue;
      resolved.set(t.host, await o.resolve(t.host).catch(() => []));
    }
    const m = matchInventory(o.inventory, listed, (t) => [t.host, ...(resolved.get(t.host) ?? [])]);
    const notContacted = new Map<string, string>();
    for (const t of m.targets) {
      const s = t.vars.server_id ? servers.get(t.vars.server_id) : undefined;
      if (s && s.status.toUpperCase() !== 'ACTIVE') notContacted.set(s.id, `the cloud says the server is ${s.status} (not running): not contacted`);
    }
    const filtered = o.filter.names.length + o.filter.tags.length + o.filter.statuses.length + o.filter.enterpriseProjects.length > 0;
    return { targets: m.targets, cloud: { api, servers, notContacted, unmatched: m.unmatched, filtered } };
  }
  if (listed.length === 0) throw new UsageError(`--cloud ${api.region}: the project lists no server${o.filter.names.length + o.filter.tags.length + o.filter.statuses.length ? ' matching --cloud-filter' : ''}; check the region, --project-id and the filters`);
  const made = cloudTargets(listed, o.address, api.region);
  const targets = o.limit ? applyLimit(made.targets, o.limit) : made.targets;
  if (targets.length === 0) throw new UsageError(`--limit ${o.limit} matches none of the ${made.targets.length} servers listed`);
  return { targets, cloud: { api, servers, notContacted: made.notContacted, unmatched: new Set() } };
}
