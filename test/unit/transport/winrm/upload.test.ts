import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PS_DATA_MARKER, PS_STDIN_STREAM_COMMAND, STDIN_STREAM_BOOTSTRAP, decodeCommand } from '../../../../src/dialect/powershell.js';
import { UPLOAD_HASH_MISMATCH, planUpload, uploadScript, uploadStdin } from '../../../../src/transport/winrm/index.js';
import { UPLOAD_COMMAND } from '../../../../src/transport/winrm/upload.js';
import { parsePowerShell } from '../../../support/powershell-grammar.js';
import { SimulatedWindowsHost } from '../../../support/windows-host.js';
import { simulatedHostHandler } from '../../../support/windows-peer-host.js';
import { localPath, scriptParams, splitStreamStdin } from '../../../support/wsman-peer.js';
import { connect, rejection, usePeers } from './helpers.js';

const startPeer = usePeers();

const TARGET = 'C:\\ProgramData\\Cloud Password Reset\\plugin it\u2019s.zip';

describe('the upload script', () => {
  it('is valid PowerShell, with data and without, and hostile paths stay literals', async () => {
    for (const content of [Buffer.alloc(0), randomBytes(10_000)]) {
      const plan = planUpload(content, TARGET);
      const stdin = uploadScript(plan, content);
      // What the bootstrap runs is the part before the marker line: exactly the plan's script.
      expect(stdin.startsWith(`${plan.script}${PS_DATA_MARKER}\n`)).toBe(true);
      const script = splitStreamStdin(Buffer.from(stdin))!.script;
      expect(script).toBe(plan.script);
      const parsed = await parsePowerShell(script);
      expect(parsed.errors).toEqual([]);
      expect(parsed.commands).toEqual(expect.arrayContaining(['Get-Command', 'Get-FileHash', 'Test-Path', 'Remove-Item', 'Emit']));
      const p = scriptParams(script);
      expect(p.path).toBe(TARGET);
      expect(p.sha256).toBe(createHash('sha256').update(content).digest('hex').toUpperCase());
      expect(p.size).toBe(String(content.length));
      expect(p.tmp).toMatch(/^C:\\ProgramData\\Cloud Password Reset\\plugin it’s\.zip\.[0-9a-f]{12}\.upload$/);
    }
    const evil = "C:\\x\\'; Remove-Item C:\\ -Recurse; '.zip";
    const plan = planUpload(Buffer.from('x'), evil);
    expect((await parsePowerShell(plan.script)).errors).toEqual([]);
    expect(scriptParams(plan.script).path).toBe(evil);
  });

  it('checks the hash with Get-FileHash where present, else .NET SHA256, and moves into place only on a match', () => {
    const script = planUpload(Buffer.from('x'), TARGET).script;
    expect(script).toContain('if (Get-Command Get-FileHash -ErrorAction SilentlyContinue)');
    expect(script).toContain('New-Object System.Security.Cryptography.SHA256CryptoServiceProvider');
    const check = script.indexOf('if ($got -ne $sha256)');
    expect(check).toBeGreaterThan(0);
    expect(script.indexOf('[System.IO.File]::Replace($tmp, $path')).toBeGreaterThan(check);
    expect(script).toContain(`exit ${UPLOAD_HASH_MISMATCH}`);
  });

  it('is produced piece by piece: the script with the marker line, then the data as base64 lines of 4,096 characters', () => {
    const content = randomBytes(100_000);
    const plan = planUpload(content, TARGET);
    const pieces = [...uploadStdin(plan, content)];
    expect(pieces.length).toBe(1 + Math.ceil(100_000 / 3072));
    expect(pieces[0]!.toString()).toBe(`${plan.script}${PS_DATA_MARKER}\n`);
    // An empty file is the script and the marker line alone: the script reads end of stdin at once.
    expect([...uploadStdin(plan, Buffer.alloc(0))].map(String)).toEqual([`${plan.script}${PS_DATA_MARKER}\n`]);
    for (const p of pieces.slice(1)) expect(p.length).toBeLessThanOrEqual(4097);
    const lines = pieces.slice(1).map((p) => p.toString().trim());
    expect(Buffer.concat(lines.map((l) => Buffer.from(l, 'base64'))).equals(content)).toBe(true);
    expect(Buffer.concat(pieces).toString()).toBe(uploadScript(plan, content));
  });

  it('the script part of the stdin is small and the same whatever the file\'s size; nothing reads stdin to its end', () => {
    const part = (content: Buffer) => {
      const stdin = Buffer.from(uploadScript(planUpload(content, TARGET), content));
      const parts = splitStreamStdin(stdin)!;
      return { script: parts.script, lines: parts.lines };
    };
    const small = part(randomBytes(3 * 1024));
    const large = part(randomBytes(3 * 1024 * 1024));
    // The file is all after the marker: 1 line for 3 KB, 1,024 for 3 MB, none longer than 4,096 characters.
    expect(small.lines).toHaveLength(1);
    expect(large.lines).toHaveLength(1024);
    for (const l of large.lines) expect(l.length).toBeLessThanOrEqual(4096);
    // Before it, the script: a few KB, and identical but for the values (the random part of the temporary
    // name, the hash, the size's digits) — the file's size changes nothing else in it.
    expect(small.script.length).toBeLessThan(4096);
    expect(large.script.length - small.script.length).toBe(String(3 * 1024 * 1024).length - String(3 * 1024).length);
    const values = (s: string) => s.replace(/\.[0-9a-f]{12}\.upload'/, '.<random>.upload\'').replace(/^\$sha256 = '[0-9A-F]{64}'$/m, "$sha256 = '<sha>'").replace(/^\$size = \d+$/m, '$size = <size>');
    expect(values(large.script)).toBe(values(small.script));
    // Sizes with as many digits: scripts of identical length, 3 MB or 1 MB.
    expect(part(randomBytes(1024 * 1024)).script.length).toBe(large.script.length);
    // Neither the bootstrap nor the script ever reads stdin to its end: the bootstrap stops at the marker line,
    // the script takes the rest one line at a time; no here-string, no split of the whole.
    expect(UPLOAD_COMMAND).toBe(PS_STDIN_STREAM_COMMAND);
    expect(decodeCommand(UPLOAD_COMMAND.split(' ').pop()!)).toBe(STDIN_STREAM_BOOTSTRAP);
    for (const text of [STDIN_STREAM_BOOTSTRAP, large.script]) {
      expect(text).not.toMatch(/ReadToEnd|ReadAllText|ReadAllLines|\$input\b|@'/);
      expect(text).toContain('[Console]::In.ReadLine()');
    }
    expect(large.script).not.toContain('.Split(');
    expect(STDIN_STREAM_BOOTSTRAP).toContain(`if ($l -ceq '${PS_DATA_MARKER}') { break }`);
  });

  it('the streaming bootstrap probes the language mode first and parses as PowerShell', async () => {
    expect(STDIN_STREAM_BOOTSTRAP.startsWith("if ($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage') { 'resetpwd-fleet-language-mode=' + $ExecutionContext.SessionState.LanguageMode; exit 87 }; ")).toBe(true);
    expect((await parsePowerShell(STDIN_STREAM_BOOTSTRAP)).errors).toEqual([]);
    expect(PS_STDIN_STREAM_COMMAND.length).toBeLessThan(8191);
  });
});

describe('put', () => {
  it('uploads 3 MB in one PowerShell command over many Sends; the host checks the hash and moves it into place', async () => {
    const peer = await startPeer();
    mkdirSync(path.dirname(localPath(peer.root, TARGET)), { recursive: true });
    const content = randomBytes(3 * 1024 * 1024);
    const t = await connect(peer);
    await t.put(content, TARGET, 0o644);
    expect(readFileSync(localPath(peer.root, TARGET)).equals(content)).toBe(true);
    expect(readdirSync(path.dirname(localPath(peer.root, TARGET)))).toEqual([path.basename(localPath(peer.root, TARGET))]);
    expect(peer.commands.map((c) => c.commandLine)).toEqual([PS_STDIN_STREAM_COMMAND]);
    const sends = peer.requests.filter((r) => r.op === 'Send');
    expect(sends.length).toBeGreaterThan(30);
    for (const s of sends) expect(s.bytes).toBeLessThanOrEqual(153_600);
    // What arrived is the stdin checked above: the same script (but the temporary name's random part), the
    // marker line, the data.
    const arrived = peer.commands[0]!.stdin.toString();
    const p = scriptParams(splitStreamStdin(peer.commands[0]!.stdin)!.script);
    const expected = uploadScript(withTmp(planUpload(content, TARGET), p.tmp!), content);
    expect(arrived === expected).toBe(true);
    await t.close();
  }, 180_000);

  it('replaces an existing file', async () => {
    const peer = await startPeer();
    const local = localPath(peer.root, 'C:\\agent\\conf.txt');
    mkdirSync(path.dirname(local), { recursive: true });
    writeFileSync(local, 'old');
    const t = await connect(peer);
    await t.put(Buffer.from('new content\r\n'), 'C:\\agent\\conf.txt');
    expect(readFileSync(local, 'utf8')).toBe('new content\r\n');
    await t.close();
  });

  it('uploads an empty file', async () => {
    const peer = await startPeer();
    mkdirSync(localPath(peer.root, 'C:\\e'), { recursive: true });
    const t = await connect(peer);
    await t.put(Buffer.alloc(0), 'C:\\e\\empty.txt');
    expect(readFileSync(localPath(peer.root, 'C:\\e\\empty.txt')).length).toBe(0);
    await t.close();
  });

  it('corrupted in transit: fails with the hash mismatch, the old file stays, no temporary file is left', async () => {
    const peer = await startPeer();
    const local = localPath(peer.root, 'C:\\agent\\plugin.zip');
    mkdirSync(path.dirname(local), { recursive: true });
    writeFileSync(local, 'previous version');
    peer.inject({ kind: 'corrupt-stdin' });
    const t = await connect(peer);
    const e = await rejection(t.put(randomBytes(200_000), 'C:\\agent\\plugin.zip'));
    expect(e.reason).toBe('protocol');
    expect(e.message).toMatch(/^win1 \(127\.0\.0\.1:\d+\): upload to C:\\agent\\plugin\.zip failed: SHA-256 mismatch for C:\\agent\\plugin\.zip: expected [0-9A-F]{64}, got [0-9A-F]{64} \(corrupted in transit\); the file was not replaced$/);
    expect(readFileSync(local, 'utf8')).toBe('previous version');
    expect(readdirSync(path.dirname(local))).toEqual(['plugin.zip']);
    await t.close();
  });

  it('corrupted in transit with no file before: nothing is left at the target', async () => {
    const peer = await startPeer();
    mkdirSync(localPath(peer.root, 'C:\\new'), { recursive: true });
    peer.inject({ kind: 'corrupt-stdin' });
    const t = await connect(peer);
    await rejection(t.put(randomBytes(5000), 'C:\\new\\file.bin'));
    expect(existsSync(localPath(peer.root, 'C:\\new\\file.bin'))).toBe(false);
    expect(readdirSync(localPath(peer.root, 'C:\\new'))).toEqual([]);
    await t.close();
  });

  it('a missing folder fails with the host\'s message', async () => {
    const peer = await startPeer();
    const t = await connect(peer);
    const e = await rejection(t.put(Buffer.from('x'), 'C:\\no\\such\\dir\\f.txt'));
    expect(e.message).toContain('Could not find a part of the path');
    await t.close();
  });

  it('a host that stalls an upload past its time limit fails it as timeout (it had no limit)', async () => {
    const peer = await startPeer({ handler: () => new Promise((r) => setTimeout(() => r({ stdout: '', exitCode: 0 }), 5_000)) });
    const t = await connect(peer);
    const e = await rejection(t.put(Buffer.from('abc'), 'C:\\f.txt', undefined, { timeoutMs: 500 }));
    expect(e.reason).toBe('timeout');
    await t.close();
  });

  it('exit 0 without the script\'s confirmation line is not taken for success', async () => {
    const peer = await startPeer({ handler: async () => ({ stdout: '', exitCode: 0 }) });
    const t = await connect(peer);
    const e = await rejection(t.put(Buffer.from('abc'), 'C:\\f.txt'));
    expect(e.message).toContain('the host did not confirm it (no uploaded=3 line in its output)');
    await t.close();
  });

  it('through the simulated Windows host behind the peer: written into its files; a host in ConstrainedLanguage mode answers with the probe', async () => {
    const host = new SimulatedWindowsHost({ install: null });
    const peer = await startPeer({ handler: simulatedHostHandler(host) });
    const t = await connect(peer);
    const content = randomBytes(50_000);
    await t.put(content, 'C:\\ProgramData\\pkg.zip');
    expect(host.uploads).toEqual(['C:\\ProgramData\\pkg.zip']);
    expect(host.readFile('C:\\ProgramData\\pkg.zip')?.equals(content)).toBe(true);
    host.languageMode = 'ConstrainedLanguage';
    const e = await rejection(t.put(Buffer.from('x'), 'C:\\ProgramData\\other.txt'));
    expect(e.message).toContain('upload to C:\\ProgramData\\other.txt failed: exit code 87');
    expect(host.uploads).toHaveLength(1);
    await t.close();
  });

  it('refuses a path that is not an absolute Windows path', async () => {
    const peer = await startPeer();
    const t = await connect(peer);
    await expect(t.put(Buffer.from('x'), 'relative\\f.txt')).rejects.toThrow(/absolute Windows path/);
    await expect(t.put(Buffer.from('x'), '/tmp/f.txt')).rejects.toThrow(/absolute Windows path/);
    await t.close();
  });
});

/** The plan planUpload would give with this temporary path (the random part is the only difference). */
function withTmp(plan: ReturnType<typeof planUpload>, tmp: string): ReturnType<typeof planUpload> {
  const q = (t: string) => t.replace(/'/g, "''").replace(/\u2019/g, '\u2019\u2019');
  return { ...plan, tmpPath: tmp, script: plan.script.replace(q(plan.tmpPath), q(tmp)) };
}
