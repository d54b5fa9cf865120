import type { OsFamily } from '../inventory/os-family.js';
/**
 * The cloud as this tool sees it: a few calls of the ECS and VPC APIs behind one small interface, so the
 * audit, the inventory and the tests never meet the SDK (sdk-client.ts) and its models.
 */

/** One ECS server, as ListServersDetails describes it (only what the tool uses). */
export interface CloudServer {
  id: string;
  name: string;
  /** ACTIVE, SHUTOFF, BUILD, REBOOT, ERROR, … (the API's word). */
  status: string;
  os: OsFamily;
  /** The primary NIC's private IPv4 (the first fixed address), or null. */
  privateIp: string | null;
  /** The bound EIP (a floating address), or null. */
  eip: string | null;
  vpcId: string | null;
  /** The server's security groups, in the order the API lists them. */
  securityGroups: { id: string; name: string }[];
  tags: string[];
  enterpriseProjectId: string | null;
}

export interface CloudSubnet {
  id: string;
  name: string;
  vpcId: string;
  cidr: string;
  dhcpEnable: boolean;
}

/** A security group rule as the VPC v3 API gives it (with allow/deny and priority). */
export interface CloudRule {
  id: string;
  securityGroupId: string;
  direction: 'ingress' | 'egress';
  /** tcp, udp, icmp, … ; null or empty: any. */
  protocol: string | null;
  ethertype: 'IPv4' | 'IPv6';
  /** "80", "1-65535", "22,80,8000-8080"; null or empty: all ports. */
  multiport: string | null;
  action: 'allow' | 'deny';
  /** 1 (first) to 100 (last). */
  priority: number;
  remoteIpPrefix: string | null;
  remoteGroupId: string | null;
  remoteAddressGroupId: string | null;
}

export interface ServerQuery {
  name?: string | undefined;
  status?: string | undefined;
  /** "key=value" */
  tags?: string | undefined;
  enterpriseProjectId?: string | undefined;
}

/** The calls the tool makes. Every method retries throttling and 5xx itself and throws CloudError. */
export interface CloudApi {
  readonly region: string;
  readonly projectId: string;
  /** Every server matching the query, all pages. */
  listServers(q: ServerQuery): Promise<CloudServer[]>;
  /** The subnets of one VPC, all pages. */
  subnets(vpcId: string): Promise<CloudSubnet[]>;
  /** The rules of one security group, all pages. */
  securityGroupRules(groupId: string): Promise<CloudRule[]>;
  /** The cloud's view of the plug-in: os-resetpwd-flag. */
  resetPasswordFlag(serverId: string): Promise<boolean>;
  /**
   * BatchResetServersPassword: root's or Administrator's new password for 1 to 1000 servers, applied by the
   * plug-in at each server's next start; `dryRun`: the API checks the request and changes nothing. Resolves with
   * the ids the API accepted; a refusal throws CloudError (the SDK keeps no per-server detail of it).
   */
  resetPasswords(serverIds: string[], newPassword: string, dryRun: boolean): Promise<string[]>;
  /** BatchRebootServers (SOFT): resolves with the job id. */
  rebootServers(serverIds: string[]): Promise<string>;
  /** ShowJob: the job's status, and each failed server's reason once it ended. */
  job(jobId: string): Promise<CloudJob>;
}

export interface CloudJob {
  /** SUCCESS, FAIL, RUNNING, INIT (the API's words). */
  status: string;
  /** Each server's part (its sub-job): SUCCESS, FAIL, RUNNING…, and the API's reason when it failed. */
  servers: { serverId: string; status: string; reason: string | null }[];
  /** The job's own reason when it failed as a whole. */
  reason: string | null;
}

/** What went wrong with a call, in words an operator acts on; never a header, a body sent, or a key. */
export type CloudFailure = 'auth' | 'forbidden' | 'not-found' | 'throttled' | 'server' | 'network' | 'bad-request' | 'bad-answer';

export class CloudError extends Error {
  override name = 'CloudError';
  constructor(
    message: string,
    readonly failure: CloudFailure,
    readonly status: number | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/**
 * The ECS batch reset API's password rules (../shared/seeds, the batch reset API page): its own special set
 * for every OS, and for a Windows server also no run of three characters of the user name. Checked here
 * before a call: the API checks complexity only when asked (`is_check_password`), so it could accept a
 * password the server's own agent later refuses.
 */
export const API_PASSWORD_RULES = {
  linux: { name: 'the ECS API (Linux)', specials: '!@%-_=+[]:./?', noUserRuns: false, noLeadingSlash: false },
  windows: { name: 'the ECS API (Windows)', specials: '!@%-_=+[]:./?', noUserRuns: true, noLeadingSlash: true },
} as const satisfies Record<OsFamily, import('../core/password.js').PasswordRules>;

/**
 * Every check the API makes of a new password for a server of this OS, whose account is `account`: its rules for
 * that account, and — whatever the OS — neither root nor Administrator, forwards or backwards, nor three
 * consecutive characters of Administrator (../shared/DOMAIN.md, the batch reset API's rules).
 */
export function apiPasswordChecks(os: OsFamily, account: string): { rules: import('../core/password.js').PasswordRules; user: string; whose?: string }[] {
  const rules = API_PASSWORD_RULES[os];
  const whose = `${rules.name}, which refuses root and Administrator for every server`;
  return [
    { rules, user: account },
    { rules: { ...rules, noUserRuns: false }, user: 'root', whose },
    { rules: { ...rules, noUserRuns: true }, user: 'Administrator', whose },
  ];
}
