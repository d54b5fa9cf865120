import { describe, expect, it } from 'vitest';
import { CloudError, type CloudApi, type CloudServer } from '../../../src/cloud/api.js';
import { resolveCloudTargets, parseCloudFilters } from '../../../src/cloud/inventory.js';
import { CloudView } from '../../../src/cloud/view.js';
import { toTarget } from '../../../src/inventory/target.js';
import type { AgentState } from '../../../src/core/agent.js';

const server = (i: number, o: Partial<CloudServer> = {}): CloudServer => ({
  id: `00000000-0000-4000-8000-00000000000${i}`, name: `web-${i}`, status: 'ACTIVE', os: 'linux', privateIp: `192.168.1.${i + 10}`, eip: null,
  vpcId: 'vpc-1', securityGroups: [{ id: 'sg-a', name: 'default' }, { id: 'sg-b', name: 'web' }], tags: ['env=prod'], enterpriseProjectId: null, ...o,
});

/** A CloudApi that counts its calls and can be told to fail one. */
function fakeApi(servers: CloudServer[], failFlag = false) {
  const calls: string[] = [];
  const api: CloudApi = {
    region: 'xx-test-1',
    projectId: 'p1',
    listServers: async () => (calls.push('list'), servers),
    subnets: async (vpc) => (calls.push(`subnets ${vpc}`), [{ id: 's', name: 'app', vpcId: vpc, cidr: '192.168.1.0/24', dhcpEnable: true }]),
    securityGroupRules: async (g) => (calls.push(`rules ${g}`), g === 'sg-a' ? [{ id: 'r', securityGroupId: 'sg-a', direction: 'egress', protocol: null, ethertype: 'IPv4', multiport: null, action: 'allow', priority: 100, remoteIpPrefix: null, remoteGroupId: null, remoteAddressGroupId: null }] : []),
    resetPasswordFlag: async (id) => {
      calls.push(`flag ${id}`);
      if (failFlag) throw new CloudError('ECS ShowResetPasswordFlag: HTTP 403 (Ecs.0003: denied); the IAM user lacks the action ecs:cloudServers:get', 'forbidden', 403, 'Ecs.0003');
      return true;
    },
  };
  return { api, calls };
}
const installed = { installed: true } as AgentState;

describe('the cloud view of a run', () => {
  it('asks each VPC\'s subnets and each group\'s rules once however many servers share them, the flag once per server', async () => {
    const servers = [server(1), server(2), server(3)];
    const { api, calls } = fakeApi(servers);
    const { targets, cloud } = await resolveCloudTargets(api, { filter: parseCloudFilters([]), address: 'private' });
    const view = new CloudView(cloud);
    const rows = await Promise.all(targets.map((t) => view.checks(t, { agent: installed, serverId: t.vars.server_id!, reached: true })));
    expect(rows.map((r) => r.map((c) => `${c.id}:${c.status}`))).toEqual(
      Array(3).fill(['server-id:pass', 'vpc-dhcp:pass', 'sg-metadata-egress:pass', 'resetpwd-flag:pass']),
    );
    expect(calls.filter((c) => c.startsWith('subnets'))).toEqual(['subnets vpc-1']);
    expect(calls.filter((c) => c.startsWith('rules')).sort()).toEqual(['rules sg-a', 'rules sg-b']);
    expect(calls.filter((c) => c.startsWith('flag'))).toHaveLength(3);
  });

  it('makes a check whose call failed `error` with the reason, and still gives the others', async () => {
    const { api } = fakeApi([server(1)], true);
    const { targets, cloud } = await resolveCloudTargets(api, { filter: parseCloudFilters([]), address: 'private' });
    const r = await new CloudView(cloud).checks(targets[0]!, { agent: installed, serverId: null, reached: true });
    expect(r.find((c) => c.id === 'resetpwd-flag')).toMatchObject({ status: 'error', detail: expect.stringContaining('lacks the action ecs:cloudServers:get') });
    expect(r.find((c) => c.id === 'vpc-dhcp')!.status).toBe('pass');
    expect(r.find((c) => c.id === 'server-id')!.status).toBe('warn');
  });

  it('fails server-id for an inventory host no server has the address of, and skips the rest', async () => {
    const { api } = fakeApi([server(1)]);
    const inv = [toTarget('lost', { ansible_host: '10.9.9.9' }, ['all'], 'inv:1')];
    const { targets, cloud } = await resolveCloudTargets(api, { filter: parseCloudFilters([]), address: 'private', inventory: inv });
    const r = await new CloudView(cloud).checks(targets[0]!, { agent: null, serverId: null, reached: true });
    expect(r.map((c) => `${c.id}:${c.status}`)).toEqual(['server-id:fail', 'vpc-dhcp:skip', 'sg-metadata-egress:skip', 'resetpwd-flag:skip']);
    expect(r[0]!.detail).toMatch(/no server of project p1 in xx-test-1 has the address 10\.9\.9\.9/);
  });

  it('narrows cloud targets with --limit as inventory ones, and refuses a limit or filter that leaves none', async () => {
    const { api } = fakeApi([server(1), server(2, { tags: ['env=dev'] })]);
    const { targets } = await resolveCloudTargets(api, { filter: parseCloudFilters([]), address: 'private', limit: 'tag_env_dev' });
    expect(targets.map((t) => t.name)).toEqual(['web-2']);
    await expect(resolveCloudTargets(api, { filter: parseCloudFilters([]), address: 'private', limit: 'nothing*' })).rejects.toThrow(/--limit nothing\* matches none of the 2 servers listed/);
    await expect(resolveCloudTargets(api, { filter: parseCloudFilters(['name=db-*']), address: 'private' })).rejects.toThrow(/lists no server matching --cloud-filter/);
  });
});
