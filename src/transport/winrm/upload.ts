/**
 * Uploading a file over WinRM, which has no file transfer of its own: one PowerShell command, run with the
 * dialect's PS_STDIN_COMMAND, whose stdin is the script. The dialect's bootstrap reads all of stdin as the
 * script text, so the file's content travels inside it: base64 lines in a single-quoted here-string between
 * the script's head (prelude, parameters) and its code. Base64 has no quote, so no line can end the
 * here-string early, and nothing in it is expanded.
 *
 * On the host the script decodes line by line into a temporary file next to the target, checks the file's
 * SHA-256 (Get-FileHash where present, else .NET's SHA256), and only then moves it into place; on a
 * mismatch or any error the temporary file is removed, the target is left as it was, and the exit code is
 * non-zero with the reason on stderr.
 *
 * The stdin is produced lazily, one line at a time, so a large file is never held as base64 in memory:
 * the transport packs these pieces into Send messages as they come.
 */
import { createHash, randomBytes } from 'node:crypto';
import { psScript } from '../../dialect/powershell.js';

/** Raw bytes per base64 line: 3,072 bytes make 4,096 characters. */
export const UPLOAD_LINE_BYTES = 3072;

/** Stands in for the data in the script text; the head and tail around it are sent as they are. */
const DATA_MARK = '<<UPLOAD-DATA>>';

/** Exit code the script uses when the hash does not match. */
export const UPLOAD_HASH_MISMATCH = 3;

const BODY = `$data = @'
${DATA_MARK}
'@
$fs = $null
try {
  $fs = [System.IO.File]::Open($tmp, [System.IO.FileMode]::Create, [System.IO.FileAccess]::Write, [System.IO.FileShare]::None)
  foreach ($line in $data.Split([char]10)) {
    $l = $line.Trim()
    if ($l.Length -eq 0) { continue }
    $bytes = [Convert]::FromBase64String($l)
    $fs.Write($bytes, 0, $bytes.Length)
  }
  $fs.Dispose()
  $fs = $null
  $data = $null
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
}`;

export interface UploadPlan {
  /** Where the bytes go first: next to the target, so the final move stays on one volume. */
  tmpPath: string;
  sha256: string;
  /** The script with the data left out (for review and for the grammar check). */
  head: string;
  tail: string;
}

/** Absolute Windows paths only: drive (`C:\…`) or UNC (`\\server\share\…`). */
export function isAbsoluteWindowsPath(p: string): boolean {
  return /^[A-Za-z]:\\/.test(p) || /^\\\\[^\\]+\\[^\\]+/.test(p);
}

export function planUpload(content: Buffer, remotePath: string): UploadPlan {
  const tmpPath = `${remotePath}.${randomBytes(6).toString('hex')}.upload`;
  const sha256 = createHash('sha256').update(content).digest('hex').toUpperCase();
  const script = psScript(BODY, { path: remotePath, tmp: tmpPath, sha256, size: content.length });
  const at = script.indexOf(DATA_MARK);
  return { tmpPath, sha256, head: script.slice(0, at), tail: script.slice(at + DATA_MARK.length) };
}

/** The whole script as one string, with `data` in place (tests; the transport streams instead). */
export function uploadScript(plan: UploadPlan, content: Buffer): string {
  return Buffer.concat([...uploadStdin(plan, content)]).toString('utf8');
}

/** The stdin of the upload command, piece by piece: script head, one base64 line at a time, script tail. */
export function* uploadStdin(plan: UploadPlan, content: Buffer): Generator<Buffer> {
  yield Buffer.from(plan.head, 'utf8');
  for (let i = 0; i < content.length; i += UPLOAD_LINE_BYTES) {
    yield Buffer.from(`${content.subarray(i, i + UPLOAD_LINE_BYTES).toString('base64')}\n`, 'ascii');
  }
  // An empty file still gets one (blank, skipped) line: a here-string with no line at all is not valid
  // PowerShell to every parser.
  if (content.length === 0) yield Buffer.from('\n', 'ascii');
  // The here-string's content ends at the newline before its closing '@; the head already ended with one
  // after the opening @' line, and every data line ends with its own.
  yield Buffer.from(plan.tail.replace(/^\n/, ''), 'utf8');
}
