#!/bin/bash
# Boots ONE lab host. Runs as PID 1 of a fresh pid namespace, inside fresh mount, uts, ipc and network
# namespaces (scripts/lab.d/launch.py starts it with unshare), with fd 3 = the host's listening socket in
# the machine's namespace. Assembles the root, sets up the network, pivots into the root and execs tini.
set -euo pipefail
H=$1                         # $LAB_RUN/hosts/<name>
. "$H/boot.env"              # LAB_NAME LAB_DISK LAB_MEM_FILE LAB_NIC_ADDR LAB_NIC_GW LAB_METADATA LAB_PROFILE LAB_CPUS
L=$(dirname "$(dirname "$H")")/layers
base=$2

mount --make-rprivate /
M=$H/mnt
mount -t tmpfs -o "size=$LAB_DISK,mode=0755" lab-disk "$M"
mkdir -p "$M/upper" "$M/work" "$M/root"
cp -a "$H/seed/." "$M/upper/"
# overlayfs reports the upper (size-limited) filesystem in statfs, so `df /` shows the scenario's size.
mount -t overlay /dev/vda1 -o "lowerdir=$L/profiles/$LAB_PROFILE:$L/common:$base,upperdir=$M/upper,workdir=$M/work" "$M/root"
R=$M/root

mount -t proc proc "$R/proc"
# What /proc/meminfo says is what LXCFS would say: the scenario's memory, not the machine's.
[ -n "${LAB_MEM_FILE:-}" ] && mount --bind -o ro "$LAB_MEM_FILE" "$R/proc/meminfo"
mount -t sysfs -o ro sysfs "$R/sys"
mount -t tmpfs -o size=1m,mode=0755 dev "$R/dev"
for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
  IFS=: read -r name maj min <<<"$n"; mknod -m 666 "$R/dev/$name" c "$maj" "$min"
done
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"; ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=1777,size=16m shm "$R/dev/shm"
mount -t tmpfs -o mode=0755,size=16m run "$R/run"
mkdir -p "$R/tmp"; chmod 1777 "$R/tmp"

hostname "$LAB_NAME"
# The host's network: loopback, the metadata address, and an eth0 that looks like a cloud NIC. eth0 is a
# dummy device: the host is reached only through fd 3, so nothing it sends can leave its namespace.
ip link set lo up
[ "$LAB_METADATA" = 1 ] && ip addr add 169.254.169.254/32 dev lo
ip link add eth0 type dummy
ip link set eth0 address "$LAB_NIC_MAC"
ip addr add "$LAB_NIC_ADDR" dev eth0
ip link set eth0 up
ip route add default via "$LAB_NIC_GW" dev eth0 onlink

cd "$R"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot 2>/dev/null || true
pid1=$(cat /etc/lab/pid1)
exec "$pid1" -s -g -- /usr/sbin/lab-init
