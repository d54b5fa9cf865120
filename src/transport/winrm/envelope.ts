/**
 * SOAP 1.2 request envelopes for the six shell operations. Each builder returns the envelope text and the
 * MessageID it carries, so the caller can check that the response's RelatesTo answers this very request.
 * Every value that is interpolated goes through xmlEscape: a command line or a host name can hold `<`, `&`
 * or quotes.
 */
import { randomUUID } from 'node:crypto';
import { ACTION, ANONYMOUS, CMD_SHELL_URI, NS, SIGNAL, type Operation } from './namespaces.js';

/** What every header of one session shares. */
export interface EnvelopeContext {
  /** The endpoint URL, e.g. https://host:5986/wsman (the a:To header). */
  to: string;
  /** The largest envelope, in bytes, either side may send (w:MaxEnvelopeSize). */
  maxEnvelopeSize: number;
  /** How long the server may hold a request before answering w:TimedOut (w:OperationTimeout). */
  operationTimeoutSec: number;
  /** xml:lang of w:Locale and p:DataLocale. */
  locale: string;
}

export interface Envelope {
  messageId: string;
  xml: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes text for an element or a double- or single-quoted attribute. */
export function xmlEscape(s: string): string {
  // Characters XML 1.0 cannot carry at all (control characters other than tab, CR, LF) are refused rather
  // than silently dropped: a command line with them would not be the command the caller meant.
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(s)) {
    throw new Error('text holds a control character that XML cannot carry');
  }
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** `uuid:` plus an upper-case GUID, the form Windows itself uses. */
export function newMessageId(): string {
  return `uuid:${randomUUID().toUpperCase()}`;
}

interface HeaderParts {
  action: Operation;
  messageId: string;
  shellId?: string | undefined;
  options?: Record<string, string> | undefined;
}

function header(ctx: EnvelopeContext, p: HeaderParts): string {
  const options = p.options
    ? `<w:OptionSet s:mustUnderstand="true">${Object.entries(p.options)
        .map(([k, v]) => `<w:Option Name="${xmlEscape(k)}">${xmlEscape(v)}</w:Option>`)
        .join('')}</w:OptionSet>`
    : '';
  const selector = p.shellId !== undefined ? `<w:SelectorSet><w:Selector Name="ShellId">${xmlEscape(p.shellId)}</w:Selector></w:SelectorSet>` : '';
  return (
    '<s:Header>' +
    `<a:To>${xmlEscape(ctx.to)}</a:To>` +
    `<a:ReplyTo><a:Address s:mustUnderstand="true">${ANONYMOUS}</a:Address></a:ReplyTo>` +
    `<a:Action s:mustUnderstand="true">${ACTION[p.action]}</a:Action>` +
    `<a:MessageID>${xmlEscape(p.messageId)}</a:MessageID>` +
    `<w:ResourceURI s:mustUnderstand="true">${CMD_SHELL_URI}</w:ResourceURI>` +
    `<w:MaxEnvelopeSize s:mustUnderstand="true">${Math.floor(ctx.maxEnvelopeSize)}</w:MaxEnvelopeSize>` +
    `<w:OperationTimeout>PT${Math.max(1, Math.floor(ctx.operationTimeoutSec))}S</w:OperationTimeout>` +
    `<w:Locale xml:lang="${xmlEscape(ctx.locale)}" s:mustUnderstand="false"/>` +
    `<p:DataLocale xml:lang="${xmlEscape(ctx.locale)}" s:mustUnderstand="false"/>` +
    options +
    selector +
    '</s:Header>'
  );
}

function envelope(ctx: EnvelopeContext, p: Omit<HeaderParts, 'messageId'>, body: string): Envelope {
  const messageId = newMessageId();
  const xml =
    `<s:Envelope xmlns:s="${NS.soap}" xmlns:a="${NS.addressing}" xmlns:w="${NS.wsman}" xmlns:p="${NS.msWsman}" xmlns:rsp="${NS.shell}">` +
    header(ctx, { ...p, messageId }) +
    (body ? `<s:Body>${body}</s:Body>` : '<s:Body/>') +
    '</s:Envelope>';
  return { messageId, xml };
}

/**
 * Create a cmd shell: stdin in, stdout and stderr out. No user profile is loaded (faster, and a profile
 * cannot print into our output); code page 65001 makes the console encode output as UTF-8.
 */
export function createShellEnvelope(ctx: EnvelopeContext): Envelope {
  return envelope(
    ctx,
    { action: 'Create', options: { WINRS_NOPROFILE: 'TRUE', WINRS_CODEPAGE: '65001' } },
    '<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>',
  );
}

/**
 * Start a process. Its stdin is a pipe (WINRS_CONSOLEMODE_STDIN=FALSE), as Ansible's WinRM connection asks
 * whenever it sends stdin: every command here gets its script on stdin, and in console mode the process gets
 * that as console input with no end of file — a script reading stdin to its end would never return. With
 * WINRS_SKIP_CMD_SHELL=FALSE the line goes through `cmd.exe /c`, as `winrs` does, so a command line is
 * interpreted the same way an operator's would be.
 */
export function commandEnvelope(ctx: EnvelopeContext, shellId: string, commandLine: string): Envelope {
  return envelope(
    ctx,
    { action: 'Command', shellId, options: { WINRS_CONSOLEMODE_STDIN: 'FALSE', WINRS_SKIP_CMD_SHELL: 'FALSE' } },
    `<rsp:CommandLine><rsp:Command>${xmlEscape(commandLine)}</rsp:Command></rsp:CommandLine>`,
  );
}

/** Ask for output; the server holds this until it has some, the command ends, or OperationTimeout passes. */
export function receiveEnvelope(ctx: EnvelopeContext, shellId: string, commandId: string): Envelope {
  return envelope(
    ctx,
    { action: 'Receive', shellId, options: { WSMAN_CMDSHELL_OPTION_KEEPALIVE: 'TRUE' } },
    `<rsp:Receive><rsp:DesiredStream CommandId="${xmlEscape(commandId)}">stdout stderr</rsp:DesiredStream></rsp:Receive>`,
  );
}

/** One piece of stdin; `end` closes the process's stdin after it. */
export function sendEnvelope(ctx: EnvelopeContext, shellId: string, commandId: string, data: Buffer, end: boolean): Envelope {
  return envelope(
    ctx,
    { action: 'Send', shellId },
    `<rsp:Send><rsp:Stream Name="stdin" CommandId="${xmlEscape(commandId)}"${end ? ' End="true"' : ''}>${data.toString('base64')}</rsp:Stream></rsp:Send>`,
  );
}

/** Terminate the command: after Done this releases it on the server, as Windows' own clients do. */
export function signalEnvelope(ctx: EnvelopeContext, shellId: string, commandId: string, code: keyof typeof SIGNAL = 'terminate'): Envelope {
  return envelope(ctx, { action: 'Signal', shellId }, `<rsp:Signal CommandId="${xmlEscape(commandId)}"><rsp:Code>${SIGNAL[code]}</rsp:Code></rsp:Signal>`);
}

/** Close the shell and every process still in it. */
export function deleteShellEnvelope(ctx: EnvelopeContext, shellId: string): Envelope {
  return envelope(ctx, { action: 'Delete', shellId }, '');
}

/**
 * The most stdin bytes one Send may carry so that the whole envelope, base64 and all, stays within
 * MaxEnvelopeSize. Measured on a real Send envelope for this shell and command, with room to spare for a
 * longer MessageID or escaping.
 */
export function maxStdinChunk(ctx: EnvelopeContext, shellId: string, commandId: string): number {
  const overhead = Buffer.byteLength(sendEnvelope(ctx, shellId, commandId, Buffer.alloc(0), true).xml);
  const room = ctx.maxEnvelopeSize - overhead - 256;
  if (room < 1024) throw new Error(`MaxEnvelopeSize ${ctx.maxEnvelopeSize} leaves no room for stdin`);
  return Math.floor(room / 4) * 3;
}
