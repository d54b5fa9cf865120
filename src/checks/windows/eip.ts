import type { WindowsCheck } from './check.js';

/** As on Linux (src/checks/eip.ts): an EIP matters only when the host downloads the package itself (--pull). */
export const eip: WindowsCheck = (f, ctx) => {
  const id = 'eip';
  const ip = f.metadata.publicIpv4 ?? ctx.inventoryEip ?? null;
  if (ip) return { id, status: 'pass', detail: `EIP ${ip}${f.metadata.publicIpv4 ? '' : ' (from the inventory)'}` };
  return ctx.pull
    ? { id, status: 'fail', detail: 'no EIP bound: the host cannot download the package itself (--pull); bind an EIP or push it' }
    : { id, status: 'warn', detail: 'no EIP bound (not needed: the package is pushed over the connection)' };
};
