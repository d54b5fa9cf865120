"""Boots ONE lab host (run by launch.py under `unshare --mount --uts --ipc --net --pid --fork --kill-child`).

It is PID 1 of a fresh pid namespace, inside fresh mount, uts, ipc and network namespaces, with fd 3 = the
host's listening socket in the machine's network namespace. It assembles the host's root (an overlay of the
host's size-limited upper layer over the OS profile, the lab's common layer and the shared base), mounts
/proc (with the scenario's meminfo), /sys, /dev and /run, sets up the network with one `ip -batch`, pivots
into the root and execs tini as the host's init.

Written in Python with direct system calls rather than as a shell script: a shell version forked ~35
processes per host, and on a 2-core machine booting 200 hosts that fork storm was most of the start time.
"""
# Only os, ctypes and stat: every module imported costs each of hundreds of hosts milliseconds of CPU.
import ctypes
import os
import stat
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

libc = ctypes.CDLL(None, use_errno=True)


def mount(src, target, fstype, flags=0, data=None):
    enc = lambda s: s.encode() if s is not None else None
    if libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount {src} on {target} ({fstype} {data}): {os.strerror(e)}")


def copy_seed(src, dst):
    """cp -a for the seed: files, dirs, symlinks and whiteouts (character devices 0/0), modes kept."""
    for e in os.scandir(src):
        d = os.path.join(dst, e.name)
        st = e.stat(follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(e.path), d)
        elif stat.S_ISDIR(st.st_mode):
            os.mkdir(d)
            copy_seed(e.path, d)
        elif stat.S_ISCHR(st.st_mode):
            os.mknod(d, st.st_mode, st.st_rdev)
        else:
            with open(e.path, "rb") as i, open(d, "wb") as o:
                o.write(i.read())
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(d, stat.S_IMODE(st.st_mode))
            os.chown(d, st.st_uid, st.st_gid)


def run(argv, stdin_text):
    """Runs a command with the given stdin and waits; raises on failure."""
    r, w = os.pipe()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, r, 0)])
    os.close(r)
    os.write(w, stdin_text.encode())
    os.close(w)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed")


def read_env(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v.strip("'")
    return env


def main():
    H, base = sys.argv[1], sys.argv[2]
    b = read_env(os.path.join(H, "boot.env"))
    layers = os.path.join(os.path.dirname(os.path.dirname(H)), "layers")
    os.umask(0o022)

    mount(None, "/", None, MS_REC | MS_PRIVATE)
    M = os.path.join(H, "mnt")
    mount("lab-disk", M, "tmpfs", 0, f"size={b['LAB_DISK']},mode=0755")
    upper, work, R = (os.path.join(M, d) for d in ("upper", "work", "root"))
    for d in (upper, work, R):
        os.mkdir(d)
    copy_seed(os.path.join(H, "seed"), upper)
    # overlayfs reports the upper (size-limited) filesystem in statfs, so `df /` shows the scenario's size.
    lower = f"{layers}/profiles/{b['LAB_PROFILE']}:{layers}/common:{base}"
    mount("/dev/vda1", R, "overlay", 0, f"lowerdir={lower},upperdir={upper},workdir={work}")

    mount("proc", f"{R}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if b.get("LAB_MEM_FILE"):
        # What /proc/meminfo says is what LXCFS would say: the scenario's memory, not the machine's.
        mount(b["LAB_MEM_FILE"], f"{R}/proc/meminfo", None, MS_BIND)
        mount(None, f"{R}/proc/meminfo", None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    mount("sysfs", f"{R}/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("dev", f"{R}/dev", "tmpfs", MS_NOSUID, "size=1m,mode=0755")
    for name, major, minor in (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
                               ("urandom", 1, 9), ("tty", 5, 0)):
        p = f"{R}/dev/{name}"
        os.mknod(p, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(p, 0o666)
    for d in ("pts", "shm"):
        os.mkdir(f"{R}/dev/{d}")
    mount("devpts", f"{R}/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
    for link, target in (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{R}/dev/{link}")
    mount("shm", f"{R}/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=16m")
    mount("run", f"{R}/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    for d in ("sshd", "lab", "lock") + (("systemd/system",) if b["LAB_INIT"] == "systemd" else ()):
        os.makedirs(f"{R}/run/{d}", mode=0o755)
    if b.get("LAB_SELINUX_RUNTIME"):
        with open(f"{R}/run/lab/selinux", "w", encoding="utf-8") as f:
            f.write(b["LAB_SELINUX_RUNTIME"] + "\n")
    os.makedirs(f"{R}/tmp", exist_ok=True)
    os.chmod(f"{R}/tmp", 0o1777)

    name = b["LAB_NAME"].encode()
    if libc.sethostname(name, len(name)) != 0:
        raise OSError(ctypes.get_errno(), "sethostname")
    # The host's network: loopback, the metadata address, and an eth0 that looks like a cloud NIC but goes
    # nowhere (a dummy, ifb or veth device, whichever this kernel has: launch.py probed it). The host is
    # reached only through fd 3, so nothing it sends can leave its namespace.
    kind = b["LAB_NIC_KIND"]
    cmds = ["link set lo up"]
    if b["LAB_METADATA"] == "1":
        cmds.append("addr add 169.254.169.254/32 dev lo")
    cmds.append("link add eth0 type veth peer name veth-gw" if kind == "veth" else f"link add eth0 type {kind}")
    if kind != "ifb":
        cmds.append(f"link set eth0 address {b['LAB_NIC_MAC']}")
    lease = " valid_lft 86400 preferred_lft 86400" if b.get("LAB_NIC_DYNAMIC") == "1" else ""
    cmds += [f"addr add {b['LAB_NIC_ADDR']} dev eth0{lease}", "link set eth0 up",
             f"route add default via {b['LAB_NIC_GW']} dev eth0 onlink"]
    if kind == "veth":
        cmds.append("link set veth-gw up")
    run(["ip", "-batch", "-"], "\n".join(cmds) + "\n")

    os.chdir(R)
    os.mkdir(".oldroot")
    nr = SYS_PIVOT_ROOT.get(os.uname().machine)
    if nr is None or libc.syscall(nr, b".", b".oldroot") != 0:
        run(["pivot_root", ".", ".oldroot"], "")
    os.chdir("/")
    if libc.umount2(b"/.oldroot", MNT_DETACH) != 0:
        raise OSError(ctypes.get_errno(), "umount /.oldroot")
    os.rmdir("/.oldroot")
    with open("/etc/lab/pid1", encoding="utf-8") as f:
        pid1 = f.read().strip()
    sys.stdout.flush()
    os.execv(pid1, [pid1, "-s", "-g", "--", "/usr/sbin/lab-init"])


if __name__ == "__main__":
    main()
