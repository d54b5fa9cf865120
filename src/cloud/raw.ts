import { isIPv4 } from 'node:net';
import { osFamilyOf } from '../inventory/target.js';
import type { CloudRule, CloudServer, CloudSubnet } from './api.js';

/**
 * The API's JSON as it arrives (the SDK's models keep the wire names), read defensively: a field missing or
 * of another type is "unknown", never a crash and never a guess.
 */
export interface RawServer {
  id?: unknown;
  name?: unknown;
  status?: unknown;
  addresses?: Record<string, { addr?: unknown; version?: unknown; 'OS-EXT-IPS:type'?: unknown; primary?: unknown }[]>;
  metadata?: Record<string, unknown>;
  security_groups?: { id?: unknown; name?: unknown }[];
  tags?: unknown[];
  enterprise_project_id?: unknown;
}
export interface RawSubnet {
  id?: unknown;
  name?: unknown;
  vpc_id?: unknown;
  cidr?: unknown;
  dhcp_enable?: unknown;
}
export interface RawRule {
  id?: unknown;
  security_group_id?: unknown;
  direction?: unknown;
  protocol?: unknown;
  ethertype?: unknown;
  multiport?: unknown;
  action?: unknown;
  priority?: unknown;
  remote_ip_prefix?: unknown;
  remote_group_id?: unknown;
  remote_address_group_id?: unknown;
}

const s = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

export function serverOf(r: RawServer): CloudServer {
  const md = r.metadata ?? {};
  let privateIp: string | null = null;
  let eip: string | null = null;
  let vpcId = s(md.vpc_id);
  for (const [net, addrs] of Object.entries(r.addresses ?? {})) {
    for (const a of Array.isArray(addrs) ? addrs : []) {
      const addr = s(a.addr);
      if (!addr || !isIPv4(addr)) continue;
      if (a['OS-EXT-IPS:type'] === 'floating') eip ??= addr;
      else if (privateIp === null || a.primary === true) {
        privateIp = addr;
        vpcId ??= net;
      }
    }
  }
  return {
    id: s(r.id) ?? '',
    name: s(r.name) ?? s(r.id) ?? '',
    status: s(r.status) ?? 'UNKNOWN',
    os: osFamilyOf(String(md.os_type ?? '')),
    privateIp,
    eip,
    vpcId,
    securityGroups: (Array.isArray(r.security_groups) ? r.security_groups : []).flatMap((g) => (s(g.id) ? [{ id: s(g.id)!, name: s(g.name) ?? s(g.id)! }] : [])),
    tags: (Array.isArray(r.tags) ? r.tags : []).filter((t): t is string => typeof t === 'string'),
    enterpriseProjectId: s(r.enterprise_project_id),
  };
}

export function subnetOf(r: RawSubnet): CloudSubnet {
  return { id: s(r.id) ?? '', name: s(r.name) ?? '', vpcId: s(r.vpc_id) ?? '', cidr: s(r.cidr) ?? '', dhcpEnable: r.dhcp_enable === true };
}

export function ruleOf(r: RawRule): CloudRule {
  const prio = typeof r.priority === 'number' ? r.priority : Number(r.priority);
  return {
    id: s(r.id) ?? '',
    securityGroupId: s(r.security_group_id) ?? '',
    direction: r.direction === 'ingress' ? 'ingress' : 'egress',
    protocol: s(r.protocol),
    ethertype: r.ethertype === 'IPv6' ? 'IPv6' : 'IPv4',
    multiport: s(r.multiport),
    // v3 rules always carry an action; a missing one is an older group's rule, which only allows.
    action: r.action === 'deny' ? 'deny' : 'allow',
    priority: Number.isFinite(prio) ? prio : 1,
    remoteIpPrefix: s(r.remote_ip_prefix),
    remoteGroupId: s(r.remote_group_id),
    remoteAddressGroupId: s(r.remote_address_group_id),
  };
}
