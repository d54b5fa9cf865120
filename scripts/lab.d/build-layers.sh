#!/usr/bin/env bash
# Builds the small layers that sit over the base in every host's overlay root, on a tmpfs of their own
# (rebuilt at every `lab up`, so they can never go stale, and gone with `lab down`):
#   common/            users, keys, sshd config, lab-init, the lab's busybox, extracted fixture packages
#   profiles/<os>/     OS identity files, whiteouts, init-system shims
set -euo pipefail
. "$(dirname "$0")/common.sh"
base=$(base_dir)
L=$LAB_RUN/layers
mkdir -p "$L"
mountpoint -q "$L" || mount -t tmpfs -o size=256m,mode=0755 resetpwd-lab-layers "$L"
rm -rf "${L:?}"/*
mkdir -p "$LAB_OUT"

# --- controller key (kept across runs so known clients keep working)
[ -f "$LAB_OUT/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C resetpwd-lab-controller -f "$LAB_OUT/id_ed25519"
chmod 600 "$LAB_OUT/id_ed25519"

C=$L/common
mkdir -p "$C"
cp -a "$LAB_DIR/rootfs/." "$C/"
cp /bin/busybox "$C/usr/lib/lab/busybox"
mkdir -p "$C/etc/ssh/sshd_config.d" "$C/etc/sudoers.d" "$C/root/.ssh" "$C/home/$LAB_USER/.ssh" "$C/etc/lab"
cat > "$C/etc/ssh/sshd_config.d/lab.conf" <<CONF
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication no
UseDNS no
PrintMotd no
MaxStartups 200:30:400
MaxSessions 50
CONF
# Every user's PATH has the sbin directories, as on RHEL, SUSE and Ubuntu (read by pam_env at login).
echo 'PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"' > "$C/etc/environment"
# Users: root by key only; $LAB_USER by key or password, with sudo that asks for the password.
cp "$base/etc/passwd" "$base/etc/group" "$base/etc/shadow" "$base/etc/gshadow" "$C/etc/"
hash=$(perl -e 'print crypt($ARGV[0], "\$6\$" . join("", map { ("a".."z")[rand 26] } 1..16) . "\$")' "$LAB_USER_PASS")
echo "$LAB_USER:x:1000:1000:lab user:/home/$LAB_USER:/bin/bash" >> "$C/etc/passwd"
echo "$LAB_USER:x:1000:" >> "$C/etc/group"
echo "$LAB_USER:$hash:19700:0:99999:7:::" >> "$C/etc/shadow"
echo "$LAB_USER:!::" >> "$C/etc/gshadow"
echo "$LAB_USER ALL=(ALL:ALL) ALL" > "$C/etc/sudoers.d/labuser"
chmod 440 "$C/etc/sudoers.d/labuser"
chmod 640 "$C/etc/shadow" "$C/etc/gshadow"
cp "$LAB_OUT/id_ed25519.pub" "$C/root/.ssh/authorized_keys"
cp "$LAB_OUT/id_ed25519.pub" "$C/home/$LAB_USER/.ssh/authorized_keys"
chmod 700 "$C/root/.ssh" "$C/home/$LAB_USER/.ssh"
chown -R 1000:1000 "$C/home/$LAB_USER"
# Fixture packages, extracted as the pre-installed "old" plug-ins are installed from them.
mkdir -p "$C/usr/share/lab/fixtures"
for z in "$REPO_DIR"/packages/CloudResetPwdAgent-*.zip; do
  [ -f "$z" ] || continue
  n=$(basename "$z" .zip); n=${n#CloudResetPwdAgent-}
  "$LAB_PYTHON" -c 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$z" "$C/usr/share/lab/fixtures/$n"
done

# A package mirror inside the "VPC": every host's metadata server also serves packages/ under /mirror/, as
# an in-region bucket or an internal mirror would (update --pull http://169.254.169.254/mirror/<zip>).
mkdir -p "$C/var/lib/lab-metadata/mirror"
for z in "$REPO_DIR"/packages/CloudResetPwdAgent-*.zip; do
  [ -f "$z" ] && cp "$z" "$z.sha256" "$C/var/lib/lab-metadata/mirror/" 2>/dev/null
done

# The base's own boot-time units (its ssh.service, e2scrub) are not this lab's: sshd is served through
# inetd.pl, and the lab's init starts only what a test or the tool enabled.
for w in "$base"/etc/systemd/system/multi-user.target.wants/*; do
  [ -e "$w" ] || [ -L "$w" ] || continue
  mkdir -p "$C/etc/systemd/system/multi-user.target.wants"
  mknod "$C/etc/systemd/system/multi-user.target.wants/$(basename "$w")" c 0 0
done

# --- one layer per OS profile
for p in "$LAB_DIR"/profiles/*/; do
  name=$(basename "$p"); P=$L/profiles/$name
  mkdir -p "$P"
  [ -d "$p/files" ] && cp -a "$p/files/." "$P/"
  OS_WHITEOUT=; OS_SELINUX_TOOLS=0
  . "$p/profile.env"
  for w in $OS_WHITEOUT; do mkdir -p "$P/$(dirname "$w")"; rm -f "$P/$w"; mknod "$P/$w" c 0 0; done
  mkdir -p "$P/usr/bin" "$P/usr/sbin" "$P/usr/lib/systemd" "$P/etc/lab"
  if [ "$OS_INIT" = systemd ]; then
    cp "$LAB_DIR/shims/systemctl" "$P/usr/bin/systemctl"
    ln -sf /usr/bin/tini "$P/usr/lib/systemd/systemd"
    echo /usr/lib/systemd/systemd > "$P/etc/lab/pid1"
  else
    ln -sf /usr/bin/tini "$P/usr/sbin/init"
    echo /usr/sbin/init > "$P/etc/lab/pid1"
  fi
  case "$OS_NET" in
    rhel) cp "$LAB_DIR/shims/chkconfig" "$P/usr/sbin/chkconfig" ;;
    suse) cp "$LAB_DIR/shims/chkconfig" "$P/usr/sbin/chkconfig"; cp "$LAB_DIR/shims/chkconfig" "$P/usr/sbin/insserv"
          # SUSE runs /etc/init.d/after.local at the end of boot (the plug-in FAQ's boot-entry fallback).
          ;;
  esac
  if [ "$OS_SELINUX_TOOLS" = 1 ]; then
    for t in getenforce setenforce sestatus; do cp "$LAB_DIR/shims/$t" "$P/usr/sbin/$t"; done
  fi
  printf 'LAB_INIT=%s\nLAB_NETFMT=%s\nLAB_PROFILE=%s\n' "$OS_INIT" "$OS_NET" "$name" > "$P/etc/lab/profile.env"
done
note "layers ready in $L"
