/**
 * The namespace and action URIs of the WS-Management remote shell (MS-WSMV / DMTF DSP0226). Everything in
 * this folder matches elements by these URIs, never by prefix: Windows writes `s:`/`a:`/`w:`, other servers
 * and clients use other prefixes for the same names.
 */
export const NS = {
  soap: 'http://www.w3.org/2003/05/soap-envelope',
  addressing: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  transfer: 'http://schemas.xmlsoap.org/ws/2004/09/transfer',
  wsman: 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
  msWsman: 'http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd',
  shell: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell',
  wsmanFault: 'http://schemas.microsoft.com/wbem/wsman/1/wsmanfault',
  wmiError: 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError',
  xml: 'http://www.w3.org/XML/1998/namespace',
} as const;

/** The resource every call in a cmd shell names (the classic `winrs` shell, not PowerShell remoting). */
export const CMD_SHELL_URI = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd';

/** WS-Addressing's "reply on this same HTTP exchange". */
export const ANONYMOUS = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous';

export const ACTION = {
  Create: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create',
  Delete: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete',
  Command: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command',
  Receive: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive',
  Send: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send',
  Signal: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal',
} as const;

export type Operation = keyof typeof ACTION;

/** The response action Windows answers each request with (a fault has its own action instead). */
export const RESPONSE_ACTION: Record<Operation, string> = {
  Create: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse',
  Delete: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse',
  Command: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse',
  Receive: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse',
  Send: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SendResponse',
  Signal: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse',
};

export const COMMAND_STATE = {
  Done: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done',
  Running: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running',
  Pending: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Pending',
} as const;

export const SIGNAL = {
  terminate: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate',
  ctrl_c: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c',
} as const;
