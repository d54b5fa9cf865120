/**
 * A WS-Management fault as a per-host error: one line an operator can act on, the reason the report groups
 * by, and the raw fault parts for code that needs to tell faults apart (TimedOut on Receive is not an error).
 */
import { TransportError } from '../transport.js';
import { type ConnectFailure } from '../../core/result.js';
import type { Operation } from './namespaces.js';
import { NS } from './namespaces.js';
import type { FaultInfo } from './response.js';

/** HRESULT 0x800700CE (ERROR_FILENAME_EXCED_RANGE) as the shell plug-in reports a command line over cmd.exe's limit. */
const TOO_LONG = '2147942606';

export class WinRmFault extends TransportError {
  override name = 'WinRmFault';
  constructor(
    reason: ConnectFailure,
    message: string,
    readonly operation: Operation,
    readonly fault: FaultInfo,
  ) {
    super(reason, message);
  }

  /** The subcode in the WS-Management namespace, e.g. `TimedOut`; '' for other faults. */
  get wsmanSubcode(): string {
    return this.fault.subcodeNs === NS.wsman ? this.fault.subcode : '';
  }

  /** Receive held the request for OperationTimeout with nothing to say: send Receive again. */
  get isReceiveTimeout(): boolean {
    return this.operation === 'Receive' && this.wsmanSubcode === 'TimedOut';
  }
}

const hex = (code: string | undefined) => (code && /^\d+$/.test(code) ? ` 0x${Number(code).toString(16).toUpperCase()}` : '');

/** Builds the one-line message for a fault answered to `operation` by host `where`. */
export function faultError(where: string, operation: Operation, f: FaultInfo, user: string): WinRmFault {
  const sub = f.subcodeNs === NS.wsman ? f.subcode : '';
  const tag = `${f.subcode || f.code}${hex(f.wsmanCode)}`;
  let reason: ConnectFailure = 'protocol';
  let text: string;
  if (sub === 'QuotaLimit') {
    text = `too many shells for this user (MaxShellsPerUser): ${user} already has the most WinRM shells the host allows; close other sessions or raise winrm/config/winrs MaxShellsPerUser (${f.message})`;
  } else if (sub === 'InternalError' && f.wsmanCode === TOO_LONG) {
    text = `the command line is too long for the host's cmd.exe (${f.message})`;
  } else if (sub === 'InvalidSelectors') {
    text = `the host no longer knows this shell or command (${tag}): it may have been closed by an idle timeout or a WinRM restart (${f.message})`;
  } else if (sub === 'TimedOut') {
    reason = 'timeout';
    text = `${operation} was not answered within the operation timeout (${tag})`;
  } else {
    text = `${tag}: ${f.message}`;
  }
  return new WinRmFault(reason, `${where}: WinRM ${operation} failed: ${text}`, operation, f);
}
