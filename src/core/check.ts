/**
 * What a check says, for every OS and every report; and the verdicts that mean the same on every OS. The
 * checks themselves are pure functions of one platform's facts (src/platform/<os>/checks/).
 */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip' | 'error';
export interface CheckResult {
  id: string;
  status: CheckStatus;
  detail: string;
}

/** What a check may know besides the host's facts: how the package reaches it and the inventory's word. */
export interface CheckContext {
  pull: boolean;
  inventoryEip?: string | undefined;
  /** Where inventoryEip came from, for the detail: the inventory (eip=) or the cloud API (--cloud). */
  eipFrom?: string | undefined;
}

export const MB = 1024 * 1024;
export const fmtBytes = (b: number): string =>
  b >= 1024 * MB ? `${(b / 1024 / MB).toFixed(1)} GiB` : `${Math.round(b / MB)} MiB`;

/** More than 300 MB must be free where the plug-in goes (MB as df counts them: MiB), on every OS. */
export const DISK_MIN_BYTES = 300 * MB;

/**
 * The eip verdict for any OS, from the public IPv4 the host's metadata service reports (null: none). An EIP
 * is needed only when the host downloads the package itself (--pull).
 */
export function eipResult(publicIpv4: string | null, ctx: CheckContext): CheckResult {
  const id = 'eip';
  const ip = publicIpv4 ?? ctx.inventoryEip ?? null;
  if (ip) return { id, status: 'pass', detail: `EIP ${ip}${publicIpv4 ? '' : ` (from ${ctx.eipFrom ?? 'the inventory'})`}` };
  return ctx.pull
    ? { id, status: 'fail', detail: 'no EIP bound: the host cannot download the package itself (--pull); bind an EIP or push it' }
    : { id, status: 'warn', detail: 'no EIP bound (not needed: the package is pushed over the connection)' };
}
