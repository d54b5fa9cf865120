import { describe, expect, it } from 'vitest';
import { PS_PRELUDE, decodeCommand, psQuote, psScript } from '../../../../src/dialect/powershell.js';
import {
  CLEANUP_BODY, FIX_BODY, FOLLOW_BODY, LAUNCH_BODY, PREPARE_BODY, STAGE_BODY, cleanupScript, fixScript, followScript, launchScript, prepareScript, stageScript, txnCommandArgs,
} from '../../../../src/platform/windows/change-scripts.js';
import { WINDOWS_FACTS_SCRIPT } from '../../../../src/platform/windows/facts-script.js';
import { WINDOWS_TXN_BODY, windowsTxnScript } from '../../../../src/platform/windows/txn-script.js';
import { PASSWORD_RESET_BODY, windowsPasswordResetScript } from '../../../../src/platform/windows/password-reset.js';
import { STDIN_DATA_BOOTSTRAP, STDIN_STREAM_BOOTSTRAP } from '../../../../src/dialect/powershell.js';
import { parsePowerShell } from '../../../support/powershell-grammar.js';

/**
 * Every PowerShell script the tool sends to a Windows host parses without errors (tree-sitter's PowerShell
 * grammar: syntax only; docs/WINDOWS.md reviews what each one calls), and every value of a change reaches
 * it as a single-quoted literal on a `$name = '…'` line, never inside the code.
 */
const hostile = `x'; Remove-Item C:\\ -Recurse; '$(Stop-Computer)\u2019\`$env:PATH"`;
const stage = 'C:\\ProgramData\\resetpwd-fleet\\stage.0123456789abcdef';
const txnArgs = {
  action: 'install' as const, txn: hostile, stage, mainSetup: `x\\${hostile}\\CloudResetPwdAgent.Windows`, updateSetup: '', pkgSha: 'ab'.repeat(32),
  pkgVersion: hostile, pkgLog4j: '2.17.1', settle: 3, startWait: 20, limit: 300, tool: '0.1.0',
};
const scripts: Record<string, string> = {
  facts: psScript(WINDOWS_FACTS_SCRIPT),
  prepare: prepareScript(),
  stage: stageScript({ stage, txnSha: 'cd'.repeat(32), zipSha: 'ab'.repeat(32), url: hostile, expect: `${hostile}\\setup.bat` }),
  cleanup: cleanupScript(hostile),
  'stage (nothing to unpack)': stageScript({ stage, txnSha: 'cd'.repeat(32), zipSha: '', url: '', expect: '' }),
  launch: launchScript(`C:\\ProgramData\\resetpwd-fleet\\${hostile}`, 'ab'.repeat(32), hostile),
  follow: followScript(hostile, 3, 20),
  fix: fixScript(),
  txn: windowsTxnScript(txnArgs),
  'password reset': windowsPasswordResetScript(hostile, 'ab'.repeat(12)),
  'the data bootstrap': STDIN_DATA_BOOTSTRAP,
  'the streaming (upload) bootstrap': STDIN_STREAM_BOOTSTRAP,
};
const bodies = { WINDOWS_FACTS_SCRIPT, CLEANUP_BODY, PREPARE_BODY, STAGE_BODY, LAUNCH_BODY, FOLLOW_BODY, FIX_BODY, WINDOWS_TXN_BODY, PASSWORD_RESET_BODY };

describe('Windows scripts', () => {
  for (const [name, text] of Object.entries(scripts)) {
    it(`${name} parses as PowerShell without errors`, async () => {
      const r = await parsePowerShell(text);
      expect(r.errors).toEqual([]);
    });
  }

  it('each body is a constant: no value of a change is inside the code, only in the $name lines after the prelude', () => {
    for (const [name, body] of Object.entries(bodies)) {
      expect(body, name).not.toContain('Stop-Computer');
      expect(body, name).not.toMatch(/\$\{/);
    }
    const txn = scripts.txn!;
    expect(txn.startsWith(`${PS_PRELUDE}\n`)).toBe(true);
    expect(txn.endsWith(`${WINDOWS_TXN_BODY}\n`)).toBe(true);
    const params = txn.slice(PS_PRELUDE.length + 1, txn.length - WINDOWS_TXN_BODY.length - 1);
    expect(params).toContain(`$txn = ${psQuote(hostile)}\n`);
    expect(params).toContain(`$pkgVersion = ${psQuote(hostile)}\n`);
    expect(params).toContain('$settle = 3\n');
  });

  it('hostile values parse as one string literal each (no command of theirs is ever a command)', async () => {
    for (const text of [scripts.txn!, scripts.follow!, scripts.stage!]) {
      const r = await parsePowerShell(text);
      for (const c of ['Remove-Item C:', 'Stop-Computer']) expect(r.commands.join('\n')).not.toContain(c);
      expect(r.commands).not.toContain('Stop-Computer');
    }
  });

  it('starts the transaction through Win32_Process.Create with a fixed bootstrap that reads txn.ps1 into a script block', () => {
    const launch = scripts.launch!;
    expect(launch).toContain('Invoke-CimMethod -ClassName Win32_Process -MethodName Create');
    expect(launch).toContain('CreateFlags = $flags');
    const args = txnCommandArgs(stage, 'ab'.repeat(32));
    expect(args).toMatch(/^-NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -WindowStyle Hidden -EncodedCommand [A-Za-z0-9+/=]+$/);
    // The bytes are read once, hashed, and run only if they are the staged ones: no swap between check and run.
    expect(decodeCommand(args.split(' ').pop()!)).toBe(
      `$ProgressPreference = 'SilentlyContinue'; $b = [System.IO.File]::ReadAllBytes('${stage}\\txn.ps1'); if (([System.BitConverter]::ToString((New-Object System.Security.Cryptography.SHA256CryptoServiceProvider).ComputeHash($b)) -replace '-', '') -ne '${'AB'.repeat(32)}') { exit 86 }; & ([ScriptBlock]::Create([System.Text.Encoding]::UTF8.GetString($b)))`,
    );
  });

  it('runs every .bat from its own folder with stdin from NUL and a time limit, and judges by the service', () => {
    // .\<bat>: with NoDefaultCurrentDirectoryInExePath set, cmd.exe does not look in the current folder for a bare name.
    expect(WINDOWS_TXN_BODY).toContain(`-ArgumentList ('/d /c ".\\' + $bat + ' < NUL"') -WorkingDirectory $dir`);
    expect(WINDOWS_TXN_BODY).toContain('$p.WaitForExit($secs * 1000)');
    expect(WINDOWS_TXN_BODY).toContain("RunBat $d 'setup.bat' $limit");
    expect(WINDOWS_TXN_BODY).toContain("$s.State -ne 'Running'");
    expect(WINDOWS_TXN_BODY).not.toMatch(/if \(\$Shared\.lastOutput -match 'SUCCESS'\) \{ (Phase|Finish)/);
  });

  it('starts services with a time limit: ServiceController.Start() and WaitForStatus, never Start-Service (no limit while StartPending)', async () => {
    expect((await parsePowerShell(scripts.txn!)).commands).not.toContain('Start-Service');
    expect(WINDOWS_TXN_BODY).toContain("$sc.WaitForStatus('Running', (New-TimeSpan -Seconds $Shared.startWait))");
    expect(WINDOWS_TXN_BODY.match(/StartSvc \$(main|agents\[0\])\.name/g)).toHaveLength(3);
  });

  it('shares files as Windows needs: ReadWrite|Delete for every read of the journal and the records, and retried writes', () => {
    for (const body of [FOLLOW_BODY, WINDOWS_TXN_BODY]) {
      expect(body).toContain("New-Object System.IO.FileStream $path, 'Open', 'Read', 'ReadWrite, Delete'");
      expect(body).not.toMatch(/ReadAll(Lines|Text)\(\$(J|rec)\b/);
    }
    expect(FOLLOW_BODY).toContain('ReadShared $J');
    expect(FOLLOW_BODY).toContain('(ReadShared $rec)');
    // A read that fails is no news: nothing printed or judged on it.
    expect(FOLLOW_BODY).toContain('try { $text = ReadShared $J } catch { $text = $null }');
    expect(FOLLOW_BODY).toContain('if ($null -ne $text) {');
    expect(FOLLOW_BODY).toContain('} catch { $t = $null }');
    expect(FOLLOW_BODY).toContain("if ($null -ne $t -and $t['id'] -eq $txn) {");
    expect(WINDOWS_TXN_BODY).toContain("New-Object System.IO.FileStream $J, 'Append', 'Write', 'ReadWrite, Delete'");
    expect(WINDOWS_TXN_BODY).toContain('Retry { if ([System.IO.File]::Exists($dst)) { [System.IO.File]::Replace($tmp, $dst, [NullString]::Value) }');
    expect(WINDOWS_TXN_BODY).not.toContain('AppendAllText($J');
  });

  it('reads and writes the service settings a re-registration loses as registry values, never sc.exe text', () => {
    expect(WINDOWS_TXN_BODY).toContain("OpenSubKey('SYSTEM\\CurrentControlSet\\Services\\' + $a.name)");
    expect(WINDOWS_TXN_BODY).toContain("@('DelayedAutostart', 'FailureActions', 'FailureActionsOnNonCrashFailures', 'FailureCommand')");
    expect(WINDOWS_TXN_BODY).not.toMatch(/sc(\.exe)? (qfailure|failure|qc|config)/i);
  });

  it('writes the state record only after "committed"', () => {
    const body = WINDOWS_TXN_BODY;
    expect(body.indexOf('$stateNote = WriteState')).toBeGreaterThan(body.lastIndexOf("Phase committed ''"));
    expect(body.match(/WriteState/g)).toHaveLength(2);
    expect(body.indexOf("Phase committed ''")).toBeLessThan(body.indexOf('[System.IO.File]::Delete($stateFile) } } } catch { $kept'));
  });

  it('uses Get-FileHash with a .NET fallback, never certutil', () => {
    expect(STAGE_BODY).toContain('Get-FileHash -LiteralPath $path -Algorithm SHA256');
    // The FIPS-validated CSP class: [SHA256]::Create() gives SHA256Managed on .NET 4.0-4.5, which throws under the FIPS policy.
    expect(STAGE_BODY).toContain('New-Object System.Security.Cryptography.SHA256CryptoServiceProvider');
    expect(STAGE_BODY).not.toContain('[System.Security.Cryptography.SHA256]::Create()');
    for (const b of Object.values(bodies)) expect(b.toLowerCase()).not.toContain('certutil');
  });

  it('the facts script lists the agents\' processes and stops none; the fix and the change stop the ones that are not the services\'', async () => {
    expect((await parsePowerShell(scripts.facts!)).commands).not.toContain('Stop-Process');
    expect(WINDOWS_FACTS_SCRIPT).toContain('foreach ($p in (AgentProcs))');
    for (const body of [FIX_BODY, WINDOWS_TXN_BODY]) {
      expect(body).toContain('function Strays {');
      expect(body).toContain('Stop-Process -Id ([int]$p.ProcessId) -Force');
    }
    expect(FIX_BODY).toContain('$st = @(Strays)');
    // Before anything is set aside, after the new agent is verified, and at both ends of a rollback.
    expect(WINDOWS_TXN_BODY).toContain('$strayList = @(Strays)');
    expect(WINDOWS_TXN_BODY.indexOf('$strayList = @(Strays)')).toBeLessThan(WINDOWS_TXN_BODY.indexOf('Phase setting-aside'));
    expect(WINDOWS_TXN_BODY).toMatch(/Phase verified [^\n]*\n {2}\$Shared\.stopped = @\(\)\n {2}if \(-not \(NoStrays\)\) \{ Fail \$Shared\.why \}/);
    // In a rollback, through RollbackStrays only: a listing that throws (WMI) is noted and the rollback goes on.
    expect(WINDOWS_TXN_BODY).toContain('function RollbackStrays {\n  try { return (NoStrays) } catch {');
    expect(WINDOWS_TXN_BODY.match(/(?<!Rollback)NoStrays\)/g)).toHaveLength(2);
    expect(WINDOWS_TXN_BODY.match(/RollbackStrays\)/g)).toHaveLength(3);
    const rollback = WINDOWS_TXN_BODY.slice(WINDOWS_TXN_BODY.indexOf('\nfunction Rollback('), WINDOWS_TXN_BODY.indexOf('\n}', WINDOWS_TXN_BODY.indexOf('\nfunction Rollback(')));
    expect(rollback).not.toMatch(/(?<!Rollback)NoStrays/);
  });

  it('a rollback that stops is no end: journaled, the process exits 1 with the record still rolling-back (the next run recovers it)', () => {
    const fail = WINDOWS_TXN_BODY.slice(WINDOWS_TXN_BODY.indexOf('\nfunction Fail('), WINDOWS_TXN_BODY.indexOf('\n}', WINDOWS_TXN_BODY.indexOf('\nfunction Fail(')));
    expect(fail).toContain('if ($Shared.rolling) {\n    try { Note rollback-stopped $reason } catch { }');
    expect(fail).not.toContain('the rollback stopped');
  });

  it('Finish writes the journal\'s done line before the record\'s done, which holds the outcome and the line\'s detail', () => {
    const finish = WINDOWS_TXN_BODY.slice(WINDOWS_TXN_BODY.indexOf('\nfunction Finish('), WINDOWS_TXN_BODY.indexOf('\n}', WINDOWS_TXN_BODY.indexOf('\nfunction Finish(')));
    expect(finish.indexOf('Note done')).toBeGreaterThan(0);
    expect(finish.indexOf('Note done')).toBeLessThan(finish.indexOf('Save'));
    expect(finish).toContain('$rec.detail = Esc $detail');
    // The follow takes the end from the record of this change once its process is gone without a done line.
    expect(FOLLOW_BODY).toContain("if ($gone -ge 1 -and $t['phase'] -eq 'done' -and $t['outcome']) {");
    expect(FOLLOW_BODY).toContain("$ended = [string]$epoch + ' done ' + $t['outcome'] + ' ' + $t['detail']");
  });

  it('the scheduled-task launcher leaves the definition to the change, which deletes it as it starts; prepare removes ones left behind', () => {
    expect(LAUNCH_BODY).toContain('$def.Settings.Priority = 4');
    expect(LAUNCH_BODY).toContain("$folder.RegisterTaskDefinition($name, $def, 6, 'S-1-5-18', $null, 5, 'D:P(A;;FA;;;SY)(A;;FA;;;BA)')");
    const ran = LAUNCH_BODY.indexOf('$task.Run(');
    expect(LAUNCH_BODY.slice(ran, LAUNCH_BODY.indexOf('exit 0', ran))).not.toContain('DeleteTask');
    const del = WINDOWS_TXN_BODY.indexOf(".GetFolder('\\').DeleteTask('resetpwd-fleet-' + $txn, 0)");
    expect(del).toBeGreaterThan(0);
    expect(del).toBeLessThan(WINDOWS_TXN_BODY.indexOf('\nLock\n'));
    // Hidden tasks are listed only with TASK_ENUM_HIDDEN (1).
    expect(PREPARE_BODY).toContain('$folder.GetTasks(1)');
    expect(PREPARE_BODY).toContain("if ($task.Name -notlike 'resetpwd-fleet-*') { continue }");
  });

  it('tells an agent by wrapper.name=<agent> as a whole value, never as a prefix (cloudResetPwdAgentTest is another service)', () => {
    expect(WINDOWS_FACTS_SCRIPT).toContain("$named = '(^|[\\s\"])wrapper\\.name=(cloudResetPwdAgent|cloudResetPwdUpdateAgent)([\"\\s]|$)'");
    expect(FIX_BODY).not.toContain("'wrapper.name=");
    const re = new RegExp(/\$named = '([^']+)'/.exec(FIX_BODY)![1]!, 'i');
    expect(re.test('"D:\\x\\wrapper.exe" -s x.conf wrapper.name=cloudResetPwdAgentTest')).toBe(false);
    expect(re.test('"D:\\x\\wrapper.exe" -s x.conf "wrapper.name=CloudResetPwdAgent"')).toBe(true);
    expect(re.test('wrapper.exe wrapper.name=cloudResetPwdUpdateAgent wrapper.ntservice.name=x')).toBe(true);
  });

  it('stops a listed process only while its pid still has the listed creation time (a reused pid is another process)', () => {
    expect(FIX_BODY).toContain('function Born($p) {');
    expect(FIX_BODY).not.toContain('Get-Process -Id ([int]$_.ProcessId)');
  });

  it('reads only locale-independent sources: no ipconfig, sc, net or netsh text', async () => {
    for (const [name, text] of Object.entries(scripts)) {
      const cmds = (await parsePowerShell(text)).commands.map((c) => c.toLowerCase());
      for (const bad of ['ipconfig', 'ipconfig.exe', 'sc', 'sc.exe', 'net', 'net.exe', 'netsh', 'certutil', 'wmic', 'icacls']) expect(cmds, name).not.toContain(bad);
    }
  });
});

describe('scripts/windows/prove.ps1', () => {
  it('parses as PowerShell and rebuilds scripts the way psScript and txnCommandArgs do', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(new URL('../../../../scripts/windows/prove.ps1', import.meta.url), 'utf8');
    expect((await parsePowerShell(text)).errors).toEqual([]);
    expect(text).toContain("return $prelude + \"`n\" + $p + $body + \"`n\"");
    expect(text).toContain("'-NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -WindowStyle Hidden -EncodedCommand '");
    expect(text).toContain("[System.Text.Encoding]::UTF8.GetString(`$b)");
    // It runs on PowerShell 3.0 (Server 2012), where the tool's fallbacks are used: no 4.0+ cmdlet or 5.0 syntax,
    // and the bootstrap it rebuilds hashes with the same FIPS-validated class as txnCommandArgs.
    expect(text).not.toMatch(/Get-FileHash|::new\(|^\s*class\s|^\s*using\s/m);
    expect(text).toContain('(New-Object System.Security.Cryptography.SHA256CryptoServiceProvider).ComputeHash(`$b)');
    expect(decodeCommand(txnCommandArgs(stage, 'ab'.repeat(32)).split(' ').pop()!)).toContain('(New-Object System.Security.Cryptography.SHA256CryptoServiceProvider).ComputeHash($b)');
    expect(txnCommandArgs(stage, 'ab'.repeat(32))).toContain('-NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -WindowStyle Hidden -EncodedCommand ');
  });
});

describe('the transaction script\'s variables', () => {
  it('no function has a local named like a script-level variable it would then hide (PowerShell names ignore case: $s is $S)', () => {
    const shared = ['sd', 'j', 'asideroot', 'aside', 'out', 'statefile', 'fullwait', 'agents', 'main', 'rec', 'shared', 'stage', 'limit', 'settle', 'txn', 'startwait', 'lf', 'crlf'];
    const functions = WINDOWS_TXN_BODY.split('\n').reduce<string[]>((acc, line) => {
      if (/^function /.test(line)) acc.push(line);
      else if (acc.length && !/^\}/.test(acc[acc.length - 1]!.split('\n').pop()!) && !/^function .*\}$/.test(acc[acc.length - 1]!)) acc[acc.length - 1] += `\n${line}`;
      return acc;
    }, []);
    expect(functions.length).toBeGreaterThan(20);
    for (const f of functions) {
      const name = /^function (\w+)/.exec(f)![1]!;
      const params = [...(/^function \w+\(([^)]*)\)/.exec(f)?.[1] ?? '').matchAll(/\$(\w+)/g)].map((m) => m[1]!.toLowerCase());
      const locals = [...f.matchAll(/(?<![.\w])\$(\w+)\s*(?:\+)?=(?!=)/g)].map((m) => m[1]!.toLowerCase());
      const loops = [...f.matchAll(/foreach \(\$(\w+) in/g)].map((m) => m[1]!.toLowerCase());
      for (const v of [...params, ...locals, ...loops]) expect(shared, `${name} has a local $${v}`).not.toContain(v);
    }
  });
});
