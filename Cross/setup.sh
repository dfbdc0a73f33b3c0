#!/usr/bin/env bash
# Installs, idempotently, everything edgeagent's builds and tests need from Debian:
# the host's -dev packages (libuv, LMDB, libsodium), cross compilers and C libraries for
# aarch64 and armv7 (hard-float), the same -dev packages for those architectures through
# multiarch, qemu-user to run the foreign binaries, and qemu-system, cpio and mke2fs for the
# boot tests (Cross/image.sh downloads the kernels and busybox itself, into out/boot). Safe to
# run again: it installs only what is missing. Needs root (or sudo).
# `Cross/setup.sh --host` installs only the host's -dev packages (enough for ./demo.sh).
# nginx-light (the origin of the bundle integration tests and Benchmarks/fleet) and bc come with --host too.
set -euo pipefail

host_only=0
case "${1:-}" in
  "") ;;
  --host) host_only=1 ;;
  *) echo "usage: Cross/setup.sh [--host]" >&2; exit 2 ;;
esac

host_pkgs="libuv1-dev liblmdb-dev libsodium-dev lmdb-utils pkg-config file binutils nginx-light bc"
cross_pkgs="qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu
  gcc-arm-linux-gnueabihf libc6-dev-armhf-cross binutils-arm-linux-gnueabihf
  libuv1-dev:arm64 liblmdb-dev:arm64 libsodium-dev:arm64
  libuv1-dev:armhf liblmdb-dev:armhf libsodium-dev:armhf
  qemu-system-x86 qemu-system-arm cpio e2fsprogs"

if [ "$host_only" = 1 ]; then cross_pkgs=""; fi

missing=""
for p in $host_pkgs $cross_pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "setup.sh: all packages present"
  exit 0
fi

# Only now ask for root: with everything present, any user may run this.
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: need root or sudo to install packages" >&2; exit 111; }
  SUDO=sudo
fi

[ "$host_only" = 1 ] || for arch in arm64 armhf; do
  dpkg --print-foreign-architectures | grep -qx "$arch" || $SUDO dpkg --add-architecture "$arch"
done
echo "setup.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# A mirror mid-sync can fail one index; retry, then let install decide whether what it has is enough.
for try in 1 2 3; do
  $SUDO apt-get update -qq && break
  echo "setup.sh: apt-get update failed (try $try), retrying" >&2; sleep $((try * 5))
done
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
echo "setup.sh: done"
