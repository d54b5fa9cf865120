import type { LinuxCheck } from './check.js';

/**
 * The primary NIC (the default route's interface) must be configured for DHCP, in whatever format the
 * distribution uses: ifcfg BOOTPROTO (RHEL, SUSE), netplan dhcp4, /etc/network/interfaces "inet dhcp",
 * NetworkManager keyfile method=auto.
 */
export const dhcp: LinuxCheck = (f) => {
  const id = 'dhcp';
  const nic = f.primaryNic;
  if (!nic) return { id, status: 'error', detail: 'no primary network interface found' };
  const verdicts: Array<{ file: string; dhcp: boolean }> = [];
  for (const [file, text] of Object.entries(f.nicConfigs)) {
    if (/\/ifcfg-/.test(file)) {
      const proto = /^\s*BOOTPROTO\s*=\s*["']?([A-Za-z0-9]+)/m.exec(text)?.[1]?.toLowerCase();
      if (proto) verdicts.push({ file, dhcp: proto.startsWith('dhcp') });
    } else if (/netplan/.test(file)) {
      const block = new RegExp(`^\\s+${nic}:\\s*$([\\s\\S]*?)(?=^\\s{0,4}\\S|(?![\\s\\S]))`, 'm').exec(text)?.[1] ?? '';
      const m = /dhcp4:\s*(true|yes|false|no)/.exec(block || text);
      if (m) verdicts.push({ file, dhcp: m[1] === 'true' || m[1] === 'yes' });
    } else if (/NetworkManager/.test(file)) {
      if (new RegExp(`^interface-name=${nic}$`, 'm').test(text)) {
        const m = /\[ipv4\][^[]*?method=(\w+)/.exec(text);
        if (m) verdicts.push({ file, dhcp: m[1] === 'auto' });
      }
    } else if (/interfaces/.test(file)) {
      const m = new RegExp(`^\\s*iface\\s+${nic}\\s+inet\\s+(\\w+)`, 'm').exec(text);
      if (m) verdicts.push({ file, dhcp: m[1] === 'dhcp' });
    }
  }
  if (verdicts.length === 0) return { id, status: 'error', detail: `no configuration found for ${nic}` };
  const bad = verdicts.find((v) => !v.dhcp);
  return bad
    ? { id, status: 'fail', detail: `${nic} is configured statically (${bad.file}); set it to DHCP` }
    : { id, status: 'pass', detail: `${nic} uses DHCP (${verdicts[0]!.file})` };
};
