import { describe, expect, it } from 'vitest';
import type { CloudServer } from '../../../src/cloud/api.js';
import { cloudTargets, matchInventory, matchesFilter, parseCloudFilters, serverQueryOf } from '../../../src/cloud/inventory.js';
import { toTarget } from '../../../src/inventory/target.js';

const server = (o: Partial<CloudServer> = {}): CloudServer => ({
  id: '0b2c6f7e-1111-4222-8333-444455556666', name: 'web-1', status: 'ACTIVE', os: 'linux', privateIp: '192.168.1.10', eip: null,
  vpcId: 'vpc-1', securityGroups: [], tags: [], enterpriseProjectId: null, ...o,
});

describe('--cloud-filter', () => {
  it('reads name globs, tags, statuses and enterprise projects; the same key ORs, different keys AND', () => {
    const f = parseCloudFilters(['name=web-*', 'name=db-?', 'tag=env=prod', 'status=active']);
    expect(f).toEqual({ names: ['web-*', 'db-?'], tags: ['env=prod'], statuses: ['ACTIVE'], enterpriseProjects: [] });
    expect(matchesFilter(server({ tags: ['env=prod'] }), f)).toBe(true);
    expect(matchesFilter(server({ name: 'db-1', tags: ['env=prod'] }), f)).toBe(true);
    expect(matchesFilter(server({ name: 'db-10', tags: ['env=prod'] }), f)).toBe(false);
    expect(matchesFilter(server({ tags: ['env=dev'] }), f)).toBe(false);
    expect(matchesFilter(server({ status: 'SHUTOFF', tags: ['env=prod'] }), f)).toBe(false);
  });
  it('asks the API to narrow by what it can take (one status, one tag, one enterprise project)', () => {
    expect(serverQueryOf(parseCloudFilters(['status=SHUTOFF', 'tag=a=b', 'enterprise-project=ep1']))).toEqual({ status: 'SHUTOFF', tags: 'a=b', enterpriseProjectId: 'ep1' });
    expect(serverQueryOf(parseCloudFilters(['status=ACTIVE', 'status=SHUTOFF'])).status).toBeUndefined();
  });
  it('refuses a filter it does not know, naming the forms it takes', () => {
    expect(() => parseCloudFilters(['flavor=s6'])).toThrow(/--cloud-filter flavor=s6: give name=GLOB, tag=KEY=VALUE, status=STATUS or enterprise-project=ID/);
    expect(() => parseCloudFilters(['tag=novalue'])).toThrow(/give tag=KEY=VALUE/);
  });
});

describe('servers as targets', () => {
  it('reaches a server at its private address, or its EIP with --address eip, and records its id', () => {
    const s = server({ eip: '203.0.113.5' });
    expect(cloudTargets([s], 'private', 'r1').targets[0]).toMatchObject({ name: 'web-1', host: '192.168.1.10', port: 22, connection: 'ssh', os: 'linux', eip: '203.0.113.5', vars: { server_id: s.id } });
    expect(cloudTargets([s], 'eip', 'r1').targets[0]!.host).toBe('203.0.113.5');
  });
  it('reaches a Windows server over WinRM (HTTPS 5986) by default', () => {
    expect(cloudTargets([server({ os: 'windows' })], 'private', 'r1').targets[0]).toMatchObject({ connection: 'winrm', port: 5986, os: 'windows', winrm: { scheme: 'https' } });
  });
  it('names every server of a shared name with its id (a name never moves to a newer server), and puts each in groups --limit can name', () => {
    const { targets } = cloudTargets([server(), server({ id: 'ffffeeee-1111-4222-8333-444455556666', privateIp: '192.168.1.11', tags: ['env=prod'] })], 'private', 'r1');
    expect(targets.map((t) => t.name)).toEqual(['web-1~0b2c6f7e', 'web-1~ffffeeee']);
    expect(targets[1]!.groups).toEqual(['all', 'cloud', 'linux', 'status_active', 'tag_env_prod']);
  });
  it('contacts only the first running server at an address shared across VPCs, and says why not the others', () => {
    const a = server({ vpcId: 'vpc-a' });
    const stopped = server({ id: 'cccc0000-1111-4222-8333-444455556666', name: 'old', status: 'SHUTOFF' });
    const b = server({ id: 'bbbb0000-1111-4222-8333-444455556666', name: 'twin', vpcId: 'vpc-b' });
    const { notContacted } = cloudTargets([stopped, a, b], 'private', 'r1');
    expect(notContacted.has(a.id)).toBe(false);
    expect(notContacted.get(b.id)).toMatch(/its address 192\.168\.1\.10 is also server web-1 \(0b2c6f7e-1111-4222-8333-444455556666\)'s, in another VPC: not contacted/);
  });
  it('marks stopped servers and servers without the address asked for as not to be contacted, with the reason', () => {
    const stopped = server({ status: 'SHUTOFF' });
    const noEip = server({ id: 'aaaabbbb-1111-4222-8333-444455556666', name: 'web-2', privateIp: '192.168.1.12' });
    const { notContacted } = cloudTargets([stopped, noEip], 'eip', 'r1');
    expect(notContacted.get(stopped.id)).toMatch(/SHUTOFF \(not running\)/);
    expect(notContacted.get(noEip.id)).toMatch(/no EIP/);
  });
});

describe('an inventory meets the cloud', () => {
  const servers = [server(), server({ id: 'ffffeeee-1111-4222-8333-444455556666', name: 'db', privateIp: '192.168.1.20', eip: '203.0.113.9' })];
  it('matches hosts to servers by server_id, else by private address or EIP, and lists the ones that match none', () => {
    const inv = [
      toTarget('a', { ansible_host: '192.168.1.10' }, ['all'], 'inv:1'),
      toTarget('b', { ansible_host: '203.0.113.9' }, ['all'], 'inv:2'),
      toTarget('c', { ansible_host: '10.9.9.9', server_id: 'ffffeeee-1111-4222-8333-444455556666' }, ['all'], 'inv:3'),
      toTarget('d', { ansible_host: '10.9.9.10' }, ['all'], 'inv:4'),
    ];
    const m = matchInventory(inv, servers);
    expect(m.targets.map((t) => t.vars.server_id)).toEqual([servers[0]!.id, servers[1]!.id, servers[1]!.id, undefined]);
    expect(m.targets[1]!.eip).toBe('203.0.113.9');
    expect([...m.unmatched]).toEqual(['d']);
  });
  it('never replaces an inventory\'s server_id by an address match: a server_id not listed is unmatched', () => {
    const inv = [toTarget('e', { ansible_host: '192.168.1.10', server_id: '99999999-1111-4222-8333-444455556666' }, ['all'], 'inv:1')];
    const m = matchInventory(inv, servers);
    expect(m.targets[0]!.vars.server_id).toBe('99999999-1111-4222-8333-444455556666');
    expect([...m.unmatched]).toEqual(['e']);
  });
  it('matches a host named by DNS name through the addresses it resolves to', () => {
    const inv = [toTarget('f', { ansible_host: 'db.example.internal' }, ['all'], 'inv:1')];
    const m = matchInventory(inv, servers, () => ['db.example.internal', '192.168.1.20']);
    expect(m.targets[0]!.vars.server_id).toBe(servers[1]!.id);
  });
});
