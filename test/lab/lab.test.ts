import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { labDown, labLeftovers, labUp, ssh, type LabDoc, type LabHost } from './helpers.js';

/**
 * The lab is the ground every integration test stands on, so this file checks that each simulated
 * server really is what its scenario line (scenarios/default.lab) says, seen from inside over SSH.
 */
let doc: LabDoc;
const byName = (n: string): LabHost => {
  const h = doc.hosts.find((x) => x.name === n);
  if (!h) throw new Error(`no host ${n} in the lab`);
  return h;
};

// One round trip per host: everything the assertions below look at, in KEY=value sections.
const probe = [
  'echo "@user $(id -un)"',
  'echo "@hostname $(hostname)"',
  'echo "@osrelease"; cat /etc/os-release 2>/dev/null || echo "(none)"',
  'echo "@suserelease"; cat /etc/SuSE-release 2>/dev/null || echo "(none)"',
  'echo "@arch $(uname -m)"',
  'echo "@df $(df -Pk / | tail -1)"',
  'echo "@rootopts $(awk \'$2=="/" {print $4}\' /proc/mounts)"',
  'echo "@memtotal $(awk \'/^MemTotal/ {print $2}\' /proc/meminfo)"',
  'echo "@getenforce $(getenforce 2>/dev/null || echo none)"',
  'echo "@selinuxconfig $(sed -n s/^SELINUX=//p /etc/selinux/config 2>/dev/null)"',
  'echo "@nic"; cat /etc/sysconfig/network-scripts/ifcfg-eth0 /etc/sysconfig/network/ifcfg-eth0 /etc/netplan/50-cloud-init.yaml /etc/network/interfaces /etc/systemd/network/10-eth0.network 2>/dev/null',
  'echo "@eth0 $(ip -o -4 addr show dev eth0 | awk \'{print $4}\')"',
  'echo "@eip $(curl -s -m 2 -o /dev/null -w %{http_code} http://169.254.169.254/latest/meta-data/public-ipv4) $(curl -s -m 2 http://169.254.169.254/latest/meta-data/public-ipv4)"',
  'echo "@metajson $(curl -s -m 2 http://169.254.169.254/openstack/latest/meta_data.json || echo unreachable)"',
  'echo "@unzip $(command -v unzip || echo missing)"',
  'echo "@pid1 $(cat /proc/1/comm)"',
  'echo "@agent $(/CloudrResetPwdAgent/bin/cloudResetPwdAgent.script status 2>&1)"',
  'echo "@updateagent $(test -d /CloudResetPwdUpdateAgent && echo present || echo absent)"',
  'echo "@end"',
].join('; ');

function sections(out: string): Map<string, string> {
  const m = new Map<string, string>();
  let key = '';
  for (const line of out.split('\n')) {
    const hit = /^@(\w+)(?: (.*))?$/.exec(line);
    if (hit) {
      key = hit[1]!;
      m.set(key, hit[2] ?? '');
    } else if (key) {
      m.set(key, `${m.get(key)}\n${line}`.trim());
    }
  }
  return m;
}

const sizes: Record<string, number> = { '250M': 250 * 1024, '1G': 1024 * 1024 };
const facts = new Map<string, Map<string, string>>();

beforeAll(() => {
  doc = labUp();
  for (const h of doc.hosts) {
    const r = ssh(h.name, probe);
    expect(r.stderr, `${h.name} stderr`).not.toMatch(/Host key verification failed|Permission denied \(/);
    expect(r.stdout, `${h.name} answered the probe`).toContain('@end');
    facts.set(h.name, sections(r.stdout));
  }
});

afterAll(() => {
  labDown();
});

describe('lab hosts, as their scenario describes them', () => {
  it('every host answers ssh with its own host key pinned in known_hosts, as the user its login names', () => {
    expect(doc.hosts.length).toBeGreaterThanOrEqual(10);
    const kh = readFileSync(doc.knownHosts, 'utf8');
    for (const h of doc.hosts) {
      const f = facts.get(h.name)!;
      expect(f.get('hostname')).toBe(h.name);
      expect(f.get('user')).toBe(h.login === 'root' ? 'root' : doc.user);
      // A legacy sshd offers only an RSA key (what old SLES 11 servers have); every other host an ed25519 one.
      expect(h.hostkey[0], h.name).toBe(h.sshd === 'legacy' ? 'ssh-rsa' : 'ssh-ed25519');
      expect(kh).toContain(`[${h.address}]:${h.port} ${h.hostkey[0]} ${h.hostkey[1]}`);
      expect(h.address).toMatch(/^127\.10\.\d+\.\d+$/); // loopback only: never an address outside this machine
    }
  });

  it('shows the OS identity of its profile; SLES 11 SP4 has only /etc/SuSE-release', () => {
    const ids: Record<string, RegExp> = {
      centos7: /ID="centos"[\s\S]*VERSION_ID="7"/,
      euleros2sp8: /ID="euleros"[\s\S]*VERSION_ID="2.0"/,
      ubuntu2204: /ID=ubuntu[\s\S]*/,
      debian12: /ID=debian/,
      sles12sp5: /ID="sles"/,
      kylinv10: /ID="kylin"/,
    };
    for (const h of doc.hosts) {
      const f = facts.get(h.name)!;
      if (h.os === 'sles11sp4') {
        expect(f.get('osrelease')).toBe('(none)');
        expect(f.get('suserelease')).toMatch(/VERSION = 11\s+PATCHLEVEL = 4/);
      } else {
        expect(f.get('osrelease'), h.name).toMatch(ids[h.os]!);
      }
      expect(f.get('pid1')).toBe(h.init === 'systemd' ? 'systemd' : 'init');
      expect(f.get('arch')).toBe(h.arch || process.arch.replace('x64', 'x86_64').replace('arm64', 'aarch64'));
    }
  });

  it('has the free space on / that its disk size gives, and a read-only root where the scenario says so', () => {
    for (const h of doc.hosts) {
      const f = facts.get(h.name)!;
      const [, sizeKb, , availKb] = f.get('df')!.split(/\s+/).map(Number) as number[];
      expect(sizeKb, h.name).toBe(sizes[h.disk]);
      expect(availKb!, h.name).toBeGreaterThan(sizes[h.disk]! * 0.9);
      expect(f.get('rootopts')!.split(',')[0], h.name).toBe(h.flags.includes('ro-root') ? 'ro' : 'rw');
    }
    expect(byName('c7-lowdisk').disk).toBe('250M');
  });

  it('shows the memory of its scenario in /proc/meminfo (else the machine\'s)', () => {
    expect(Number(facts.get('sles11-small')!.get('memtotal'))).toBe(2 * 1024 * 1024);
    expect(Number(facts.get('sles11-big')!.get('memtotal'))).toBe(8 * 1024 * 1024);
    const machineKb = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
    expect(Number(facts.get('c7-old')!.get('memtotal'))).toBe(machineKb);
  });

  it('shows its SELinux state in getenforce and /etc/selinux/config (RHEL-like profiles have getenforce)', () => {
    for (const h of doc.hosts) {
      const f = facts.get(h.name)!;
      const [mode] = h.selinux.split(':');
      if (mode === 'none') {
        expect(f.get('selinuxconfig'), h.name).toBe('');
      } else {
        expect(f.get('selinuxconfig'), h.name).toBe(mode);
      }
      if (['centos7', 'euleros2sp8', 'kylinv10'].includes(h.os)) {
        expect(f.get('getenforce'), h.name).toBe(h.selinux_runtime || 'Disabled');
      } else {
        expect(f.get('getenforce'), h.name).toBe('none');
      }
    }
    expect(facts.get('c7-lowdisk')!.get('getenforce')).toBe('Enforcing');
    expect(facts.get('euler-stopped')!.get('getenforce')).toBe('Permissive');
  });

  it('configures its NIC for DHCP or statically in the distribution\'s own format', () => {
    const dhcp: Record<string, RegExp> = {
      rhel: /BOOTPROTO="dhcp"/,
      suse: /BOOTPROTO='dhcp'/,
      netplan: /dhcp4: true/,
      interfaces: /iface eth0 inet dhcp/,
      networkd: /\[Match\]\nName=eth0\n[\s\S]*DHCP=ipv4/,
      none: /^$/,
    };
    const fixed: Record<string, RegExp> = {
      rhel: /BOOTPROTO="static"/,
      suse: /BOOTPROTO='static'/,
      netplan: /dhcp4: false/,
      interfaces: /iface eth0 inet static/,
      networkd: /\[Match\]\nName=eth0\n[\s\S]*Address=/,
      none: /^$/,
    };
    for (const h of doc.hosts) {
      const f = facts.get(h.name)!;
      expect(f.get('nic'), h.name).toMatch((h.net === 'dhcp' ? dhcp : fixed)[h.netfmt]!);
      expect(f.get('eth0'), h.name).toBe(h.nic);
    }
    expect(byName('debian-static').netfmt).toBe('interfaces');
    expect(byName('sles12-static').netfmt).toBe('suse');
  });

  it('answers metadata on 169.254.169.254:80 inside the host: public-ipv4 only with an EIP, nothing when off', () => {
    for (const h of doc.hosts) {
      const f = facts.get(h.name)!;
      if (h.metadata === 'off') {
        expect(f.get('metajson'), h.name).toBe('unreachable');
        expect(f.get('eip'), h.name).toMatch(/^000/);
        continue;
      }
      expect(JSON.parse(f.get('metajson')!).uuid, h.name).toBe(h.uuid);
      if (h.eip) expect(f.get('eip'), h.name).toBe(`200 ${h.eip}`);
      else expect(f.get('eip'), h.name).toMatch(/^404/);
    }
    // The metadata address exists only inside the hosts, never on this machine.
    expect(readFileSync('/proc/net/tcp', 'utf8')).not.toMatch(/FEA9FEA9:0050/);
  });

  it('lacks unzip where the scenario says so', () => {
    expect(facts.get('ubuntu-bare')!.get('unzip')).toBe('missing');
    expect(facts.get('c7-old')!.get('unzip')).toBe('/usr/bin/unzip');
  });

  it('has the pre-installed plug-in of its scenario, running or stopped, in either layout', () => {
    for (const h of doc.hosts) {
      const f = facts.get(h.name)!;
      if (!h.agent) {
        expect(f.get('agent'), h.name).toMatch(/No such file or directory|not found/);
        continue;
      }
      const running = h.agent_state === 'running' && !h.flags.includes('ro-root');
      expect(f.get('agent'), h.name).toMatch(
        running ? /^cloudResetPwdAgent is running: PID:\d+$/ : /^cloudResetPwdAgent is not running\.$/,
      );
      expect(f.get('updateagent'), h.name).toBe(h.agent === '1.0.5' ? 'present' : 'absent');
    }
  });
});

describe('lab logins', () => {
  it('root logs in by key only: a root password login is refused', () => {
    const r = ssh('c7-old', 'true', { user: 'root' });
    expect(r.code).toBe(0);
    const pw = spawnPassword('c7-old', 'root', doc.password);
    expect(pw.code).not.toBe(0);
  });

  it('the sudo user logs in with its password, and sudo asks for it (-S over stdin works, a wrong one is refused)', () => {
    const pw = spawnPassword('ubuntu-sudo', doc.user, doc.password, 'id -un');
    expect(pw.code, pw.stderr).toBe(0);
    expect(pw.stdout.trim()).toBe(doc.user);
    expect(ssh('ubuntu-sudo', 'sudo -n true').stderr).toMatch(/a password is required/);
    const ok = ssh('ubuntu-sudo', 'sudo -S -p "" id -un', { input: `${doc.password}\n` });
    expect(ok.stdout.trim()).toBe('root');
    const bad = ssh('ubuntu-sudo', 'sudo -S -p "" id -un', { input: 'wrong\nwrong\nwrong\n' });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Sorry, try again|incorrect password/);
  });

  it('a host with "requiretty" refuses sudo without a terminal, and allows it with one', () => {
    const noTty = ssh('c7-sudotty', 'sudo -S -p "" id -un', { input: `${doc.password}\n` });
    expect(noTty.code).not.toBe(0);
    expect(noTty.stderr).toMatch(/you must have a tty to run sudo|a terminal is required/);
    const tty = ssh('c7-sudotty', `echo ${doc.password} | sudo -S -p "" id -un`, { tty: true });
    expect(tty.stdout).toMatch(/root/);
  });
});

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { labOut } from './helpers.js';

/** A password login with sshpass (no key offered), as an operator's host_list.txt would do. */
function spawnPassword(host: string, user: string, password: string, command = 'true') {
  const r = spawnSync(
    'sshpass',
    ['-e', 'ssh', '-F', path.join(labOut, 'ssh_config'), '-o', 'BatchMode=no', '-o', 'PubkeyAuthentication=no',
      '-o', 'PreferredAuthentications=password', '-o', 'NumberOfPasswordPrompts=1', '-l', user, host, command],
    { encoding: 'utf8', env: { ...process.env, SSHPASS: password }, timeout: 30_000 },
  );
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

describe('lab teardown', () => {
  it('leaves no process, mount, listener or namespace behind', () => {
    const r = labDown();
    expect(r.code, r.stderr).toBe(0);
    expect(labLeftovers()).toEqual([]);
  });
});
