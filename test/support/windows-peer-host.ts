/**
 * Puts a SimulatedWindowsHost behind the WS-Management peer (or the exec-only SSH server): scripts go to the
 * simulated host as they arrive; the transport's upload script is carried out into the host's files with
 * its SHA-256 checked, as the real script does on the host.
 */
import { createHash } from 'node:crypto';
import { PS_STDIN_COMMAND } from '../../src/dialect/powershell.js';
import type { SimulatedWindowsHost } from './windows-host.js';
import { scriptParams, type CommandHandler } from './wsman-peer.js';

const DATA_OPEN = "$data = @'\n";

export function simulatedHostHandler(host: SimulatedWindowsHost): CommandHandler {
  return async (commandLine, stdin) => {
    const script = stdin.toString('utf8');
    if (commandLine === PS_STDIN_COMMAND && script.includes(DATA_OPEN)) {
      const p = scriptParams(script);
      const open = script.indexOf(DATA_OPEN) + DATA_OPEN.length;
      const data = Buffer.concat(script.slice(open, script.indexOf("\n'@", open) + 1).split('\n').filter((l) => l.trim()).map((l) => Buffer.from(l.trim(), 'base64')));
      const got = createHash('sha256').update(data).digest('hex').toUpperCase();
      if (!p.path || got !== String(p.sha256).toUpperCase()) {
        return { stdout: '', stderr: `SHA-256 mismatch for ${p.path}: expected ${p.sha256}, got ${got}; the file was not replaced\r\n`, exitCode: 3 };
      }
      host.writeFile(p.path, data);
      host.uploads.push(p.path);
      return { stdout: `uploaded=${data.length}\r\n`, exitCode: 0 };
    }
    return host.handle(commandLine, stdin);
  };
}
