import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { renderJunit } from '../../../src/report/junit.js';
import { visibleControls, xmlAttr, xmlText } from '../../../src/report/escape.js';
import { EVIL, auditDoc, hostileDoc, mixedDoc, updateDoc } from './sample.js';

/**
 * The JUnit report: what CI systems read. Checked by parsing it with a real XML parser (python3's
 * xml.etree), not by looking at the text, and against the rules of the common JUnit schema.
 */
interface El {
  tag: string;
  attrib: Record<string, string>;
  text: string | null;
  children: El[];
}

const PARSE = `
import json, sys, xml.etree.ElementTree as ET
def walk(e):
    return {"tag": e.tag, "attrib": dict(e.attrib), "text": e.text, "children": [walk(c) for c in e]}
print(json.dumps(walk(ET.fromstring(sys.stdin.buffer.read()))))
`;

/** Parses XML with python3's xml.etree; a document it rejects throws. */
function parse(xml: string): El {
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', PARSE], { input: xml, encoding: 'utf8' })) as El;
}

const kids = (e: El, tag: string) => e.children.filter((c) => c.tag === tag);
const one = (e: El, tag: string) => {
  const k = kids(e, tag);
  expect(k, `<${e.tag}> has one <${tag}>`).toHaveLength(1);
  return k[0]!;
};

/** The rules of the common JUnit schema (Ant's / Jenkins' junit-10.xsd) the CI tools rely on. */
function expectSchema(suite: El): void {
  expect(suite.tag).toBe('testsuite');
  for (const a of ['name', 'tests', 'failures', 'errors', 'skipped', 'time']) expect(suite.attrib, `testsuite@${a}`).toHaveProperty(a);
  for (const a of ['tests', 'failures', 'errors', 'skipped']) expect(suite.attrib[a]).toMatch(/^\d+$/);
  expect(suite.attrib.time).toMatch(/^\d+(\.\d+)?$/);
  if (suite.attrib.timestamp !== undefined) expect(suite.attrib.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  // properties first, then testcases, then (optionally) system-out / system-err
  const order = suite.children.map((c) => c.tag);
  expect(order.every((t) => ['properties', 'testcase', 'system-out', 'system-err'].includes(t))).toBe(true);
  expect(order.lastIndexOf('properties')).toBeLessThanOrEqual(0);
  for (const p of kids(suite, 'properties').flatMap((ps) => ps.children)) {
    expect(p.tag).toBe('property');
    expect(Object.keys(p.attrib).sort()).toEqual(['name', 'value']);
  }
  const cases = kids(suite, 'testcase');
  expect(Number(suite.attrib.tests)).toBe(cases.length);
  for (const c of cases) {
    expect(c.attrib).toHaveProperty('name');
    expect(c.attrib).toHaveProperty('classname');
    expect(c.attrib.time).toMatch(/^\d+(\.\d+)?$/);
    const tags = c.children.map((x) => x.tag);
    expect(tags.every((t) => ['skipped', 'error', 'failure', 'system-out', 'system-err'].includes(t))).toBe(true);
    const results = tags.filter((t) => t === 'skipped' || t === 'error' || t === 'failure');
    expect(results.length).toBeLessThanOrEqual(1);
    if (results.length) expect(tags.indexOf(results[0]!)).toBe(0);
    for (const f of c.children.filter((x) => x.tag === 'failure' || x.tag === 'error')) {
      expect(f.attrib).toHaveProperty('message');
      expect(f.attrib).toHaveProperty('type');
    }
  }
  const count = (t: string) => cases.filter((c) => kids(c, t).length > 0).length;
  expect(Number(suite.attrib.failures)).toBe(count('failure'));
  expect(Number(suite.attrib.errors)).toBe(count('error'));
  expect(Number(suite.attrib.skipped)).toBe(count('skipped'));
}

const caseOf = (suite: El, name: string) => kids(suite, 'testcase').find((c) => c.attrib.name === name)!;

describe('JUnit report', () => {
  it('is one testsuite for the run, named after the command, with its counts, duration and start', () => {
    const suite = parse(renderJunit(mixedDoc()));
    expectSchema(suite);
    expect(suite.attrib).toMatchObject({
      name: 'resetpwd-fleet update', tests: '10', failures: '5', errors: '1', skipped: '1', time: '9.512', timestamp: '2026-11-23T10:00:00',
    });
  });

  it('has one testcase per host: classname the OS id (the transport when unknown), time the sum of its steps', () => {
    const suite = parse(renderJunit(updateDoc()));
    expect(kids(suite, 'testcase').map((c) => [c.attrib.classname, c.attrib.name, c.attrib.time])).toEqual([
      ['sles', 'app-1', '8.740'],
      ['sles', 'app-2', '0.271'],
      ['sles', 'app-3', '0.271'],
      ['sles', 'app-4', '27.140'],
      ['sles', 'app-5', '1.150'],
      ['ssh', 'app-6', '3.000'],
      ['ssh', 'app-7', '3.000'],
    ]);
  });

  it('passes ok, unchanged and updated hosts: no result element, only their record', () => {
    const suite = parse(renderJunit(mixedDoc()));
    for (const n of ['web-1', 'app-1', 'app-2']) expect(caseOf(suite, n).children.map((c) => c.tag)).toEqual(['system-out']);
  });

  it('fails an audit that failed on its checks, naming the failing checks with their details', () => {
    const f = one(caseOf(parse(renderJunit(auditDoc())), 'web-2'), 'failure');
    expect(f.attrib).toEqual({ message: 'failed: disk-space', type: 'failed' });
    expect(f.text).toContain('disk-space: fail: 120 MiB free on / (300 MiB needed)');
    expect(f.text).toContain('metadata: error: curl is missing');
    expect(f.text).not.toContain('selinux'); // a warning is not a failure
  });

  it('fails a refused host with the refusal, its failing checks and its plan reason', () => {
    const f = one(caseOf(parse(renderJunit(updateDoc())), 'app-3'), 'failure');
    expect(f.attrib).toEqual({ message: 'refused: disk-space: 12 MiB free on /; selinux: SELinux is enforcing', type: 'refused' });
    expect(f.text).toContain('disk-space: fail: 12 MiB free on /');
    expect(f.text).toContain('selinux: fail: SELinux is enforcing');
  });

  it('fails rolled-back and failed hosts with their error, and the plan they were carrying out', () => {
    const suite = parse(renderJunit(updateDoc()));
    const rb = one(caseOf(suite, 'app-4'), 'failure');
    expect(rb.attrib).toEqual({ message: 'rolled-back: app-4: the new agent did not start within 20 s; the old agent was restored and runs', type: 'rolled-back' });
    expect(rb.text).toContain('plan: transaction: CloudResetPwdAgent 1.0.3 running');
    expect(one(caseOf(suite, 'app-5'), 'failure').attrib.type).toBe('failed');
  });

  it('reports an unreachable host as an error and a skipped one as skipped', () => {
    const suite = parse(renderJunit(updateDoc()));
    const e = one(caseOf(suite, 'app-6'), 'error');
    expect(e.attrib).toEqual({ type: 'unreachable', message: 'unreachable: app-6 (192.0.2.16:22): timed out waiting for the SSH handshake' });
    expect(one(caseOf(suite, 'app-7'), 'skipped').attrib).toEqual({ message: 'not attempted' });
  });

  it('reports a dry run\'s would-be change as skipped, saying what would be done', () => {
    const d = updateDoc();
    d.hosts[0] = { ...d.hosts[0]!, outcome: 'skipped' };
    const s = one(caseOf(parse(renderJunit(d)), 'app-1'), 'skipped');
    expect(s.attrib.message).toBe('would change (dry run): transaction: CloudResetPwdAgent 1.0.3 running');
  });

  it('carries the run id, journal and package as properties when the run has them', () => {
    const props = (xml: string) => Object.fromEntries(one(parse(xml), 'properties').children.map((p) => [p.attrib.name, p.attrib.value]));
    expect(props(renderJunit(updateDoc()))).toEqual({
      command: 'update',
      startedAt: '2026-11-23T10:00:00.000Z',
      finishedAt: '2026-11-23T10:00:09.512Z',
      runId: '20261123T100000Z-a1b2c3',
      journal: '/root/.local/state/resetpwd-fleet/runs/20261123T100000Z-a1b2c3.jsonl',
      package: 'CloudResetPwdAgent.zip',
      'package.sha256': 'ab'.repeat(32),
      'package.version': '2.1.0',
    });
    expect(Object.keys(props(renderJunit(auditDoc())))).toEqual(['command', 'startedAt', 'finishedAt']);
    expect(props(renderJunit({ ...auditDoc(), stopped: { reason: 'budget', detail: '2 of 0 allowed' } } as never)).stopped).toBe('budget: 2 of 0 allowed');
  });

  it('puts each host\'s record in system-out: where, plug-in, the checks table, the plan steps, the timed steps', () => {
    const out = one(caseOf(parse(renderJunit(updateDoc())), 'app-1'), 'system-out').text!;
    expect(out).toContain('host app-1 192.0.2.15:22 (ssh), os sles 12.5 x86_64, outcome updated');
    expect(out).toContain('plug-in: running, AUTO, port 31000, v1.0.3, log4j 2.17.1');
    expect(out).toMatch(/checks:\n {2}root-writable {2}pass {3}\/ is writable\n {2}disk-space {5}pass {3}12\.3 GB free on \//);
    expect(out).toContain('plan: transaction: CloudResetPwdAgent 1.0.3 running\n  1. upload the package and check its SHA-256 on the host\n  2. stop');
    expect(out).toContain('transaction: m1abc');
    expect(out).toMatch(/steps:\n {2}connect {7}40 ms {2}ok\n {2}facts {8}210 ms {2}ok\n {2}stage {7}1800 ms {2}ok/);
  });

  it('keeps whatever a host sends as text: markup, quotes, ampersands; forbidden control characters become visible \\u escapes', () => {
    const xml = renderJunit(hostileDoc());
    const suite = parse(xml);
    expectSchema(suite);
    const shown = visibleControls(EVIL);
    expect(shown).toBe('<script>alert(1)</script>"\'&\\u0001\\u001b[31m]]></x>');
    const c = kids(suite, 'testcase')[0]!;
    expect(c.attrib.name).toBe(`evil-${shown}`);
    expect(c.attrib.classname).toBe(`sles${shown}`);
    expect(one(c, 'failure').attrib.message).toBe(`failed: boom ${shown}`);
    expect(one(c, 'system-out').text).toContain(`plug-in finding: ${shown}`);
    // nothing the host sent became an element
    const tags = new Set<string>();
    const walk = (e: El) => (tags.add(e.tag), e.children.forEach(walk));
    walk(suite);
    expect([...tags].sort()).toEqual(['failure', 'properties', 'property', 'system-out', 'testcase', 'testsuite']);
    // eslint-disable-next-line no-control-regex
    expect(xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
  });
});

describe('XML escaping', () => {
  it('text escapes &, <, > and keeps a carriage return as a reference', () => {
    expect(xmlText('a & b < c > d\r\n')).toBe('a &amp; b &lt; c &gt; d&#13;\n');
  });

  it('attributes also escape both quotes and keep tabs and line breaks through attribute normalization', () => {
    expect(xmlAttr(`"x" 'y'\t1\n2\r`)).toBe('&quot;x&quot; &apos;y&apos;&#9;1&#10;2&#13;');
    const el = parse(`<a m="${xmlAttr('line 1\nline 2\ttab')}">${xmlText('x\r\ny')}</a>`);
    expect(el.attrib.m).toBe('line 1\nline 2\ttab');
    expect(el.text).toBe('x\r\ny');
  });

  it('replaces what XML 1.0 forbids (C0 controls, lone surrogates, U+FFFE/FFFF) and keeps the rest of Unicode', () => {
    expect(visibleControls('\u0000\u0007\u000b\u000c\u001f\ud800x\udc00\ufffe\uffff')).toBe('\\u0000\\u0007\\u000b\\u000c\\u001f\\ud800x\\udc00\\ufffe\\uffff');
    expect(visibleControls('tab\tnl\ncr\r é 中 😀 \u0085')).toBe('tab\tnl\ncr\r é 中 😀 \u0085');
  });
});
