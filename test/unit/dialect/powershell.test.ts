import { describe, expect, it } from 'vitest';
import {
  PS_PRELUDE, PS_STDIN_COMMAND, STDIN_BOOTSTRAP, clixmlToText, decodeCommand, encodeCommand, parseEmitted, psParams, psQuote, psScript,
} from '../../../src/dialect/powershell.js';
import { parsePowerShell } from '../../support/powershell-grammar.js';

describe('PowerShell quoting', () => {
  it('makes single-quoted literals of hostile strings, doubling every kind of single quote', () => {
    expect(psQuote("it's")).toBe("'it''s'");
    expect(psQuote('$(Remove-Item C:\\ -Recurse)')).toBe("'$(Remove-Item C:\\ -Recurse)'");
    expect(psQuote('a\u2019b')).toBe("'a\u2019\u2019b'");
    expect(psQuote('')).toBe("''");
  });

  it('every quoted hostile value parses as one string literal', async () => {
    for (const s of ["it's", '$env:PATH', '`n`0', 'a\u2018b\u201Bc', '"; Stop-Computer #', "'''", 'ünïcødé 中文', '@(1,2)']) {
      const r = await parsePowerShell(`$x = ${psQuote(s)}`);
      expect(r.errors, s).toEqual([]);
    }
  });

  it('rejects parameter names that are not plain variable names', () => {
    expect(psParams({ dir: 'C:\\a', n: 3, on: true })).toBe("$dir = 'C:\\a'\n$n = 3\n$on = $true");
    expect(() => psParams({ 'a;b': 'x' })).toThrow(/variable name/);
  });
});

describe('PowerShell command line', () => {
  it('carries only a fixed bootstrap as -EncodedCommand (UTF-16LE base64), far under cmd.exe limits', () => {
    expect(PS_STDIN_COMMAND.startsWith('powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand ')).toBe(true);
    const b64 = PS_STDIN_COMMAND.split(' ').pop()!;
    expect(decodeCommand(b64)).toBe(STDIN_BOOTSTRAP);
    expect(encodeCommand('Write-Host hi')).toBe('VwByAGkAdABlAC0ASABvAHMAdAAgAGgAaQA=');
    expect(PS_STDIN_COMMAND.length).toBeLessThan(8191);
  });

  it('bootstrap, prelude and a built script are valid PowerShell', async () => {
    expect((await parsePowerShell(STDIN_BOOTSTRAP)).errors).toEqual([]);
    expect((await parsePowerShell(PS_PRELUDE)).errors).toEqual([]);
    expect((await parsePowerShell(psScript('Emit os $x; exit 0', { x: "a'b" }))).errors).toEqual([]);
  });

  it('the grammar does catch broken scripts (so the checks above mean something)', async () => {
    expect((await parsePowerShell('if ($x { Write-Host')).ok).toBe(false);
  });
});

describe('reading output', () => {
  it('parses Emit lines, repeated keys and escapes', () => {
    const m = parseEmitted('os=Windows Server 2019\r\nnic=Ethernet0\\u00e4|dhcp\r\nnic=Ethernet 2|static\r\nnoise\r\n');
    expect(m.get('os')).toEqual(['Windows Server 2019']);
    expect(m.get('nic')).toEqual(['Ethernet0ä|dhcp', 'Ethernet 2|static']);
  });

  it('turns CLIXML error records into plain text and leaves plain stderr alone', () => {
    const clixml =
      '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T></TN></Obj>' +
      '<S S="Error">Access is denied: C:\\CloudResetPwdAgent_x000D__x000A_</S><S S="Error">At line:1 char:1 &amp; more_x000D__x000A_</S></Objs>';
    expect(clixmlToText(clixml)).toBe('Access is denied: C:\\CloudResetPwdAgent\nAt line:1 char:1 & more');
    expect(clixmlToText('Write-Error testing : testing\r\n')).toBe('Write-Error testing : testing\r\n');
  });
});
