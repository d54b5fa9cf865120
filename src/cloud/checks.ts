import { BlockList, isIPv4 } from 'node:net';
import type { AgentState } from '../core/agent.js';
import type { CheckResult } from '../core/check.js';
import type { CloudRule, CloudServer, CloudSubnet } from './api.js';

/**
 * The cloud-side checks (docs/CHECKS.md, "cloud"): what the server's own view cannot show, judged from the
 * API's answers. Pure functions; the API calls are made by cloud/view.ts.
 */
export const CLOUD_CHECK_IDS = ['server-id', 'vpc-dhcp', 'sg-metadata-egress', 'resetpwd-flag'] as const;

/** The metadata service the plug-in reaches: 169.254.169.254, TCP 80. */
export const METADATA_IP = '169.254.169.254';
const METADATA_PORT = 80;

/** Whether an IPv4 CIDR holds the address; null when the CIDR is not one (the API's data is not trusted to be). */
export function inCidr(ip: string, cidr: string): boolean | null {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m || !isIPv4(m[1]!) || !isIPv4(ip) || Number(m[2]) > 32) return null;
  const b = new BlockList();
  b.addSubnet(m[1]!, Number(m[2]), 'ipv4');
  return b.check(ip, 'ipv4');
}

/** vpc-dhcp: the subnet holding the primary NIC's address has DHCP on (the plug-in's network comes from it). */
export function vpcDhcp(server: CloudServer, subnets: CloudSubnet[]): CheckResult {
  const id = 'vpc-dhcp';
  if (!server.privateIp) return { id, status: 'error', detail: 'the API lists no private IPv4 address for the server' };
  const sn = subnets.find((s) => inCidr(server.privateIp!, s.cidr) === true);
  if (!sn) return { id, status: 'error', detail: `no subnet of VPC ${server.vpcId ?? '?'} holds ${server.privateIp}` };
  const name = `subnet ${sn.name || sn.id} (${sn.cidr})`;
  return sn.dhcpEnable
    ? { id, status: 'pass', detail: `${name} has DHCP on` }
    : { id, status: 'fail', detail: `${name} has DHCP off: the NIC gets no route to the metadata service; turn DHCP on for the subnet` };
}

function protocolMatches(p: string | null): boolean {
  const l = (p ?? '').toLowerCase();
  return l === '' || l === 'any' || l === 'tcp' || l === '6';
}

function portMatches(multiport: string | null, port: number): boolean {
  if (!multiport || multiport.trim() === '') return true;
  return multiport.split(',').some((part) => {
    const [a, b] = part.trim().split('-').map((x) => Number(x.trim()));
    return b === undefined ? a === port : a! <= port && port <= b;
  });
}

/** Whether a rule's destination takes in the metadata address: an IP prefix holding it, or no destination at all (any). */
function remoteMatches(r: CloudRule): boolean | 'unknown' {
  if (r.remoteIpPrefix) return inCidr(METADATA_IP, r.remoteIpPrefix) ?? 'unknown';
  // A rule towards another security group's members: the metadata service is in none.
  if (r.remoteGroupId) return false;
  // An address group's members are not listed with the rule.
  if (r.remoteAddressGroupId) return 'unknown';
  return true;
}

const describe = (r: CloudRule, groups: Map<string, string>) =>
  `${r.action} rule ${r.id} of security group ${groups.get(r.securityGroupId) ?? r.securityGroupId} (priority ${r.priority}, ${r.protocol || 'any protocol'}, ports ${r.multiport || 'all'}, to ${r.remoteIpPrefix ?? r.remoteAddressGroupId ?? 'any'})`;

/**
 * sg-metadata-egress: do the server's security groups let it reach 169.254.169.254 on TCP 80? Evaluated as the
 * VPC service documents it ("Which security group rule has a high priority when multiple rules conflict"):
 * the groups in the order the server has them, the first group first; within a group its egress rules by
 * priority (1 first), a deny before an allow of the same priority; the first rule that matches decides;
 * none matching in any group means denied. Default groups (allow all egress) pass.
 */
export function sgMetadataEgress(server: CloudServer, rules: CloudRule[]): CheckResult {
  const id = 'sg-metadata-egress';
  const names = new Map(server.securityGroups.map((g) => [g.id, g.name]));
  if (server.securityGroups.length === 0) return { id, status: 'fail', detail: 'the server has no security group: nothing allows egress TCP 80 to 169.254.169.254' };
  const order = new Map(server.securityGroups.map((g, i) => [g.id, i]));
  const egress = rules
    .filter((r) => r.direction === 'egress' && r.ethertype === 'IPv4' && order.has(r.securityGroupId) && protocolMatches(r.protocol) && portMatches(r.multiport, METADATA_PORT))
    .sort((a, b) => order.get(a.securityGroupId)! - order.get(b.securityGroupId)! || a.priority - b.priority || (a.action === b.action ? 0 : a.action === 'deny' ? -1 : 1));
  for (const r of egress) {
    const m = remoteMatches(r);
    if (m === false) continue;
    if (m === 'unknown') {
      return { id, status: 'warn', detail: `decided by ${describe(r, names)}, whose address group this tool does not expand; check that it holds 169.254.169.254` };
    }
    return r.action === 'allow'
      ? { id, status: 'pass', detail: `egress TCP 80 to 169.254.169.254 allowed by ${describe(r, names)}` }
      : { id, status: 'fail', detail: `egress TCP 80 to 169.254.169.254 denied by ${describe(r, names)}; allow TCP 80 to 169.254.0.0/16 at a higher priority` };
  }
  const groups = server.securityGroups.map((g) => g.name).join(', ');
  return { id, status: 'fail', detail: `no egress rule of security group ${groups} allows TCP 80 to 169.254.169.254; add an outbound rule (TCP 80, 169.254.0.0/16)` };
}

/**
 * resetpwd-flag: the cloud's own view of the plug-in (os-resetpwd-flag), beside what the host shows. Not True
 * fails (the console offers no one-click reset), saying whether the host has the plug-in; True while the host
 * has none is a warning: the cloud's view is out of date, and a reset would fail.
 */
export function resetpwdFlag(flag: boolean, agent: AgentState | null): CheckResult {
  const id = 'resetpwd-flag';
  const hostSays = agent === null ? null : agent.installed;
  if (flag) {
    return hostSays === false
      ? { id, status: 'warn', detail: 'the cloud says the plug-in is installed (os-resetpwd-flag True) but the host has none: one-click reset will fail; install it' }
      : { id, status: 'pass', detail: `the cloud says the plug-in is installed (os-resetpwd-flag True)${hostSays ? ', as the host shows' : ''}` };
  }
  return hostSays === true
    ? { id, status: 'fail', detail: 'the host has the plug-in but the cloud says it has none (os-resetpwd-flag False): the console offers no one-click reset until the agent reports in (restart it, or reinstall)' }
    : { id, status: 'fail', detail: 'the cloud says the plug-in is not installed (os-resetpwd-flag False); install it' };
}

/** server-id: the host reached at the address is the server the API names (its metadata uuid is the server id). */
export function serverIdCheck(server: CloudServer, address: string, inGuestId: string | null): CheckResult {
  const id = 'server-id';
  if (inGuestId === null) return { id, status: 'warn', detail: `could not read the server id from the metadata service; cannot confirm that ${address} is server ${server.name} (${server.id})` };
  return inGuestId.toLowerCase() === server.id.toLowerCase()
    ? { id, status: 'pass', detail: `the host at ${address} is server ${server.id}` }
    : { id, status: 'fail', detail: `the host at ${address} is server ${inGuestId}, not ${server.name} (${server.id}): the address points at another server; fix the inventory or the address` };
}
