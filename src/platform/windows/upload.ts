import { clixmlToText, parseEmitted } from '../../dialect/powershell.js';
import { TransportError, type Transport } from '../../transport/transport.js';
import { UPLOAD_COMMAND, isAbsoluteWindowsPath, planUpload, uploadStdin } from '../../transport/winrm/upload.js';

/**
 * A Windows host reached over SSH: uploads go through the same PowerShell command and script as over WinRM
 * (script, data marker, base64 lines on stdin; the host reads and decodes them one line at a time and checks
 * the SHA-256 before the file is moved into place) instead of SFTP, whose subsystem and path syntax vary
 * between Windows OpenSSH setups.
 */
export function withPowerShellUpload(t: Transport): Transport {
  return {
    kind: t.kind,
    algorithms: t.algorithms,
    exec: (command, opts) => t.exec(command, opts),
    close: () => t.close(),
    async put(content, remotePath, _mode, opts = {}) {
      if (!isAbsoluteWindowsPath(remotePath)) throw new Error(`upload target must be an absolute Windows path: ${remotePath}`);
      const plan = planUpload(content, remotePath);
      // exec takes stdin whole: here the controller holds the base64 once; the host still reads it line by line.
      const r = await t.exec(UPLOAD_COMMAND, { stdin: Buffer.concat([...uploadStdin(plan, content)]), timeoutMs: opts.timeoutMs });
      if (r.code !== 0) {
        const why = clixmlToText(r.stderr).trim().split(/\r?\n/)[0] || `exit code ${r.code}`;
        throw new TransportError('protocol', `upload to ${remotePath} failed: ${why}`);
      }
      // As over WinRM: exit 0 alone could come from a shell that never ran the script.
      if (parseEmitted(r.stdout).get('uploaded')?.[0] !== String(content.length)) {
        throw new TransportError('protocol', `upload to ${remotePath}: the host did not confirm it (no uploaded=${content.length} line in its output)`);
      }
    },
  };
}
