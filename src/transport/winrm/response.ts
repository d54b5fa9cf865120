/**
 * Reads WS-Management response envelopes with @xmldom/xmldom. Elements are found by namespace URI and
 * local name only: Windows writes `s:`/`a:`/`rsp:`, OMI writes `SOAP-ENV:`/`wsman:`, and a fault's subcode
 * (`w:TimedOut`) is a QName whose prefix is resolved against the declarations in scope.
 */
import { DOMParser, onErrorStopParsing, type Document, type Element } from '@xmldom/xmldom';
import { COMMAND_STATE, NS } from './namespaces.js';

export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

export function parseXml(xml: string): Document {
  let doc: Document;
  try {
    doc = new DOMParser({ onError: onErrorStopParsing }).parseFromString(xml, 'text/xml');
  } catch (e) {
    throw new EnvelopeError(`not well-formed XML (${(e as Error).message.split('\n')[0]})`);
  }
  const root = doc.documentElement;
  if (!root || root.namespaceURI !== NS.soap || root.localName !== 'Envelope') {
    throw new EnvelopeError('not a SOAP 1.2 envelope');
  }
  return doc;
}

/** Element children of `el` with this namespace and local name. */
export function children(el: Element, ns: string, local: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) {
      const e = n as Element;
      if (e.namespaceURI === ns && e.localName === local) out.push(e);
    }
  }
  return out;
}

export function child(el: Element | undefined, ns: string, local: string): Element | undefined {
  return el ? children(el, ns, local)[0] : undefined;
}

/** All descendants with this namespace and local name, in document order. */
export function descendants(el: Element | Document, ns: string, local: string): Element[] {
  return Array.from(el.getElementsByTagNameNS(ns, local));
}

export function text(el: Element | undefined): string {
  return el?.textContent ?? '';
}

/** An attribute by local name, whether it is written unqualified (as Windows does) or with a prefix. */
export function attr(el: Element, local: string): string | undefined {
  if (el.hasAttribute(local)) return el.getAttribute(local) ?? undefined;
  for (const a of Array.from(el.attributes)) if (a.localName === local) return a.value;
  return undefined;
}

export function header(doc: Document): Element | undefined {
  return child(doc.documentElement!, NS.soap, 'Header');
}

export function body(doc: Document): Element | undefined {
  return child(doc.documentElement!, NS.soap, 'Body');
}

export function action(doc: Document): string {
  return text(child(header(doc), NS.addressing, 'Action')).trim();
}

export function relatesTo(doc: Document): string | undefined {
  const r = child(header(doc), NS.addressing, 'RelatesTo');
  return r ? text(r).trim() : undefined;
}

/** The new shell's id: the ShellId selector of x:ResourceCreated, or rsp:Shell/rsp:ShellId. */
export function parseShellId(doc: Document): string {
  const created = child(body(doc), NS.transfer, 'ResourceCreated');
  for (const sel of created ? descendants(created, NS.wsman, 'Selector') : []) {
    if (sel.getAttribute('Name') === 'ShellId' && text(sel).trim()) return text(sel).trim();
  }
  const id = text(child(child(body(doc), NS.shell, 'Shell'), NS.shell, 'ShellId')).trim();
  if (id) return id;
  throw new EnvelopeError('CreateResponse holds no ShellId');
}

export function parseCommandId(doc: Document): string {
  const id = text(child(child(body(doc), NS.shell, 'CommandResponse'), NS.shell, 'CommandId')).trim();
  if (!id) throw new EnvelopeError('CommandResponse holds no CommandId');
  return id;
}

export interface StreamChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export interface ReceiveResult {
  /** Output pieces in the order the server listed them (stdout and stderr may interleave). */
  chunks: StreamChunk[];
  /** Streams whose End="true" piece arrived. */
  ended: Set<'stdout' | 'stderr'>;
  done: boolean;
  /** Only with Done; null when the server gives none (OMI on Linux leaves it out). */
  exitCode: number | null;
}

const TRUE = /^(true|1)$/i;

/**
 * Streams and state of a ReceiveResponse for one command. Each rsp:Stream holds base64 of raw bytes with
 * arbitrary split points, so pieces are kept as bytes and concatenated by the caller. A piece naming another
 * command is skipped; one naming none (OMI) is taken.
 */
export function parseReceive(doc: Document, commandId: string): ReceiveResult {
  const resp = child(body(doc), NS.shell, 'ReceiveResponse');
  if (!resp) throw new EnvelopeError('no ReceiveResponse in the reply');
  const mine = (el: Element) => {
    const id = attr(el, 'CommandId');
    return id === undefined || id.toUpperCase() === commandId.toUpperCase();
  };
  const out: ReceiveResult = { chunks: [], ended: new Set(), done: false, exitCode: null };
  for (const s of children(resp, NS.shell, 'Stream')) {
    if (!mine(s)) continue;
    const name = s.getAttribute('Name');
    if (name !== 'stdout' && name !== 'stderr') continue;
    const b64 = text(s).replace(/\s+/g, '');
    if (b64) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new EnvelopeError(`${name} piece is not base64`);
      out.chunks.push({ stream: name, data: Buffer.from(b64, 'base64') });
    }
    if (TRUE.test(attr(s, 'End') ?? '')) out.ended.add(name);
  }
  const state = children(resp, NS.shell, 'CommandState').find(mine);
  if (state && attr(state, 'State') === COMMAND_STATE.Done) {
    out.done = true;
    const code = text(child(state, NS.shell, 'ExitCode')).trim();
    // Exit codes are DWORDs on the wire; a negative NTSTATUS-style code arrives as its unsigned value.
    out.exitCode = /^-?\d+$/.test(code) ? Number(code) | 0 : null;
  }
  return out;
}

/** A SOAP fault, read from its standard parts and from the WS-Management and WMI details Windows adds. */
export interface FaultInfo {
  /** `Sender`, `Receiver`, `MustUnderstand`…: the local part of s:Code/s:Value. */
  code: string;
  /** Local part of the first s:Subcode/s:Value, e.g. `TimedOut`, `QuotaLimit`; '' when there is none. */
  subcode: string;
  /** Namespace the subcode's prefix resolves to. */
  subcodeNs: string;
  reason: string;
  /** f:WSManFault/@Code, or MSFT_WmiError's error_Code, as a decimal string. */
  wsmanCode?: string | undefined;
  machine?: string | undefined;
  /** The most specific message: a nested ProviderFault's or WSManFault's text, else the WMI error's, else the reason. */
  message: string;
  provider?: string | undefined;
}

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

/** Text of an f:Message: its own text, or that of the provider fault (and the fault nested in it) it wraps. */
function wsmanMessage(msg: Element): { message: string; provider?: string | undefined } {
  const pf = child(msg, NS.wsmanFault, 'ProviderFault');
  if (pf) {
    const nested = child(child(pf, NS.wsmanFault, 'WSManFault'), NS.wsmanFault, 'Message');
    if (nested) return { message: wsmanMessage(nested).message, provider: pf.getAttribute('provider') ?? undefined };
    let own = '';
    for (let n = pf.firstChild; n; n = n.nextSibling) if (n.nodeType === 3 || n.nodeType === 4) own += n.nodeValue ?? '';
    return { message: squash(own), provider: pf.getAttribute('provider') ?? undefined };
  }
  return { message: squash(text(msg)) };
}

function resolveQName(el: Element, qname: string): { ns: string; local: string } {
  const i = qname.indexOf(':');
  const prefix = i < 0 ? null : qname.slice(0, i);
  return { ns: el.lookupNamespaceURI(prefix) ?? '', local: i < 0 ? qname : qname.slice(i + 1) };
}

export function parseFault(doc: Document): FaultInfo | undefined {
  const fault = child(body(doc), NS.soap, 'Fault');
  if (!fault) return undefined;
  const codeEl = child(fault, NS.soap, 'Code');
  const valueEl = child(codeEl, NS.soap, 'Value');
  const subEl = child(child(codeEl, NS.soap, 'Subcode'), NS.soap, 'Value');
  const code = valueEl ? resolveQName(valueEl, text(valueEl).trim()).local : '';
  const sub = subEl ? resolveQName(subEl, text(subEl).trim()) : { ns: '', local: '' };
  const reason = squash(text(child(child(fault, NS.soap, 'Reason'), NS.soap, 'Text')));
  const detail = child(fault, NS.soap, 'Detail');
  const info: FaultInfo = { code, subcode: sub.local, subcodeNs: sub.ns, reason, message: reason };
  const wf = child(detail, NS.wsmanFault, 'WSManFault');
  if (wf) {
    info.wsmanCode = wf.getAttribute('Code') ?? undefined;
    info.machine = wf.getAttribute('Machine') ?? undefined;
    const msg = child(wf, NS.wsmanFault, 'Message');
    if (msg) {
      const m = wsmanMessage(msg);
      if (m.message) info.message = m.message;
      info.provider = m.provider;
    }
  }
  const wmi = child(detail, NS.wmiError, 'MSFT_WmiError');
  if (wmi) {
    info.wsmanCode ??= text(child(wmi, NS.wmiError, 'error_Code')).trim() || undefined;
    const m = squash(text(child(wmi, NS.wmiError, 'Message')));
    if (m) info.message = m;
  }
  if (!info.message) info.message = info.subcode || info.code || 'unknown fault';
  return info;
}
