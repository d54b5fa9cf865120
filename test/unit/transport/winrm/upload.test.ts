import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PS_STDIN_COMMAND } from '../../../../src/dialect/powershell.js';
import { UPLOAD_HASH_MISMATCH, planUpload, uploadScript, uploadStdin } from '../../../../src/transport/winrm/index.js';
import { parsePowerShell } from '../../../support/powershell-grammar.js';
import { localPath, scriptParams } from '../../../support/wsman-peer.js';
import { connect, rejection, usePeers } from './helpers.js';

const startPeer = usePeers();

const TARGET = 'C:\\ProgramData\\Cloud Password Reset\\plugin it\u2019s.zip';

describe('the upload script', () => {
  it('is valid PowerShell, with data and without, and hostile paths stay literals', async () => {
    for (const content of [Buffer.alloc(0), randomBytes(10_000)]) {
      const plan = planUpload(content, TARGET);
      const script = uploadScript(plan, content);
      const parsed = await parsePowerShell(script);
      expect(parsed.errors).toEqual([]);
      expect(parsed.commands).toEqual(expect.arrayContaining(['Get-Command', 'Get-FileHash', 'Test-Path', 'Remove-Item', 'Emit']));
      const p = scriptParams(script);
      expect(p.path).toBe(TARGET);
      expect(p.sha256).toBe(createHash('sha256').update(content).digest('hex').toUpperCase());
      expect(p.tmp).toMatch(/^C:\\ProgramData\\Cloud Password Reset\\plugin it’s\.zip\.[0-9a-f]{12}\.upload$/);
    }
    const evil = "C:\\x\\'; Remove-Item C:\\ -Recurse; '.zip";
    const script = uploadScript(planUpload(Buffer.from('x'), evil), Buffer.from('x'));
    expect((await parsePowerShell(script)).errors).toEqual([]);
    expect(scriptParams(script).path).toBe(evil);
  });

  it('checks the hash with Get-FileHash where present, else .NET SHA256, and moves into place only on a match', () => {
    const script = uploadScript(planUpload(Buffer.from('x'), TARGET), Buffer.from('x'));
    expect(script).toContain('if (Get-Command Get-FileHash -ErrorAction SilentlyContinue)');
    expect(script).toContain('New-Object System.Security.Cryptography.SHA256CryptoServiceProvider');
    const check = script.indexOf('if ($got -ne $sha256)');
    expect(check).toBeGreaterThan(0);
    expect(script.indexOf('[System.IO.File]::Replace($tmp, $path')).toBeGreaterThan(check);
    expect(script).toContain(`exit ${UPLOAD_HASH_MISMATCH}`);
  });

  it('is produced piece by piece: the data as base64 lines of 4,096 characters, never as one string', () => {
    const content = randomBytes(100_000);
    const plan = planUpload(content, TARGET);
    const pieces = [...uploadStdin(plan, content)];
    expect(pieces.length).toBe(2 + Math.ceil(100_000 / 3072));
    expect([...uploadStdin(plan, Buffer.alloc(0))].map(String)[1]).toBe("\n");
    for (const p of pieces.slice(1, -1)) expect(p.length).toBeLessThanOrEqual(4097);
    const lines = pieces.slice(1, -1).map((p) => p.toString().trim());
    expect(Buffer.concat(lines.map((l) => Buffer.from(l, 'base64'))).equals(content)).toBe(true);
    expect(Buffer.concat(pieces).toString()).toBe(uploadScript(plan, content));
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
    expect(peer.commands.map((c) => c.commandLine)).toEqual([PS_STDIN_COMMAND]);
    const sends = peer.requests.filter((r) => r.op === 'Send');
    expect(sends.length).toBeGreaterThan(30);
    for (const s of sends) expect(s.bytes).toBeLessThanOrEqual(153_600);
    // The script that arrived is the one checked above: same head and tail around the data.
    const arrived = peer.commands[0]!.stdin.toString();
    const p = scriptParams(arrived);
    const plan = { ...planUpload(content, TARGET), tmpPath: p.tmp! };
    const expected = uploadScript({ ...plan, ...headTail(content, p.tmp!) }, content);
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

  it('refuses a path that is not an absolute Windows path', async () => {
    const peer = await startPeer();
    const t = await connect(peer);
    await expect(t.put(Buffer.from('x'), 'relative\\f.txt')).rejects.toThrow(/absolute Windows path/);
    await expect(t.put(Buffer.from('x'), '/tmp/f.txt')).rejects.toThrow(/absolute Windows path/);
    await t.close();
  });
});

/** The head and tail planUpload would give for this temporary path (the random part is the only difference). */
function headTail(content: Buffer, tmp: string): { head: string; tail: string } {
  const plan = planUpload(content, TARGET);
  return { head: plan.head.replace(plan.tmpPath.replace(/'/g, "''").replace(/\u2019/g, '\u2019\u2019'), tmp.replace(/'/g, "''").replace(/\u2019/g, '\u2019\u2019')), tail: plan.tail };
}
