#!/usr/bin/env bash
# Cross/build.sh TARGET: builds a static Embedded Swift edgeagent for Linux on TARGET
# (x86_64, aarch64 or armv7 hard-float), linked against musl, strips it into out/edgeagent-TARGET,
# checks that it is static, musl (and, for armv7, that it passes floats in VFP registers), and
# prints its stripped size. The last line of the output is the binary's path, so
# `bin=$(Cross/build.sh aarch64 | tail -1)`. The SwiftPM log goes to stderr; each target has its
# own scratch path (.build-TARGET). Prerequisites come from Cross/setup.sh; libuv, LMDB and
# libsodium for musl from Cross/musl-deps.sh, which this runs (it does nothing once they are built).
set -euo pipefail
cd "$(dirname "$0")/.."

targets="x86_64 aarch64 armv7"
usage() { echo "usage: Cross/build.sh TARGET    (TARGET: ${targets// /, })" >&2; exit 2; }
[ $# -eq 1 ] || usage
target=$1

# triple: the Embedded stdlib to compile against. The toolset adds the Linux target for clang.
case "$target" in
  x86_64)  triple=x86_64-unknown-linux-gnu; strip=strip;                     file_arch="x86-64" ;;
  aarch64) triple=aarch64-none-none-elf;     strip=aarch64-linux-gnu-strip;   file_arch="ARM aarch64" ;;
  armv7)   triple=armv7-none-none-eabi;      strip=arm-linux-gnueabihf-strip; file_arch="ARM, EABI5" ;;
  *) echo "Cross/build.sh: unknown target \"$target\"; targets are: $targets" >&2; exit 2 ;;
esac

missing=""
need() { missing="$missing\n  $1"; }
if ! command -v swift >/dev/null; then
  echo "Cross/build.sh: no swift on PATH: install the Swift toolchain (6.3 or later) first" >&2
  exit 1
fi
tc_usr=$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")
tables="$tc_usr/lib/swift/embedded/$triple/libswiftUnicodeDataTables.a"
[ -f "$tables" ] || need "$tables (this Swift toolchain has no Embedded stdlib for $triple; use Swift 6.3+)"
for tool in "$strip" file readelf nm; do command -v "$tool" >/dev/null || need "$tool"; done
if [ -n "$missing" ]; then
  echo -e "Cross/build.sh: cannot build for $target, missing:$missing" >&2
  echo "run Cross/setup.sh (as root or with sudo) to install the cross compilers and libraries" >&2
  exit 1
fi
Cross/musl-deps.sh "$target" || { echo "Cross/build.sh: Cross/musl-deps.sh $target failed" >&2; exit 1; }
musl=$PWD/out/musl/$target
# SwiftPM does not count the C libraries as the link's inputs: relink when musl-deps.sh has
# rebuilt them since (its stamp is newer than the binary), or the old ones stay in it.
if [ -e ".build-$target/release/edgeagent" ] && [ "$musl/stamp" -nt ".build-$target/release/edgeagent" ]; then
  rm -f ".build-$target/release/edgeagent"
fi

# Full LTO on x86_64 and aarch64: code is generated for the whole program at link time; not on
# armv7, where it lost the hard-float calling convention (Package.swift says why).
lto=(--experimental-lto-mode=full)
if [ "$target" = armv7 ]; then lto=(); fi
echo "build $target: swift build -c release ${lto[*]} --triple $triple --toolset Cross/toolset-$target.json --scratch-path .build-$target" >&2
EDGE_EMBEDDED=1 EDGE_STATIC=1 EDGE_TRIPLE=$triple EDGE_MUSL=$musl \
  swift build -c release "${lto[@]}" --triple "$triple" --toolset "$PWD/Cross/toolset-$target.json" \
  --scratch-path ".build-$target" >&2 || { echo "Cross/build.sh: swift build for $target failed" >&2; exit 1; }
Cross/check-outlined-globals.sh ".build-$target" >&2 || { echo "Cross/build.sh: $target build has a duplicated outlined global" >&2; exit 1; }

built=".build-$target/release/edgeagent"
bin="out/edgeagent-$target"
mkdir -p out
rm -f "$bin"
"$strip" -o "$bin" "$built"

info=$(file -b "$bin")
fail() { echo "Cross/build.sh: $bin: $1" >&2; exit 1; }
case "$info" in *"$file_arch"*) ;; *) fail "not a $target binary: $info" ;; esac
case "$info" in *"statically linked"*) ;; *) fail "not statically linked: $info" ;; esac
if [ "$target" = armv7 ]; then
  # With a bare armv7-none-none-eabi target Swift emits soft-float calls into the hard-float C library,
  # and lld links them without complaint (embedded-swift.md §6): refuse such a binary.
  readelf -A "$bin" | grep -q 'Tag_ABI_VFP_args: VFP registers' ||
    fail "not hard-float (readelf -A has no 'Tag_ABI_VFP_args: VFP registers')"
  echo "$bin: hard-float (Tag_ABI_VFP_args: VFP registers)"
fi
# musl, not glibc: argv.c's musl entry hook is there and glibc's start code is not (the unstripped
# binary still has the names).
syms=$(nm "$built") || fail "nm cannot read $built"
grep -qw __wrap___libc_start_main <<<"$syms" || fail "not linked against musl (no __wrap___libc_start_main)"
if grep -qwE '__libc_start_call_main|_IO_2_1_stdout_' <<<"$syms"; then fail "glibc is linked in"; fi
echo "$bin: statically linked, musl, $file_arch"
echo "$bin: $(stat -c %s "$bin") bytes stripped"
echo "$bin"
