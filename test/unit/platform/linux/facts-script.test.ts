import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { LINUX_FACTS_SCRIPT } from '../../../../src/platform/linux/facts-script.js';
import { parseLinuxFacts } from '../../../../src/platform/linux/facts.js';

/**
 * The facts script must run on old and minimal shells (SLES 11, busybox-based images): it is run here
 * under every POSIX shell this machine has, and must finish, parse, and print no shell error. It runs in a
 * network namespace of its own (unshare -n, as root): its metadata probe must not leave this machine.
 */
const shells = [['dash'], ['busybox', 'sh'], ['bash', '--posix']].filter(
  ([s]) => spawnSync('sh', ['-c', `command -v ${s}`]).status === 0,
);

/**
 * Runs `script` under `sh` in a new network namespace whose loopback also holds 169.254.169.254, with
 * `server` (a python3 program) listening there first if given; the server is stopped by its pid after.
 */
function isolated(sh: string[], script: string, server?: string) {
  const start = server ? `/usr/bin/python3 -c "$SERVER" </dev/null >/dev/null 2>&1 & srv=$!; sleep 1;` : 'srv=;';
  const body = `ip link set lo up && ip addr add 169.254.169.254/32 dev lo || exit 1; ${start} "$@"; rc=$?; [ -n "$srv" ] && kill $srv; exit $rc`;
  return spawnSync('unshare', ['-n', 'sh', '-c', body, 'isolated', ...sh, '-c', script], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, SERVER: server ?? '' },
  });
}

/**
 * A metadata service that misses its first answer to each path (it answers after 5 s, when curl has given
 * up after 3), then answers at once — a busy server's hiccup.
 */
const SLOW_ONCE = String.raw`
import http.server, os, threading, time
threading.Timer(40, os._exit, [0]).start()  # never outlives the spec, even one killed by its timeout
seen = set()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path not in seen:
            seen.add(self.path)
            time.sleep(5)
        body = b"203.0.113.9" if self.path.endswith("public-ipv4") else b"{}"
        try:
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
        except OSError:
            pass
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("169.254.169.254", 80), H).serve_forever()
`;

describe('the Linux facts script', () => {
  it('is found under at least two POSIX shells here', () => {
    expect(shells.length).toBeGreaterThanOrEqual(2);
  });
  for (const sh of shells) {
    it(`runs to the end under ${sh.join(' ')} with no shell error, and parses`, () => {
      const r = isolated(sh, LINUX_FACTS_SCRIPT);
      expect(r.stdout.trim().split('\n').at(-1)).toMatch(/^@[a-z0-9]{16} \.end$/);
      expect(r.stderr).not.toMatch(/syntax error|not found|unexpected|bad substitution|illegal/i);
      const f = parseLinuxFacts(r.stdout);
      expect(f.os.arch).toBeTruthy();
      expect(f.root.availKb).toBeGreaterThan(0);
    });
  }
  it('a metadata service that misses one answer is still found: the probe retries once after a timeout', () => {
    const r = isolated(['sh'], LINUX_FACTS_SCRIPT, SLOW_ONCE);
    const f = parseLinuxFacts(r.stdout);
    expect(r.stdout).toMatch(/^meta_data=200$/m);
    expect(f.metadata.publicIpv4).toBe('203.0.113.9');
  }, 60_000);
  it('sends only the keys the checks read from network files: no Wi-Fi or VPN secret leaves the host', () => {
    // A mount namespace of its own (gone with its processes): an /etc holding what a laptop-turned-server has;
    // and a network namespace of its own, so the script's metadata probe never leaves this machine's loopback.
    const etc = [
      'mkdir -p /etc/NetworkManager/system-connections /etc/netplan /etc/network/interfaces.d',
      `printf '[connection]\\nid=office\\ntype=wifi\\ninterface-name=wlan0\\n[wifi-security]\\nkey-mgmt=wpa-psk\\npsk=Wifi-S3cret-psk\\n[ipv4]\\nmethod=auto\\n' > /etc/NetworkManager/system-connections/office.nmconnection`,
      `printf '[vpn]\\npassword=Vpn-S3cret-pw\\n[ipv4]\\nmethod=manual\\n' > /etc/NetworkManager/system-connections/vpn.nmconnection`,
      `printf 'network:\\n  version: 2\\n  ethernets:\\n    eth0:\\n      dhcp4: true\\n  wifis:\\n    wlan0:\\n      access-points:\\n        "home":\\n          password: "Netplan-S3cret"\\n' > /etc/netplan/01.yaml`,
      `printf 'iface wlan0 inet dhcp\\n    wpa-psk Ifupdown-S3cret\\n' > /etc/network/interfaces.d/wlan0`,
    ].join('; ');
    const r = spawnSync('unshare', ['-m', '-n', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs tmpfs /etc && ${etc} && exec sh -c "$1"`, 'isolated', LINUX_FACTS_SCRIPT], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/S3cret/);
    const f = parseLinuxFacts(r.stdout);
    expect(f.nicConfigs['/etc/NetworkManager/system-connections/office.nmconnection']).toBe('[connection]\ntype=wifi\ninterface-name=wlan0\n[wifi-security]\n[ipv4]\nmethod=auto\n');
    // Every key, values dropped but for dhcp4/dhcp6/renderer/version (a quoted key, the SSID, goes too).
    expect(f.nicConfigs['/etc/netplan/01.yaml']).toBe('network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n  wifis:\n    wlan0:\n      access-points:\n          password:\n');
    expect(f.nicConfigs['/etc/network/interfaces.d/wlan0']).toBe('iface wlan0 inet dhcp\n');
  });

  it('no metadata service at all: the probe reports it unreachable', () => {
    const r = isolated(['sh'], LINUX_FACTS_SCRIPT);
    expect(r.stdout).toMatch(/^meta_data=0+$/m);
  });
  it('never writes: no redirection into a file other than /dev/null or its own mktemp file', () => {
    // Single-quoted text is awk/sed programs and literals (where ">" compares), not redirections; "->" is the
    // arrow of `ls -l` output matched in a pattern.
    const shellText = LINUX_FACTS_SCRIPT.replace(/'[^']*'/g, "''");
    const writes = shellText.match(/(?<!-)>\s*[^&\s|);]+/g) ?? [];
    for (const w of writes) expect(w.replace(/^>\s*/, ''), w).toMatch(/^(\/dev\/null|"\$tmp"|"\$2")$/);
  });
});
