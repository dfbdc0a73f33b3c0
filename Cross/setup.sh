#!/usr/bin/env bash
# Installs, idempotently, everything edgeagent's builds and tests need from Debian:
# the host's -dev packages (libuv, LMDB, libsodium), cross compilers for aarch64 and armv7
# (hard-float), musl for the three targets (musl-dev through multiarch for arm64 and armhf),
# the tools and the deb-src line that Cross/musl-deps.sh needs to build libuv, LMDB and libsodium
# for musl from Debian's source packages (which it then runs, into out/musl), qemu-user to run
# the foreign binaries, and qemu-system, cpio and mke2fs for the boot tests (Cross/image.sh
# downloads the kernels and busybox itself, into out/boot). Safe to run again: it installs only
# what is missing. Needs root (or sudo) when something is missing.
# `Cross/setup.sh --host` installs only the host's -dev packages (enough for ./demo.sh).
# nginx-light (the origin of the bundle integration tests and Benchmarks/fleet) and bc come with --host too,
# prometheus (promtool checks /metrics in the daemon tests), and lintian, man-db and bash-completion,
# which Cross/package-test.sh checks the .deb with, and chromium, which renders the collector's page
# headless in Tests/browser/fleet-page.sh.
set -euo pipefail

host_only=0
case "${1:-}" in
  "") ;;
  --host) host_only=1 ;;
  *) echo "usage: Cross/setup.sh [--host]" >&2; exit 2 ;;
esac

host_pkgs="libuv1-dev liblmdb-dev libsodium-dev lmdb-utils pkg-config file binutils nginx-light bc prometheus
  lintian man-db bash-completion chromium curl"
cross_pkgs="qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu
  gcc-arm-linux-gnueabihf libc6-dev-armhf-cross binutils-arm-linux-gnueabihf
  musl musl-dev musl-tools musl-dev:arm64 musl-dev:armhf
  dpkg-dev autoconf automake libtool make
  qemu-system-x86 qemu-system-arm cpio e2fsprogs"

if [ "$host_only" = 1 ]; then cross_pkgs=""; fi

# Debian's source packages of libuv1, lmdb and libsodium, for Cross/musl-deps.sh.
src_list=/etc/apt/sources.list.d/edgeagent-src.sources
src_wanted=0
[ "$host_only" = 1 ] || [ -f "$src_list" ] || src_wanted=1

missing=""
for p in $host_pkgs $cross_pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

# The static builds' libraries, built for musl as the user who asked (out/ stays theirs).
musl_deps() {
  [ "$host_only" = 0 ] || return 0
  local here; here=$(cd "$(dirname "$0")" && pwd)
  if [ "$(id -u)" = 0 ] && [ -n "${SUDO_USER:-}" ]; then
    sudo -u "$SUDO_USER" "$here/musl-deps.sh" x86_64 aarch64 armv7
  else
    "$here/musl-deps.sh" x86_64 aarch64 armv7
  fi
}

if [ -z "$missing" ] && [ "$src_wanted" = 0 ]; then
  echo "setup.sh: all packages present"
  musl_deps
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
if [ "$src_wanted" = 1 ]; then
  echo "setup.sh: adding $src_list (deb-src for Cross/musl-deps.sh)"
  $SUDO tee "$src_list" >/dev/null <<'EOF'
# Added by edgeagent's Cross/setup.sh: Debian's source packages of libuv1, lmdb and libsodium,
# built for musl by Cross/musl-deps.sh.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
echo "setup.sh: installing:${missing:- nothing (indexes only)}"
export DEBIAN_FRONTEND=noninteractive
# A mirror mid-sync can fail one index; retry, then let install decide whether what it has is enough.
for try in 1 2 3; do
  $SUDO apt-get update -qq && break
  echo "setup.sh: apt-get update failed (try $try), retrying" >&2; sleep $((try * 5))
done
# shellcheck disable=SC2086
[ -z "$missing" ] || $SUDO apt-get install -y -qq --no-install-recommends $missing
musl_deps
echo "setup.sh: done"
