import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { WinRmFault } from '../../../../src/transport/winrm/index.js';
import { FAULT_FIXTURES } from '../../../support/wsman-peer.js';
import { connect, rejection, usePeers } from './helpers.js';

const startPeer = usePeers();

const never = () => new Promise<never>(() => undefined);

describe('faults from the host', () => {
  it('TimedOut on Receive, however many times, is not an error: Receive is sent again', async () => {
    const peer = await startPeer();
    peer.inject({ kind: 'soap-fault', on: 'Receive', fixture: FAULT_FIXTURES.timedOut, times: 4 });
    const t = await connect(peer);
    expect(await t.exec('echo patient')).toEqual({ code: 0, stdout: 'patient\r\n', stderr: '' });
    expect(peer.requests.filter((r) => r.op === 'Receive').map((r) => r.status)).toEqual([500, 500, 500, 500, 200]);
    await t.close();
  });

  it('QuotaLimit on Create fails connect with "too many shells for this user (MaxShellsPerUser)"', async () => {
    const peer = await startPeer();
    peer.inject({ kind: 'soap-fault', on: 'Create', fixture: FAULT_FIXTURES.quotaLimit });
    const e = await rejection(connect(peer, { user: 'Administrator' }));
    expect(e).toBeInstanceOf(WinRmFault);
    expect(e.reason).toBe('protocol');
    expect(e.message).toMatch(/^win1 \(127\.0\.0\.1:\d+\): WinRM Create failed: too many shells for this user \(MaxShellsPerUser\): Administrator already has/);
    expect(e.message.split('\n')).toHaveLength(1);
    expect(peer.shellsCreated).toBe(0);
  });

  it('InternalError for a too-long command line fails that command; the shell stays usable and is deleted on close', async () => {
    const peer = await startPeer();
    const t = await connect(peer);
    peer.inject({ kind: 'soap-fault', on: 'Command', fixture: FAULT_FIXTURES.commandTooLong });
    const e = await rejection(t.exec(`echo ${'x'.repeat(9000)}`));
    expect(e).toBeInstanceOf(WinRmFault);
    expect(e.message).toContain("the command line is too long for the host's cmd.exe");
    expect((await t.exec('echo after')).stdout).toBe('after\r\n');
    await t.close();
  });

  it('InvalidSelectors on Receive (the host forgot the command) fails the command with a clear message', async () => {
    const peer = await startPeer();
    const t = await connect(peer);
    peer.inject({ kind: 'soap-fault', on: 'Receive', fixture: FAULT_FIXTURES.invalidSelectors });
    const e = await rejection(t.exec('echo x'));
    expect(e.message).toContain('the host no longer knows this shell or command (InvalidSelectors 0x8033805B)');
    await t.close();
  });
});

describe('the connection', () => {
  it('dropped in the middle of a Receive reply: lost; close still deletes the shell', async () => {
    const peer = await startPeer();
    const t = await connect(peer);
    peer.inject({ kind: 'drop', on: 'Receive' });
    const e = await rejection(t.exec('echo x'));
    expect(e.reason).toBe('lost');
    expect(e.message).toMatch(/^win1 \(127\.0\.0\.1:\d+\): the connection was lost/);
    await t.close();
    expect(peer.requests.at(-1)!.op).toBe('Delete');
  });

  it('a reply held past OperationTimeout plus the slack: timeout; close still deletes the shell', async () => {
    const peer = await startPeer();
    const t = await connect(peer, { operationTimeoutSec: 1 }, { replySlackMs: 300 });
    peer.inject({ kind: 'delay', on: 'Receive', ms: 3_000 });
    const started = Date.now();
    const e = await rejection(t.exec('echo x'));
    expect(e.reason).toBe('timeout');
    expect(e.message).toMatch(/WinRM did not answer within 1 s$/);
    expect(Date.now() - started).toBeLessThan(2_900);
    await t.close();
  });

  it('refused: unreachable, at connect', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const peer = await startPeer();
    const e = await rejection(connect(peer, { port }));
    expect(e.reason).toBe('unreachable');
    expect(e.message).toBe(`win1 (127.0.0.1:${port}): connection refused`);
  });

  it('a name that does not resolve: unreachable', async () => {
    const peer = await startPeer();
    const e = await rejection(connect(peer, { host: 'no-such-host.invalid' }));
    expect(e.reason).toBe('unreachable');
    expect(e.message).toContain('host name not found');
  });

  it('a host that accepts the connection but never answers: timeout at connect', async () => {
    const silent = net.createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const peer = await startPeer();
    try {
      const e = await rejection(connect(peer, { port: (silent.address() as net.AddressInfo).port, operationTimeoutSec: 1, connectTimeoutMs: 500 }, { replySlackMs: 200 }));
      expect(e.reason).toBe('timeout');
    } finally {
      silent.close();
    }
  });
});

describe('time limits and closing', () => {
  it('a command past its timeoutMs is terminated (Signal) and fails as timeout; the shell is deleted on close', async () => {
    const peer = await startPeer({ handler: never });
    const t = await connect(peer, { operationTimeoutSec: 1 });
    const started = Date.now();
    const e = await rejection(t.exec('ping -t localhost', { timeoutMs: 1_500 }));
    expect(e.reason).toBe('timeout');
    expect(e.message).toMatch(/^win1 \(127\.0\.0\.1:\d+\): command timed out after 2 s$/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(peer.signals.map((s) => s.code)).toEqual(['http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate']);
    await t.close();
  });

  it('close while a command runs: the command fails, the shell is deleted', async () => {
    const peer = await startPeer({ handler: never });
    const t = await connect(peer, { operationTimeoutSec: 2 });
    const running = rejection(t.exec('ping -t localhost'));
    await new Promise((r) => setTimeout(r, 300));
    await t.close();
    expect((await running).reason).toBe('lost');
  });

  it('close is idempotent, never throws (even with the host gone), and later use fails as lost', async () => {
    const peer = await startPeer();
    const t = await connect(peer);
    await Promise.all([t.close(), t.close()]);
    await t.close();
    expect(peer.requests.filter((r) => r.op === 'Delete')).toHaveLength(1);
    expect((await rejection(t.exec('echo x'))).reason).toBe('lost');
    expect((await rejection(t.put(Buffer.from('x'), 'C:\\x'))).reason).toBe('lost');

    const gone = await startPeer();
    const t2 = await connect(gone);
    const shell = t2.shellId;
    gone.resetConnections();
    await gone.close();
    startPeer.release(gone);
    await expect(t2.close()).resolves.toBeUndefined();
    expect(gone.openShells()).toEqual([shell]); // nobody could delete it: Windows' IdleTimeout will
  });
});
