#!/usr/bin/env bash
# Builds the shared lower layer of every lab host: a Debian minbase root with sshd, sudo and the few
# tools a cloud image has. Built once (about a minute) and cached under $LAB_CACHE, keyed by its package list.
set -euo pipefail
. "$(dirname "$0")/common.sh"
dest=$(base_dir)
[ -f "$dest/.lab-base-ok" ] && exit 0
mkdir -p "$LAB_CACHE"
tmp="$dest.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
note "building the base root (debootstrap $LAB_SUITE, about a minute, once) into $dest"
if ! debootstrap --variant=minbase --include="$LAB_BASE_PACKAGES" "$LAB_SUITE" "$tmp" "$LAB_MIRROR" \
     > "$LAB_CACHE/debootstrap.log" 2>&1; then
  tail -n 20 "$LAB_CACHE/debootstrap.log" >&2
  die "debootstrap failed (log: $LAB_CACHE/debootstrap.log); is $LAB_MIRROR reachable through apt's network?"
fi
# Host keys come per host from the seed; the package's generated ones would be shared by every host.
rm -f "$tmp"/etc/ssh/ssh_host_*
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
# debootstrap leaves no resolv.conf and the hosts have no outside network anyway.
: > "$tmp/etc/resolv.conf"
touch "$tmp/.lab-base-ok"
mv "$tmp" "$dest"
trap - EXIT
note "base root ready: $(du -sh "$dest" | cut -f1)"
