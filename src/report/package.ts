import { log4jVulnerable } from '../core/agent.js';
import type { PackageInfo } from '../package/verify.js';

/** The human summary of a verified package: what an operator checks before rolling it out. */
export function renderPackage(p: PackageInfo): string {
  const rows: [string, string][] = [
    ['file', `${p.path} (${p.size} bytes)`],
    ['sha256', `${p.sha256} OK`],
    ['layout', p.layout === 'old' ? `old: main agent + update agent (${p.linuxDir}, ${p.updateLinuxDir})` : `current (${p.linuxDir})`],
    ['version', p.version ?? 'unknown (no Implementation-Version in resetpwdagent.jar, no resource.properties)'],
    ['log4j', p.log4j ? `${p.log4j}${log4jVulnerable(p.log4j) ? ' (below 2.17: the Log4Shell range; roll out a newer package)' : ''}` : 'unknown'],
    ['mode', p.mode ?? 'not set in wrapper.conf'],
    ['java', p.javaCommand ?? 'not set in wrapper.conf'],
    ['windows', p.windows ? 'yes' : 'no (Linux only)'],
    ['entries', `${p.entries} (${p.unpackedBytes} bytes unpacked)`],
  ];
  return `${rows.map(([k, v]) => `${k.padEnd(8)} ${v}`).join('\n')}\n`;
}
