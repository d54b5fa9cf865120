import { languageModeRefusal } from '../shell.js';
import { windowsServerName } from '../facts.js';
import type { WindowsCheck } from './check.js';

/**
 * Which Windows the plug-in supports. The cloud's documents (seed 000, DOMAIN.md) exclude only CoreOS and
 * KylinOS, and describe the Windows install for "a Windows ECS"; the Windows public images that ship the
 * plug-in are Windows Server releases. So: Windows Server 2008 R2 and later pass (2008 R2 and 2012 with a
 * warning: out of Microsoft support, and on PowerShell 2.0/3.0 this tool's scripts cannot run or run
 * degraded); desktop Windows warns (not an ECS image this plug-in is documented for); anything older than
 * 2008 R2 fails. Decided by build number and product type, never by the caption (localized on Chinese
 * editions). This tool itself needs PowerShell 3.0 (CIM cmdlets, the scripts' syntax): below that, fail.
 */
const PS_MIN = 3;
const OLD = new Set(['windows-server-2008r2', 'windows-server-2012']);

export const osSupported: WindowsCheck = (f) => {
  const id = 'os-supported';
  if (f.languageMode) return { id, status: 'fail', detail: languageModeRefusal(f.languageMode) };
  const shown = `${f.os.caption ?? 'Windows'} (build ${f.os.build ?? '?'})`;
  if (f.os.build === null) return { id, status: 'error', detail: `could not identify the Windows version${f.errors.os ? `: ${f.errors.os}` : ''}` };
  const ps = Number((f.psVersion ?? '').split('.')[0]);
  if (f.psVersion && ps < PS_MIN) {
    return { id, status: 'fail', detail: `${shown}: PowerShell ${f.psVersion}; this tool needs PowerShell ${PS_MIN}.0 or later (install WMF 5.1)` };
  }
  if (f.os.productType === 1) return { id, status: 'warn', detail: `${shown} is a desktop Windows: the plug-in is documented for Windows Server ECS images` };
  const name = windowsServerName(f.os);
  if (!name) return { id, status: 'fail', detail: `${shown}: the plug-in supports Windows Server 2008 R2 and later` };
  if (OLD.has(name)) return { id, status: 'warn', detail: `${shown}: supported, but out of Microsoft support; PowerShell ${f.psVersion ?? '?'} (5.1 recommended)` };
  return { id, status: 'pass', detail: shown };
};
