import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Bad input that used to get past the gate: each is refused before any connection, exit 2, with one line
 * naming the file (and line) and the fix. A listener stands in for the hosts: it must see no connection.
 */
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const main = path.join(repo, 'dist/cli/main.js');
let tmp: string;
let server: Server;
let port = 0;
let connections = 0;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'bad-input-'));
  server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'id_ok')]);
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret', '-f', path.join(tmp, 'id_enc')]);
});
afterAll(() => {
  server.close();
  rmSync(tmp, { recursive: true, force: true });
});

function write(name: string, text: string | Buffer, mode = 0o600): string {
  const f = path.join(tmp, name);
  writeFileSync(f, text);
  chmodSync(f, mode);
  return f;
}
/**
 * Runs the CLI without blocking this process: the listener standing in for the hosts must be able to accept
 * (spawnSync would hold the event loop, and a connection would go uncounted).
 */
async function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [main, ...args, '--known-hosts', path.join(tmp, 'known_hosts')], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  clearTimeout(timer);
  await new Promise((r) => setImmediate(r)); // let an accepted connection be counted
  return { code, stdout, stderr };
}
/** Exit 2, nothing on stdout, exactly one line on stderr matching `msg`, and no connection to any host. */
function refused(r: Awaited<ReturnType<typeof run>>, msg: RegExp) {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(msg);
  expect(lines[0]!.length).toBeLessThan(400);
  expect(connections).toBe(0);
}

describe('bad input is refused before any connection', () => {
  it('a YAML inventory whose hosts: is a list (it made hosts "0" and "1", and connected to 0.0.0.0:22)', async () => {
    const f = write('list.yml', `all:\n  vars:\n    ansible_port: ${port}\n  hosts:\n    - web1\n    - web2\n`);
    refused(await run(['audit', '-i', f]), /list\.yml:5: hosts of group all must be a mapping, not a list; write each host as "name:" on its own line/);
  });

  it('a YAML inventory whose hosts: is a number (it said "no targets")', async () => {
    const f = write('five.yml', 'all:\n  hosts: 5\n');
    refused(await run(['audit', '-i', f]), /five\.yml:2: hosts of group all must be a mapping, not a single value/);
  });

  it('a YAML group that is a list, a child group that is a string', async () => {
    refused(await run(['audit', '-i', write('g.yml', 'web:\n  - a\n  - b\n')]), /g\.yml:2: group web must be a mapping, not a list/);
    refused(await run(['audit', '-i', write('c.yml', 'all:\n  children:\n    web: yes\n')]), /c\.yml:3: group web must be a mapping, not a single value/);
  });

  it('a private key readable by group or others (OpenSSH refuses it; it was used silently)', async () => {
    const key = path.join(tmp, 'id_ok');
    chmodSync(key, 0o644);
    try {
      refused(await run(['audit', '-H', `127.0.0.1:${port}`, '--key', key]), /^resetpwd-fleet: --key: private key .*id_ok is readable by group or others \(mode 0644\); OpenSSH refuses such a key: chmod 600 /);
      const inv = write('k.ini', `web1 ansible_host=127.0.0.1 ansible_port=${port} ansible_ssh_private_key_file=${key}\n`);
      refused(await run(['audit', '-i', inv]), /k\.ini:1: host web1: private key .*id_ok is readable by group or others/);
    } finally {
      chmodSync(key, 0o600);
    }
  });

  it('a file that is not a private key fails once (exit 2), not once per host (exit 1)', async () => {
    const notKey = write('notakey', 'hello\n');
    const inv = write('n.ini', [1, 2, 3].map((i) => `web${i} ansible_host=127.0.0.1 ansible_port=${port} ansible_ssh_private_key_file=${notKey}`).join('\n') + '\n');
    refused(await run(['audit', '-i', inv]), /n\.ini:1: host web1: .*notakey is not a private key \(Unsupported key format\); give an OpenSSH, PEM or PuTTY private key file/);
    chmodSync(path.join(tmp, 'id_ok.pub'), 0o600);
    refused(await run(['audit', '-H', `127.0.0.1:${port}`, '--key', path.join(tmp, 'id_ok.pub')]), /--key: .*id_ok\.pub is a public key, not a private key/);
  });

  it('an encrypted key without its passphrase, or with a wrong one', async () => {
    const key = path.join(tmp, 'id_enc');
    refused(await run(['audit', '-H', `127.0.0.1:${port}`, '--key', key]), /--key: private key .*id_enc is encrypted: give its passphrase with --key-passphrase-env VAR/);
    refused(await run(['audit', '-H', `127.0.0.1:${port}`, '--key', key, '--key-passphrase-env', 'P'], { P: 'wrong' }), /the passphrase from --key-passphrase-env does not decrypt it/);
    // The passphrase itself never shows.
    expect((await run(['audit', '-H', `127.0.0.1:${port}`, '--key', key, '--key-passphrase-env', 'P'], { P: 'wrong' })).stderr).not.toContain('wrong');
  });

  it('a 2 MB host name, a host name with spaces, an address that is not one', async () => {
    refused(await run(['audit', '-i', write('big.ini', `${'a'.repeat(2_000_000)} ansible_port=${port}\n`)]), /big\.ini:1: host name "a{40}"… \(2000000 characters\) is not a host name \(at most 253 characters/);
    refused(await run(['audit', '-i', write('addr.ini', `web1 ansible_host="10.0.0.1; rm -rf /" ansible_port=${port}\n`)]), /addr\.ini:1: host "web1": "10\.0\.0\.1; rm -rf \/" is not a host name or IP address/);
    refused(await run(['audit', '-i', write('zero.ini', `web1 ansible_host=0.0.0.0 ansible_port=${port}\n`)]), /zero\.ini:1: host "web1": "0\.0\.0\.0" is no host's address \(0\.0\.0\.0, it means this machine\)/);
  });

  it('every way of writing 0.0.0.0 the resolver accepts (0, 0x0, 0.0, 00.0.0.0, 0.1.2.3), and a host named 0: this machine, refused', async () => {
    for (const h of ['0', '0x0', '0.0', '00.0.0.0', '0x0.0.0.0', '0.1.2.3']) {
      refused(await run(['audit', '-i', write('zeros.ini', `web1 ansible_host=${h} ansible_port=${port}\n`)]), /zeros\.ini:1: host "web1": ".+" is no host's address \(0\.\d+\.\d+\.\d+, it means this machine\); give the server's address in ansible_host/);
    }
    refused(await run(['audit', '-i', write('named0.ini', `0 ansible_port=${port}\n`)]), /named0\.ini:1: host "0": "0" is no host's address \(0\.0\.0\.0, it means this machine\)/);
  });

  it('a number the resolver reads as an address (1, 0x7f.1, 127.1) must be written in full', async () => {
    refused(await run(['audit', '-i', write('short.ini', `web1 ansible_host=127.1 ansible_port=${port}\n`)]), /short\.ini:1: host "web1": "127\.1" is a number the resolver reads as the address 127\.0\.0\.1; write the address in full/);
    refused(await run(['audit', '-i', write('short.ini', `web1 ansible_host=0x7f.1 ansible_port=${port}\n`)]), /reads as the address 127\.0\.0\.1/);
    refused(await run(['audit', '-i', write('one.ini', `1 ansible_port=${port}\n`)]), /one\.ini:1: host "1": "1" is no host's address \(0\.0\.0\.1, it means this machine\)/);
    refused(await run(['audit', '-i', write('ten.ini', `10.1 ansible_port=${port}\n`)]), /ten\.ini:1: host "10\.1": "10\.1" is a number the resolver reads as the address 10\.0\.0\.1/);
    refused(await run(['audit', '-i', write('big.yml', `all:\n  hosts:\n    ${'b'.repeat(300)}:\n`)]), /big\.yml:3: host name "b{40}"… \(300 characters\)/);
  });
});

describe('inventory errors that must neither hang nor leak', () => {
  it('a host range with step 0 is refused at once (it looped until memory ran out)', async () => {
    const r = await run(['audit', '-i', write('step0.ini', `web[0:9:0] ansible_port=${port}\n`)]);
    refused(r, /step0\.ini:1: bad host range \[0:9:0\] in "web\[0:9:0\]": the step must be 1 or more/);
  });

  it('a password with an unquoted space: the error names the line, the column and the variable, never a word of the password', async () => {
    const r = await run(['audit', '-i', write('pw.ini', `web1 ansible_host=127.0.0.1 ansible_port=${port} ansible_password=hunter2 s3cretTail\n`)]);
    refused(r, /pw\.ini:1:\d+: expected key=value after ansible_password= \(a value with spaces needs quotes\)$/);
    expect(r.stderr).not.toMatch(/hunter2|s3cretTail/);
    const g = await run(['audit', '-i', write('gv.ini', `[all:vars]\nansible_become_password hunter2 s3cretTail\n[web]\nweb1 ansible_port=${port}\n`)]);
    refused(g, /gv\.ini:2: expected key=value in \[all:vars\]/);
    expect(g.stderr).not.toMatch(/hunter2|s3cretTail/);
    const l = await run(['audit', '-i', write('host_list.txt', `127.0.0.1,'pAsSw0rd\n10.0.0.2 hunter2 s3cretTail\n`)]);
    expect(l.code).toBe(2);
    expect(l.stderr).not.toMatch(/hunter2|s3cretTail|pAsSw0rd/);
  });
});

describe('WinRM Basic over plain http (the password would cross in clear on every request)', () => {
  const line = (extra = '') => `win1 ansible_host=127.0.0.1 ansible_port=${port} ansible_connection=winrm ansible_winrm_scheme=http ansible_winrm_transport=basic ansible_user=Administrator${extra}\n`;
  const env = { WIN_PW: 'Cl3artext-Secret' };

  it('is refused before any connection unless the operator opts in by name', async () => {
    const r = await run(['audit', '-i', write('basic.ini', line()), '--password-env', 'WIN_PW'], env);
    refused(r, /basic\.ini:1: host win1: WinRM Basic over http would send the password in clear text with every request; use https .* winrm_cleartext_basic=true for the host or --winrm-cleartext-basic$/);
    expect(r.stderr).not.toContain('Cl3artext-Secret');
  });

  it('a WinRM host with --jump or an inventory ProxyJump is refused: WinRM cannot go through an SSH bastion (it went around it)', async () => {
    const inv = write('jump-winrm.ini', line(' winrm_cleartext_basic=true'));
    refused(await run(['audit', '-i', inv, '--password-env', 'WIN_PW', '--jump', `ops@127.0.0.1:${port}`], env),
      /jump-winrm\.ini:1: host win1 is reached over WinRM, which cannot go through an SSH jump host \(--jump\); reach it over SSH \(ansible_shell_type=powershell\), or leave it out of this run \(--limit\)$/);
    const inv2 = write('jump-winrm2.ini', line(` winrm_cleartext_basic=true ansible_ssh_common_args='-o ProxyJump=ops@127.0.0.1:${port}'`));
    refused(await run(['audit', '-i', inv2, '--password-env', 'WIN_PW'], env), /host win1 is reached over WinRM, which cannot go through an SSH jump host \(ProxyJump in its ansible_ssh_common_args\)/);
  });

  // Last in the file: these do connect (to the listener standing in for the host).
  it('is allowed for a host whose inventory says winrm_cleartext_basic=true, or for the run with --winrm-cleartext-basic', async () => {
    for (const args of [['-i', write('basic-ok.ini', line(' winrm_cleartext_basic=true'))], ['-i', write('basic-flag.ini', line()), '--winrm-cleartext-basic']]) {
      const before = connections;
      const r = await run(['audit', ...args, '--password-env', 'WIN_PW', '--json'], env);
      expect(r.stderr).not.toMatch(/clear text/);
      expect(r.code, r.stderr).not.toBe(2);
      expect(connections).toBeGreaterThan(before);
    }
  });
});

describe('reset-password and --cloud: bad input refused before any connection', () => {
  // Earlier specs in this file connect on purpose; each of these must connect to nothing.
  beforeEach(() => {
    connections = 0;
  });
  const host = () => ['-H', `127.0.0.1:${port}`];
  it('no new password, or one from a file others can read', async () => {
    refused(await run(['reset-password', ...host()]), /no new password; give --new-password-env VAR or --new-password-file FILE/);
    refused(await run(['reset-password', ...host(), '--new-password-env', 'NOPE_NOT_SET']), /--new-password-env NOPE_NOT_SET: that environment variable is not set/);
    const f = write('pw.txt', 'Str0ng-Enough-Pass\n', 0o644);
    refused(await run(['reset-password', ...host(), '--new-password-file', f]), /--new-password-file .*pw\.txt: mode 644 lets other users read it; chmod 600/);
  });
  it('a password that breaks a rule: every broken rule named, the password never echoed', async () => {
    const r = await run(['reset-password', ...host(), '--new-password-env', 'PW'], { PW: 'xtoorx12' });
    refused(r, /the new password breaks 2 rules: must mix at least three of .*; must not contain the user name root spelled backwards \(Linux, account root\); no host was touched/);
    expect(r.stderr).not.toContain('xtoorx12');
  });
  it('a password a Linux host takes but a Windows host of the batch does not, and an account name that is none', async () => {
    const inv = write('w.ini', `lin1 ansible_host=127.0.0.1 ansible_port=${port}\nwin1 ansible_host=127.0.0.2 ansible_port=${port} ansible_connection=winrm\n`);
    refused(await run(['reset-password', '-i', inv, '--new-password-env', 'PW'], { PW: 'Good^Pass1234' }), /the new password breaks a rule: may hold only letters, digits and !@%-_=\+\[\]:\.\/\? \(it has another character\) \(Windows, account Administrator\); no host was touched/);
    refused(await run(['reset-password', ...host(), '--new-password-env', 'PW', '--account', 'root;rm'], { PW: 'Str0ng-Enough-Pass' }), /--account "root;rm": not an account name/);
  });
  it('--resume of a run that is not an interrupted reset of the same kind, and resume options that contradict', async () => {
    const runs = path.join(tmp, 'state-reset', 'resetpwd-fleet', 'runs');
    mkdirSync(runs, { recursive: true });
    const journal = (id: string, header: object, end = false) => {
      const lines = [{ t: '2026-12-01T00:00:00Z', run: id, type: 'run', package: null, hosts: [`127.0.0.1:${port}`], ...header }, ...(end ? [{ type: 'end', complete: true }] : [])];
      writeFileSync(path.join(runs, `${id}.jsonl`), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    };
    journal('20261201T000000Z-upd', { command: 'update' });
    journal('20261201T000001Z-one', { command: 'reset-password', account: null, generate: false });
    journal('20261201T000002Z-gen', { command: 'reset-password', account: null, generate: true, recipients: ['age1qqqq'] });
    journal('20261201T000003Z-end', { command: 'reset-password', account: null, generate: false }, true);
    const env = { PW: 'Str0ng-Enough-Pass', XDG_STATE_HOME: path.join(tmp, 'state-reset') };
    const reset = (...a: string[]) => run(['reset-password', ...host(), '--new-password-env', 'PW', ...a], env);
    refused(await reset('--resume', '20261201T000000Z-upd'), /--resume 20261201T000000Z-upd: that run was `update`; resume it with `update --resume 20261201T000000Z-upd`/);
    refused(await reset('--resume', '20261201T000003Z-end'), /that run is complete; nothing to resume/);
    refused(await reset('--resume', '20261201T000001Z-one', '--account', 'deploy'), /that run reset each platform's default account; give the same --account/);
    refused(await run(['reset-password', ...host(), '--generate', '--encrypt-to', 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p', '--resume', '20261201T000001Z-one'], env), /that run set one password: drop --generate and give it again/);
    refused(await reset('--resume', '20261201T000002Z-gen'), /--generate makes a password per host|that run generated a password per host: add --generate/);
    refused(await reset('--resume', 'nope'), /run nope: no journal/);
    refused(await reset('--resume', '20261201T000001Z-one', '--dry-run'), /--resume with --dry-run: a dry run has no journal to continue/);
    refused(await reset('--resume', '20261201T000001Z-one', '--retry-failed', '20261201T000001Z-one'), /--resume and --retry-failed: give one of them/);
    // --retry-failed of another command's run would reset the passwords of the hosts that failed an update.
    refused(await reset('--retry-failed', '20261201T000000Z-upd'), /--retry-failed 20261201T000000Z-upd: that run was `update`, not reset-password/);
    refused(await reset('--resume', '20261201T000001Z-one', '--journal', path.join(tmp, 'j.jsonl')), /--journal with --resume: the resumed run goes on in its own journal/);
  });
  it('a journal path that cannot take the journal: exit 2, and no passwords file left behind', async () => {
    const work = mkdtempSync(path.join(tmp, 'nojournal-'));
    const key = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
    const r = await run(['reset-password', ...host(), '--generate', '--encrypt-to', key, '--out', path.join(work, 'pw.age'), '--journal', work], {});
    refused(r, /journal .*nojournal-.*: (cannot open it|is not a regular file)/);
    expect(readdirSync(work)).toEqual([]);
  });
  it('cloud options without --cloud, a region that is none, credentials others can read', async () => {
    refused(await run(['audit', ...host(), '--address', 'eip']), /--address is for --cloud REGION; add --cloud or drop it/);
    refused(await run(['audit', '--cloud', 'Not A Region']), /--cloud Not A Region: not a region id; give one such as cn-north-4/);
    const creds = write('creds', 'ak = AKEXAMPLEAKEXAMPLE\nsk = s3cr3t-never-shown\n', 0o644);
    const r = await run(['audit', '--cloud', 'cn-north-4', '--cloud-credentials', creds, '--project-id', 'p1']);
    refused(r, /--cloud-credentials .*creds: mode 644 lets other users read the secret key; chmod 600/);
    expect(r.stderr).not.toContain('s3cr3t');
  });
});

describe('inventories as Ansible users keep them: bad input refused before any connection', () => {
  beforeEach(() => {
    connections = 0;
  });
  /** An inventory folder whose group_vars hold a vault-encrypted sudo password, made by ansible-vault itself. */
  const vaulted = () => {
    const dir = mkdtempSync(path.join(tmp, 'vaulted-'));
    mkdirSync(path.join(dir, 'group_vars', 'web'), { recursive: true });
    writeFileSync(path.join(dir, 'hosts'), `[web]\nw1 ansible_host=127.0.0.1 ansible_port=${port}\n`);
    writeFileSync(path.join(dir, 'group_vars', 'web', 'vault.yml'), 'ansible_become_password: Never-Shown-Sudo-9\n');
    writeFileSync(path.join(dir, 'vp'), 'Right-Vault-Pass\n', { mode: 0o600 });
    writeFileSync(path.join(dir, 'wrong'), 'Wrong-Vault-Pass\n', { mode: 0o600 });
    const r = spawnSync('ansible-vault', ['encrypt', '--vault-password-file', path.join(dir, 'vp'), path.join(dir, 'group_vars', 'web', 'vault.yml')], { env: { PATH: process.env.PATH, HOME: dir, ANSIBLE_LOCAL_TEMP: path.join(dir, '.tmp') }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    rmSync(path.join(dir, '.tmp'), { recursive: true, force: true });
    rmSync(path.join(dir, '.ansible'), { recursive: true, force: true });
    return dir;
  };
  it('an encrypted vars file without a vault password, with a wrong one, or tampered: exit 2 naming the file, no secret shown', async () => {
    const dir = vaulted();
    const vaultFile = path.join(dir, 'group_vars', 'web', 'vault.yml');
    refused(await run(['audit', '-i', dir]), new RegExp(`${vaultFile.replace(/[.]/g, '\\.')} is encrypted with Ansible Vault: give --vault-password-file FILE`));
    const wrong = await run(['audit', '-i', dir, '--vault-password-file', path.join(dir, 'wrong')]);
    refused(wrong, /vault\.yml: no vault password given opens it \(tried .*wrong\): the password is wrong or the file was altered/);
    expect(wrong.stderr).not.toMatch(/Wrong-Vault-Pass|Never-Shown/);
    // One hex digit of the ciphertext changed: the HMAC no longer matches.
    const text = readFileSync(vaultFile, 'utf8').split('\n');
    text[3] = text[3]!.replace(/^(.)/, (c) => (c === '3' ? '4' : '3'));
    writeFileSync(vaultFile, text.join('\n'));
    refused(await run(['audit', '-i', dir, '--vault-password-file', path.join(dir, 'vp')]), /vault\.yml: (no vault password given opens it .*the password is wrong or the file was altered|the Ansible Vault payload is damaged)/);
    refused(await run(['audit', '-i', dir, '--vault-password-file', path.join(dir, 'nope')]), /--vault-password-file .*nope: no such file/);
    chmodSync(path.join(dir, 'wrong'), 0o644);
    refused(await run(['audit', '-i', dir, '--vault-password-file', path.join(dir, 'wrong')]), /--vault-password-file .*wrong: mode 644 lets other users read the vault password; chmod 600/);
  });
  it('errors quote nothing of the file: a YAML host given INI-style variables, JSON with a bare password, an unresolved alias in a vault', async () => {
    const y = write('ini-habit.yml', 'all:\n  hosts:\n    h1: ansible_host=10.0.9.1 ansible_password=Hunter2Secret\n');
    const r1 = await run(['audit', '-i', y]);
    refused(r1, /ini-habit\.yml:3: host "h1" must be a mapping, not a single value/);
    expect(r1.stderr).not.toContain('Hunter2Secret');
    const j = write('bare.json', '{"all": {"hosts": ["h1"]}, "_meta": {"hostvars": {"h1": {"ansible_password": Hunter2Secret}}}}');
    const r2 = await run(['audit', '-i', j]);
    refused(r2, /bare\.json: not the JSON of an inventory \(invalid JSON( at character \d+)?\)/);
    expect(r2.stderr).not.toContain('Hunter2');
    const dir = mkdtempSync(path.join(tmp, 'alias-'));
    mkdirSync(path.join(dir, 'host_vars'));
    writeFileSync(path.join(dir, 'hosts'), `h1 ansible_host=127.0.0.1 ansible_port=${port}\n`);
    writeFileSync(path.join(dir, 'host_vars', 'h1.yml'), 'ansible_password: *Hunter2Secret\n');
    const r3 = await run(['audit', '-i', dir]);
    refused(r3, /host_vars\/h1\.yml(:\d+)?: not valid YAML/);
    expect(r3.stderr).not.toContain('Hunter2');
  });
  it('a vars file that is not YAML, or not a mapping: exit 2 naming it and its line', async () => {
    const dir = mkdtempSync(path.join(tmp, 'vars-'));
    mkdirSync(path.join(dir, 'host_vars'));
    writeFileSync(path.join(dir, 'hosts'), `h1 ansible_host=127.0.0.1 ansible_port=${port}\n`);
    writeFileSync(path.join(dir, 'host_vars', 'h1.yml'), 'a: [unclosed\n');
    refused(await run(['audit', '-i', dir]), /host_vars\/h1\.yml:\d+: not valid YAML/);
    writeFileSync(path.join(dir, 'host_vars', 'h1.yml'), '- a list\n');
    refused(await run(['audit', '-i', dir]), /host_vars\/h1\.yml: a vars file must be a mapping/);
  });
  it('a dynamic inventory that fails or prints no JSON, a folder with no inventory Ansible would read: exit 2 with their words', async () => {
    const fails = write('dyn-fail.sh', '#!/bin/sh\necho "cannot reach the CMDB" >&2\nexit 3\n', 0o755);
    refused(await run(['audit', '-i', fails]), /dynamic inventory .*dyn-fail\.sh --list: exit 3: cannot reach the CMDB/);
    const junk = write('dyn-junk.sh', '#!/bin/sh\necho "hello"\n', 0o755);
    refused(await run(['audit', '-i', junk]), /dynamic inventory .*dyn-junk\.sh: not the JSON of an inventory/);
    // It runs with the operator's rights (root): one that others may change is not run.
    const open = write('dyn-open.sh', '#!/bin/sh\necho "{}"\n', 0o775);
    refused(await run(['audit', '-i', open]), /dynamic inventory .*dyn-open\.sh: mode 775 lets others change it, and it runs with your rights; chmod go-w/);
    const dir = mkdtempSync(path.join(tmp, 'empty-inv-'));
    writeFileSync(path.join(dir, 'hosts.ini'), '[web]\nw1\n');
    refused(await run(['audit', '-i', dir]), /inventory folder .*: no inventory file in it \(as Ansible, a folder's \.ini, \.txt and \.cfg files are skipped/);
  });
});

describe('a closed stdout', () => {
  it('`runs list | head -2` ends quietly: no EPIPE stack trace, exit 0', async () => {
    const state = path.join(tmp, 'state');
    const runs = path.join(state, 'resetpwd-fleet', 'runs');
    mkdirSync(runs, { recursive: true });
    for (let i = 0; i < 3000; i++) {
      const id = `20261201T0000${String(i).padStart(4, '0')}Z-abc`;
      writeFileSync(path.join(runs, `${id}.jsonl`), `${JSON.stringify({ t: '2026-12-01T00:00:00Z', run: id, type: 'run', command: 'update', package: null, hosts: ['a', 'b'] })}\n`);
    }
    const child = spawn(process.execPath, [main, 'runs', 'list'], { env: { ...process.env, XDG_STATE_HOME: state }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // As head does after its lines: read a little, then close the pipe.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

/**
 * A chain of jump hosts (ProxyJump a,b) was cut to its first host without a word: the run went through a
 * bastion the operator never meant alone.
 */
describe('a chain of jump hosts is refused before any connection (exit 2, one line)', () => {
  it('ProxyJump a,b in the ssh config: the file and line are named', async () => {
    const cfg = path.join(tmp, 'ssh_config');
    writeFileSync(cfg, `# bastions\nHost 127.0.0.*\n  ProxyJump ops@127.0.0.1:${port},ops@127.0.0.2:${port}\n`);
    refused(await run(['audit', '-H', `127.0.0.1:${port}`, '-F', cfg, '--connect-timeout', '3']),
      new RegExp(`ssh_config:3: ProxyJump ops@127\\.0\\.0\\.1:${port},ops@127\\.0\\.0\\.2:${port} \\(for host 127\\.0\\.0\\.1:${port}\\): a chain of jump hosts is not supported; give one jump host`));
  });

  it('--jump a,b', async () => {
    refused(await run(['audit', '-H', `127.0.0.1:${port}`, '-F', 'none', '--jump', `127.0.0.1:${port},127.0.0.2:${port}`, '--connect-timeout', '3']),
      /--jump 127\.0\.0\.1:\d+,127\.0\.0\.2:\d+: a chain of jump hosts is not supported; give one jump host \(\[user@\]host\[:port\]\)$/);
  });
});
