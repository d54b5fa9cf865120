import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LINUX_CHECK_IDS } from '../../../../src/platform/linux/checks/index.js';
import { WINDOWS_CHECK_IDS, runWindowsChecks } from '../../../../src/platform/windows/checks/index.js';
import { parseWindowsFacts, type WindowsFacts } from '../../../../src/platform/windows/facts.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sample = (name: string) => parseWindowsFacts(readFileSync(path.join(here, '../../fixtures/windows-facts', name), 'utf8'));
const base = sample('ws2019-old-two-agents.txt');
const facts = (patch: (f: WindowsFacts) => void = () => {}) => {
  const f = structuredClone(base);
  patch(f);
  return f;
};
const check = (f: WindowsFacts, id: string, ctx = { pull: false }) => runWindowsChecks(f, ctx).find((c) => c.id === id)!;

describe('Windows checks', () => {
  it('have the ids of SPEC.md: the shared ones as on Linux, plus c-writable', () => {
    expect(WINDOWS_CHECK_IDS).toEqual(['disk-space', 'dhcp', 'metadata', 'eip', 'os-supported', 'c-writable']);
    for (const id of WINDOWS_CHECK_IDS) if (id !== 'c-writable') expect(LINUX_CHECK_IDS).toContain(id);
    expect(runWindowsChecks(base, { pull: false }).map((c) => c.id)).toEqual([...WINDOWS_CHECK_IDS]);
  });

  it('a healthy Server 2019 passes everything', () => {
    expect(runWindowsChecks(base, { pull: false }).map((c) => `${c.id}:${c.status}`)).toEqual([
      'disk-space:pass', 'dhcp:pass', 'metadata:pass', 'eip:pass', 'os-supported:pass', 'c-writable:pass',
    ]);
    expect(check(base, 'disk-space').detail).toBe('20.0 GiB free on C:');
    expect(check(base, 'dhcp').detail).toBe('"Ethernet" (interface 6, 192.168.0.12) uses DHCP');
  });

  it('disk-space: 300 MB or less on C: fails', () => {
    expect(check(facts((f) => { f.c.freeBytes = 300 * 1024 * 1024; }), 'disk-space')).toMatchObject({ status: 'fail', detail: 'only 300 MiB free on C:; more than 300 MB is needed' });
    expect(check(facts((f) => { f.c.freeBytes = 300 * 1024 * 1024 + 1; }), 'disk-space').status).toBe('pass');
    expect(check(facts((f) => { f.c.freeBytes = null; f.errors.disk = 'boom'; }), 'disk-space')).toMatchObject({ status: 'error', detail: 'free space on C: could not be read: boom' });
  });

  it('dhcp: judges the adapter carrying the default route, and names it', () => {
    const f = sample('ws2012r2-clean-static.txt');
    expect(check(f, 'dhcp')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^"Ethernet 2" \(interface 12, 10\.0\.1\.25\) carries the default route and has a static address/) });
    // The same two adapters with the DHCP one preferred by metric: pass.
    const g = structuredClone(f);
    g.defaultRoutes = [g.defaultRoutes[1]!, g.defaultRoutes[0]!];
    expect(check(g, 'dhcp')).toMatchObject({ status: 'pass', detail: '"Ethernet 3" (interface 14, 10.0.2.30) uses DHCP' });
    expect(check(facts((x) => { x.defaultRoutes = []; x.adapters.push({ ifIndex: 9, name: 'Ethernet 9', dhcp: false, ipv4: [] }); }), 'dhcp').status).toBe('error');
    expect(check(facts((x) => { x.errors.net = 'Invalid class'; }), 'dhcp')).toMatchObject({ status: 'error', detail: 'network configuration could not be read: Invalid class' });
  });

  it('metadata: any HTTP answer passes (404 included), no answer fails, an unread section is an error', () => {
    expect(check(sample('ws2012r2-clean-static.txt'), 'metadata')).toMatchObject({ status: 'pass', detail: 'metadata service 169.254.169.254:80 answers (HTTP 404)' });
    expect(check(facts((f) => { f.metadata = { code: 0, reachable: false, publicIpv4: null }; }), 'metadata').status).toBe('fail');
    expect(check(sample('ws2016-cn-locked.txt'), 'metadata')).toMatchObject({ status: 'error', detail: 'the metadata service was not asked: 操作超时' });
  });

  it('eip: as on Linux — needed only with --pull; the inventory may name it', () => {
    const none = sample('ws2012r2-clean-static.txt');
    expect(check(none, 'eip').status).toBe('warn');
    expect(check(none, 'eip', { pull: true }).status).toBe('fail');
    expect(runWindowsChecks(none, { pull: true, inventoryEip: '198.51.100.4' }).find((c) => c.id === 'eip')).toMatchObject({ status: 'pass', detail: 'EIP 198.51.100.4 (from the inventory)' });
  });

  it('os-supported: by build and product type, not the localized caption', () => {
    expect(check(sample('ws2016-cn-locked.txt'), 'os-supported')).toMatchObject({ status: 'pass', detail: 'Microsoft Windows Server 2016 数据中心版 (build 14393)' });
    expect(check(sample('ws2012r2-clean-static.txt'), 'os-supported').status).toBe('pass');
    expect(check(facts((f) => { f.os.build = 9200; f.psVersion = '3.0'; }), 'os-supported').status).toBe('warn');
    expect(check(facts((f) => { f.os.build = 7601; f.psVersion = '2.0'; }), 'os-supported')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/PowerShell 2\.0; this tool needs PowerShell 3\.0/) });
    expect(check(facts((f) => { f.os.build = 3790; }), 'os-supported')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/supports Windows Server 2008 R2 and later/) });
    expect(check(facts((f) => { f.os.productType = 1; f.os.build = 19045; }), 'os-supported').status).toBe('warn');
    expect(check(facts((f) => { f.os.build = null; }), 'os-supported').status).toBe('error');
  });

  it('c-writable: the probe folder could not be made', () => {
    expect(check(sample('ws2016-cn-locked.txt'), 'c-writable')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^C: is not writable for SRV-CN\\管理员: /) });
    expect(check(facts((f) => { f.c.writable = null; }), 'c-writable').status).toBe('error');
  });
});
