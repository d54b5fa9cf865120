import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { faultError } from '../../../../src/transport/winrm/fault.js';
import { action, parseCommandId, parseFault, parseReceive, parseShellId, parseXml } from '../../../../src/transport/winrm/response.js';
import { FIXTURES, fixture } from '../../../support/wsman-peer.js';
import { checkRequest } from '../../../support/wsman-peer-schema.js';

interface IndexEntry {
  file: string;
  action?: string;
  http_status?: number;
  exit_code?: number;
  command_state?: string;
  fault_code?: string[];
  wsman_fault_code?: number;
  streams?: Array<{ name: string; decoded_len?: number; end?: string }>;
}

const index: IndexEntry[] = JSON.parse(readFileSync(path.join(FIXTURES, 'index.json'), 'utf8'));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [path.relative(FIXTURES, p)];
  });
}

const responses = filesUnder(FIXTURES).filter((f) => f.endsWith('.response.xml')).sort();
const requests = filesUnder(FIXTURES).filter((f) => f.endsWith('.request.xml')).sort();

describe('reading recorded Windows responses', () => {
  it('the copied set is what index.json lists', () => {
    expect(responses.length + requests.length).toBe(index.length);
    expect(responses.length).toBeGreaterThan(100);
  });

  it('parses every response in the copied set without throwing, and reads what the index says it holds', () => {
    let receives = 0;
    let faults = 0;
    for (const file of responses) {
      const meta = index.find((e) => e.file === file)!;
      const doc = parseXml(fixture(file));
      const act = action(doc);
      const fault = parseFault(doc);
      if (meta.fault_code) {
        faults++;
        expect(fault, file).toBeDefined();
        expect([fault!.code, fault!.subcode].filter(Boolean).join('/'), file).toBe(meta.fault_code.map((q) => q.split(':').pop()).join('/'));
        if (meta.wsman_fault_code) expect(fault!.wsmanCode, file).toBe(String(meta.wsman_fault_code));
        // Whatever the operation, the message is one line that names the host and the fault.
        const msg = faultError('win1 (10.0.0.5:5986)', 'Receive', fault!, 'Administrator').message;
        expect(msg.split('\n')).toHaveLength(1);
        expect(msg).toMatch(/^win1 \(10\.0\.0\.5:5986\): WinRM Receive failed: /);
        continue;
      }
      expect(fault, file).toBeUndefined();
      if (act.endsWith('/CreateResponse')) expect(parseShellId(doc), file).toMatch(/^(uuid:)?[0-9A-F-]{36}$/i);
      if (act.endsWith('/CommandResponse')) expect(parseCommandId(doc), file).toMatch(/^[0-9A-F-]{36}$|%s/i);
      if (act.endsWith('/ReceiveResponse')) {
        receives++;
        const state = doc.getElementsByTagNameNS('http://schemas.microsoft.com/wbem/wsman/1/windows/shell', 'CommandState')[0];
        const id = state?.getAttribute('CommandId') ?? doc.getElementsByTagNameNS('http://schemas.microsoft.com/wbem/wsman/1/windows/shell', 'Stream')[0]?.getAttribute('CommandId') ?? '';
        const r = parseReceive(doc, id);
        for (const name of ['stdout', 'stderr'] as const) {
          const want = (meta.streams ?? []).filter((s) => s.name === name).reduce((n, s) => n + (s.decoded_len ?? 0), 0);
          const got = r.chunks.filter((c) => c.stream === name).reduce((n, c) => n + c.data.length, 0);
          expect(got, `${file} ${name}`).toBe(want);
        }
        expect(r.done, file).toBe(meta.command_state === 'Done');
        if (meta.exit_code !== undefined) expect(r.exitCode, file).toBe(meta.exit_code);
      }
    }
    expect(receives).toBeGreaterThanOrEqual(20);
    expect(faults).toBeGreaterThan(20);
  });

  it('matches by namespace, not prefix: OMI writes SOAP-ENV:/wsman: and its Done carries no exit code', () => {
    const doc = parseXml(fixture('winrb/stubs/omi/receive-done-no-exitcode.response.xml'));
    const r = parseReceive(doc, 'ANY');
    expect(r.done).toBe(true);
    expect(r.exitCode).toBeNull();
    const fault = parseFault(parseXml(fixture('winrb/stubs/omi/fault-internalerror.response.xml')))!;
    expect(fault.subcode).toBe('InternalError');
    expect(fault.subcodeNs).toBe('http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd');
  });

  it('concatenates interleaved stdout and stderr pieces in order (pr162 ipconfig: three stdout pieces)', () => {
    const r = parseReceive(parseXml(fixture('pywinrm/pr162-run-cmd/04-receive-done-exit0.response.xml')), '0DA15A6E-0960-43FF-B54A-91A1A9D36131');
    expect(r.chunks.map((c) => c.stream)).toEqual(['stdout', 'stdout', 'stdout']);
    const out = Buffer.concat(r.chunks.map((c) => c.data)).toString('utf8');
    expect(out.startsWith('\r\nWindows IP Configuration\r\n')).toBe(true);
    expect(r.ended).toEqual(new Set(['stdout', 'stderr']));
    const rc = parseReceive(parseXml(fixture('pypsrp/winrs-stderr-rc/03-receive-done-exit1.response.xml')), 'D37A8327-79AD-452F-BE0D-4B99A96B4A0B');
    expect(rc.chunks.map((c) => [c.stream, c.data.toString()])).toEqual([['stdout', 'out \r\n'], ['stderr', 'err \r\n']]);
    expect(rc.exitCode).toBe(1);
  });

  it('skips pieces of another command (the hand-edited CommandId in pr162-run-cmd-timeout is an End marker only)', () => {
    const r = parseReceive(parseXml(fixture('pywinrm/pr162-run-cmd-timeout/05-receive-done-exit0.response.xml')), '0DA15A6E-0960-43FF-B54A-91A1A9D36131'.replace('0DA15A6E', 'X'));
    expect(r.chunks).toEqual([]);
  });

  it('reads a Running state with output and no exit code', () => {
    const r = parseReceive(parseXml(fixture('pypsrp/winrs-operation-timeout/03-receive-running.response.xml')), readCommandId('pypsrp/winrs-operation-timeout/02-command.response.xml'));
    expect(r.done).toBe(false);
    expect(r.exitCode).toBeNull();
  });
});

function readCommandId(file: string): string {
  return parseCommandId(parseXml(fixture(file)));
}

describe('faults as one-line per-host errors', () => {
  const where = 'win1 (10.0.0.5:5986)';
  const fault = (file: string) => parseFault(parseXml(fixture(file)))!;

  it('QuotaLimit says there are too many shells for this user and names the quota and the user', () => {
    const e = faultError(where, 'Create', fault('winrb/stubs/fault-quotalimit-shells.response.xml'), 'deploy');
    expect(e.message).toContain('too many shells for this user (MaxShellsPerUser)');
    expect(e.message).toContain('deploy');
    expect(e.message).toContain('maximum number of 30 concurrent shells');
    expect(e.fault.wsmanCode).toBe('2150859173');
    expect(e.reason).toBe('protocol');
  });

  it('a too-long command line is named as such, with the provider fault text', () => {
    const e = faultError(where, 'Command', fault('masterzen/command-fault-internalerror-too-long.response.xml'), 'u');
    expect(e.message).toBe(`${where}: WinRM Command failed: the command line is too long for the host's cmd.exe (The filename or extension is too long.)`);
    expect(e.fault.provider).toBe('Shell cmd plugin');
  });

  it('InvalidSelectors says the shell or command is gone', () => {
    const e = faultError(where, 'Receive', fault('pypsrp/winrs-bad-cmd-id/03-receive-fault-invalidselectors.response.xml'), 'u');
    expect(e.message).toContain('no longer knows this shell or command (InvalidSelectors 0x8033805B)');
  });

  it('TimedOut on Receive is marked as "ask again"; on any other operation it is a timeout', () => {
    const f = fault('pypsrp/winrs-operation-timeout/04-receive-fault-timedout.response.xml');
    expect(faultError(where, 'Receive', f, 'u').isReceiveTimeout).toBe(true);
    const onCreate = faultError(where, 'Create', f, 'u');
    expect(onCreate.isReceiveTimeout).toBe(false);
    expect(onCreate.reason).toBe('timeout');
  });

  it('a nested ProviderFault yields the innermost message', () => {
    const f = fault('winrb/stubs/fault-cannotprocessfilter-v2.response.xml');
    expect(f.message).toBe('The specified class does not exist in the given namespace.');
    expect(f.provider).toBe('WMI Provider');
  });

  it('faults without detail fall back to the reason, or the code when there is none', () => {
    const f = fault('pypsrp/faults/fault-no-reason.response.xml');
    expect(faultError(where, 'Send', f, 'u').message).toMatch(/^win1 \(10\.0\.0\.5:5986\): WinRM Send failed: \S+/);
    expect(fault('pypsrp/faults/fault-mustunderstand.response.xml').code).toBe('MustUnderstand');
  });
});

describe('the test peer checks requests the way Windows would', () => {
  it('accepts every recorded request of the real clients in the copied set (cmd shell operations)', () => {
    // The one request Windows refused (InvalidParameter: Receive without CommandId) is refused here too.
    const refused = 'pypsrp/winrs-fail-poll-process/02-receive-fault-invalidparameter.request.xml';
    expect(checkRequest(fixture(refused), { bodyBytes: 1 }).violations).toEqual(['Receive: DesiredStream without CommandId']);
    const cmdOps = requests.filter((f) => !/get-shell|get-config/.test(f) && f !== refused);
    expect(cmdOps.length).toBeGreaterThan(60);
    for (const file of cmdOps) {
      const xml = fixture(file).replace(/\$\{messageId\}/g, 'uuid:00000000-0000-0000-0000-000000000000').replace(/\$\{serviceUrl\}/g, 'http://host:5985/wsman');
      const { parsed, violations } = checkRequest(xml, { bodyBytes: Buffer.byteLength(xml) });
      expect(violations, file).toEqual([]);
      expect(parsed.op, file).toBeDefined();
    }
  });

  it('reports what Windows refuses: a negative OperationTimeout, a missing ShellId, a reused MessageID, an oversized envelope', () => {
    const xml = fixture('pypsrp/shell-get-invalid-header/04-get-shell-fault-invalidmessageinformationheader.request.xml');
    expect(checkRequest(xml, { bodyBytes: 1 }).violations.join('\n')).toMatch(/OperationTimeout "PT-1S" is not a positive xs:duration/);
    const cmd = fixture('pypsrp/winrs-standard/02-command.request.xml');
    const seen = new Set<string>();
    checkRequest(cmd, { bodyBytes: 1, seenMessageIds: seen });
    expect(checkRequest(cmd, { bodyBytes: 1, seenMessageIds: seen }).violations.join()).toMatch(/was used before/);
    expect(checkRequest(cmd.replace(/<wsman:SelectorSet>.*<\/wsman:SelectorSet>/, ''), { bodyBytes: 1 }).violations).toEqual(['Command without the ShellId selector']);
    expect(checkRequest(cmd, { bodyBytes: 200_000 }).violations.join()).toMatch(/exceeds its own MaxEnvelopeSize 153600/);
    expect(checkRequest(cmd, { bodyBytes: 1, url: 'http://elsewhere/wsman' }).violations.join()).toMatch(/a:To is http:\/\/192\.168\.56\.11:5985\/wsman/);
    expect(checkRequest(cmd.replace('rsp:CommandLine>', 'rsp:Receive>').replace('</rsp:CommandLine>', '</rsp:Receive>'), { bodyBytes: 1 }).violations.join()).toMatch(/Command body must be one rsp:CommandLine/);
  });
});
