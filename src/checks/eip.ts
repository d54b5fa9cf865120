import type { CheckContext, CheckResult, LinuxCheck } from './check.js';

/**
 * An EIP is needed only when the host downloads the package itself (--pull). Read: the metadata service's
 * public-ipv4, or the inventory's eip= variable.
 */
export const eip: LinuxCheck = (f, ctx) => eipResult(f.metadata.publicIpv4, ctx);

/** The verdict for any OS, from the public IPv4 the host's metadata service reports (null: none). */
export function eipResult(publicIpv4: string | null, ctx: CheckContext): CheckResult {
  const id = 'eip';
  const ip = publicIpv4 ?? ctx.inventoryEip ?? null;
  if (ip) return { id, status: 'pass', detail: `EIP ${ip}${publicIpv4 ? '' : ' (from the inventory)'}` };
  return ctx.pull
    ? { id, status: 'fail', detail: 'no EIP bound: the host cannot download the package itself (--pull); bind an EIP or push it' }
    : { id, status: 'warn', detail: 'no EIP bound (not needed: the package is pushed over the connection)' };
}
