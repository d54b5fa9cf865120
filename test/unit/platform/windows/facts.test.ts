import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { strayProcs, windowsAgentState } from '../../../../src/platform/windows/agent-state.js';
import { parseWindowsFacts, windowsOs } from '../../../../src/platform/windows/facts.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sample = (name: string) => parseWindowsFacts(readFileSync(path.join(here, '../../fixtures/windows-facts', name), 'utf8'));

describe('parseWindowsFacts', () => {
  it('reads the server id (the uuid of meta_data.json) only from a metadata service that answered, in lower case', () => {
    const text = readFileSync(path.join(here, '../../fixtures/windows-facts', 'ws2019-old-two-agents.txt'), 'utf8');
    const withId = text.replace(/meta_data=200(\r?\n)/, 'meta_data=200$1server_id=4F0D9A6E-2C1B-4B7A-9F1E-0123456789AB$1');
    expect(withId).not.toBe(text);
    expect(parseWindowsFacts(withId).metadata.serverId).toBe('4f0d9a6e-2c1b-4b7a-9f1e-0123456789ab');
    expect(parseWindowsFacts(withId.replace('meta_data=200', 'meta_data=0')).metadata.serverId).toBeNull();
  });

  it('reads a Server 2019 with the old two-agent layout: OS, C:, adapters, metadata, both agents and their services', () => {
    const f = sample('ws2019-old-two-agents.txt');
    expect(f.complete).toBe(true);
    expect(f.user).toBe('ECS-WIN2019-01\\Administrator');
    expect(f.admin).toBe(true);
    expect(f.os).toMatchObject({ caption: 'Microsoft Windows Server 2019 Datacenter', version: '10.0.17763', build: 17763, productType: 3, arch: 'AMD64' });
    expect(f.c).toMatchObject({ freeBytes: 21474836480, writable: true });
    expect(f.adapters).toEqual([{ ifIndex: 6, name: 'Ethernet', dhcp: true, ipv4: ['192.168.0.12'] }]);
    expect(f.defaultRoutes).toEqual([{ ifIndex: 6, metric: 0, nextHop: '192.168.0.1' }]);
    expect(f.metadata).toEqual({ code: 200, reachable: true, publicIpv4: '203.0.113.7', serverId: null });
    expect(f.agents.main).toMatchObject({ present: true, log4jCore: '2.8.2', backendType: 'AUTO', running: true, jvmPid: 2240, aclWriters: ['S-1-5-11'] });
    expect(f.agents.main.service).toMatchObject({ state: 'Running', startMode: 'Auto', pid: 2212 });
    expect(f.agents.main.service!.path).toBe('"C:\\CloudResetPwdAgent\\bin\\wrapper.exe" -s "C:\\CloudResetPwdAgent\\conf\\wrapper.conf"');
    expect(f.agents.update).toMatchObject({ present: true, version: '1.0.5', running: true });
    expect(f.txn).toBeNull();
    expect(windowsOs(f)).toEqual({ family: 'windows', id: 'windows-server-2019', version: '10.0.17763', arch: 'x86_64' });
  });

  it('reports the plug-in in the same AgentState shape as Linux, with Windows findings', () => {
    const a = windowsAgentState(sample('ws2019-old-two-agents.txt'));
    // AUTO mode's port as on Linux: the service's wrapper listens (32000), its java.exe connects back from 31000.
    expect(a).toMatchObject({ installed: true, updateAgent: true, version: '1.0.5', running: true, mode: 'AUTO', port: 32000, log4j: '2.8.2', packageSha256: null });
    expect(a.findings.join('\n')).toMatch(/log4j 2\.8\.2 is below 2\.17/);
    expect(a.findings.join('\n')).toMatch(/C:\\CloudResetPwdAgent can be changed by S-1-5-11/);
  });

  it('AUTO without a wrapper.backend.type line (the wrapper\'s default); the JVM\'s connected port when the listener is not seen', () => {
    const text = readFileSync(path.join(here, '../../fixtures/windows-facts', 'ws2019-old-two-agents.txt'), 'utf8')
      .replace('main.backend=AUTO\r\n', '')
      .replace('main.sockets=2212:32000:LISTEN,2212:32000:CONNECTED,2240:31000:CONNECTED', 'main.sockets=2240:31000:CONNECTED');
    expect(windowsAgentState(parseWindowsFacts(text))).toMatchObject({ mode: 'AUTO', port: 31000 });
  });

  it('reads Server 2012 R2 on PowerShell 4.0: two default routes by metric, a 404 from metadata (reachable), no EIP, nothing installed', () => {
    const f = sample('ws2012r2-clean-static.txt');
    expect(f.psVersion).toBe('4.0');
    expect(f.tools).toEqual({ getFileHash: true, expandArchive: false, zipFile: true, cim: true });
    expect(f.defaultRoutes.map((r) => r.ifIndex)).toEqual([12, 14]);
    expect(f.adapters.find((a) => a.ifIndex === 12)).toMatchObject({ name: 'Ethernet 2', dhcp: false });
    expect(f.metadata).toEqual({ code: 404, reachable: true, publicIpv4: null, serverId: null });
    expect(f.agents.main).toMatchObject({ present: false, service: null, running: false });
    expect(windowsOs(f).id).toBe('windows-server-2012r2');
    expect(windowsAgentState(f)).toMatchObject({ installed: false, updateAgent: false, running: false, version: null });
  });

  it('unescapes localized text (Chinese caption, user, adapter, error) and keeps a failed section as an error', () => {
    const f = sample('ws2016-cn-locked.txt');
    expect(f.os.caption).toBe('Microsoft Windows Server 2016 数据中心版');
    expect(f.user).toBe('SRV-CN\\管理员');
    expect(f.adapters[0]!.name).toBe('以太网');
    expect(f.c.writable).toBe(false);
    expect(f.c.writeError).toContain('C:\\resetpwd-fleet-probe.7f1e');
    expect(f.errors).toEqual({ metadata: '操作超时' });
    expect(f.metadata.reachable).toBeNull();
    expect(f.agents.main).toMatchObject({ running: false, aclWriters: [] });
    expect(f.agents.main.service!.startMode).toBe('Manual');
    expect(f.stateFile).toEqual({ package_sha256: 'ab'.repeat(32), version: '2.1.0' });
    expect(f.txn).toEqual({ fields: { id: 'm0abc12345678', action: 'install', pid: '5120', phase: 'set-aside', aside: 'C:\\.resetpwd-fleet\\m0abc12345678' }, alive: false });
    expect(windowsAgentState(f).findings.join('\n')).toMatch(/starts Manual, not automatically/);
  });

  it('is tolerant of missing lines: a cut output is incomplete, and what it lacks is null, not guessed', () => {
    const f = sample('cut-short.txt');
    expect(f.complete).toBe(false);
    expect(f.os.build).toBe(17763);
    expect(f.metadata.code).toBeNull();
    expect(f.agents.main.present).toBe(false);
    const empty = parseWindowsFacts('');
    expect(empty.complete).toBe(false);
    expect(empty.os).toEqual({ caption: null, version: null, build: null, productType: null, arch: null, edition: null, installation: null });
    expect(windowsOs(empty)).toEqual({ family: 'windows', id: null, version: null, arch: null });
  });
});

describe('the agents\' processes, found by what they are (the agent.procs section)', () => {
  const raw = readFileSync(path.join(here, '../../fixtures/windows-facts', 'ws2019-old-two-agents.txt'), 'utf8');
  /** The sample with these agent_proc lines (Emit-escaped as the script prints them) and their count before end=1. */
  const withProcs = (procs: string[], extra = '') => parseWindowsFacts(raw.replace('end=1', [
    ...procs.map((p) => `agent_proc=${p.replace(/\\/g, '\\u005c')}`), `agent_procs=${procs.length}`, ...(extra ? [extra] : []), 'end=1'].join('\r\n')));
  // Both services' own processes as the host lists them: the old build runs the main agent on the update agent's Java.
  const OWN = [
    '1984|640|wrapper.exe|C:\\CloudResetPwdUpdateAgent\\bin\\wrapper.exe|"C:\\CloudResetPwdUpdateAgent\\bin\\wrapper.exe" -s "C:\\CloudResetPwdUpdateAgent\\conf\\wrapper.conf"',
    '2016|1984|java.exe|C:\\CloudResetPwdUpdateAgent\\jre\\bin\\java.exe|"C:\\CloudResetPwdUpdateAgent\\jre\\bin\\java.exe" -Dwrapper.key=a1 -Dwrapper.pid=1984 -classpath ..\\lib\\wrapper.jar',
    '2212|640|wrapper.exe|C:\\CloudResetPwdAgent\\bin\\wrapper.exe|"C:\\CloudResetPwdAgent\\bin\\wrapper.exe" -s "C:\\CloudResetPwdAgent\\conf\\wrapper.conf"',
    '2240|2212|java.exe|C:\\CloudResetPwdUpdateAgent\\jre\\bin\\java.exe|"C:\\CloudResetPwdUpdateAgent\\jre\\bin\\java.exe" -Dwrapper.key=b2 -Dwrapper.pid=2212 -classpath ..\\lib\\wrapper.jar',
  ];

  it('gives each process to its agent: a JVM goes with its wrapper, wherever its Java lives; the services\' own are no strays', () => {
    const f = withProcs(OWN);
    expect(f.agentProcs!.map((p) => [p.pid, p.agent, p.folder])).toEqual([
      [1984, 'update', 'C:\\CloudResetPwdUpdateAgent'], [2016, 'update', 'C:\\CloudResetPwdUpdateAgent'],
      [2212, 'main', 'C:\\CloudResetPwdAgent'], [2240, 'main', 'C:\\CloudResetPwdUpdateAgent'],
    ]);
    expect(f.agentProcs![1]).toMatchObject({ parent: 1984, name: 'java.exe', exe: 'C:\\CloudResetPwdUpdateAgent\\jre\\bin\\java.exe' });
    expect(strayProcs(f, 'main')).toEqual([]);
    expect(strayProcs(f, 'update')).toEqual([]);
    expect(windowsAgentState(f).findings.join('\n')).not.toMatch(/old agent still running/);
  });

  it('a copy running from a set-aside folder (deleted or not), an orphaned JVM naming the folder, a wrapper.name= override: strays, each of its agent', () => {
    const f = withProcs([
      ...OWN,
      '3100|2200|wrapper.exe|C:\\.resetpwd-fleet\\m0abc\\CloudResetPwdAgent\\bin\\wrapper.exe|"C:\\.resetpwd-fleet\\m0abc\\CloudResetPwdAgent\\bin\\wrapper.exe" -c ..\\conf\\wrapper.conf',
      '3104|3100|java.exe|C:\\Program Files\\Java\\jre8\\bin\\java.exe|java -Dwrapper.key=k -classpath ..\\lib\\wrapper.jar',
      '3200|1|javaw.exe|C:\\Java\\bin\\javaw.exe|javaw -Djava.library.path=C:\\CloudResetPwdUpdateAgent\\lib -Dwrapper.key=x',
      '3300|2200|wrapper.exe|D:\\tools\\wrapper.exe|D:\\tools\\wrapper.exe -c D:\\tools\\w.conf wrapper.name=cloudResetPwdUpdateAgent',
    ]);
    expect(strayProcs(f, 'main').map((p) => p.pid)).toEqual([3100, 3104]);
    expect(strayProcs(f, 'update').map((p) => p.pid)).toEqual([3200, 3300]);
    expect(windowsAgentState(f).findings.filter((x) => /old agent still running/.test(x))).toEqual([
      'old agent still running: cloudResetPwdAgent wrapper.exe 3100, java.exe 3104 not the service\'s (running from C:\\.resetpwd-fleet\\m0abc\\CloudResetPwdAgent); the service cannot stop it: update or reinstall stops it',
      'old agent still running: cloudResetPwdUpdateAgent javaw.exe 3200, wrapper.exe 3300 not the service\'s (running from C:\\CloudResetPwdUpdateAgent); the service cannot stop it: update or reinstall stops it',
    ]);
  });

  it('a stopped service: every process of its agent is a stray (a wrapper started by hand from its folder)', () => {
    const text = raw.replace('main.service_state=Running', 'main.service_state=Stopped').replace('main.status=Running', 'main.status=Stopped').replace('main.service_pid=2212', 'main.service_pid=0');
    const f = parseWindowsFacts(text.replace('end=1', [`agent_proc=${OWN[2]!.replace(/\\/g, '\\u005c')}`, 'agent_procs=1', 'end=1'].join('\r\n')));
    expect(f.agents.main.running).toBe(false);
    expect(strayProcs(f, 'main').map((p) => p.pid)).toEqual([2212]);
  });

  it('processes that could not be listed, or an output without them: no verdict (null), and the error is said', () => {
    expect(parseWindowsFacts(raw).agentProcs).toBeNull();
    expect(windowsAgentState(parseWindowsFacts(raw)).findings.join('\n')).not.toMatch(/processes/);
    const f = parseWindowsFacts(raw.replace('end=1', 'error.agent.procs=Invalid class "Win32_Process"\r\nend=1'));
    expect(f.agentProcs).toBeNull();
    expect(strayProcs(f, 'main')).toEqual([]);
    expect(windowsAgentState(f).findings).toContain('could not list the agents\' processes (Win32_Process): Invalid class "Win32_Process"');
    // A service that could not be read: its agent's processes are not judged either.
    const g = parseWindowsFacts(raw.replace('end=1', [`agent_proc=${OWN[2]!.replace(/\\/g, '\\u005c')}`, 'agent_procs=1', 'error.agent.main.service=Invalid class "Win32_Service"', 'end=1'].join('\r\n')));
    expect(strayProcs(g, 'main')).toEqual([]);
  });
});
