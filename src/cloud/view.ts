import type { AgentState } from '../core/agent.js';
import type { CheckResult } from '../core/check.js';
import { CloudError, type CloudApi, type CloudRule, type CloudServer, type CloudSubnet } from './api.js';
import { CLOUD_CHECK_IDS, resetpwdFlag, serverIdCheck, sgMetadataEgress, vpcDhcp } from './checks.js';
import type { CloudRun } from './inventory.js';

/**
 * The cloud's verdicts for one host, merged into its audit row. The subnets of a VPC and the rules of a
 * security group are asked once per run however many servers share them; the flag once per server.
 * A call that fails makes its check `error` with the reason; the others still run.
 */
export class CloudView {
  private readonly subnetsByVpc = new Map<string, Promise<CloudSubnet[]>>();
  private readonly rulesByGroup = new Map<string, Promise<CloudRule[]>>();
  constructor(readonly run: CloudRun) {}

  private get api(): CloudApi {
    return this.run.api;
  }

  /** The server a target is, if the cloud knows it. */
  serverOf(t: { vars: Record<string, string> }): CloudServer | undefined {
    return t.vars.server_id ? this.run.servers.get(t.vars.server_id) : undefined;
  }

  /** Why a target must not be contacted (the cloud says stopped, or no address of the kind asked), or null. */
  notContacted(t: { vars: Record<string, string> }): string | null {
    const id = t.vars.server_id;
    return id ? (this.run.notContacted.get(id) ?? null) : null;
  }

  private memo<T>(m: Map<string, Promise<T>>, key: string, f: () => Promise<T>): Promise<T> {
    let p = m.get(key);
    if (!p) {
      p = f();
      m.set(key, p);
    }
    return p;
  }

  /** What the host showed (null where it was not reached): its plug-in, and its metadata's server id. */
  async checks(t: { name: string; host: string; vars: Record<string, string> }, seen: { agent: AgentState | null; serverId: string | null; reached: boolean }): Promise<CheckResult[]> {
    const server = this.serverOf(t);
    if (!server) {
      const among = this.run.filtered ? ' among those --cloud-filter selects' : '';
      const why = !this.run.unmatched.has(t.name)
        ? 'not a server the cloud listed'
        : t.vars.server_id
          ? `no server${among} of project ${this.api.projectId} in ${this.api.region} has the id ${t.vars.server_id} (the inventory's server_id): fix server_id, or the project and region`
          : `no server${among} of project ${this.api.projectId} in ${this.api.region} has the address ${t.host}: the inventory points outside the project (or set the host's server_id)`;
      return CLOUD_CHECK_IDS.map((id) => ({ id, status: id === 'server-id' ? 'fail' : 'skip', detail: id === 'server-id' ? why : 'the server is not known to the cloud' }));
    }
    const fromApi = async (id: string, f: () => Promise<CheckResult>): Promise<CheckResult> => {
      try {
        return await f();
      } catch (e) {
        // Whatever went wrong with one call, the host's row still comes back: that check could not be decided.
        return { id, status: 'error', detail: e instanceof CloudError ? e.message : `could not be decided: ${(e as Error).message}` };
      }
    };
    const [dhcp, sg, flag] = await Promise.all([
      fromApi('vpc-dhcp', async () => {
        if (!server.vpcId) return { id: 'vpc-dhcp', status: 'error', detail: 'the API names no VPC for the server' };
        return vpcDhcp(server, await this.memo(this.subnetsByVpc, server.vpcId, () => this.api.subnets(server.vpcId!)));
      }),
      fromApi('sg-metadata-egress', async () => {
        const rules = await Promise.all(server.securityGroups.map((g) => this.memo(this.rulesByGroup, g.id, () => this.api.securityGroupRules(g.id))));
        return sgMetadataEgress(server, rules.flat());
      }),
      fromApi('resetpwd-flag', async () => resetpwdFlag(await this.api.resetPasswordFlag(server.id), seen.agent)),
    ]);
    const sid: CheckResult = seen.reached
      ? serverIdCheck(server, t.host, seen.serverId)
      : { id: 'server-id', status: 'skip', detail: 'the host was not reached' };
    return [sid, dhcp!, sg!, flag!];
  }
}
