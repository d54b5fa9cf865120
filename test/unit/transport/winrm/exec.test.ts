import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, WsmanPeer, fixture, type CommandHandler } from '../../../support/wsman-peer.js';
import { connect, rejection, usePeers } from './helpers.js';

const startPeer = usePeers();

/**
 * What a recorded scenario's Receive replies decode to, read with plain regular expressions (independent
 * of the transport's own parser): the base64 pieces of each stream in order, and the last ExitCode.
 */
function recordedOutcome(dir: string): { stdout: string; stderr: string; code: number } {
  const files = readdirSync(path.join(FIXTURES, dir)).filter((f) => /-receive-.*\.response\.xml$/.test(f)).sort();
  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  let code = NaN;
  for (const f of files) {
    const xml = fixture(`${dir}/${f}`);
    for (const m of xml.matchAll(/<\w+:Stream Name="(stdout|stderr)"[^>]*?(?:\/>|>([^<]*)<\/\w+:Stream>)/g)) {
      if (m[2]) out[m[1] as 'stdout' | 'stderr'].push(Buffer.from(m[2], 'base64'));
    }
    const ec = /<\w+:ExitCode>(\d+)<\/\w+:ExitCode>/.exec(xml);
    if (ec) code = Number(ec[1]);
  }
  return { stdout: Buffer.concat(out.stdout).toString('utf8'), stderr: Buffer.concat(out.stderr).toString('utf8'), code };
}

describe('exec replays recorded Windows sessions and returns what the recording says', () => {
  for (const [dir, what] of [
    ['pypsrp/winrs-standard', { stdout: 'hi\r\n', stderr: '', code: 0 }],
    ['pypsrp/winrs-stderr-rc', { stdout: 'out \r\n', stderr: 'err \r\n', code: 1 }],
    ['pypsrp/winrs-operation-timeout', undefined],
    ['pypsrp/winrs-unicode', undefined],
    ['pypsrp/winrs-send', undefined],
    ['pywinrm/pr162-run-cmd', undefined],
    ['pywinrm/pr162-run-cmd-timeout', undefined],
    ['pywinrm/pr162-run-cmd-fail', undefined],
  ] as const) {
    it(dir, async () => {
      const peer = await startPeer({ replay: dir });
      const t = await connect(peer);
      const r = await t.exec('cmd.exe /c recorded', { stdin: 'input\r\n' });
      const want = recordedOutcome(dir);
      if (what) expect(want).toEqual(what); // the independent decoding agrees with the eye
      expect({ stdout: r.stdout, stderr: r.stderr, code: r.code }).toEqual(want);
      // After Done the command is released with Signal terminate, then the shell is deleted on close.
      expect(peer.signals.map((s) => s.code)).toEqual(['http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate']);
      await t.close();
    });
  }

  it('TimedOut replies on Receive are not errors: Receive is sent again until Done (operation-timeout recording)', async () => {
    const peer = await startPeer({ replay: 'pypsrp/winrs-operation-timeout' });
    const t = await connect(peer);
    await t.exec('cmd.exe /c slow');
    expect(peer.requests.filter((r) => r.op === 'Receive').map((r) => r.status)).toEqual([200, 500, 500, 200]);
    await t.close();
  });

  it('decodes UTF-8 output (code page 65001) exactly, Japanese included', async () => {
    const peer = await startPeer({ replay: 'pypsrp/winrs-unicode' });
    const t = await connect(peer);
    const r = await t.exec('cmd.exe /c echo');
    expect(r.stdout).toContain('こんにちは');
    await t.close();
  });
});

describe('exec against a command handler', () => {
  it('runs the command line with its stdin and returns stdout, stderr and the exit code', async () => {
    const seen: Array<[string, string]> = [];
    const handler: CommandHandler = async (cmd, stdin) => {
      seen.push([cmd, stdin.toString()]);
      return { stdout: 'out\r\n', stderr: 'warn\r\n', exitCode: 7 };
    };
    const peer = await startPeer({ handler });
    const t = await connect(peer);
    expect(await t.exec('findstr x', { stdin: 'a\r\nx\r\n' })).toEqual({ code: 7, stdout: 'out\r\n', stderr: 'warn\r\n' });
    expect(seen).toEqual([['findstr x', 'a\r\nx\r\n']]);
    await t.close();
  });

  it('without stdin, one empty Send closes it, as SSH closes a command\'s stdin', async () => {
    const peer = await startPeer();
    const t = await connect(peer);
    expect(await t.exec('echo hi')).toEqual({ code: 0, stdout: 'hi\r\n', stderr: '' });
    const sends = peer.requests.filter((r) => r.op === 'Send');
    expect(sends.map((r) => r.parsed!.stdin)).toEqual([{ data: Buffer.alloc(0), end: true }]);
    await t.close();
  });

  it('passes exit codes through (cmd.exe\'s 9009 for an unknown program)', async () => {
    const peer = await startPeer();
    const t = await connect(peer);
    const r = await t.exec('nosuchprogram /x');
    expect(r.code).toBe(9009);
    expect(r.stderr).toContain("'nosuchprogram' is not recognized");
    expect((await t.exec('exit /b 3')).code).toBe(3);
    await t.close();
  });

  it('a command whose output passes the cap is stopped (Signal terminate) and fails "output too large"; the shell goes on', async () => {
    const flood = 'x'.repeat(3 << 20);
    const peer = await startPeer({ handler: async (cmd) => (cmd === 'flood' ? { stdout: flood, exitCode: 0 } : cmd === 'flood-err' ? { stdout: '', stderr: flood, exitCode: 0 } : { stdout: 'ok\r\n', exitCode: 0 }) });
    const t = await connect(peer, {}, { maxOutputBytes: 1 << 20 });
    for (const cmd of ['flood', 'flood-err']) {
      const e = await rejection(t.exec(cmd));
      expect(e.reason).toBe('protocol');
      expect(e.message).toBe(`win1 (127.0.0.1:${peer.port}): output too large: the command sent more than 1 MiB (--max-output); it was stopped`);
    }
    expect(peer.signals.map((s) => s.code)).toEqual(['http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate', 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate']);
    expect((await t.exec('echo')).stdout).toBe('ok\r\n');
    await t.close();
  });

  it('runs many commands in one shell: one Create, one Delete', async () => {
    const peer = await startPeer();
    const t = await connect(peer);
    for (let i = 0; i < 5; i++) expect((await t.exec(`echo ${i}`)).stdout).toBe(`${i}\r\n`);
    expect(peer.shellsCreated).toBe(1);
    await t.close();
    expect(peer.requests.filter((r) => r.op === 'Delete')).toHaveLength(1);
  });

  it('commands started at the same time on one transport each get their own output', async () => {
    const peer = await startPeer({
      handler: async (cmd) => {
        await new Promise((r) => setTimeout(r, 20));
        return { stdout: `${cmd}!`, exitCode: 0 };
      },
    });
    const t = await connect(peer);
    const rs = await Promise.all(['a', 'b', 'c', 'd'].map((c) => t.exec(c)));
    expect(rs.map((r) => r.stdout)).toEqual(['a!', 'b!', 'c!', 'd!']);
    await t.close();
  });

  it('sends large stdin in many Sends, each within MaxEnvelopeSize, End only on the last', async () => {
    let got: Buffer = Buffer.alloc(0);
    const peer = await startPeer({
      handler: async (_cmd, stdin) => {
        got = stdin;
        return { stdout: String(stdin.length), exitCode: 0 };
      },
    });
    const t = await connect(peer);
    const stdin = Buffer.from(Array.from({ length: 1_200_000 }, (_, i) => (i * 7919) % 251));
    expect((await t.exec('consume', { stdin })).stdout).toBe('1200000');
    expect(got.equals(stdin)).toBe(true);
    const sends = peer.requests.filter((r) => r.op === 'Send');
    expect(sends.length).toBeGreaterThanOrEqual(11);
    for (const s of sends) expect(s.bytes).toBeLessThanOrEqual(153_600);
    expect(sends.map((s) => s.parsed!.stdin!.end)).toEqual([...Array(sends.length - 1).fill(false), true]);
    await t.close();
  });

  it('a smaller MaxEnvelopeSize means smaller Sends (and replies), still within it', async () => {
    const peer = await startPeer({ pieceBytes: 64 * 1024, handler: async (_c, stdin) => ({ stdout: `${stdin.length} `.repeat(20_000), exitCode: 0 }) });
    const t = await connect(peer, {}, { maxEnvelopeSize: 16_384 });
    expect((await t.exec('x', { stdin: Buffer.alloc(100_000, 0x41) })).stdout).toBe('100000 '.repeat(20_000));
    const sends = peer.requests.filter((r) => r.op === 'Send');
    expect(sends.length).toBeGreaterThanOrEqual(9);
    for (const s of sends) expect(s.bytes).toBeLessThanOrEqual(16_384);
    await t.close();
  });

  it('collects 5 MB of stdout over many Receives, whole, and streams it to onStdout as it arrives', async () => {
    // Multi-byte characters and an odd piece size put split points inside characters.
    const unit = 'line ä€😀 ';
    const text = unit.repeat(Math.ceil(5_000_000 / Buffer.byteLength(unit)));
    const peer = await startPeer({ pieceBytes: 16_381, handler: async () => ({ stdout: text, stderr: 'done', exitCode: 0 }) });
    const t = await connect(peer);
    const pieces: string[] = [];
    const r = await t.exec('type big.txt', { onStdout: (c) => pieces.push(c) });
    expect(Buffer.byteLength(r.stdout)).toBeGreaterThanOrEqual(5_000_000);
    expect(r.stdout === text).toBe(true);
    expect(r.stderr).toBe('done');
    expect(pieces.length).toBeGreaterThan(30);
    expect(pieces.join('') === text).toBe(true);
    expect(pieces.some((p) => p.includes('\uFFFD'))).toBe(false);
    const receives = peer.requests.filter((q) => q.op === 'Receive');
    expect(receives.length).toBeGreaterThan(30);
    await t.close();
  }, 180_000);

  it('keeps interleaved stdout and stderr apart', async () => {
    const peer = await startPeer({ pieceBytes: 3, handler: async () => ({ stdout: 'aaaaaaaaaaaa', stderr: 'bbbbbbbbb', exitCode: 0 }) });
    const t = await connect(peer);
    expect(await t.exec('mix')).toEqual({ code: 0, stdout: 'aaaaaaaaaaaa', stderr: 'bbbbbbbbb' });
    await t.close();
  });

  it('a command still running past OperationTimeout is polled again (the host answers TimedOut in between)', async () => {
    // The command finishes only after the host has answered two Receives with TimedOut.
    let peer: WsmanPeer;
    const timedOut = () => peer.requests.filter((r) => r.op === 'Receive' && r.status === 500).length;
    peer = await startPeer({
      handler: () =>
        new Promise((resolve) => {
          const poll = setInterval(() => timedOut() >= 2 && (clearInterval(poll), resolve({ stdout: 'late', exitCode: 0 })), 50);
        }),
    });
    const t = await connect(peer, { operationTimeoutSec: 1 });
    expect((await t.exec('slow')).stdout).toBe('late');
    expect(peer.requests.filter((r) => r.op === 'Receive' && r.status === 500).length).toBeGreaterThanOrEqual(2);
    await t.close();
  });
});
