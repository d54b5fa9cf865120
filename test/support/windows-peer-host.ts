/**
 * Puts a SimulatedWindowsHost behind the WS-Management peer (or the exec-only SSH server): scripts go to the
 * simulated host as they arrive; the transport's upload (the streaming command line: script, data marker,
 * base64 lines) is taken apart here as its bootstrap and script do on a host — the script up to the marker
 * line, then the lines after it decoded one at a time — and carried out into the host's files with its
 * SHA-256 checked, as the real script does.
 */
import { createHash } from 'node:crypto';
import { PS_STDIN_STREAM_COMMAND } from '../../src/dialect/powershell.js';
import type { SimulatedWindowsHost } from './windows-host.js';
import { isUploadScript, scriptParams, splitStreamStdin, type CommandHandler } from './wsman-peer.js';

export function simulatedHostHandler(host: SimulatedWindowsHost): CommandHandler {
  return async (commandLine, stdin) => {
    // Outside FullLanguage the bootstrap's probe answers first, as for every other command line.
    if (commandLine === PS_STDIN_STREAM_COMMAND && host.languageMode === 'FullLanguage') {
      const parts = splitStreamStdin(stdin);
      if (!parts) return { stdout: '', stderr: 'no data marker on stdin\r\n', exitCode: 1 };
      if (!isUploadScript(parts.script)) return { stdout: '', stderr: 'the simulated host does not know this script\r\n', exitCode: 1 };
      const p = scriptParams(parts.script);
      const pieces: Buffer[] = [];
      for (const line of parts.lines) {
        const l = line.trim();
        if (!l) continue;
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(l) || l.length % 4) return { stdout: '', stderr: 'Exception calling "FromBase64String": invalid base64\r\n', exitCode: 1 };
        pieces.push(Buffer.from(l, 'base64'));
      }
      const data = Buffer.concat(pieces);
      const got = createHash('sha256').update(data).digest('hex').toUpperCase();
      if (got !== String(p.sha256).toUpperCase()) {
        return { stdout: '', stderr: `SHA-256 mismatch for ${p.path}: expected ${p.sha256}, got ${got} (corrupted in transit); the file was not replaced\r\n`, exitCode: 3 };
      }
      host.writeFile(p.path!, data);
      host.uploads.push(p.path!);
      return { stdout: `uploaded=${data.length}\r\n`, exitCode: 0 };
    }
    return host.handle(commandLine, stdin);
  };
}
