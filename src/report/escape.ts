/**
 * Escaping for the XML and HTML reports. Host names, errors and check details come from remote machines:
 * every one of them goes through here before it lands in markup.
 */

/**
 * Characters XML 1.0 forbids (C0 controls other than tab, newline and carriage return; lone surrogates;
 * U+FFFE and U+FFFF). HTML treats the same ones as parse errors.
 */
const FORBIDDEN = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Replaces each character XML forbids with a visible `\uXXXX`, so a report shows what the host sent. */
export function visibleControls(s: string): string {
  return s.replace(FORBIDDEN, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const XML_TEXT: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };
const XML_ATTR: Record<string, string> = { ...XML_TEXT, '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };

/** Character data of an XML element. A carriage return is written as a reference so parsers keep it. */
export function xmlText(s: string): string {
  return visibleControls(s).replace(/[&<>\r]/g, (c) => (c === '\r' ? '&#13;' : XML_TEXT[c]!));
}

/** A double-quoted XML attribute value; tab, newline and carriage return survive attribute normalization. */
export function xmlAttr(s: string): string {
  return visibleControls(s).replace(/[&<>"'\t\n\r]/g, (c) => XML_ATTR[c]!);
}

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or a double-quoted attribute value in HTML. */
export function html(s: string): string {
  return visibleControls(s).replace(/[&<>"']/g, (c) => HTML[c]!);
}

/**
 * JSON to embed in an HTML `<script type="application/json">`: nothing in it can close the element or open a
 * comment (`<` `>` `&` are written as \u escapes, which JSON.parse reads back unchanged).
 */
export function jsonInScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
