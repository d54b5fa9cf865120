/**
 * A throw-away PKI for the HTTPS tests, made with the openssl CLI in a temporary folder: a CA, a server
 * certificate it signed for localhost and 127.0.0.1 (as a WinRM HTTPS listener's certificate would be
 * signed by an internal CA), and a second, unrelated CA to show that trusting the wrong CA fails.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestPki {
  dir: string;
  /** PEM of the CA that signed the server certificate: what caFile should point at. */
  caFile: string;
  /** PEM of a CA that signed nothing here. */
  otherCaFile: string;
  key: Buffer;
  cert: Buffer;
  /** A certificate from the same CA for another name only (other.example), to show the name is checked. */
  otherNameKey: Buffer;
  otherNameCert: Buffer;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=resetpwd-fleet test ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wsman-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  const leaf = (name: string, san: string) => {
    openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=localhost']);
    writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
  };
  leaf('server', 'DNS:localhost,IP:127.0.0.1');
  leaf('other', 'DNS:other.example');
  return {
    dir,
    caFile: path.join(dir, 'ca.pem'),
    otherCaFile: path.join(dir, 'other-ca.pem'),
    key: readFileSync(path.join(dir, 'server.key')),
    cert: readFileSync(path.join(dir, 'server.pem')),
    otherNameKey: readFileSync(path.join(dir, 'other.key')),
    otherNameCert: readFileSync(path.join(dir, 'other.pem')),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
