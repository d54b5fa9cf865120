import { AGENT_PROCS_SH } from './agent-procs.js';

/**
 * The one read-only script that gathers every fact a check or the plug-in state needs, in one round trip.
 * POSIX sh only (SLES 11's and minimal images' shells): no bashisms, no arrays, no $(( )) beyond POSIX, and
 * every tool optional — a missing tool yields a missing fact, never a failed script.
 * Output: "@@token T" first, T a random word the script draws on the host (not in its command line, so no
 * other user can read it while it runs); "@T name" opens a section, the lines after it are its body,
 * "@T file PATH" starts a file's lines within one, "@T .end" closes the document. What a file or a process
 * command line holds can therefore never open a section, start a file or end the document early: it cannot
 * know T. Only the lines a check reads leave the host from network configuration files (a NetworkManager
 * keyfile or a netplan file can hold Wi-Fi and VPN secrets).
 * It changes nothing on the host: writability is asked with test -w (access(2) reports a read-only
 * filesystem as EROFS) and the mount options, not by writing.
 */
export const LINUX_FACTS_SCRIPT = String.raw`
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH
LC_ALL=C; export LC_ALL
T=$(tr -dc 'a-z0-9' < /dev/urandom 2>/dev/null | head -c 16 2>/dev/null)
[ ${"$"}{#T} -eq 16 ] || T=$(od -An -N8 -tx1 /dev/urandom 2>/dev/null | tr -dc 0-9a-f)
[ ${"$"}{#T} -ge 16 ] || { echo "resetpwd-fleet: no random source (/dev/urandom) for the output markers" >&2; exit 1; }
echo "@@token $T"
sec() { echo "@$T $1"; }
have() { command -v "$1" >/dev/null 2>&1; }
dump() { for f in "$@"; do [ -f "$f" ] && { echo "@$T file $f"; cat "$f"; echo; }; done; return 0; }
# The lines of each file that match $1 (an ERE): what the checks read, nothing else.
dumpk() { re=$1; shift; for f in "$@"; do [ -f "$f" ] && { echo "@$T file $f"; grep -E "$re" "$f" 2>/dev/null; echo; }; done; return 0; }
${AGENT_PROCS_SH}
sec id; echo "user=$(id -un 2>/dev/null)"; echo "uid=$(id -u 2>/dev/null)"
sec uname
# shellcheck disable=SC2046 # three words, split on purpose
set -- $(uname -s -n -m); echo "sysname=$1"; echo "machine=$3"; echo "hostname=$2"
sec os-release; dump /etc/os-release
sec vendor-release; dump /etc/SuSE-release /etc/redhat-release /etc/centos-release /etc/euleros-release /etc/kylin-release /etc/lsb-release
sec df; df -Pk / 2>/dev/null | tail -n 1
sec root-mount; awk '$2 == "/" { print $4 }' /proc/mounts 2>/dev/null | tail -n 1
sec root-writable; if test -w /; then echo yes; else echo no; fi
sec meminfo; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo 2>/dev/null
sec selinux
if have getenforce; then echo "getenforce=$(getenforce 2>/dev/null)"; fi
if [ -r /sys/fs/selinux/enforce ]; then read -r e < /sys/fs/selinux/enforce; echo "enforce=$e"; fi
if [ -r /etc/selinux/config ]; then echo "config=$(sed -n 's/^[[:space:]]*SELINUX=//p' /etc/selinux/config | tail -n 1)"; fi
sec route
nic=$(awk 'NR > 1 && $2 == "00000000" { print $1; exit }' /proc/net/route 2>/dev/null)
# shellcheck disable=SC2010 # interface names are plain words
[ -n "$nic" ] || nic=$(ls /sys/class/net 2>/dev/null | grep -v '^lo$' | head -n 1)
echo "primary=$nic"
sec nic-config
# Per format, only the keys the dhcp check reads (and the lines that give them their place).
dumpk '^[[:space:]]*BOOTPROTO[[:space:]]*=' "/etc/sysconfig/network-scripts/ifcfg-$nic" "/etc/sysconfig/network/ifcfg-$nic"
dumpk '^[[:space:]]*iface[[:space:]]' /etc/network/interfaces /etc/network/interfaces.d/*
# netplan: every mapping key, its value dropped (an address list, a Wi-Fi password), but for dhcp4/dhcp6,
# renderer and version; a flow mapping keeps only its dhcp4/dhcp6.
for f in /etc/netplan/*.yaml /etc/netplan/*.yml; do [ -f "$f" ] && { echo "@$T file $f"; sed -n \
  -e '/^[[:space:]]*\(- \)\{0,1\}dhcp[46][[:space:]]*:/{p;d;}' \
  -e '/^[[:space:]]*\(- \)\{0,1\}renderer[[:space:]]*:/{p;d;}' \
  -e '/^[[:space:]]*\(- \)\{0,1\}version[[:space:]]*:/{p;d;}' \
  -e 's/^\([[:space:]]*\(- \)\{0,1\}[A-Za-z0-9_.-]\{1,\}:\)[[:space:]]*{.*\(dhcp[46]:[[:space:]]*[A-Za-z]*\).*/\1 {\3}/p' -e t \
  -e 's/^\([[:space:]]*\(- \)\{0,1\}[A-Za-z0-9_.-]\{1,\}:\).*/\1/p' "$f" 2>/dev/null; echo; }; done
dumpk '^\[|^(interface-name|method|type)=' /etc/NetworkManager/system-connections/*
# systemd-networkd (CoreOS/Flatcar, Arch, many minimal images): the admin's files, and the runtime and vendor
# ones when networkd runs.
nd='^[[:space:]]*(\[|Name[[:space:]]*=|DHCP[[:space:]]*=)'
dumpk "$nd" /etc/systemd/network/*.network /run/systemd/network/*.network
[ -d /run/systemd/netif ] && { echo "@$T networkd-running"; dumpk "$nd" /usr/lib/systemd/network/*.network /lib/systemd/network/*.network; }
sec ip-addr
# Where no file decides: the live address (a "dynamic" one is a DHCP lease).
have ip && [ -n "$nic" ] && ip -o -4 addr show dev "$nic" 2>/dev/null
sec metadata
# One retry after a timeout: a busy server can miss one 3 s answer, and a refusal must not rest on that.
md() {
  if have curl; then curl -s -m 3 --retry 1 -o "$2" -w '%{http_code}' "http://169.254.169.254/$1" 2>/dev/null || echo 000
  elif have wget; then if wget -q -T 3 -t 2 -O "$2" "http://169.254.169.254/$1" 2>/dev/null; then echo 200; else echo 000; fi
  else echo none; fi
}
tmp=$(mktemp 2>/dev/null || echo /dev/null)
code=$(md openstack/latest/meta_data.json "$tmp")
echo "meta_data=$code"
# The server's id (its uuid), to tell the cloud's server from another one at the same address.
# The user's own "meta" object (string values, no nested braces) is dropped first: a "uuid" key there is not the server's.
[ "$code" = 200 ] && [ "$tmp" != /dev/null ] && echo "server_id=$(head -c 65536 "$tmp" | tr -d '\r\n' | sed 's/"meta"[[:space:]]*:[[:space:]]*{[^}]*}//' | grep -o '"uuid"[[:space:]]*:[[:space:]]*"[0-9A-Fa-f-]\{36\}"' | head -n 1 | sed 's/.*"\([0-9A-Fa-f-]\{36\}\)"$/\1/')"
code=$(md latest/meta-data/public-ipv4 "$tmp")
echo "public_ipv4_code=$code"
[ "$code" = 200 ] && [ "$tmp" != /dev/null ] && echo "public_ipv4=$(head -c 64 "$tmp" | tr -d '\r\n')"
[ "$tmp" != /dev/null ] && rm -f "$tmp"
sec init
[ -d /run/systemd/system ] && echo systemd=yes
c=; [ -r /proc/1/comm ] && read -r c < /proc/1/comm; echo "pid1=$c"
sec tools
for t in unzip sha256sum openssl busybox tar base64 curl wget sudo systemctl chkconfig insserv update-rc.d python3 perl setsid; do have "$t" && echo "$t"; done
# python3-minimal (cloud images) has no zipfile/shutil: whether it can unpack a zip matters (and is asked,
# at the cost of a Python start) only where there is no unzip.
have unzip || { have python3 && python3 -c 'import zipfile, shutil' >/dev/null 2>&1 && echo python3-zipfile; }
for a in "CloudrResetPwdAgent cloudResetPwdAgent" "CloudResetPwdUpdateAgent cloudResetPwdUpdateAgent"; do
  # shellcheck disable=SC2086 # two words, split on purpose
  set -- $a; d=/$1; n=$2
  sec "agent $n"
  # Its processes by what they are (agent-procs.ts), whatever its pid file says, with their backend sockets.
  ps_=$(agent_procs "$d" "$n") pids_=
  if [ -n "$ps_" ]; then
    while read -r p r; do echo "proc $p $r"; pids_="$pids_ $p"; done <<EOF
$ps_
EOF
    # shellcheck disable=SC2086 # a list of pids, split on purpose
    agent_sockets $pids_
  fi
  [ -d "$d" ] || { echo "dir=absent"; continue; }
  echo "dir=present"
  pid=; [ -r "$d/bin/$n.pid" ] && read -r pid < "$d/bin/$n.pid"; case $pid in *[!0-9]*) pid=$(printf '%s' "$pid" | tr -dc 0-9) ;; esac
  if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ]; then
    echo "pid=$pid"; echo "cmdline=$(tr '\0' ' ' < "/proc/$pid/cmdline" | head -c 300)"
  elif [ -n "$pid" ]; then echo "stale_pid=$pid"; fi
  # "key = value" with spaces is valid in wrapper.conf; the last line of a key wins, as in the wrapper.
  [ -f "$d/conf/wrapper.conf" ] && { echo conf=present; sed -n -e 's/^[[:space:]]*wrapper\.backend\.type[[:space:]]*=[[:space:]]*/wrapper.backend.type=/p' -e 's/^[[:space:]]*wrapper\.java\.command[[:space:]]*=[[:space:]]*/wrapper.java.command=/p' "$d/conf/wrapper.conf" | tr -d '\r'; }
  for j in "$d"/lib/log4j-core-*.jar; do [ -f "$j" ] && echo "log4j_core=$j"; done
  [ -f "$d/conf/resource.properties" ] && sed -n 's/^resetPwdAgentVersion=/version=/p' "$d/conf/resource.properties" | tr -d '\r'
  have sha256sum && [ -f "$d/lib/resetpwdagent.jar" ] && echo "jar_sha256=$(sha256sum "$d/lib/resetpwdagent.jar" | cut -c1-64)"
  [ -f "/etc/systemd/system/$n.service" ] && echo "unit=present"
  [ -e "/etc/systemd/system/multi-user.target.wants/$n.service" ] && echo "unit_enabled=yes"
  [ -e "/etc/init.d/$n" ] && echo "initd=present"
  # shellcheck disable=SC2046 # the fields of ls -l, split on purpose
  for m in "$d/bin/$n.script" "$d/bin/wrapper"; do [ -e "$m" ] && { set -- $(ls -ld "$m"); echo "mode $1 $m"; }; done
  # One ls for the whole lib folder, whatever its size: files (or links to files) whose mode is not 600.
  # shellcheck disable=SC2012 # only the mode column is read, never a name
  ls -lL "$d/lib" 2>/dev/null | awk 'substr($1, 1, 1) == "-" && substr($1, 1, 10) != "-rw-------" { b++ } END { print "lib_bad_modes=" b + 0 }'
  for r in /etc/rc.d/rc3.d /etc/rc3.d /etc/init.d/rc3.d; do for l in "$r"/S*"$n"; do [ -e "$l" ] && echo "rc_link=$l"; done; done
  have chkconfig && chkconfig --list "$n" 2>/dev/null | grep -q '3:on' && echo "chkconfig=on"
  for r in /etc/rc.d/rc.local /etc/rc.local /etc/init.d/after.local; do [ -f "$r" ] && grep -q "$d/bin/$n.script" "$r" && echo "rc_local=$r"; done
done
# The tool's own records count only in root's own folder (safe-dir.ts): another user's, or one that is a link,
# could claim a package is installed or a change is running.
sd=/var/lib/resetpwd-fleet sdok=
[ -d $sd ] && [ ! -L $sd ] && [ -n "$(find $sd -prune -user 0 2>/dev/null)" ] && sdok=y
sec state; [ -n "$sdok" ] && [ -n "$(find $sd/state -prune -user 0 2>/dev/null)" ] && cat $sd/state 2>/dev/null
sec txn
if [ -n "$sdok" ] && [ -f $sd/txn ] && [ -n "$(find $sd/txn -prune -user 0 2>/dev/null)" ]; then
  # One read: the record is replaced at every phase, and the pid must be the one of the fields printed.
  rec=$(cat /var/lib/resetpwd-fleet/txn)
  printf '%s\n' "$rec"
  p=$(printf '%s\n' "$rec" | sed -n 's/^pid=//p' | tr -dc 0-9)
  [ -n "$p" ] && [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' < "/proc/$p/cmdline" | grep -q txn.sh && echo "alive=yes"
fi
echo "@$T .end"
`;
