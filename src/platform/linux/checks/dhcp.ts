import type { LinuxCheck } from './check.js';

/**
 * The primary NIC (the default route's interface) must be configured for DHCP, in whatever format the
 * distribution uses: ifcfg BOOTPROTO (RHEL, SUSE), netplan dhcp4, /etc/network/interfaces "inet dhcp",
 * NetworkManager keyfile method=auto, systemd-networkd `.network` DHCP=. Where no file decides, the live
 * address does: a "dynamic" address (`ip -o addr`) is a DHCP lease. The detail names the source.
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
      // The NIC's own block when the file has one (even one without dhcp4: then this file does not decide);
      // the whole file only for a flow-style mapping, where the NIC has no block of its own.
      const own = new RegExp(`^\\s+${nic}:\\s*$([\\s\\S]*?)(?=^\\s{0,4}\\S|(?![\\s\\S]))`, 'm').exec(text);
      const m = /dhcp4:\s*(true|yes|false|no)/.exec(own ? own[1]! : text);
      if (m) verdicts.push({ file, dhcp: m[1] === 'true' || m[1] === 'yes' });
    } else if (/NetworkManager/.test(file)) {
      if (new RegExp(`^interface-name=${nic}$`, 'm').test(text)) {
        const m = /\[ipv4\][^[]*?method=(\w+)/.exec(text);
        if (m) verdicts.push({ file, dhcp: m[1] === 'auto' });
      }
    } else if (/\/interfaces/.test(file)) {
      const m = new RegExp(`^\\s*iface\\s+${nic}\\s+inet\\s+(\\w+)`, 'm').exec(text);
      if (m) verdicts.push({ file, dhcp: m[1] === 'dhcp' });
    }
  }
  const nd = networkdVerdict(f.nicConfigs, nic);
  if (nd) verdicts.push(nd);
  if (verdicts.length === 0) {
    // No file decides: the live address does, and the detail says so.
    const lease = f.liveAddrs.find((l) => /\bdynamic\b/.test(l));
    const addr = (l: string) => /\binet\s+(\S+)/.exec(l)?.[1] ?? '?';
    if (lease) return { id, status: 'pass', detail: `${nic} uses DHCP (no configuration file decides; its address ${addr(lease)} is a DHCP lease: ip addr)` };
    if (f.liveAddrs.length) return { id, status: 'fail', detail: `${nic} has a static address ${addr(f.liveAddrs[0]!)} (no configuration file decides; ip addr shows no lease); set it to DHCP` };
    return { id, status: 'error', detail: `no configuration found for ${nic}, and no live address to tell` };
  }
  const bad = verdicts.find((v) => !v.dhcp);
  return bad
    ? { id, status: 'fail', detail: `${nic} is configured statically (${bad.file}); set it to DHCP` }
    : { id, status: 'pass', detail: `${nic} uses DHCP (${verdicts[0]!.file})` };
};

/**
 * systemd-networkd: the .network files by name (a file in /etc hides one of the same name in /run, which hides
 * one in /usr/lib or /lib), the first whose [Match] Name= matches the NIC (shell globs; no Name= matches every
 * link) decides; its DHCP= (yes, true, ipv4, both) says DHCP, anything else static.
 */
function networkdVerdict(files: Record<string, string>, nic: string): { file: string; dhcp: boolean } | null {
  const dirs = ['/etc/systemd/network/', '/run/systemd/network/', '/usr/lib/systemd/network/', '/lib/systemd/network/'];
  const byName = new Map<string, string>();
  for (const d of dirs) {
    for (const file of Object.keys(files)) {
      if (!file.startsWith(d) || !file.endsWith('.network')) continue;
      const name = file.slice(d.length);
      if (!byName.has(name)) byName.set(name, file);
    }
  }
  for (const name of [...byName.keys()].sort()) {
    const file = byName.get(name)!;
    const text = files[file]!;
    const match = section(text, 'Match');
    const names = match.Name?.split(/\s+/).filter(Boolean);
    if (names && !names.some((g) => glob(g, nic))) continue;
    const v = (section(text, 'Network').DHCP ?? 'no').toLowerCase();
    return { file, dhcp: ['yes', 'true', 'ipv4', 'both', '1', 'on'].includes(v) };
  }
  return null;
}

/** The keys of one [Section] of a systemd unit-style file; a key given twice keeps its last value. */
function section(text: string, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  let inside = false;
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#') || l.startsWith(';')) continue;
    const head = /^\[(.+)\]$/.exec(l);
    if (head) {
      inside = head[1] === name;
      continue;
    }
    const kv = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(l);
    if (inside && kv) out[kv[1]!] = kv[2]!;
  }
  return out;
}

/** A shell glob (*, ?) against a whole name. */
function glob(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(name);
}
