import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FactsParseError, parseLinuxFacts } from '../../../../src/platform/linux/facts.js';

// Outputs of LINUX_FACTS_SCRIPT recorded on lab hosts (scenarios/default.lab).
const rec = (name: string) =>
  readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/facts', `${name}.txt`), 'utf8');

describe('parseLinuxFacts', () => {
  it('reads the server id (the uuid of meta_data.json) only from a metadata service that answered, in lower case', () => {
    const withId = rec('c7-old').replace('meta_data=200\n', 'meta_data=200\nserver_id=4F0D9A6E-2C1B-4B7A-9F1E-0123456789AB\n');
    expect(parseLinuxFacts(withId).metadata.serverId).toBe('4f0d9a6e-2c1b-4b7a-9f1e-0123456789ab');
    expect(parseLinuxFacts(withId.replace('meta_data=200', 'meta_data=000')).metadata.serverId).toBeNull();
    expect(parseLinuxFacts(rec('c7-old').replace('meta_data=200\n', 'meta_data=200\nserver_id=not-a-uuid; rm -rf /\n')).metadata.serverId).toBeNull();
  });

  it('reads a CentOS 7 host with the old two-agent plug-in running in AUTO mode', () => {
    const f = parseLinuxFacts(rec('c7-old'));
    expect(f.os).toEqual({ family: 'linux', id: 'centos', version: '7', name: 'CentOS Linux 7 (Core)', arch: 'x86_64' });
    expect(f.user).toBe('root');
    expect(f.root.mountOptions[0]).toBe('rw');
    expect(f.root.writable).toBe(true);
    expect(f.root.sizeKb).toBe(1024 * 1024);
    expect(f.selinux.getenforce).toBe('Disabled');
    expect(f.primaryNic).toBe('eth0');
    expect(Object.keys(f.nicConfigs)).toContain('/etc/sysconfig/network-scripts/ifcfg-eth0');
    expect(f.metadata).toEqual({ client: true, reachable: true, publicIpv4: '203.0.113.10', serverId: null });
    expect(f.systemd).toBe(true);
    expect(f.agents.main).toMatchObject({ present: true, running: true, backendType: 'AUTO', log4jCore: '2.8.2', unit: true, unitEnabled: true });
    expect(f.agents.main.javaCommand).toBe('/CloudResetPwdUpdateAgent/depend/jre1.8.0_131/bin/java');
    expect(f.agents.update).toMatchObject({ present: true, running: true, version: '1.0.5' });
    // The socket backend as the real wrapper has it: the wrapper listens (32000), its JVM connects from 31000.
    expect(f.agents.main.procs).toEqual([
      { pid: 111, role: 'wrapper', wrapper: null, cwd: '/CloudrResetPwdAgent/bin' },
      { pid: 113, role: 'jvm', wrapper: 111, cwd: '/CloudrResetPwdAgent/bin' },
    ]);
    expect(f.agents.main.sockets).toContainEqual({ pid: 111, port: 32000, state: 'LISTEN' });
    expect(f.agents.main.sockets).toContainEqual({ pid: 113, port: 31000, state: 'CONNECTED' });
    expect(f.agents.update.procs.map((p) => p.role)).toEqual(['wrapper', 'jvm']);
  });

  it('identifies SLES 11 SP4 from /etc/SuSE-release alone, with its meminfo and SysV registration', () => {
    const f = parseLinuxFacts(rec('sles11-small'));
    expect(f.osRelease).toEqual({});
    expect(f.os.id).toBe('sles');
    expect(f.os.version).toBe('11.4');
    expect(f.memTotalKb).toBe(2 * 1024 * 1024);
    expect(f.systemd).toBe(false);
    expect(f.agents.main.initd).toBe(true);
    expect(f.agents.main.unit).toBe(false);
    expect(f.selinux).toEqual({ getenforce: null, enforceFile: null, config: null });
  });

  it('sees a read-only root, a stopped agent and its PIPE mode', () => {
    const f = parseLinuxFacts(rec('c7-readonly'));
    expect(f.root.mountOptions[0]).toBe('ro');
    expect(f.root.writable).toBe(false);
    expect(f.agents.main).toMatchObject({ present: true, running: false, backendType: 'PIPE', log4jCore: '2.17.1' });
  });

  it('sees no metadata answer and no plug-in on a bare Ubuntu without unzip', () => {
    const f = parseLinuxFacts(rec('ubuntu-bare'));
    expect(f.os.id).toBe('ubuntu');
    expect(f.metadata).toEqual({ client: true, reachable: false, publicIpv4: null, serverId: null });
    expect(f.tools).not.toContain('unzip');
    expect(f.agents.main.present).toBe(false);
    expect(f.nicConfigs['/etc/netplan/50-cloud-init.yaml']).toMatch(/dhcp4: true/);
  });

  it('refuses output that was cut before the end marker', () => {
    const cut = rec('debian-static').replace(/^@[a-z0-9]+ \.end\n?$/m, '');
    expect(() => parseLinuxFacts(cut)).toThrow(FactsParseError);
  });

  it('takes only lines with the token the host drew for markers: what a file or a command line holds cannot forge one', () => {
    const real = rec('c7-old');
    const token = /^@@token (\S+)$/m.exec(real)![1]!;
    // An os-release (or a process's command line) that holds what the old markers were: "@@end", a section, a file.
    const forged = ['@@end', '@state', 'package_sha256=forged', '#file /etc/netplan/evil.yaml', 'network: {ethernets: {eth0: {dhcp4: true}}}', '@other .end', '@deadbeefdeadbeef agent cloudResetPwdAgent'].join('\n');
    const text = real.replace(`@${token} file /etc/os-release\n`, `@${token} file /etc/os-release\n${forged}\n`);
    const f = parseLinuxFacts(text);
    const g = parseLinuxFacts(real);
    expect(f.stateFile).toEqual(g.stateFile);
    expect(f.agents).toEqual(g.agents);
    expect(Object.keys(f.nicConfigs)).toEqual(Object.keys(g.nicConfigs));
    expect(f.os).toEqual(g.os);
    expect(() => parseLinuxFacts(real.replace(/^@@token .*\n/, ''))).toThrow(/no @@token line/);
    // A login shell's own output before the script is skipped.
    expect(parseLinuxFacts(`Welcome, operator\n@@token fake\n${real}`).os).toEqual(g.os);
  });
});
