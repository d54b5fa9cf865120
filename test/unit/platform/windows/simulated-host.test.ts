import { describe, expect, it } from 'vitest';
import { PS_STDIN_COMMAND, psScript } from '../../../../src/dialect/powershell.js';
import { FOLLOW_BODY, followScript, prepareScript } from '../../../../src/platform/windows/change-scripts.js';
import { WINDOWS_FACTS_SCRIPT } from '../../../../src/platform/windows/facts-script.js';
import { windowsShell, gatherWindowsFacts } from '../../../../src/platform/windows/shell.js';
import { SimulatedWindowsHost, parseParams, recognise, simulatedTransport } from '../../../support/windows-host.js';

/** The simulated host only answers what the tool really sends, and reads values back exactly as written. */
describe('SimulatedWindowsHost', () => {
  it('answers only the tool\'s PowerShell command line, and only the tool\'s scripts, byte for byte', async () => {
    const h = new SimulatedWindowsHost();
    expect((await h.handle('cmd.exe /c dir', Buffer.from(prepareScript()))).exitCode).toBe(1);
    expect((await h.handle(PS_STDIN_COMMAND, Buffer.from(prepareScript().replace('SafeDir $sd $false', 'SafeDir $sd $true')))).exitCode).toBe(1);
    expect((await h.handle(PS_STDIN_COMMAND, Buffer.from(prepareScript()))).stdout).toMatch(/^stage=C:\\u005cProgramData\\u005cresetpwd-fleet\\u005cstage\.[0-9a-f]{16}\r\n$/);
    expect(h.received.map((r) => r.kind)).toEqual(['unknown', 'unknown', 'prepare']);
  });

  it('reads parameters back from the $name lines, hostile values included, and refuses anything psParams would not write', () => {
    const hostile = "a'b\u2019c\n$(x)`\"";
    const r = recognise(followScript(hostile, 7, 20));
    expect(r).toEqual({ kind: 'follow', params: { txn: hostile, from: 7, window: 20, launched: '', launchedStart: '' } });
    expect(parseParams("$a = 'x'\n$b = $true")).toEqual({ a: 'x', b: true });
    expect(parseParams("$a = 'x'; Remove-Item C:\\")).toBeNull();
    expect(recognise(psScript(`${FOLLOW_BODY}\n# extra`, { txn: 'x', from: 0, window: 1 }))).toBeNull();
  });

  it('its facts output parses into the model it holds', async () => {
    const h = new SimulatedWindowsHost({ install: { layout: 'old', version: '1.0.5', log4j: '2.8.2' }, cFreeBytes: 123 * 1024 * 1024, publicIpv4: null });
    const f = await gatherWindowsFacts(windowsShell(simulatedTransport(h)));
    expect(h.received[0]!.script).toBe(psScript(WINDOWS_FACTS_SCRIPT));
    expect(f.c.freeBytes).toBe(123 * 1024 * 1024);
    expect(f.metadata).toEqual({ code: 200, reachable: true, publicIpv4: null, serverId: null });
    expect(f.agents.update).toMatchObject({ present: true, version: '1.0.5', running: true, log4jCore: '2.8.2', aclWriters: ['S-1-5-11'] });
    expect(f.agents.main.service).toMatchObject({ state: 'Running', startMode: 'Auto' });
    expect(f.agents.main.jvmPid).toBeGreaterThan(0);
  });
});
