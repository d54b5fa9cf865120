// The read-only calls of docs/CLOUD.md, each checked for the fields the tool reads, and the batch password reset
// as a dry run (dry_run=true: the API checks the request and resets nothing). Changes nothing.
import { resolveCredentials } from '../../dist/cloud/credentials.js';
import { loadSdk, sdkCloudApi } from '../../dist/cloud/sdk-client.js';
import { API_PASSWORD_RULES } from '../../dist/cloud/api.js';
import { generatePassword } from '../../dist/core/password.js';

const region = process.argv[2];
let failed = 0;
const report = (ok, what) => {
  if (!ok) failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
};
const credentials = resolveCredentials({});
const api = sdkCloudApi({ region, credentials });
const { ecs } = loadSdk();
const c = credentials;
const { core } = loadSdk();
const cred = new core.BasicCredentials().withAk(c.ak).withSk(c.sk).withProjectId(c.projectId);
if (c.securityToken) cred.withSecurityToken(c.securityToken);
const client = ecs.EcsClient.newBuilder().withCredential(cred).withEndpoint(`https://ecs.${region}.myhuaweicloud.com`).withOptions({ customUserAgent: 'resetpwd-fleet-prove' }).build();

try {
  // Paging: offset is a page number (from 1), not an item index.
  const p1 = await client.listServersDetails(new ecs.ListServersDetailsRequest().withLimit(1).withOffset(1));
  const p2 = await client.listServersDetails(new ecs.ListServersDetailsRequest().withLimit(1).withOffset(2));
  report(typeof p1.count === 'number', `ListServersDetails has count (${p1.count})`);
  const s1 = p1.servers?.[0];
  const s2 = p2.servers?.[0];
  report(!!s1, 'ListServersDetails lists a server (the project needs one)');
  if (p1.count > 1) report(!!s2 && s2.id !== s1.id, 'offset=2&limit=1 gives the second server (offset counts pages)');
  if (s1) {
    const addrs = Object.entries(s1.addresses ?? {});
    report(addrs.length > 0 && addrs.every(([, a]) => a.every((x) => typeof x.addr === 'string' && ['fixed', 'floating'].includes(x['OS-EXT-IPS:type']))), 'addresses: {vpcId: [{addr, OS-EXT-IPS:type fixed|floating}]}');
    report(Array.isArray(s1.security_groups) && s1.security_groups.every((g) => typeof g.id === 'string'), 'security_groups carry ids');
    report(typeof s1.metadata?.os_type === 'string', `metadata.os_type (${s1.metadata?.os_type})`);
    const all = await api.listServers({});
    report(all.length === p1.count, `the tool's listing finds every server (${all.length} of ${p1.count})`);
    const mine = all.find((s) => s.id === s1.id);
    report(!!mine?.privateIp, `the tool reads its private address (${mine?.privateIp})`);
    const raw = await client.showResetPasswordFlag(new ecs.ShowResetPasswordFlagRequest().withServerId(s1.id));
    report(raw.resetpwd_flag === 'True' || raw.resetpwd_flag === 'False', `os-resetpwd-flag answers resetpwd_flag True|False (${raw.resetpwd_flag})`);
    report((await api.resetPasswordFlag(s1.id)) === (raw.resetpwd_flag === 'True'), 'the tool reads the same flag');
    // dry_run=true: checked by the API, nothing reset. Its answer is what --offline reads as "accepted".
    const os = mine?.os ?? 'linux';
    try {
      const accepted = await api.resetPasswords([s1.id], generatePassword(API_PASSWORD_RULES[os], os === 'windows' ? 'Administrator' : 'root'), true);
      report(accepted.includes(s1.id), `BatchResetServersPassword dry_run answers {"response":[{"id"}]} naming the server (nothing reset; flag ${raw.resetpwd_flag})`);
    } catch (e) {
      // A server without the plug-in may be refused here; the refusal must still be one line with the API's code.
      report(/HTTP 4\d\d \(Ecs\.\d+/.test(e.message), `BatchResetServersPassword dry_run refused with the API's code: ${e.message}`);
    }
    if (mine?.vpcId) {
      const subnets = await api.subnets(mine.vpcId);
      report(subnets.length > 0 && subnets.every((s) => s.cidr.includes('/')), `ListSubnets gives cidr and dhcp_enable (${subnets.length} subnets)`);
    }
    for (const g of mine?.securityGroups ?? []) {
      const rules = await api.securityGroupRules(g.id);
      report(rules.every((r) => (r.action === 'allow' || r.action === 'deny') && Number.isFinite(r.priority)), `v3 rules of ${g.name} carry action and priority (${rules.length} rules)`);
    }
  }
} catch (e) {
  report(false, `a call failed: ${e.message}`);
}
process.exitCode = failed ? 1 : 0;
