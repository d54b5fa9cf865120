import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLinuxFacts, type LinuxFacts } from '../../../../src/platform/linux/facts.js';
import { runLinuxChecks, LINUX_CHECK_IDS } from '../../../../src/platform/linux/checks/index.js';
import { rootWritable } from '../../../../src/platform/linux/checks/root-writable.js';
import { diskSpace } from '../../../../src/platform/linux/checks/disk-space.js';
import { selinux } from '../../../../src/platform/linux/checks/selinux.js';
import { memory } from '../../../../src/platform/linux/checks/memory.js';
import { dhcp } from '../../../../src/platform/linux/checks/dhcp.js';
import { metadata } from '../../../../src/platform/linux/checks/metadata.js';
import { eip } from '../../../../src/platform/linux/checks/eip.js';
import { osSupported } from '../../../../src/platform/linux/checks/os-supported.js';

const base = parseLinuxFacts(
  readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/facts/c7-old.txt'), 'utf8'),
);
const facts = (patch: (f: LinuxFacts) => void): LinuxFacts => {
  const f = structuredClone(base);
  patch(f);
  return f;
};
const push = { pull: false };

describe('Linux checks are pure functions of facts', () => {
  it('all pass (eip passes with a public IPv4) on a healthy CentOS 7, in SPEC order', () => {
    const r = runLinuxChecks(base, push);
    expect(r.map((c) => c.id)).toEqual([...LINUX_CHECK_IDS]);
    expect(r.map((c) => c.status)).toEqual(['pass', 'pass', 'pass', 'skip', 'pass', 'pass', 'pass', 'pass']);
  });

  it('root-writable: fail on a ro mount or when / is not writable, error when unknown', () => {
    expect(rootWritable(facts((f) => (f.root.mountOptions = ['ro', 'relatime'])), push).status).toBe('fail');
    expect(rootWritable(facts((f) => (f.root.writable = false)), push).status).toBe('fail');
    expect(rootWritable(facts((f) => (f.root.writable = null)), push).status).toBe('error');
  });

  it('disk-space: fails at 300 MB free or less, passes above', () => {
    expect(diskSpace(facts((f) => (f.root.availKb = 300 * 1024)), push).status).toBe('fail');
    expect(diskSpace(facts((f) => (f.root.availKb = 250 * 1024)), push).detail).toMatch(/only 250 MiB free/);
    expect(diskSpace(facts((f) => (f.root.availKb = 300 * 1024 + 1)), push).status).toBe('pass');
    expect(diskSpace(facts((f) => (f.root.availKb = null)), push).status).toBe('error');
  });

  it('selinux: enforcing fails, permissive warns, an enforcing config with a disabled runtime warns, disabled passes', () => {
    const s = (ge: string | null, cfg: string | null, enf: string | null = null) =>
      selinux(facts((f) => (f.selinux = { getenforce: ge, config: cfg, enforceFile: enf })), push).status;
    expect(s('Enforcing', 'enforcing')).toBe('fail');
    expect(s(null, null, '1')).toBe('fail');
    expect(s('Permissive', 'permissive')).toBe('warn');
    expect(s('Disabled', 'enforcing')).toBe('warn');
    expect(s('Disabled', 'disabled')).toBe('pass');
    expect(s(null, null)).toBe('pass');
  });

  it('memory: applies to SLES 11 SP4 only, failing below 4 GiB (MemTotal under 3.5 GiB)', () => {
    const sles = (kb: number | null) =>
      memory(facts((f) => ((f.os = { ...f.os, id: 'sles', version: '11.4' }), (f.memTotalKb = kb))), push).status;
    expect(memory(base, push).status).toBe('skip');
    expect(sles(2 * 1024 * 1024)).toBe('fail');
    expect(sles(3_880_000)).toBe('pass'); // what a 4 GiB server shows
    expect(sles(null)).toBe('error');
    expect(memory(facts((f) => ((f.os = { ...f.os, id: 'sles', version: '12.5' }), (f.memTotalKb = 1024))), push).status).toBe('skip');
  });

  it('dhcp: reads ifcfg, SUSE ifcfg, netplan, interfaces and NetworkManager keyfiles of the primary NIC', () => {
    const d = (file: string, text: string) => dhcp(facts((f) => (f.nicConfigs = { [file]: text })), push).status;
    expect(d('/etc/sysconfig/network-scripts/ifcfg-eth0', 'BOOTPROTO=static\n')).toBe('fail');
    expect(d('/etc/sysconfig/network-scripts/ifcfg-eth0', 'BOOTPROTO="none"\nIPADDR=1.2.3.4\n')).toBe('fail');
    expect(d('/etc/sysconfig/network/ifcfg-eth0', "BOOTPROTO='dhcp4'\n")).toBe('pass');
    expect(d('/etc/netplan/50-cloud-init.yaml', 'network:\n  ethernets:\n    eth0:\n      dhcp4: true\n')).toBe('pass');
    expect(d('/etc/netplan/50-cloud-init.yaml', 'network:\n  ethernets:\n    eth0:\n      dhcp4: false\n')).toBe('fail');
    // Another NIC's dhcp4 never speaks for the primary one, whose block has none (its addresses are static).
    const netplanOnly = (text: string) => dhcp(facts((f) => ((f.nicConfigs = { '/etc/netplan/50-cloud-init.yaml': text }), (f.liveAddrs = []))), push).status;
    expect(netplanOnly('network:\n  ethernets:\n    eth1:\n      dhcp4: true\n    eth0:\n      addresses:\n      gateway4:\n')).toBe('error');
    expect(d('/etc/network/interfaces', 'auto eth0\niface eth0 inet static\n  address 10.0.0.2/24\n')).toBe('fail');
    expect(d('/etc/NetworkManager/system-connections/eth0.nmconnection', '[connection]\ninterface-name=eth0\n[ipv4]\nmethod=auto\n')).toBe('pass');
    expect(d('/etc/NetworkManager/system-connections/eth0.nmconnection', '[connection]\ninterface-name=eth0\n[ipv4]\nmethod=manual\n')).toBe('fail');
    expect(dhcp(facts((f) => ((f.nicConfigs = {}), (f.liveAddrs = []))), push).status).toBe('error');
    expect(dhcp(facts((f) => (f.primaryNic = null)), push).status).toBe('error');
  });

  it('dhcp: reads systemd-networkd .network files (the first by name whose [Match] Name= fits; /etc hides /usr/lib)', () => {
    const d = (files: Record<string, string>) => dhcp(facts((f) => (f.nicConfigs = files)), push);
    expect(d({ '/etc/systemd/network/10-eth0.network': '[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n' })).toEqual({ id: 'dhcp', status: 'pass', detail: 'eth0 uses DHCP (/etc/systemd/network/10-eth0.network)' });
    expect(d({ '/etc/systemd/network/10-eth0.network': '[Match]\nName=eth0\n[Network]\nAddress=10.0.0.2/24\nGateway=10.0.0.1\n' }).status).toBe('fail');
    // Flatcar's shape: a glob, DHCP=yes; a file for another link is passed over.
    expect(d({ '/etc/systemd/network/00-other.network': '[Match]\nName=wl*\n[Network]\nAddress=10.1.1.1/24\n', '/etc/systemd/network/50-en.network': '[Match]\nName=e*\n[Network]\nDHCP=yes\n' }).status).toBe('pass');
    // The admin's file in /etc hides the vendor's of the same name.
    expect(d({ '/usr/lib/systemd/network/50-x.network': '[Match]\nName=eth0\n[Network]\nDHCP=no\n', '/etc/systemd/network/50-x.network': '[Match]\nName=eth0\n[Network]\nDHCP=yes\n' }).status).toBe('pass');
  });

  it('dhcp: where no file decides, the live address does (a "dynamic" one is a lease), and the detail says so', () => {
    const live = (lines: string[]) => dhcp(facts((f) => ((f.nicConfigs = {}), (f.liveAddrs = lines))), push);
    expect(live(['2: eth0    inet 192.168.0.7/16 brd 192.168.255.255 scope global dynamic eth0\\       valid_lft 86395sec preferred_lft 86395sec'])).toEqual({
      id: 'dhcp', status: 'pass', detail: 'eth0 uses DHCP (no configuration file decides; its address 192.168.0.7/16 is a DHCP lease: ip addr)',
    });
    expect(live(['2: eth0    inet 192.168.0.7/16 scope global eth0\\       valid_lft forever preferred_lft forever']).detail).toMatch(/^eth0 has a static address 192\.168\.0\.7\/16 \(no configuration file decides; ip addr shows no lease\)/);
  });

  it('metadata: any HTTP answer passes, none fails, no client is an error', () => {
    expect(metadata(facts((f) => (f.metadata = { client: true, reachable: false, publicIpv4: null })), push).status).toBe('fail');
    expect(metadata(facts((f) => (f.metadata = { client: false, reachable: null, publicIpv4: null })), push).status).toBe('error');
  });

  it('eip: passes with a public IPv4 or the inventory\'s eip=, else warns in push mode and fails with --pull', () => {
    const none = facts((f) => (f.metadata.publicIpv4 = null));
    expect(eip(none, { pull: false }).status).toBe('warn');
    expect(eip(none, { pull: true }).status).toBe('fail');
    expect(eip(none, { pull: true, inventoryEip: '198.51.100.7' })).toMatchObject({ status: 'pass', detail: 'EIP 198.51.100.7 (from the inventory)' });
  });

  it('os-supported: fails on CoreOS and KylinOS', () => {
    const os = (id: string, name: string) => osSupported(facts((f) => (f.os = { ...f.os, id, name })), push).status;
    expect(os('coreos', 'Container Linux by CoreOS 2512.3.0 (Oklo)')).toBe('fail');
    expect(os('kylin', 'Kylin Linux Advanced Server V10 (Sword)')).toBe('fail');
    expect(os('euleros', 'EulerOS 2.0 (SP8)')).toBe('pass');
  });
});
