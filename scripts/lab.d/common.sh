# Settings of the lab, shared by scripts/lab and its helpers. Every value can be overridden from the
# environment, so CI and benchmarks can move state elsewhere without editing a file.
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/../.." && pwd)
: "${LAB_CACHE:=/var/cache/resetpwd-lab}"        # the debootstrap base (slow to build, kept across runs)
: "${LAB_RUN:=/run/resetpwd-lab}"                # runtime: layer tmpfs, per-host seeds, pid files
: "${LAB_OUT:=$REPO_DIR/var/lab}"                # what clients use: inventory, keys, known_hosts, hosts.json
: "${LAB_SUITE:=bookworm}"
: "${LAB_MIRROR:=http://deb.debian.org/debian}"
: "${LAB_PORT:=2222}"                            # sshd port on every host's 127.10.x.y address
: "${LAB_USER:=labuser}"
# The system python: a version manager's shim (pyenv) costs hundreds of ms per start, and hosts start it.
if [ -z "${LAB_PYTHON:-}" ]; then
  if [ -x /usr/bin/python3 ]; then LAB_PYTHON=/usr/bin/python3; else LAB_PYTHON=$(command -v python3 || echo python3); fi
fi
: "${LAB_USER_PASS:=Lab-Passw0rd}"
# Packages of the shared base root. Changing this list changes the cache key, so the base is rebuilt.
LAB_BASE_PACKAGES=openssh-server,sudo,iproute2,procps,tini,python3,unzip,curl,net-tools,psmisc,sysvinit-utils,init-system-helpers,ca-certificates
# What the controller needs (command -> Debian package).
LAB_HOST_TOOLS="debootstrap:debootstrap unshare:util-linux ip:iproute2 ssh:openssh-client ssh-keygen:openssh-client busybox:busybox sshpass:sshpass /usr/bin/python3:python3 perl:perl-base"
export LAB_PYTHON LAB_DIR REPO_DIR LAB_CACHE LAB_RUN LAB_OUT LAB_SUITE LAB_MIRROR LAB_PORT LAB_USER LAB_USER_PASS

die() { printf 'lab: %s\n' "$*" >&2; exit 1; }
note() { printf 'lab: %s\n' "$*" >&2; }

base_key() { printf '%s %s %s' "$LAB_SUITE" "$LAB_BASE_PACKAGES" "$(uname -m)" | sha256sum | cut -c1-12; }
base_dir() { printf '%s/base-%s-%s' "$LAB_CACHE" "$LAB_SUITE" "$(base_key)"; }
