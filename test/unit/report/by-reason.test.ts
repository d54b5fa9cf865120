import { describe, expect, it } from 'vitest';
import { NAMES_SHOWN, groupByReason, reasonOf, renderByReason } from '../../../src/report/by-reason.js';
import { renderChange } from '../../../src/report/change.js';
import { renderHuman } from '../../../src/report/human.js';
import type { ChangeDocument } from '../../../src/lifecycle/run.js';
import { auditDoc, checks, doc, host, updateDoc } from './sample.js';

/**
 * "By reason": the human summaries end with the hosts that did not succeed, grouped by a normalized reason —
 * the failing check ids for a refusal or a failed audit, otherwise the first clause of the error.
 */
describe('the reason of a host', () => {
  it('hosts whose key was refused group by the session\'s word, not by their fingerprints', () => {
    const refused = (n: string, fp: string) => host(n, 'unreachable', { reachable: false, failure: 'host-key-unknown', error: `${n} (192.0.2.1:22): host key ssh-ed25519 SHA256:${fp} is not in /k; verify it and add it, or pass --accept-new` });
    expect(groupByReason([refused('a', 'AAA'), refused('b', 'BBB')])).toEqual([{ outcome: 'unreachable', reason: 'host key not in known_hosts (host-key-unknown)', hosts: ['a', 'b'] }]);
  });

  it('is the failing check ids for an audit that failed on its checks', () => {
    const h = host('web-2', 'failed', { checks: checks({ 'disk-space': ['fail', '1 MiB free'], selinux: ['warn', 'permissive'], dhcp: ['fail', 'static'] }) });
    expect(reasonOf(h)).toBe('disk-space, dhcp');
  });

  it('is the check ids a refusal names, whatever their details say, and leaves out a forced check', () => {
    const refused = (name: string, free: string) =>
      host(name, 'refused', { checks: checks({ 'disk-space': ['fail', free], selinux: ['fail', 'enforcing'] }), error: `disk-space: ${free}; selinux: SELinux is enforcing` });
    expect(reasonOf(refused('a', '12 MiB free on /'))).toBe('disk-space, selinux');
    expect(reasonOf(refused('b', '80 MiB free on /'))).toBe('disk-space, selinux');
    // --force disk-space: the check still fails, but the refusal is for selinux alone.
    const forced = host('c', 'refused', { checks: checks({ 'disk-space': ['fail', '1 MiB'], selinux: ['fail', 'enforcing'] }), error: 'selinux: SELinux is enforcing' });
    expect(reasonOf(forced)).toBe('selinux');
  });

  it('is the first clause of the error for a refusal that no check caused', () => {
    const h = host('d', 'refused', { error: 'an agent is already installed (CloudResetPwdAgent 1.0.3 running; no update agent); use update, or install --reinstall' });
    expect(reasonOf(h)).toBe('an agent is already installed');
  });

  it('drops where the error happened (the host\'s name, or name and address) and cuts at "; " and " ("', () => {
    expect(reasonOf(host('app-4', 'rolled-back', { error: 'app-4: the new agent did not start within 20 s; the old agent was restored' }))).toBe('the new agent did not start within 20 s');
    expect(reasonOf(host('db-2', 'unreachable', { address: '192.0.2.14', error: 'db-2 (192.0.2.14:22): connection refused' }))).toBe('connection refused');
    expect(reasonOf(host('w', 'failed', { error: 'w (192.0.2.11:22): authentication failed (All configured methods failed); check the user' }))).toBe('authentication failed');
    expect(reasonOf(host('app-5', 'failed', { error: 'app-5: upload to /tmp/x on app-5 failed\nstack' }))).toBe('upload to /tmp/x on HOST failed');
  });

  it('is "not attempted" for a skipped host without an error', () => {
    expect(reasonOf(host('s', 'skipped'))).toBe('not attempted');
    expect(reasonOf(host('s', 'skipped', { error: 'not started: the error budget (0) is spent' }))).toBe('not started: the error budget');
  });
});

describe('grouping', () => {
  it('puts hosts with the same outcome and reason together, largest group first, hosts in document order', () => {
    const hosts = [
      host('u1', 'unreachable', { error: 'u1 (192.0.2.1:22): connection refused' }),
      host('ok1', 'ok'),
      host('f1', 'failed', { checks: checks({ dhcp: ['fail', 'static'] }) }),
      host('u2', 'unreachable', { error: 'u2 (192.0.2.2:22): connection refused' }),
      host('u3', 'unreachable', { error: 'u3 (192.0.2.3:22): timed out waiting for the SSH handshake' }),
      host('u4', 'unreachable', { error: 'u4 (192.0.2.4:22): connection refused' }),
    ];
    expect(groupByReason(hosts)).toEqual([
      { outcome: 'unreachable', reason: 'connection refused', hosts: ['u1', 'u2', 'u4'] },
      { outcome: 'failed', reason: 'dhcp', hosts: ['f1'] },
      { outcome: 'unreachable', reason: 'timed out waiting for the SSH handshake', hosts: ['u3'] },
    ]);
  });

  it('leaves out the hosts that succeeded and a dry run\'s would-be changes', () => {
    const hosts = [
      host('a', 'updated'), host('b', 'unchanged'), host('c', 'installed'), host('d', 'uninstalled'), host('e', 'ok'),
      host('f', 'skipped', { plan: { kind: 'transaction', reason: 'CloudResetPwdAgent 1.0.3', steps: ['x'] } }),
    ];
    expect(groupByReason(hosts)).toEqual([]);
    expect(renderByReason(hosts)).toBe('');
  });

  it(`lists the first ${NAMES_SHOWN} host names of a group and how many more`, () => {
    const hosts = Array.from({ length: 25 }, (_, i) => host(`h${i + 1}`, 'unreachable', { error: `h${i + 1} (192.0.2.${i}:22): connection refused` }));
    const text = renderByReason(hosts);
    expect(text).toBe(
      `\nBy reason:\n  unreachable: connection refused (25 hosts)\n    ${Array.from({ length: 20 }, (_, i) => `h${i + 1}`).join(', ')} … and 5 more\n`,
    );
    expect(renderByReason(hosts.slice(0, 20))).not.toMatch(/more/);
  });
});

describe('the human summaries', () => {
  it('an audit summary ends with the failures by reason', () => {
    const text = renderHuman(auditDoc());
    expect(text.endsWith(
      '\nBy reason:\n  failed: disk-space (1 host)\n    web-2\n  failed: disk-space, dhcp (1 host)\n    db-1\n  unreachable: connection refused (1 host)\n    db-2\n',
    )).toBe(true);
    expect(text.indexOf('By reason:')).toBeGreaterThan(text.indexOf('5 hosts: 2 ok, 2 failed, 1 unreachable'));
  });

  it('an audit summary where every host is ok has no "By reason" block', () => {
    expect(renderHuman(doc('audit', [host('a', 'ok')]))).not.toMatch(/By reason/);
  });

  it('a change summary ends with the failures by reason', () => {
    const text = renderChange(updateDoc() as ChangeDocument, false);
    const block = text.slice(text.indexOf('\nBy reason:\n'));
    expect(block.split('\n').filter((l) => /^ {2}\S/.test(l))).toEqual([
      '  refused: disk-space, selinux (1 host)',
      '  rolled-back: the new agent did not start within 20 s (1 host)',
      '  failed: the package hash on the host differs (1 host)',
      '  unreachable: timed out waiting for the SSH handshake (1 host)',
      '  skipped: not attempted (1 host)',
    ]);
    expect(text.endsWith('\n    app-7\n')).toBe(true);
  });
});
