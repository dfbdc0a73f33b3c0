#!/usr/bin/env bash
# Cross/build.sh TARGET: builds a static Embedded Swift edgeagent for Linux on TARGET
# (x86_64, aarch64 or armv7 hard-float), strips it into out/edgeagent-TARGET, checks that it is
# static (and, for armv7, that it passes floats in VFP registers), and prints its stripped size.
# The last line of the output is the binary's path, so `bin=$(Cross/build.sh aarch64 | tail -1)`.
# The SwiftPM log goes to stderr; each target has its own scratch path (.build-TARGET).
# Prerequisites come from Cross/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

targets="x86_64 aarch64 armv7"
usage() { echo "usage: Cross/build.sh TARGET    (TARGET: ${targets// /, })" >&2; exit 2; }
[ $# -eq 1 ] || usage
target=$1

# triple: the Embedded stdlib to compile against. The toolset adds the Linux target for clang.
case "$target" in
  x86_64)  triple=x86_64-unknown-linux-gnu; gnu=x86_64-linux-gnu;       strip=strip
           libc=/usr/lib/x86_64-linux-gnu/libc.a;   file_arch="x86-64" ;;
  aarch64) triple=aarch64-none-none-elf;     gnu=aarch64-linux-gnu;      strip=aarch64-linux-gnu-strip
           libc=/usr/aarch64-linux-gnu/lib/libc.a;  file_arch="ARM aarch64" ;;
  armv7)   triple=armv7-none-none-eabi;      gnu=arm-linux-gnueabihf;    strip=arm-linux-gnueabihf-strip
           libc=/usr/arm-linux-gnueabihf/lib/libc.a; file_arch="ARM, EABI5" ;;
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
for tool in "$strip" file readelf; do command -v "$tool" >/dev/null || need "$tool"; done
[ -f "$libc" ] || need "$libc (static glibc for $target)"
for lib in libuv_a.a liblmdb.a libsodium.a; do
  [ -f "/usr/lib/$gnu/$lib" ] || need "/usr/lib/$gnu/$lib"
done
if [ -n "$missing" ]; then
  echo -e "Cross/build.sh: cannot build for $target, missing:$missing" >&2
  echo "run Cross/setup.sh (as root or with sudo) to install the cross compilers and libraries" >&2
  exit 1
fi

echo "build $target: swift build -c release --triple $triple --toolset Cross/toolset-$target.json --scratch-path .build-$target" >&2
EDGE_EMBEDDED=1 EDGE_STATIC=1 EDGE_TRIPLE=$triple \
  swift build -c release --triple "$triple" --toolset "$PWD/Cross/toolset-$target.json" \
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
  # With a bare armv7-none-none-eabi target Swift emits soft-float calls into hard-float glibc,
  # and lld links them without complaint (embedded-swift.md §6): refuse such a binary.
  readelf -A "$bin" | grep -q 'Tag_ABI_VFP_args: VFP registers' ||
    fail "not hard-float (readelf -A has no 'Tag_ABI_VFP_args: VFP registers')"
  echo "$bin: hard-float (Tag_ABI_VFP_args: VFP registers)"
fi
# CSupport/CEdgeSupport/locale_trim.c leaves the C locale with no multibyte converter: a linked
# wide-character function would reach that empty table, so refuse the binary (the unstripped one
# still has the names).
syms=$(nm "$built") || fail "nm cannot read $built"
wide=$(echo "$syms" | grep -owE '(__)?(mbrtowc|wcrtomb|mbsrtowcs|wcsrtombs|btowc|wctob)|_IO_wfile_jumps|__gconv_open' | sort -u | tr '\n' ' ' || true)
[ -z "$wide" ] || fail "links wide-character code that the trimmed libc cannot serve: $wide"
echo "$bin: statically linked, $file_arch"
echo "$bin: $(stat -c %s "$bin") bytes stripped"
echo "$bin"
