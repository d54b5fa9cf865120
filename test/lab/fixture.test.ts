import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labDown, labUp, repo, scp, ssh } from './helpers.js';

/**
 * The fixture plug-in behaves as the real one when installed by following the documented manual
 * procedure exactly (seed 000): unzip, cd into CloudResetPwdAgent.Linux, sh setup.sh, chmod fix.
 */
const scenario = path.join(os.tmpdir(), 'resetpwd-fixture.lab');
const pkg = (v: string) => path.join(repo, 'packages', `CloudResetPwdAgent-${v}.zip`);

beforeAll(() => {
  writeFileSync(
    scenario,
    [
      'clean-c7 os=centos7',
      'clean-sles11 os=sles11sp4 selinux=none',
      'clean-ubuntu os=ubuntu2204 selinux=none',
      'blocked os=centos7 flags=agent-blocked',
      '',
    ].join('\n'),
  );
  labUp(scenario);
});
afterAll(() => {
  labDown();
});

function manualInstall(host: string, version: string) {
  expect(scp(host, pkg(version), '/root/CloudResetPwdAgent.zip').code).toBe(0);
  return ssh(
    host,
    [
      'set -e',
      'rm -rf /root/pkg && unzip -o -q -d /root/pkg /root/CloudResetPwdAgent.zip',
      'cd /root/pkg/CloudResetPwdAgent/CloudResetPwdAgent.Linux',
      'chmod +x setup.sh && sh setup.sh',
      'chmod 700 /CloudrResetPwdAgent/bin/cloudResetPwdAgent.script',
      'chmod 700 /CloudrResetPwdAgent/bin/wrapper',
      'chmod 600 /CloudrResetPwdAgent/lib/*',
    ].join('\n'),
  );
}

describe('fixture plug-in, installed by the documented manual steps', () => {
  it('installs on a systemd host: the agent runs as a daemon and status says so', () => {
    const r = manualInstall('clean-c7', '2.1.0');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('cloudResetPwdAgent install successfully.');
    const s = ssh('clean-c7', '/CloudrResetPwdAgent/bin/cloudResetPwdAgent.script status; echo "rc=$?"; cat /CloudrResetPwdAgent/bin/cloudResetPwdAgent.pid; systemctl is-enabled cloudResetPwdAgent; service cloudResetPwdAgent status; ps -ef');
    expect(s.stdout).toMatch(/^cloudResetPwdAgent is running: PID:(\d+)\nrc=0\n\1\n/);
    expect(s.stdout).toContain('enabled');
    expect(s.stdout).toContain('Active: active (running)');
    expect(s.stdout).toMatch(/bin\/java .*-Dwrapper\.key=[0-9a-f]+ -Dwrapper\.backend=pipe /);
    const modes = ssh('clean-c7', 'stat -c "%a %n" /CloudrResetPwdAgent/bin/* /CloudrResetPwdAgent/lib/* | sort -k2');
    expect(modes.stdout).toMatch(/^700 \/CloudrResetPwdAgent\/bin\/cloudResetPwdAgent\.script$/m);
    expect(modes.stdout).toMatch(/^600 \/CloudrResetPwdAgent\/lib\/log4j-core-2\.17\.1\.jar$/m);
  });

  it('survives a stop and start through its script, and remove unregisters it', () => {
    const stop = ssh('clean-c7', '/CloudrResetPwdAgent/bin/cloudResetPwdAgent.script stop; /CloudrResetPwdAgent/bin/cloudResetPwdAgent.script status');
    expect(stop.stdout).toMatch(/cloudResetPwdAgent is not running\.$/m);
    const start = ssh('clean-c7', '/CloudrResetPwdAgent/bin/cloudResetPwdAgent.script start && /CloudrResetPwdAgent/bin/cloudResetPwdAgent.script status');
    expect(start.stdout).toMatch(/cloudResetPwdAgent is running: PID:\d+/);
    const rm = ssh('clean-c7', 'cd /CloudrResetPwdAgent/bin && ./cloudResetPwdAgent.script remove; ls /etc/systemd/system/; /CloudrResetPwdAgent/bin/cloudResetPwdAgent.script status; service cloudResetPwdAgent status; pgrep -f "Dwrapper[.]key" || echo no-jvm');
    expect(rm.stdout).toContain('Removing cloudResetPwdAgent daemon from systemd...');
    expect(rm.stdout).not.toContain('cloudResetPwdAgent.service');
    expect(rm.stdout).toContain('cloudResetPwdAgent is not running.');
    expect(rm.stderr).toContain('Unit cloudResetPwdAgent.service could not be found.');
    expect(rm.stdout).toContain('no-jvm');
  });

  it('installs the older two-agent layout on SLES 11 (SysV init): init scripts, AUTO mode port, Java from the update agent', () => {
    const r = manualInstall('clean-sles11', '1.0.5');
    expect(r.code, r.stderr).toBe(0);
    // The documented procedure runs the main agent's setup; the old layout also has the update agent's.
    const u = ssh('clean-sles11', 'cd /root/pkg/CloudResetPwdAgent/CloudResetPwdUpdateAgent.Linux && sh setup.sh');
    expect(u.stdout).toContain('cloudResetPwdUpdateAgent install successfully.');
    const s = ssh('clean-sles11', [
      'ls -l /etc/init.d/cloudResetPwdAgent /etc/init.d/cloudResetPwdUpdateAgent',
      'cat /etc/lab/enabled-initd',
      'service cloudResetPwdAgent status',
      'service cloudResetPwdUpdateAgent status',
      'grep ^wrapper.java.command /CloudrResetPwdAgent/conf/wrapper.conf',
      'cat /CloudResetPwdUpdateAgent/conf/resource.properties',
      'ss -Htln',
    ].join('; '));
    expect(s.stdout).toContain('/etc/init.d/cloudResetPwdAgent -> /CloudrResetPwdAgent/bin/cloudResetPwdAgent.script');
    expect(s.stdout).toMatch(/^cloudResetPwdAgent$/m);
    expect(s.stdout).toMatch(/^cloudResetPwdUpdateAgent$/m);
    expect(s.stdout).toMatch(/cloudResetPwdAgent is running: PID:\d+/);
    expect(s.stdout).toMatch(/cloudResetPwdUpdateAgent is running: PID:\d+/);
    expect(s.stdout).toContain('wrapper.java.command=/CloudResetPwdUpdateAgent/depend/jre1.8.0_131/bin/java');
    expect(s.stdout).toContain('resetPwdAgentVersion=1.0.5');
    expect(s.stdout).toMatch(/127\.0\.0\.1:3[12]\d{3}/);
  });

  it('fails to start when its Java went away with the update agent (the old layout\'s trap)', () => {
    const r = ssh('clean-sles11', [
      '/CloudResetPwdUpdateAgent/bin/cloudResetPwdUpdateAgent.script stop >/dev/null',
      '/CloudrResetPwdAgent/bin/cloudResetPwdAgent.script stop >/dev/null',
      'mv /CloudResetPwdUpdateAgent /root/aside',
      '/CloudrResetPwdAgent/bin/cloudResetPwdAgent.script start; echo "rc=$?"',
      'tail -n 1 /CloudrResetPwdAgent/logs/wrapper.log',
    ].join('; '));
    expect(r.stdout).toContain('Failed to start service cloudResetPwdAgent');
    expect(r.stdout).toContain('rc=1');
    expect(r.stdout).toMatch(/Unable to start JVM: No such file or directory/);
  });

  it('says "install successfully" even when the agent could not start, as the real setup.sh does', () => {
    // The marker stands for security software that blocks the agent.
    ssh('blocked', 'test -e /etc/lab/agent-blocked');
    const r = manualInstall('blocked', '2.1.0');
    expect(r.stdout).toContain('Failed to start service cloudResetPwdAgent');
    expect(r.stdout).toContain('cloudResetPwdAgent install successfully.');
    const s = ssh('blocked', '/CloudrResetPwdAgent/bin/cloudResetPwdAgent.script status');
    expect(s.code).toBe(1);
    expect(s.stdout.trim()).toBe('cloudResetPwdAgent is not running.');
  });

  it('registers a systemd unit on Ubuntu; in AUTO mode the wrapper listens on 32000 and its JVM connects to it from 31000, as the real wrapper', () => {
    const r = manualInstall('clean-ubuntu', '1.1.2');
    expect(r.stdout).toContain('Detected systemd:');
    const s = ssh('clean-ubuntu', 'cat /etc/systemd/system/cloudResetPwdAgent.service; echo "wrapper=$(cat /CloudrResetPwdAgent/bin/cloudResetPwdAgent.pid)"; ss -Htanp');
    expect(s.stdout).toContain('ExecStart=/CloudrResetPwdAgent/bin/cloudResetPwdAgent.script start sysd');
    const wrapper = /^wrapper=(\d+)$/m.exec(s.stdout)![1]!;
    // The socket backend (wrapper.port 32000-32999, wrapper.jvm.port 31000-31999): the listener is the wrapper's.
    expect(s.stdout).toMatch(new RegExp(`^LISTEN .* 127\\.0\\.0\\.1:32000 .*pid=${wrapper},`, 'm'));
    const jvm = new RegExp('^ESTAB .* 127\\.0\\.0\\.1:31000 +127\\.0\\.0\\.1:32000 .*pid=(\\d+),', 'm').exec(s.stdout)?.[1];
    expect(jvm, s.stdout).toBeDefined();
    expect(jvm).not.toBe(wrapper);
    expect(ssh('clean-ubuntu', `tr "\\0" " " < /proc/${jvm}/cmdline`).stdout).toMatch(new RegExp(`-Dwrapper\\.key=\\w+ -Dwrapper\\.port=32000 -Dwrapper\\.jvm\\.port\\.min=31000 .*-Dwrapper\\.pid=${wrapper} `));
    expect(s.stdout).not.toMatch(/^LISTEN .*:31000 /m);
  });
});
