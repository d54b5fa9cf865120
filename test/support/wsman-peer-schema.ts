/**
 * The request checks of the WS-Management test peer: what a Windows WinRM service requires of a cmd-shell
 * request (SOAP 1.2 envelope, WS-Addressing and WS-Management headers, body element matching the action),
 * written from the protocol summary in test/fixtures/winrm/README.md and the recorded requests, not from
 * the client under test: the URIs are spelled out here again on purpose. Elements are matched by namespace
 * URI; prefixes are free, as the recordings from five different clients show.
 */
import { DOMParser, onErrorStopParsing, type Document, type Element } from '@xmldom/xmldom';

export const URI = {
  soap: 'http://www.w3.org/2003/05/soap-envelope',
  wsa: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  wsman: 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
  wsmv: 'http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd',
  rsp: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell',
  xml: 'http://www.w3.org/XML/1998/namespace',
  anonymous: 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous',
  cmd: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd',
} as const;

export type Op = 'Create' | 'Command' | 'Receive' | 'Send' | 'Signal' | 'Delete';

export const ACTIONS: Record<string, Op> = {
  'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create': 'Create',
  'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete': 'Delete',
  'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command': 'Command',
  'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive': 'Receive',
  'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send': 'Send',
  'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal': 'Signal',
};

/** The body element each action must carry (Delete: none). */
const BODY_OF: Record<Op, string | null> = { Create: 'Shell', Command: 'CommandLine', Receive: 'Receive', Send: 'Send', Signal: 'Signal', Delete: null };

const SIGNALS = new Set([
  'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate',
  'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c',
  'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_break',
]);

/** Headers a cmd-shell request may carry; anything else is reported. */
const KNOWN_HEADERS = new Set([
  `${URI.wsa} To`, `${URI.wsa} ReplyTo`, `${URI.wsa} Action`, `${URI.wsa} MessageID`,
  `${URI.wsman} ResourceURI`, `${URI.wsman} MaxEnvelopeSize`, `${URI.wsman} OperationTimeout`, `${URI.wsman} Locale`,
  `${URI.wsman} OptionSet`, `${URI.wsman} SelectorSet`,
  `${URI.wsmv} DataLocale`, `${URI.wsmv} SessionId`,
]);
const SINGLE = ['To', 'ReplyTo', 'Action', 'MessageID', 'ResourceURI', 'MaxEnvelopeSize', 'OperationTimeout', 'Locale'];

const BOOL = /^(true|false|TRUE|FALSE|True|False|1|0)$/;
const MESSAGE_ID = /^uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const GUID = /^(uuid:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** xs:duration, positive (Windows answers PT-1S with InvalidMessageInformationHeader). */
const DURATION = /^P(?!$)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface ParsedRequest {
  op?: Op | undefined;
  messageId?: string | undefined;
  to?: string | undefined;
  shellId?: string | undefined;
  commandId?: string | undefined;
  commandLine?: string | undefined;
  /** Send: the decoded stdin piece and whether it closes stdin. */
  stdin?: { data: Buffer; end: boolean } | undefined;
  signal?: string | undefined;
  options: Record<string, string>;
  maxEnvelopeSize?: number | undefined;
  operationTimeoutMs?: number | undefined;
  doc?: Document | undefined;
}

export interface CheckContext {
  /** The endpoint URL the request must be addressed to (a:To); undefined = do not compare. */
  url?: string | undefined;
  /** Message ids seen so far on this peer; the request's id is added. */
  seenMessageIds?: Set<string> | undefined;
  /** Size of the HTTP body in bytes. */
  bodyBytes: number;
}

function kids(el: Element): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) out.push(n as Element);
  return out;
}
const is = (el: Element, ns: string, local: string) => el.namespaceURI === ns && el.localName === local;
const kid = (el: Element | undefined, ns: string, local: string) => (el ? kids(el).find((k) => is(k, ns, local)) : undefined);
const txt = (el: Element | undefined) => (el?.textContent ?? '').trim();
function attrLocal(el: Element, local: string): string | undefined {
  for (const a of Array.from(el.attributes)) if (a.localName === local && (a.namespaceURI === null || a.namespaceURI === URI.rsp || a.namespaceURI === '')) return a.value;
  return undefined;
}

/** Same scheme, port and path (the host may be spelled as a name or an address). */
function sameEndpoint(a: string, b: string): boolean {
  try {
    const x = new URL(a);
    const y = new URL(b);
    return x.protocol === y.protocol && x.port === y.port && x.pathname === y.pathname;
  } catch {
    return false;
  }
}

export function durationMs(d: string): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(d);
  if (!m) return NaN;
  return ((Number(m[1] ?? 0) * 24 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 60_000 + Number(m[4] ?? 0) * 1000;
}

/**
 * Checks one request envelope. Returns what it says and the list of violations (empty when it is what a
 * Windows WinRM service accepts).
 */
export function checkRequest(xml: string, ctx: CheckContext): { parsed: ParsedRequest; violations: string[] } {
  const v: string[] = [];
  const parsed: ParsedRequest = { options: {} };
  let doc: Document;
  try {
    doc = new DOMParser({ onError: onErrorStopParsing }).parseFromString(xml, 'text/xml');
  } catch (e) {
    return { parsed, violations: [`not well-formed XML: ${(e as Error).message.split('\n')[0]}`] };
  }
  parsed.doc = doc;
  const env = doc.documentElement;
  if (!env || !is(env, URI.soap, 'Envelope')) return { parsed, violations: ['root is not a SOAP 1.2 Envelope'] };
  const parts = kids(env);
  if (parts.length !== 2 || !is(parts[0]!, URI.soap, 'Header') || !is(parts[1]!, URI.soap, 'Body')) v.push('Envelope must hold exactly s:Header then s:Body');
  const header = kid(env, URI.soap, 'Header');
  const body = kid(env, URI.soap, 'Body');
  if (!header || !body) return { parsed, violations: [...v, 'missing s:Header or s:Body'] };

  const hs = kids(header);
  for (const h of hs) {
    if (!KNOWN_HEADERS.has(`${h.namespaceURI} ${h.localName}`)) v.push(`unknown header {${h.namespaceURI}}${h.localName}`);
    const mu = attrLocal(h, 'mustUnderstand') ?? h.getAttributeNS(URI.soap, 'mustUnderstand');
    if (mu && !BOOL.test(mu)) v.push(`${h.localName}: mustUnderstand="${mu}" is not a boolean`);
  }
  for (const name of SINGLE) {
    const n = hs.filter((h) => h.localName === name && (h.namespaceURI === URI.wsa || h.namespaceURI === URI.wsman)).length;
    if (n > 1) v.push(`${name} header appears ${n} times`);
  }

  const to = kid(header, URI.wsa, 'To');
  parsed.to = txt(to);
  if (!to) v.push('missing a:To');
  else if (ctx.url !== undefined && !sameEndpoint(parsed.to, ctx.url)) v.push(`a:To is ${parsed.to}, expected ${ctx.url}`);

  const replyTo = kid(kid(header, URI.wsa, 'ReplyTo'), URI.wsa, 'Address');
  if (!replyTo) v.push('missing a:ReplyTo/a:Address');
  else if (txt(replyTo) !== URI.anonymous) v.push(`a:ReplyTo/a:Address is ${txt(replyTo)}, expected the anonymous role`);

  const actionUri = txt(kid(header, URI.wsa, 'Action'));
  const op = ACTIONS[actionUri];
  parsed.op = op;
  if (!actionUri) v.push('missing a:Action');
  else if (!op) v.push(`unknown a:Action ${actionUri}`);

  const mid = kid(header, URI.wsa, 'MessageID');
  parsed.messageId = txt(mid);
  if (!mid) v.push('missing a:MessageID');
  else if (!MESSAGE_ID.test(parsed.messageId)) v.push(`a:MessageID ${parsed.messageId} is not uuid:<GUID>`);
  else if (ctx.seenMessageIds) {
    const key = parsed.messageId.toLowerCase();
    if (ctx.seenMessageIds.has(key)) v.push(`a:MessageID ${parsed.messageId} was used before`);
    ctx.seenMessageIds.add(key);
  }

  const res = txt(kid(header, URI.wsman, 'ResourceURI'));
  if (!res) v.push('missing w:ResourceURI');
  else if (res !== URI.cmd) v.push(`w:ResourceURI is ${res}, expected the cmd shell`);

  const maxEl = kid(header, URI.wsman, 'MaxEnvelopeSize');
  if (!maxEl) v.push('missing w:MaxEnvelopeSize');
  else if (!/^\d+$/.test(txt(maxEl)) || Number(txt(maxEl)) < 8192) v.push(`w:MaxEnvelopeSize "${txt(maxEl)}" is not a size in bytes (>= 8192)`);
  else {
    parsed.maxEnvelopeSize = Number(txt(maxEl));
    if (ctx.bodyBytes > parsed.maxEnvelopeSize) v.push(`request of ${ctx.bodyBytes} bytes exceeds its own MaxEnvelopeSize ${parsed.maxEnvelopeSize}`);
  }

  const otEl = kid(header, URI.wsman, 'OperationTimeout');
  if (!otEl) v.push('missing w:OperationTimeout');
  else if (!DURATION.test(txt(otEl))) v.push(`w:OperationTimeout "${txt(otEl)}" is not a positive xs:duration`);
  else parsed.operationTimeoutMs = durationMs(txt(otEl));

  for (const name of ['Locale', 'DataLocale']) {
    const el = hs.find((h) => h.localName === name);
    if (el && !el.getAttributeNS(URI.xml, 'lang')) v.push(`${name} without xml:lang`);
  }

  const optionSet = kid(header, URI.wsman, 'OptionSet');
  for (const o of optionSet ? kids(optionSet) : []) {
    if (!is(o, URI.wsman, 'Option')) {
      v.push(`OptionSet holds ${o.localName}`);
      continue;
    }
    const name = o.getAttribute('Name') ?? '';
    if (!name) v.push('w:Option without Name');
    parsed.options[name] = txt(o);
    if (/^WINRS_(NOPROFILE|CONSOLEMODE_STDIN|SKIP_CMD_SHELL)$|^WSMAN_CMDSHELL_OPTION_KEEPALIVE$/.test(name) && !BOOL.test(txt(o))) v.push(`option ${name}="${txt(o)}" is not a boolean`);
    if (name === 'WINRS_CODEPAGE' && !/^\d+$/.test(txt(o))) v.push(`option WINRS_CODEPAGE="${txt(o)}" is not a code page number`);
  }

  const selectors = kid(header, URI.wsman, 'SelectorSet');
  const shellSel = selectors ? kids(selectors).find((s) => is(s, URI.wsman, 'Selector') && s.getAttribute('Name') === 'ShellId') : undefined;
  if (op === 'Create') {
    if (selectors) v.push('Create must not carry a SelectorSet');
  } else if (op) {
    if (!shellSel) v.push(`${op} without the ShellId selector`);
    else if (!GUID.test(txt(shellSel))) v.push(`ShellId selector "${txt(shellSel)}" is not a GUID`);
    else parsed.shellId = txt(shellSel);
  }

  // The body must be the element the action names, and only that.
  const bodyKids = kids(body);
  const want = op ? BODY_OF[op] : undefined;
  if (op && want === null && bodyKids.length) v.push(`${op} body must be empty`);
  if (op && want) {
    if (bodyKids.length !== 1 || !is(bodyKids[0]!, URI.rsp, want)) v.push(`${op} body must be one rsp:${want}, found ${bodyKids.map((k) => k.localName).join(', ') || 'nothing'}`);
  }
  const main = want ? kid(body, URI.rsp, want) : undefined;
  if (op === 'Create' && main) {
    if (txt(kid(main, URI.rsp, 'InputStreams')) !== 'stdin') v.push('Create: rsp:InputStreams must be "stdin"');
    const outs = txt(kid(main, URI.rsp, 'OutputStreams')).split(/\s+/).sort().join(' ');
    if (outs !== 'stderr stdout') v.push('Create: rsp:OutputStreams must be "stdout stderr"');
  }
  if (op === 'Command' && main) {
    parsed.commandLine = txt(kid(main, URI.rsp, 'Command'));
    if (!parsed.commandLine) v.push('Command: empty rsp:Command');
    const args = kids(main).filter((k) => is(k, URI.rsp, 'Arguments')).map((k) => k.textContent ?? '');
    if (args.length) parsed.commandLine += ' ' + args.join(' ');
    for (const k of kids(main)) if (!is(k, URI.rsp, 'Command') && !is(k, URI.rsp, 'Arguments')) v.push(`Command: unexpected ${k.localName}`);
  }
  if (op === 'Receive' && main) {
    const ds = kid(main, URI.rsp, 'DesiredStream');
    if (!ds) v.push('Receive without rsp:DesiredStream');
    else {
      parsed.commandId = attrLocal(ds, 'CommandId');
      if (!parsed.commandId) v.push('Receive: DesiredStream without CommandId');
      for (const s of txt(ds).split(/\s+/)) if (s !== 'stdout' && s !== 'stderr') v.push(`Receive: unknown stream "${s}"`);
    }
  }
  if (op === 'Send' && main) {
    const streams = kids(main);
    if (streams.length !== 1 || !is(streams[0]!, URI.rsp, 'Stream')) v.push('Send must hold one rsp:Stream');
    const s = kid(main, URI.rsp, 'Stream');
    if (s) {
      if (s.getAttribute('Name') !== 'stdin') v.push(`Send: stream "${s.getAttribute('Name')}" is not stdin`);
      parsed.commandId = attrLocal(s, 'CommandId');
      if (!parsed.commandId) v.push('Send: stream without CommandId');
      const end = attrLocal(s, 'End');
      if (end !== undefined && !BOOL.test(end)) v.push(`Send: End="${end}" is not a boolean`);
      const b64 = txt(s);
      if (!BASE64.test(b64) || b64.length % 4 !== 0) v.push('Send: stream content is not base64');
      parsed.stdin = { data: Buffer.from(b64, 'base64'), end: /^(true|1)$/i.test(end ?? '') };
    }
  }
  if (op === 'Signal' && main) {
    parsed.commandId = attrLocal(main, 'CommandId');
    if (!parsed.commandId) v.push('Signal without CommandId');
    parsed.signal = txt(kid(main, URI.rsp, 'Code'));
    if (!SIGNALS.has(parsed.signal)) v.push(`Signal: unknown code ${parsed.signal}`);
  }
  if (parsed.commandId !== undefined && !GUID.test(parsed.commandId)) v.push(`CommandId "${parsed.commandId}" is not a GUID`);
  return { parsed, violations: v };
}
