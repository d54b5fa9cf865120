import type { WindowsAdapter } from '../facts.js';
import { unreadable, type WindowsCheck } from './check.js';

/**
 * The adapter carrying the default route (lowest metric) must have DHCP enabled: the agent reaches the
 * metadata service through it. Read: Win32_IP4RouteTable and Win32_NetworkAdapterConfiguration.DHCPEnabled.
 */
export const dhcp: WindowsCheck = (f) => {
  const id = 'dhcp';
  const cant = unreadable(f, 'net');
  if (cant) return { id, status: 'error', detail: `network configuration ${cant}` };
  const name = (a: WindowsAdapter) => `"${a.name}" (interface ${a.ifIndex}${a.ipv4.length ? `, ${a.ipv4.join(', ')}` : ''})`;
  let primary: WindowsAdapter | undefined;
  for (const r of f.defaultRoutes) {
    primary = f.adapters.find((a) => a.ifIndex === r.ifIndex);
    if (primary) break;
  }
  if (!primary) {
    if (f.adapters.length === 1) primary = f.adapters[0];
    else return { id, status: 'error', detail: f.adapters.length === 0 ? 'no IP-enabled network adapter found' : 'no default route: cannot tell which adapter is the primary one' };
  }
  return primary!.dhcp
    ? { id, status: 'pass', detail: `${name(primary!)} uses DHCP` }
    : { id, status: 'fail', detail: `${name(primary!)} carries the default route and has a static address; set it to obtain an address automatically (DHCP)` };
};
