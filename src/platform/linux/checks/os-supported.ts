import type { LinuxCheck } from './check.js';

/** The plug-in does not support CoreOS or KylinOS. Read: os-release ID/NAME or the vendor release file. */
const UNSUPPORTED: Array<[RegExp, string]> = [
  [/coreos|container linux|flatcar/i, 'CoreOS'],
  [/kylin/i, 'KylinOS'],
];
export const osSupported: LinuxCheck = (f) => {
  const id = 'os-supported';
  const text = `${f.os.id ?? ''} ${f.os.name ?? ''}`;
  for (const [re, name] of UNSUPPORTED) {
    if (re.test(text)) return { id, status: 'fail', detail: `${f.os.name ?? name}: the plug-in does not support ${name}` };
  }
  if (!f.os.id) return { id, status: 'error', detail: 'could not identify the OS (no os-release or vendor release file)' };
  return { id, status: 'pass', detail: `${f.os.name ?? f.os.id} ${f.os.version ?? ''}`.trim() };
};
