/**
 * Uploading a file over WinRM, which has no file transfer of its own: one PowerShell command, run with the
 * dialect's PS_STDIN_STREAM_COMMAND, whose stdin is the script, the data marker line, then the file as base64
 * lines. The bootstrap reads stdin line by line only up to the marker and runs what it read as the script;
 * the script then reads the base64 lines itself, one [Console]::In.ReadLine() at a time, decoding each and
 * appending it to a temporary file next to the target. The host never holds more than one line of the file
 * (4,096 characters): no ReadToEnd, no here-string, no split, whatever the file's size — an upload stays far
 * under WinRM's MaxMemoryPerShellMB (150 MB on 2008 R2 and 2012) however large the file.
 *
 * Then the script checks the file's SHA-256 (Get-FileHash where present, else .NET's SHA256) and only then
 * moves it into place; on a mismatch or any error the temporary file is removed, the target is left as it
 * was, and the exit code is non-zero with the reason on stderr. However it ends, it first reads the rest of
 * stdin (a line at a time, dropped), so the client's remaining Sends still reach a running process and the
 * reason reaches the client as it would have when the whole stdin was read first.
 *
 * The stdin is produced lazily, one line at a time, so a large file is never held as base64 in memory on
 * the controller either: the transport packs these pieces into Send messages as they come.
 */
import { createHash, randomBytes } from 'node:crypto';
import { PS_DATA_MARKER, PS_STDIN_STREAM_COMMAND, psScript } from '../../dialect/powershell.js';

/** Raw bytes per base64 line: 3,072 bytes make 4,096 characters. */
export const UPLOAD_LINE_BYTES = 3072;

/** Exit code the script uses when the hash does not match. */
export const UPLOAD_HASH_MISMATCH = 3;

/** The command line an upload runs: the streaming bootstrap, with the script and then the data on stdin. */
export const UPLOAD_COMMAND = PS_STDIN_STREAM_COMMAND;

const BODY = `$fs = $null
try {
  $fs = [System.IO.File]::Open($tmp, [System.IO.FileMode]::Create, [System.IO.FileAccess]::Write, [System.IO.FileShare]::None)
  while ($true) {
    $line = [Console]::In.ReadLine()
    if ($null -eq $line) { break }
    $l = $line.Trim()
    if ($l.Length -eq 0) { continue }
    $bytes = [Convert]::FromBase64String($l)
    $fs.Write($bytes, 0, $bytes.Length)
  }
  $fs.Dispose()
  $fs = $null
  if (Get-Command Get-FileHash -ErrorAction SilentlyContinue) {
    $got = (Get-FileHash -LiteralPath $tmp -Algorithm SHA256).Hash
  } else {
    $sha = New-Object System.Security.Cryptography.SHA256CryptoServiceProvider
    $stream = [System.IO.File]::OpenRead($tmp)
    try { $got = [BitConverter]::ToString($sha.ComputeHash($stream)).Replace('-', '') } finally { $stream.Dispose() }
  }
  if ($got -ne $sha256) {
    [Console]::Error.WriteLine('SHA-256 mismatch for ' + $path + ': expected ' + $sha256 + ', got ' + $got + ' (corrupted in transit); the file was not replaced')
    exit ${UPLOAD_HASH_MISMATCH}
  }
  if (Test-Path -LiteralPath $path -PathType Leaf) {
    [System.IO.File]::Replace($tmp, $path, [NullString]::Value)
  } else {
    [System.IO.File]::Move($tmp, $path)
  }
  Emit 'uploaded' $size
  exit 0
} finally {
  if ($fs) { $fs.Dispose() }
  if (Test-Path -LiteralPath $tmp) { Remove-Item -LiteralPath $tmp -Force -ErrorAction SilentlyContinue }
  while ($null -ne [Console]::In.ReadLine()) { }
}`;

export interface UploadPlan {
  /** Where the bytes go first: next to the target, so the final move stays on one volume. */
  tmpPath: string;
  sha256: string;
  /**
   * The script: prelude, parameters, body — everything before the data marker. Its length depends on the
   * paths only, never on the file's size (the file is not in it).
   */
  script: string;
}

/** Absolute Windows paths only: drive (`C:\…`) or UNC (`\\server\share\…`). */
export function isAbsoluteWindowsPath(p: string): boolean {
  return /^[A-Za-z]:\\/.test(p) || /^\\\\[^\\]+\\[^\\]+/.test(p);
}

export function planUpload(content: Buffer, remotePath: string): UploadPlan {
  const tmpPath = `${remotePath}.${randomBytes(6).toString('hex')}.upload`;
  const sha256 = createHash('sha256').update(content).digest('hex').toUpperCase();
  return { tmpPath, sha256, script: psScript(BODY, { path: remotePath, tmp: tmpPath, sha256, size: content.length }) };
}

/** The whole stdin as one string: script, marker line, base64 lines (tests; the transport streams instead). */
export function uploadScript(plan: UploadPlan, content: Buffer): string {
  return Buffer.concat([...uploadStdin(plan, content)]).toString('utf8');
}

/** The stdin of the upload command, piece by piece: the script with the marker line, then one base64 line at a time. */
export function* uploadStdin(plan: UploadPlan, content: Buffer): Generator<Buffer> {
  // psScript ends the script with a newline, so the marker is a line of its own.
  yield Buffer.from(`${plan.script}${PS_DATA_MARKER}\n`, 'utf8');
  for (let i = 0; i < content.length; i += UPLOAD_LINE_BYTES) {
    yield Buffer.from(`${content.subarray(i, i + UPLOAD_LINE_BYTES).toString('base64')}\n`, 'ascii');
  }
}
