import { describe, expect, it } from 'vitest';
import {
  commandEnvelope,
  createShellEnvelope,
  deleteShellEnvelope,
  maxStdinChunk,
  newMessageId,
  receiveEnvelope,
  sendEnvelope,
  signalEnvelope,
  xmlEscape,
  type EnvelopeContext,
} from '../../../../src/transport/winrm/envelope.js';
import { checkRequest } from '../../../support/wsman-peer-schema.js';

const ctx: EnvelopeContext = { to: 'https://win1.example:5986/wsman', maxEnvelopeSize: 153_600, operationTimeoutSec: 20, locale: 'en-US' };
const SHELL = '4283CBDC-3706-415B-88BD-B385F3E51A53';
const CMD = 'CF84C20A-0A35-43FA-AF78-0B4711DA5F30';

function check(xml: string, seen = new Set<string>()) {
  return checkRequest(xml, { url: ctx.to, seenMessageIds: seen, bodyBytes: Buffer.byteLength(xml) });
}

describe('request envelopes', () => {
  it('every operation passes the WS-Management request checks with its own action, headers and body', () => {
    const seen = new Set<string>();
    const all = {
      Create: createShellEnvelope(ctx),
      Command: commandEnvelope(ctx, SHELL, 'hostname'),
      Send: sendEnvelope(ctx, SHELL, CMD, Buffer.from('input'), true),
      Receive: receiveEnvelope(ctx, SHELL, CMD),
      Signal: signalEnvelope(ctx, SHELL, CMD),
      Delete: deleteShellEnvelope(ctx, SHELL),
    };
    for (const [op, env] of Object.entries(all)) {
      const { parsed, violations } = check(env.xml, seen);
      expect(violations, op).toEqual([]);
      expect(parsed.op).toBe(op);
      expect(parsed.messageId).toBe(env.messageId);
      expect(parsed.operationTimeoutMs).toBe(20_000);
      expect(parsed.maxEnvelopeSize).toBe(153_600);
      if (op !== 'Create') expect(parsed.shellId).toBe(SHELL);
    }
    expect(check(all.Receive.xml).parsed.commandId).toBe(CMD);
    expect(check(all.Signal.xml).parsed.signal).toBe('http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate');
  });

  it('Create asks for a cmd shell without a profile, in the UTF-8 code page', () => {
    expect(check(createShellEnvelope(ctx).xml).parsed.options).toEqual({ WINRS_NOPROFILE: 'TRUE', WINRS_CODEPAGE: '65001' });
  });

  it('Command runs through cmd.exe with console-mode stdin, the command line carried whole', () => {
    const { parsed } = check(commandEnvelope(ctx, SHELL, 'powershell.exe -NoProfile -EncodedCommand AAA=').xml);
    // stdin is a pipe: every command gets its script on stdin (console mode would give it no end of file).
    expect(parsed.options).toEqual({ WINRS_CONSOLEMODE_STDIN: 'FALSE', WINRS_SKIP_CMD_SHELL: 'FALSE' });
    expect(parsed.commandLine).toBe('powershell.exe -NoProfile -EncodedCommand AAA=');
  });

  it('escapes every interpolated value: a hostile command line arrives as exactly the same text', () => {
    const hostile = `echo <a href="x">&amp;'</a> ]]> %PATH% "quoted" & del C:\\*`;
    const { parsed, violations } = check(commandEnvelope(ctx, SHELL, hostile).xml);
    expect(violations).toEqual([]);
    expect(parsed.commandLine).toBe(hostile);
    const odd = { ...ctx, to: 'https://a&b<c>:5986/wsman' };
    expect(commandEnvelope(odd, 'x"y', 'z').xml).toContain('<a:To>https://a&amp;b&lt;c&gt;:5986/wsman</a:To>');
    expect(commandEnvelope(odd, 'x"y', 'z').xml).toContain('>x&quot;y</w:Selector>');
  });

  it('refuses text XML cannot carry instead of dropping it silently', () => {
    expect(() => xmlEscape('a\u0001b')).toThrow(/control character/);
    expect(xmlEscape('tab\tcr\rlf\n')).toBe('tab\tcr\rlf\n');
  });

  it('message ids are uuid: with an upper-case GUID and never repeat', () => {
    const ids = new Set(Array.from({ length: 2000 }, () => newMessageId()));
    expect(ids.size).toBe(2000);
    for (const id of ids) expect(id).toMatch(/^uuid:[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
  });

  it('the largest stdin piece keeps a Send within MaxEnvelopeSize, for every envelope size in the recordings', () => {
    for (const max of [153_600, 512_000, 32_768]) {
      const c = { ...ctx, maxEnvelopeSize: max };
      const n = maxStdinChunk(c, SHELL, CMD);
      const env = sendEnvelope(c, SHELL, CMD, Buffer.alloc(n, 0xff), false);
      const size = Buffer.byteLength(env.xml);
      expect(size).toBeLessThanOrEqual(max);
      expect(size).toBeGreaterThan(max - 2048); // and the room is used, not wasted
      const { parsed, violations } = checkRequest(env.xml, { url: ctx.to, bodyBytes: size });
      expect(violations).toEqual([]);
      expect(parsed.stdin!.data.equals(Buffer.alloc(n, 0xff))).toBe(true);
      expect(parsed.stdin!.end).toBe(false);
    }
    expect(() => maxStdinChunk({ ...ctx, maxEnvelopeSize: 2000 }, SHELL, CMD)).toThrow(/no room/);
  });

  it('the last piece of stdin says End="true"', () => {
    expect(check(sendEnvelope(ctx, SHELL, CMD, Buffer.alloc(0), true).xml).parsed.stdin).toEqual({ data: Buffer.alloc(0), end: true });
  });
});
