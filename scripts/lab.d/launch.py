#!/usr/bin/env python3
"""Starts, lists and locates the hosts of the lab (scripts/lab calls this; see docs/LAB.md).

A scenario file describes hosts, one a line: a name, then key=value settings (see scenarios/default.lab).
`up --hosts N` cycles through the scenario's lines to make N hosts named h0001..hNNNN.

Each host gets:
  * a listening TCP socket on 127.10.x.y:$LAB_PORT, created here in the machine's network namespace and
    handed to the host as fd 3 (its sshd serves connections from it, inside the host's own namespaces);
  * a seed: the files that make it that host (identity, keys, NIC config, SELinux, metadata, markers);
  * a boot.env read by host-init.sh, which assembles its root and starts it under unshare.
"""
import json
import os
import random
import select
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

LAB_DIR = os.environ["LAB_DIR"]
REPO_DIR = os.environ["REPO_DIR"]
LAB_RUN = os.environ["LAB_RUN"]
LAB_OUT = os.environ["LAB_OUT"]
LAB_PORT = int(os.environ["LAB_PORT"])
LAB_USER = os.environ["LAB_USER"]
LAB_USER_PASS = os.environ["LAB_USER_PASS"]
LAB_PYTHON = os.environ.get("LAB_PYTHON", "/usr/bin/python3")

KNOWN_KEYS = {
    "os", "arch", "disk", "mem", "selinux", "net", "netconf", "metadata", "eip", "agent", "agent_state", "login",
    "flags", "sshd",
}
KNOWN_FLAGS = {"ro-root", "no-unzip", "no-python", "sudo-tty", "agent-blocked"}
DEFAULTS = {
    "os": "centos7", "arch": "", "disk": "1G", "mem": "", "selinux": "disabled", "net": "dhcp",
    "metadata": "on", "eip": "", "agent": "", "agent_state": "running", "login": "root", "flags": "",
    "netconf": "profile", "sshd": "modern",
}


def die(msg):
    print(f"lab: {msg}", file=sys.stderr)
    sys.exit(1)


def parse_size(text, where):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.strip().upper().rstrip("B").rstrip("I")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError:
        die(f"{where}: '{text}' is not a size; write it like 250M or 4G")


def parse_scenario(path):
    """Returns a list of host specs (dicts). Errors name the file and line."""
    hosts = []
    defaults = dict(DEFAULTS)
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        die(f"cannot read scenario {path}: {e.strerror}")
    for no, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        name, settings = words[0], words[1:]
        where = f"{path}:{no}"
        spec = {}
        for s in settings:
            if "=" not in s:
                die(f"{where}: '{s}' is not key=value (keys: {', '.join(sorted(KNOWN_KEYS))})")
            k, v = s.split("=", 1)
            if k not in KNOWN_KEYS:
                die(f"{where}: unknown key '{k}' (keys: {', '.join(sorted(KNOWN_KEYS))})")
            spec[k] = v
        if name == "defaults":
            defaults.update(spec)
            continue
        if not all(c.isalnum() or c in "-_" for c in name):
            die(f"{where}: host name '{name}' may hold only letters, digits, - and _")
        full = dict(defaults)
        full.update(spec)
        full["name"] = name
        full["where"] = where
        validate(full)
        hosts.append(full)
    if not hosts:
        die(f"scenario {path} describes no host")
    names = [h["name"] for h in hosts]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        die(f"scenario {path}: host names used twice: {', '.join(sorted(dup))}")
    return hosts


def validate(h):
    where = h["where"]
    if not os.path.isdir(os.path.join(LAB_DIR, "profiles", h["os"])):
        known = ", ".join(sorted(os.listdir(os.path.join(LAB_DIR, "profiles"))))
        die(f"{where}: unknown os '{h['os']}' (profiles: {known})")
    parse_size(h["disk"], where)
    if h["mem"]:
        parse_size(h["mem"], where)
    mode = h["selinux"].split(":")[0]
    if mode not in ("disabled", "permissive", "enforcing", "none"):
        die(f"{where}: selinux must be disabled, permissive, enforcing or none (optionally :Runtime)")
    if h["net"] not in ("dhcp", "static"):
        die(f"{where}: net must be dhcp or static")
    if h["netconf"] not in ("profile", "networkd", "none"):
        die(f"{where}: netconf must be profile (the distribution's own file), networkd or none")
    if h["sshd"] not in ("modern", "legacy"):
        die(f"{where}: sshd must be modern or legacy (only what OpenSSH 5.3-7.4 servers offer)")
    if h["metadata"] not in ("on", "off"):
        die(f"{where}: metadata must be on or off")
    if h["login"] not in ("root", "sudo"):
        die(f"{where}: login must be root (by key) or sudo ({LAB_USER} with a password and sudo)")
    if h["agent_state"] not in ("running", "stopped"):
        die(f"{where}: agent_state must be running or stopped")
    if h["agent"]:
        z = os.path.join(REPO_DIR, "packages", f"CloudResetPwdAgent-{h['agent']}.zip")
        if not os.path.isfile(z):
            die(f"{where}: agent '{h['agent']}' needs {z}; build it with scripts/build-fixture-package")
    for f in filter(None, h["flags"].split(",")):
        if f not in KNOWN_FLAGS:
            die(f"{where}: unknown flag '{f}' (flags: {', '.join(sorted(KNOWN_FLAGS))})")


def expand(specs, count):
    if not count:
        return specs
    out = []
    width = max(4, len(str(count)))
    for i in range(count):
        h = dict(specs[i % len(specs)])
        h["name"] = f"h{i + 1:0{width}d}"
        out.append(h)
    return out


def read_profile(name):
    env = {}
    with open(os.path.join(LAB_DIR, "profiles", name, "profile.env"), encoding="utf-8") as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.strip().split("=", 1)
                env[k] = v.strip('"')
    return env


def addresses(i):
    """Host i (0-based): its loopback address for the controller and its NIC inside its namespace."""
    n = i + 2
    loop = f"127.10.{n // 250}.{n % 250 + 2}"
    nic = f"192.168.{n // 250}.{n % 250 + 2}"
    mac = "fa:16:3e:%02x:%02x:%02x" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)
    return loop, nic, mac


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


def whiteout(seed, rel):
    p = os.path.join(seed, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    os.mknod(p, 0o600 | 0o020000, os.makedev(0, 0))


def host_key(name, kind="ed25519"):
    d = os.path.join(LAB_OUT, "hostkeys", name)
    key = os.path.join(d, f"ssh_host_{kind}_key")
    if not os.path.exists(key):
        os.makedirs(d, exist_ok=True)
        extra = ["-b", "2048"] if kind == "rsa" else []
        subprocess.run(["ssh-keygen", "-q", "-t", kind, *extra, "-N", "", "-C", f"root@{name}", "-f", key], check=True)
    return key


# What an OpenSSH 5.3-7.4 server of an old fleet (CentOS 6/7, SLES 11 SP4, EulerOS 2) offers when nothing
# newer is configured in: an RSA host key signed with SHA-1, SHA-1 key exchanges, CTR/CBC AES, HMAC-SHA1.
LEGACY_SSHD = """HostKey /etc/ssh/ssh_host_rsa_key
HostKeyAlgorithms ssh-rsa
KexAlgorithms diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1
Ciphers aes128-ctr,aes128-cbc
MACs hmac-sha1
"""


def nic_config(fmt, h):
    """The NIC configuration file in the distribution's own format: (path, text)."""
    dhcp = h["net"] == "dhcp"
    ip, prefix = h["nic"].split("/")
    gw = h["gw"]
    if fmt == "none":
        return None, None
    if fmt == "networkd":
        body = "[Match]\nName=eth0\n\n[Network]\n" + ("DHCP=ipv4\n" if dhcp else f"Address={h['nic']}\nGateway={gw}\n")
        return "etc/systemd/network/10-eth0.network", body
    if fmt == "rhel":
        body = 'DEVICE="eth0"\nBOOTPROTO="dhcp"\nONBOOT="yes"\nTYPE="Ethernet"\nPERSISTENT_DHCLIENT="yes"\n' if dhcp else \
            f'DEVICE="eth0"\nBOOTPROTO="static"\nONBOOT="yes"\nTYPE="Ethernet"\nIPADDR="{ip}"\nNETMASK="255.255.0.0"\nGATEWAY="{gw}"\n'
        return "etc/sysconfig/network-scripts/ifcfg-eth0", body
    if fmt == "suse":
        body = "BOOTPROTO='dhcp'\nSTARTMODE='auto'\nDHCLIENT_SET_DEFAULT_ROUTE='yes'\n" if dhcp else \
            f"BOOTPROTO='static'\nSTARTMODE='auto'\nIPADDR='{ip}/{prefix}'\n"
        return "etc/sysconfig/network/ifcfg-eth0", body
    if fmt == "netplan":
        body = ("network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n"
               ) if dhcp else \
            (f"network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: false\n      addresses:\n        - {h['nic']}\n"
             f"      routes:\n        - to: default\n          via: {gw}\n")
        return "etc/netplan/50-cloud-init.yaml", body
    body = "auto lo\niface lo inet loopback\n\nauto eth0\n" + (
        "iface eth0 inet dhcp\n" if dhcp else f"iface eth0 inet static\n    address {ip}/{prefix}\n    gateway {gw}\n")
    return "etc/network/interfaces", body


def meminfo(total):
    kb = total // 1024
    free = kb * 7 // 10
    return (f"MemTotal:       {kb:8d} kB\nMemFree:        {free:8d} kB\nMemAvailable:   {kb * 8 // 10:8d} kB\n"
            f"Buffers:        {kb // 50:8d} kB\nCached:         {kb // 10:8d} kB\nSwapCached:            0 kB\n"
            f"Active:         {kb // 10:8d} kB\nInactive:       {kb // 20:8d} kB\nSwapTotal:             0 kB\n"
            "SwapFree:              0 kB\n")


def seed_host(i, h, base, nic):
    name = h["name"]
    H = os.path.join(LAB_RUN, "hosts", name)
    seed = os.path.join(H, "seed")
    os.makedirs(os.path.join(H, "mnt"), exist_ok=True)
    prof = read_profile(h["os"])
    loop, nic_ip, mac = addresses(i)
    h.update(address=loop, port=LAB_PORT, nic=f"{nic_ip}/16", gw=f"192.168.0.1", mac=mac,
             init=prof["OS_INIT"], netfmt=prof["OS_NET"])
    write(f"{seed}/etc/hostname", name + "\n")
    write(f"{seed}/etc/hosts", f"127.0.0.1\tlocalhost\n{nic_ip}\t{name}\n")
    write(f"{seed}/etc/machine-id", "%032x\n" % random.getrandbits(128))
    key = host_key(name)
    os.makedirs(f"{seed}/etc/ssh", exist_ok=True)
    shutil.copy(key, f"{seed}/etc/ssh/ssh_host_ed25519_key")
    shutil.copy(key + ".pub", f"{seed}/etc/ssh/ssh_host_ed25519_key.pub")
    os.chmod(f"{seed}/etc/ssh/ssh_host_ed25519_key", 0o600)
    h["hostkey"] = open(key + ".pub", encoding="utf-8").read().split()[:2]
    if h["sshd"] == "legacy":
        rsa = host_key(name, "rsa")
        shutil.copy(rsa, f"{seed}/etc/ssh/ssh_host_rsa_key")
        os.chmod(f"{seed}/etc/ssh/ssh_host_rsa_key", 0o600)
        # sshd takes the first value of each keyword: this file is read before the lab's own lab.conf.
        write(f"{seed}/etc/ssh/sshd_config.d/00-legacy.conf", LEGACY_SSHD)
        h["hostkey"] = open(rsa + ".pub", encoding="utf-8").read().split()[:2]

    # netfmt is the format the host really has: the profile's own, or the scenario's override (networkd, none).
    h["netfmt"] = prof["OS_NET"] if h["netconf"] == "profile" else h["netconf"]
    path, body = nic_config(h["netfmt"], h)
    if path:
        write(f"{seed}/{path}", body)

    mode, _, runtime = h["selinux"].partition(":")
    if mode != "none":
        runtime = runtime or {"disabled": "Disabled", "permissive": "Permissive", "enforcing": "Enforcing"}[mode]
        write(f"{seed}/etc/selinux/config", f"SELINUX={mode}\nSELINUXTYPE=targeted\n")
    else:
        runtime = ""
    h["selinux_runtime"] = runtime

    flags = set(filter(None, h["flags"].split(",")))
    if "no-unzip" in flags:
        whiteout(seed, "usr/bin/unzip")
    if "no-python" in flags:
        for p in ("usr/bin/python3", "usr/bin/python3.11"):
            whiteout(seed, p)
    if "sudo-tty" in flags:
        write(f"{seed}/etc/sudoers.d/lab-requiretty", "Defaults requiretty\n", 0o440)
    if h["arch"]:
        os.makedirs(f"{seed}/usr/local/bin", exist_ok=True)
        shutil.copy(os.path.join(LAB_DIR, "shims", "uname"), f"{seed}/usr/local/bin/uname")
        os.chmod(f"{seed}/usr/local/bin/uname", 0o755)

    # The metadata service's answers (served on 169.254.169.254:80 inside the host by busybox httpd).
    uuid = "%08x-%04x-%04x-%04x-%012x" % tuple(random.getrandbits(b) for b in (32, 16, 16, 16, 48))
    h["uuid"] = uuid
    md = f"{seed}/var/lib/lab-metadata"
    write(f"{md}/latest/meta-data/instance-id", uuid)
    write(f"{md}/latest/meta-data/local-ipv4", nic_ip)
    write(f"{md}/latest/meta-data/hostname", name)
    if h["eip"]:
        write(f"{md}/latest/meta-data/public-ipv4", h["eip"])
    write(f"{md}/openstack/latest/meta_data.json", json.dumps({
        "uuid": uuid, "name": name, "hostname": name, "availability_zone": "lab-az1",
        "project_id": "0" * 32, "launch_index": 0, "meta": {"lab": "resetpwd-fleet"},
    }))

    env = {
        "LAB_INIT": prof["OS_INIT"], "LAB_METADATA": "1" if h["metadata"] == "on" else "0",
        "LAB_AGENT": h["agent"], "LAB_AGENT_STATE": h["agent_state"],
        "LAB_AGENT_BLOCKED": "1" if "agent-blocked" in flags else "", "LAB_RO_ROOT": "1" if "ro-root" in flags else "0",
        "LAB_SELINUX_RUNTIME": runtime, "LAB_ARCH": h["arch"],
    }
    write(f"{seed}/etc/lab/host.env", "".join(f"{k}={v}\n" for k, v in env.items()))

    mem_file = ""
    if h["mem"]:
        mem_file = os.path.join(H, "meminfo")
        write(mem_file, meminfo(parse_size(h["mem"], h["where"])), 0o444)
    boot = {
        "LAB_NAME": name, "LAB_DISK": h["disk"], "LAB_MEM_FILE": mem_file, "LAB_NIC_ADDR": h["nic"],
        # A DHCP host's address is a lease, as `ip addr` shows it ("dynamic"); a static one is not.
        "LAB_NIC_DYNAMIC": "1" if h["net"] == "dhcp" else "0",
        "LAB_NIC_GW": h["gw"], "LAB_NIC_MAC": mac, "LAB_NIC_KIND": nic,
        "LAB_INIT": prof["OS_INIT"], "LAB_SELINUX_RUNTIME": runtime, "LAB_METADATA": env["LAB_METADATA"], "LAB_PROFILE": h["os"],
    }
    write(os.path.join(H, "boot.env"), "".join(f"{k}='{v}'\n" for k, v in boot.items()))
    return H


def nic_kind():
    """Which device can stand for eth0 in a host: dummy where the kernel has it, else ifb, else veth."""
    for kind, cmd in (("dummy", "ip link add eth0 type dummy"), ("ifb", "ip link add eth0 type ifb"),
                      ("veth", "ip link add eth0 type veth peer name veth-gw")):
        if subprocess.run(["unshare", "--net", "sh", "-c", cmd], capture_output=True).returncode == 0:
            return kind
    die("cannot create a network device inside a network namespace (tried dummy, ifb, veth)")


def start_host(h, H, base):
    """Starts the host's wrapper (unshare) with fd 3 = its listening socket; returns the wrapper's pid.
    posix_spawn, not fork: the launcher starts hundreds of hosts and must not copy itself for each."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((h["address"], LAB_PORT))
    except OSError as e:
        die(f"host {h['name']}: cannot listen on {h['address']}:{LAB_PORT} ({e.strerror}); "
            "is another lab or sshd using it? set LAB_PORT to a free port")
    sock.listen(128)
    fd = sock.fileno()
    os.set_inheritable(fd, True)
    ready_r, ready_w = os.pipe()
    console = os.path.join(H, "console.log")
    argv = ["unshare", "--mount", "--uts", "--ipc", "--net", "--pid", "--fork", "--kill-child",
            LAB_PYTHON, "-I", "-S", os.path.join(LAB_DIR, "host-init.py"), H, base]
    pid = os.posix_spawnp("unshare", argv, os.environ, setsid=True, file_actions=[
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, console, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
        (os.POSIX_SPAWN_DUP2, fd, 3),
        (os.POSIX_SPAWN_DUP2, ready_w, 4),
    ])
    sock.close()
    os.close(ready_w)
    write(os.path.join(H, "pid"), f"{pid}\n")
    return pid, ready_r


def wait_ready(hosts, spawned, timeout):
    """Waits for each host's "R" on its readiness pipe (written by inetd.pl once sshd can be reached).
    Returns the hosts that did not report in time or whose wrapper died."""
    poller = select.poll()
    pending = {}
    for h, (_pid, r) in zip(hosts, spawned):
        poller.register(r, select.POLLIN | select.POLLHUP)
        pending[r] = h
    deadline = time.monotonic() + timeout
    bad = []
    while pending and time.monotonic() < deadline:
        for fd, _ev in poller.poll(max(0, int((deadline - time.monotonic()) * 1000))):
            ok = os.read(fd, 1) == b"R"  # EOF instead: the host died before it was ready
            poller.unregister(fd)
            os.close(fd)
            h = pending.pop(fd)
            if not ok:
                bad.append(h)
    for fd, h in pending.items():  # never reported in time
        os.close(fd)
        bad.append(h)
    return bad


def banner(address, port, timeout):
    """True when an SSH server answers with its banner. A connection that was accepted but has not yet
    spoken is waited on, not retried: every retry would cost the host a fork of sshd."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=max(0.1, deadline - time.monotonic())) as s:
                s.settimeout(max(0.1, deadline - time.monotonic()))
                data = s.recv(64)
                if data.startswith(b"SSH-2.0-"):
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def write_outputs(hosts):
    key = os.path.join(LAB_OUT, "id_ed25519")
    groups = {}
    for h in hosts:
        groups.setdefault(h["os"], []).append(h)
    ini = ["# Written by scripts/lab up: the hosts of the running lab. Regenerated at every start.", ""]
    for g, members in sorted(groups.items()):
        ini.append(f"[{g}]")
        for h in members:
            v = [f"ansible_host={h['address']}", f"ansible_port={h['port']}"]
            if h["login"] == "root":
                v += ["ansible_user=root", f"ansible_ssh_private_key_file={key}"]
            else:
                v += [f"ansible_user={LAB_USER}", f"ansible_password={LAB_USER_PASS}", "ansible_become=true",
                      f"ansible_become_password={LAB_USER_PASS}"]
            if h["eip"]:
                v.append(f"eip={h['eip']}")
            if h["sshd"] == "legacy":
                # As an operator lets an old server's SHA-1 key exchange in, for that host only.
                v.append('ansible_ssh_common_args="-o KexAlgorithms=+diffie-hellman-group14-sha1"')
            ini.append(f"{h['name']} " + " ".join(v))
        ini.append("")
    ini += ["[lab:children]"] + sorted(groups) + ["", "[all:vars]", "ansible_python_interpreter=/usr/bin/python3", ""]
    write(os.path.join(LAB_OUT, "inventory.ini"), "\n".join(ini))

    kh = [f"{h['name']},[{h['address']}]:{h['port']} {h['hostkey'][0]} {h['hostkey'][1]}" for h in hosts]
    write(os.path.join(LAB_OUT, "known_hosts"), "\n".join(kh) + "\n")

    cfg = []
    for h in hosts:
        user = "root" if h["login"] == "root" else LAB_USER
        cfg += [f"Host {h['name']}", f"  HostName {h['address']}", f"  Port {h['port']}", f"  User {user}"]
        if h["sshd"] == "legacy":
            cfg += ["  KexAlgorithms +diffie-hellman-group14-sha1", "  HostKeyAlgorithms +ssh-rsa"]
    cfg += ["Host *", f"  IdentityFile {key}", "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {os.path.join(LAB_OUT, 'known_hosts')}", "  GlobalKnownHostsFile /dev/null",
            "  StrictHostKeyChecking yes", "  BatchMode yes", "  LogLevel ERROR", "  ConnectTimeout 20", ""]
    write(os.path.join(LAB_OUT, "ssh_config"), "\n".join(cfg))

    doc = {"port": LAB_PORT, "user": LAB_USER, "password": LAB_USER_PASS, "key": key,
           "knownHosts": os.path.join(LAB_OUT, "known_hosts"), "inventory": os.path.join(LAB_OUT, "inventory.ini"),
           "hosts": [{k: v for k, v in h.items() if k not in ("where",)} for h in hosts]}
    write(os.path.join(LAB_OUT, "hosts.json"), json.dumps(doc, indent=2) + "\n")
    shutil.copy(os.path.join(LAB_OUT, "hosts.json"), os.path.join(LAB_RUN, "hosts.json"))


def parse_up_args(args):
    scenario = os.path.join(REPO_DIR, "scenarios", "default.lab")
    count = 0
    while args:
        a = args.pop(0)
        if a in ("--scenario", "-s") and args:
            scenario = args.pop(0)
        elif a in ("--hosts", "-n") and args:
            try:
                count = int(args.pop(0))
            except ValueError:
                die("--hosts takes a whole number, e.g. --hosts 200")
            if not 1 <= count <= 5000:
                die("--hosts takes a number from 1 to 5000")
        else:
            die(f"up: unknown argument '{a}' (use --scenario FILE and/or --hosts N)")
    hosts = expand(parse_scenario(scenario), count)
    # Hundreds of hosts booting at once on two cores (each starting its agents) can take minutes: the wait
    # grows with the fleet instead of failing a slow but healthy boot.
    timeout = float(os.environ.get("LAB_READY_TIMEOUT", str(max(120, len(hosts)))))
    return hosts, timeout


def cmd_check(args):
    hosts, _ = parse_up_args(list(args))
    print(f"lab: scenario ok: {len(hosts)} hosts")


def cmd_up(args):
    hosts, timeout = parse_up_args(list(args))
    base = subprocess.run(["bash", "-c", f". {LAB_DIR}/common.sh; base_dir"], capture_output=True, text=True,
                          check=True).stdout.strip()
    t0 = time.monotonic()
    os.makedirs(os.path.join(LAB_RUN, "hosts"), exist_ok=True)
    kind = nic_kind()
    dirs = [seed_host(i, h, base, kind) for i, h in enumerate(hosts)]
    t1 = time.monotonic()
    spawned = [start_host(h, H, base) for h, H in zip(hosts, dirs)]
    t2 = time.monotonic()
    write_outputs(hosts)
    bad = wait_ready(hosts, spawned, timeout)
    # One real SSH handshake (banner) per OS profile proves sshd itself serves, not just the listener.
    probes = {h["os"]: h for h in hosts if h not in bad}
    for h in probes.values():
        if not banner(h["address"], h["port"], 30):
            bad.append(h)
    t3 = time.monotonic()
    timing = {"hosts": len(hosts), "prepareMs": round((t1 - t0) * 1000), "launchMs": round((t2 - t1) * 1000),
              "readyMs": round((t3 - t2) * 1000), "totalMs": round((t3 - t0) * 1000)}
    write(os.path.join(LAB_RUN, "timing.json"), json.dumps(timing) + "\n")
    if bad:
        for h in bad[:5]:
            log = os.path.join(LAB_RUN, "hosts", h["name"], "console.log")
            tail = open(log, encoding="utf-8", errors="replace").read()[-800:] if os.path.exists(log) else ""
            print(f"lab: host {h['name']} did not answer ssh within {timeout:.0f}s; console:\n{tail}", file=sys.stderr)
        die(f"{len(bad)} of {len(hosts)} hosts did not come up; see {LAB_RUN}/hosts/*/console.log, then scripts/lab down")
    print(f"lab: {len(hosts)} hosts up in {timing['totalMs'] / 1000:.1f}s "
          f"(prepare {timing['prepareMs']} ms, launch {timing['launchMs']} ms, ready {timing['readyMs']} ms)")
    print(f"lab: inventory {os.path.join(LAB_OUT, 'inventory.ini')}")
    print(f"lab: known_hosts {os.path.join(LAB_OUT, 'known_hosts')}, key {os.path.join(LAB_OUT, 'id_ed25519')}")
    print(f"lab: try: scripts/lab ssh {hosts[0]['name']} cat /etc/os-release")


def load_running():
    p = os.path.join(LAB_RUN, "hosts.json")
    if not os.path.exists(p):
        die("no lab is up: run scripts/lab up")
    return json.load(open(p, encoding="utf-8"))


def pid1_of(name):
    """The pid (in the machine's pid namespace) of the host's PID 1, i.e. the unshare wrapper's child."""
    try:
        wrapper = int(open(os.path.join(LAB_RUN, "hosts", name, "pid")).read())
        children = open(f"/proc/{wrapper}/task/{wrapper}/children").read().split()
        return int(children[0])
    except (OSError, ValueError, IndexError):
        return None


def cmd_status(_args):
    doc = load_running()
    hosts = doc["hosts"]
    with ThreadPoolExecutor(max_workers=min(64, len(hosts))) as pool:
        alive = list(pool.map(lambda h: banner(h["address"], h["port"], 3), hosts))
    print(f"{'host':10} {'address':18} {'os':12} {'login':6} {'disk':5} {'mem':5} {'selinux':20} {'net':6} "
          f"{'metadata':8} {'agent':14} ssh")
    for h, ok in zip(hosts, alive):
        agent = f"{h['agent']}({h['agent_state']})" if h["agent"] else "-"
        print(f"{h['name']:10} {h['address'] + ':' + str(h['port']):18} {h['os']:12} {h['login']:6} {h['disk']:5} "
              f"{h['mem'] or '-':5} {h['selinux']:20} {h['net']:6} {h['metadata']:8} {agent:14} "
              f"{'up' if ok else 'DOWN'}")
    up = sum(alive)
    print(f"{up} of {len(hosts)} hosts answer ssh")
    sys.exit(0 if up == len(hosts) else 1)


def cmd_pid(args):
    if not args:
        die("usage: pid HOST")
    pid = pid1_of(args[0])
    if pid is None:
        die(f"host '{args[0]}' is not running (see scripts/lab status)")
    print(pid)


if __name__ == "__main__":
    verb, rest = sys.argv[1], sys.argv[2:]
    {"up": cmd_up, "check": cmd_check, "status": cmd_status, "pid": cmd_pid}.get(verb, lambda a: die(f"unknown verb {verb}"))(rest)
