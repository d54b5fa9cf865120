/**
 * PowerShell dialect: the one place that quotes for a Windows host and builds the command line that runs a
 * script there. Scripts are never pasted into a command line: the command line carries a fixed bootstrap as
 * -EncodedCommand, and the script itself travels on stdin, so its length is not bound by cmd.exe's 8,191
 * characters and nothing in it is reinterpreted by cmd.exe, WinRM or an SSH server's default shell.
 */

/** PowerShell treats the typographic single quotes as quote characters too; doubling each escapes it. */
const SINGLE_QUOTES = /['\u2018\u2019\u201A\u201B]/g;

/** A single-quoted PowerShell string literal: no expansion of `$`, backticks or subexpressions. */
export function psQuote(s: string): string {
  return `'${s.replace(SINGLE_QUOTES, (q) => q + q)}'`;
}

/** The form `powershell.exe -EncodedCommand` expects: base64 of the UTF-16LE text. */
export function encodeCommand(script: string): string {
  return Buffer.from(script, 'utf16le').toString('base64');
}

export function decodeCommand(b64: string): string {
  return Buffer.from(b64, 'base64').toString('utf16le');
}

/**
 * Windows PowerShell 5.1 (`powershell.exe`) is on every supported Windows Server; `pwsh` is not. No profile
 * (a profile could print or change state), no prompts, no execution-policy refusal for our in-memory script.
 */
export const POWERSHELL = 'powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass';

/** What a bootstrap prints, and its exit code, when PowerShell does not run in FullLanguage mode. */
export const LANGUAGE_MODE_KEY = 'resetpwd-fleet-language-mode';
export const LANGUAGE_MODE_EXIT = 87;
/**
 * The first statement of every bootstrap. Under a WDAC/Device Guard or AppLocker policy PowerShell runs in
 * ConstrainedLanguage mode, where the bootstrap's first .NET call ([Console]::In) dies with "Method invocation
 * is supported only on core types": the probe (a property read, a string and `exit`, all allowed there) says
 * which mode it is instead, so the host is reported for what it is.
 */
const LANGUAGE_PROBE = `if ($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage') { '${LANGUAGE_MODE_KEY}=' + $ExecutionContext.SessionState.LanguageMode; exit ${LANGUAGE_MODE_EXIT} }`;

/**
 * Reads the whole of stdin as the script and runs it in a fresh script block. Progress records are turned
 * off because over WinRM they arrive as CLIXML noise on stderr; the exit code is the script's `exit N`, or 1
 * when it throws (with the error on stderr).
 */
export const STDIN_BOOTSTRAP = [
  LANGUAGE_PROBE,
  "$ProgressPreference = 'SilentlyContinue'",
  '$s = [Console]::In.ReadToEnd()',
  'try { & ([ScriptBlock]::Create($s)); exit $LASTEXITCODE } catch { [Console]::Error.WriteLine($_.ToString()); exit 1 }',
].join('; ');

/** The command line that runs a script fed on stdin: identical over WinRM and over SSH to Windows. */
export const PS_STDIN_COMMAND = `${POWERSHELL} -EncodedCommand ${encodeCommand(STDIN_BOOTSTRAP)}`;

/**
 * The line between a script and its data on stdin. What follows it is data: it is never made into a script
 * block, so PowerShell's script block logging (event 4104), which records script text, never records it — how
 * a secret (a new password) reaches a Windows host.
 */
export const PS_DATA_MARKER = '#@@resetpwd-fleet-data';

/** As STDIN_BOOTSTRAP, but only the part before the data marker is the script; the rest is `$global:StdinData`. */
export const STDIN_DATA_BOOTSTRAP = [
  LANGUAGE_PROBE,
  "$ProgressPreference = 'SilentlyContinue'",
  '$all = [Console]::In.ReadToEnd()',
  `$m = [string][char]10 + '${PS_DATA_MARKER}' + [char]10`,
  '$i = $all.IndexOf($m, [StringComparison]::Ordinal)',
  "if ($i -lt 0) { [Console]::Error.WriteLine('no data marker on stdin'); exit 1 }",
  `$global:StdinData = $all.Substring($i + ${PS_DATA_MARKER.length + 2})`,
  '$s = $all.Substring(0, $i + 1)',
  '$all = $null',
  'try { & ([ScriptBlock]::Create($s)); exit $LASTEXITCODE } catch { [Console]::Error.WriteLine($_.ToString()); exit 1 }',
].join('; ');

/** The command line that runs a script fed on stdin followed by its data (PS_DATA_MARKER between them). */
export const PS_STDIN_DATA_COMMAND = `${POWERSHELL} -EncodedCommand ${encodeCommand(STDIN_DATA_BOOTSTRAP)}`;

/**
 * Script, marker, data, like STDIN_DATA_BOOTSTRAP, but for data too large to hold (an upload): stdin is read
 * line by line only up to the PS_DATA_MARKER line, those lines are the script, and the rest of stdin is left
 * unread for the script to read itself, a line at a time, with [Console]::In.ReadLine() (the same reader: the
 * bootstrap's read-ahead is not lost). Nothing of stdin is read to its end, so the host never holds the data
 * whole. As with the data bootstrap, what follows the marker is never made into a script block.
 */
export const STDIN_STREAM_BOOTSTRAP = [
  LANGUAGE_PROBE,
  "$ProgressPreference = 'SilentlyContinue'",
  '$b = New-Object System.Text.StringBuilder',
  `while ($true) { $l = [Console]::In.ReadLine(); if ($null -eq $l) { [Console]::Error.WriteLine('no data marker on stdin'); exit 1 }; if ($l -ceq '${PS_DATA_MARKER}') { break }; [void]$b.Append($l).Append([char]10) }`,
  '$s = $b.ToString()',
  '$b = $null',
  'try { & ([ScriptBlock]::Create($s)); exit $LASTEXITCODE } catch { [Console]::Error.WriteLine($_.ToString()); exit 1 }',
].join('; ');

/** The command line that runs a script fed on stdin and leaves the data after PS_DATA_MARKER for it to stream. */
export const PS_STDIN_STREAM_COMMAND = `${POWERSHELL} -EncodedCommand ${encodeCommand(STDIN_STREAM_BOOTSTRAP)}`;

/** Script, marker, data: what PS_STDIN_DATA_COMMAND reads. The script must end with a newline. */
export function scriptWithData(script: string, data: string | Buffer): Buffer {
  const s = script.endsWith('\n') ? script : `${script}\n`;
  return Buffer.concat([Buffer.from(`${s}${PS_DATA_MARKER}\n`), Buffer.from(data)]);
}

/** What every script starts with: stop at the first error, never prompt, and a way to emit facts as ASCII lines. */
export const PS_PRELUDE = [
  "$ErrorActionPreference = 'Stop'",
  "$ProgressPreference = 'SilentlyContinue'",
  "$ConfirmPreference = 'None'",
  // Output goes through the console code page (437 over WinRM): anything outside printable ASCII is escaped
  // as \uXXXX so a Chinese folder name or a newline in a value arrives intact and on one line.
  'function Emit([string]$k, $v) { $t = [string]$v; $b = New-Object System.Text.StringBuilder; foreach ($c in $t.ToCharArray()) { $n = [int]$c; if ($n -lt 32 -or $n -gt 126 -or $c -eq [char]92) { [void]$b.AppendFormat("\\u{0:x4}", $n) } else { [void]$b.Append($c) } }; [Console]::Out.WriteLine($k + "=" + $b.ToString()) }',
].join('\n');

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `$name = '<quoted>'` lines: how values reach a script, always as literals. */
export function psParams(params: Record<string, string | number | boolean>): string {
  return Object.entries(params)
    .map(([k, v]) => {
      if (!PARAM_NAME.test(k)) throw new Error(`not a PowerShell variable name: ${k}`);
      const lit = typeof v === 'string' ? psQuote(v) : typeof v === 'boolean' ? (v ? '$true' : '$false') : String(v);
      return `$${k} = ${lit}`;
    })
    .join('\n');
}

/** A whole script ready for stdin: prelude, parameters, body. */
export function psScript(body: string, params: Record<string, string | number | boolean> = {}): string {
  const p = psParams(params);
  return `${PS_PRELUDE}\n${p ? p + '\n' : ''}${body}\n`;
}

/** Undoes Emit's escaping. */
export function unescapeEmitted(v: string): string {
  return v.replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Emit's `key=value` lines as a map of lists (a key may repeat, e.g. one line per adapter). */
export function parseEmitted(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of stdout.split(/\r?\n/)) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    const k = line.slice(0, i);
    const list = out.get(k) ?? [];
    list.push(unescapeEmitted(line.slice(i + 1)));
    out.set(k, list);
  }
  return out;
}

/**
 * powershell.exe writes errors as CLIXML (`#< CLIXML` then `<Objs>`) when its output is redirected, as
 * over WinRM. Turns that into the plain lines an operator reads; plain text passes through unchanged.
 */
export function clixmlToText(stderr: string): string {
  const start = stderr.indexOf('#< CLIXML');
  if (start < 0) return stderr;
  const before = stderr.slice(0, start);
  const xml = stderr.slice(start + '#< CLIXML'.length);
  const lines: string[] = [];
  const re = /<S S="(Error|Warning|Verbose|Debug|Information)">([\s\S]*?)<\/S>/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    lines.push(
      m[2]!
        .replace(/_x([0-9A-Fa-f]{4})_/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&amp;/g, '&'),
    );
  }
  return (before + lines.join('')).replace(/\r\n/g, '\n').trimEnd();
}
