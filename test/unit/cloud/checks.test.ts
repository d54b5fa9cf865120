import { describe, expect, it } from 'vitest';
import type { CloudRule, CloudServer } from '../../../src/cloud/api.js';
import { resetpwdFlag, serverIdCheck, sgMetadataEgress, vpcDhcp } from '../../../src/cloud/checks.js';
import type { AgentState } from '../../../src/core/agent.js';

const server = (o: Partial<CloudServer> = {}): CloudServer => ({
  id: '0b2c6f7e-1111-4222-8333-444455556666', name: 'web-1', status: 'ACTIVE', os: 'linux', privateIp: '192.168.1.10', eip: null,
  vpcId: 'vpc-1', securityGroups: [{ id: 'sg-a', name: 'default' }], tags: [], enterpriseProjectId: null, ...o,
});
let n = 0;
const rule = (o: Partial<CloudRule>): CloudRule => ({
  id: `r${++n}`, securityGroupId: 'sg-a', direction: 'egress', protocol: null, ethertype: 'IPv4', multiport: null, action: 'allow', priority: 1,
  remoteIpPrefix: null, remoteGroupId: null, remoteAddressGroupId: null, ...o,
});
const agent = (installed: boolean) => ({ installed }) as AgentState;

describe('vpc-dhcp', () => {
  const subnets = [
    { id: 's1', name: 'other', vpcId: 'vpc-1', cidr: '10.0.0.0/24', dhcpEnable: false },
    { id: 's2', name: 'app', vpcId: 'vpc-1', cidr: '192.168.1.0/24', dhcpEnable: true },
  ];
  it('passes when the subnet holding the primary address has DHCP on, naming it', () => {
    expect(vpcDhcp(server(), subnets)).toEqual({ id: 'vpc-dhcp', status: 'pass', detail: 'subnet app (192.168.1.0/24) has DHCP on' });
  });
  it('fails when that subnet has DHCP off, and says what to do', () => {
    const r = vpcDhcp(server({ privateIp: '10.0.0.7' }), subnets);
    expect(r.status).toBe('fail');
    expect(r.detail).toMatch(/subnet other \(10\.0\.0\.0\/24\) has DHCP off.*turn DHCP on/);
  });
  it('cannot tell (error) when no subnet of the VPC holds the address, or the server has none', () => {
    expect(vpcDhcp(server({ privateIp: '172.16.0.1' }), subnets).status).toBe('error');
    expect(vpcDhcp(server({ privateIp: null }), subnets).status).toBe('error');
  });
});

describe('sg-metadata-egress, evaluated as the VPC service does', () => {
  it('passes with a default group (egress allowed to anywhere, any protocol)', () => {
    const r = sgMetadataEgress(server(), [rule({ ethertype: 'IPv4' }), rule({ ethertype: 'IPv6' })]);
    expect(r.status).toBe('pass');
  });
  it('passes with an allow of TCP 80 to 169.254.0.0/16, and with port ranges and lists that hold 80', () => {
    expect(sgMetadataEgress(server(), [rule({ protocol: 'tcp', multiport: '80', remoteIpPrefix: '169.254.0.0/16' })]).status).toBe('pass');
    expect(sgMetadataEgress(server(), [rule({ protocol: 'tcp', multiport: '1-1024', remoteIpPrefix: '0.0.0.0/0' })]).status).toBe('pass');
    expect(sgMetadataEgress(server(), [rule({ protocol: 'tcp', multiport: '22,80,443', remoteIpPrefix: '169.254.169.254/32' })]).status).toBe('pass');
  });
  it('fails when no egress rule matches: other ports, UDP, other addresses, ingress, IPv6, a remote group', () => {
    const r = sgMetadataEgress(server(), [
      rule({ protocol: 'tcp', multiport: '443' }),
      rule({ protocol: 'udp', multiport: '80' }),
      rule({ protocol: 'tcp', multiport: '80', remoteIpPrefix: '10.0.0.0/8' }),
      rule({ direction: 'ingress' }),
      rule({ ethertype: 'IPv6' }),
      rule({ remoteGroupId: 'sg-b' }),
    ]);
    expect(r.status).toBe('fail');
    expect(r.detail).toMatch(/no egress rule of security group default allows TCP 80 to 169\.254\.169\.254; add an outbound rule/);
  });
  it('lets a deny of higher priority (smaller number) win over an allow', () => {
    const r = sgMetadataEgress(server(), [rule({ priority: 100 }), rule({ action: 'deny', priority: 10, protocol: 'tcp', multiport: '80', remoteIpPrefix: '169.254.0.0/16' })]);
    expect(r.status).toBe('fail');
    expect(r.detail).toMatch(/denied by deny rule r\d+ of security group default \(priority 10, tcp, ports 80, to 169\.254\.0\.0\/16\)/);
  });
  it('lets a deny win over an allow of the same priority, and an allow of higher priority win over a deny', () => {
    expect(sgMetadataEgress(server(), [rule({ priority: 5 }), rule({ action: 'deny', priority: 5 })]).status).toBe('fail');
    expect(sgMetadataEgress(server(), [rule({ priority: 1, protocol: 'tcp', multiport: '80' }), rule({ action: 'deny', priority: 2 })]).status).toBe('pass');
  });
  describe('with several groups, matched in the server\'s order, the first group first', () => {
    const two = server({ securityGroups: [{ id: 'sg-a', name: 'web' }, { id: 'sg-b', name: 'meta' }] });
    it('goes on to the next group when the first has no matching rule', () => {
      expect(sgMetadataEgress(two, [rule({ securityGroupId: 'sg-b', protocol: 'tcp', multiport: '80', remoteIpPrefix: '169.254.0.0/16' })]).detail).toMatch(/security group meta/);
    });
    it('lets the first group\'s deny win over a later group\'s allow of higher priority', () => {
      const r = sgMetadataEgress(two, [rule({ securityGroupId: 'sg-a', action: 'deny', priority: 100 }), rule({ securityGroupId: 'sg-b', priority: 1 })]);
      expect(r).toMatchObject({ status: 'fail', detail: expect.stringContaining('security group web') });
    });
    it('lets the first group\'s allow win over a later group\'s deny of higher priority', () => {
      expect(sgMetadataEgress(two, [rule({ securityGroupId: 'sg-a', priority: 100 }), rule({ securityGroupId: 'sg-b', action: 'deny', priority: 1 })]).status).toBe('pass');
    });
    it('ignores the rules of groups the server is not in', () => {
      expect(sgMetadataEgress(server(), [rule({ securityGroupId: 'sg-z' })]).status).toBe('fail');
    });
  });
  it('treats a prefix that is no IPv4 CIDR as undecidable (warn), never as a crash', () => {
    expect(sgMetadataEgress(server(), [rule({ remoteIpPrefix: '169.254.0.0/33' })]).status).toBe('warn');
    expect(vpcDhcp(server(), [{ id: 's', name: 'x', vpcId: 'vpc-1', cidr: '192.168.1.0/99', dhcpEnable: true }]).status).toBe('error');
  });
  it('warns, rather than guesses, when an address group decides', () => {
    expect(sgMetadataEgress(server(), [rule({ remoteAddressGroupId: 'ag-1' })]).status).toBe('warn');
  });
  it('fails a server without any security group', () => {
    expect(sgMetadataEgress(server({ securityGroups: [] }), []).status).toBe('fail');
  });
});

describe('resetpwd-flag: the cloud\'s view beside the host\'s', () => {
  it('passes when the cloud says installed (and the host agrees or was not reached)', () => {
    expect(resetpwdFlag(true, agent(true)).status).toBe('pass');
    expect(resetpwdFlag(true, null).status).toBe('pass');
  });
  it('fails whenever the cloud says not installed (the console offers no reset), saying whether the host has it', () => {
    expect(resetpwdFlag(false, agent(false)).status).toBe('fail');
    expect(resetpwdFlag(false, null).status).toBe('fail');
    expect(resetpwdFlag(false, agent(true))).toMatchObject({ status: 'fail', detail: expect.stringMatching(/host has the plug-in but the cloud says it has none/) });
  });
  it('warns when the cloud says installed and the host has none', () => {
    expect(resetpwdFlag(true, agent(false))).toMatchObject({ status: 'warn', detail: expect.stringMatching(/cloud says .* installed .* host has none/) });
  });
});

describe('server-id: the host at the address is the server the API names', () => {
  it('passes when the metadata uuid is the server id (case aside)', () => {
    expect(serverIdCheck(server(), '192.168.1.10', '0B2C6F7E-1111-4222-8333-444455556666').status).toBe('pass');
  });
  it('fails on another server\'s uuid, naming both', () => {
    const r = serverIdCheck(server(), '192.168.1.10', '99999999-1111-4222-8333-444455556666');
    expect(r.status).toBe('fail');
    expect(r.detail).toContain('is server 99999999-1111-4222-8333-444455556666, not web-1 (0b2c6f7e-1111-4222-8333-444455556666)');
  });
  it('warns when the host\'s metadata gave no id', () => {
    expect(serverIdCheck(server(), '192.168.1.10', null).status).toBe('warn');
  });
});
