#!/usr/bin/env bash
# Cross/check-libc-trim.sh TARGET: builds Cross/check/stdio_trim_check.c with
# stdio_trim.c and libc_trim.c (the static builds' own snprintf, fprintf, strtol, strerror...) as a static binary for TARGET
# (x86_64, aarch64, armv7) and runs it, under qemu-user where foreign: each format the agent,
# libuv and LMDB use must come out as glibc writes it. Exits 1 on any difference.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  x86_64)  cc_target=x86_64-linux-gnu;     run=() ;;
  aarch64) cc_target=aarch64-linux-gnu;    run=(qemu-aarch64) ;;
  armv7)   cc_target=arm-linux-gnueabihf;  run=(qemu-arm) ;;
  *) echo "usage: Cross/check-libc-trim.sh TARGET    (TARGET: x86_64, aarch64, armv7)" >&2; exit 2 ;;
esac
clang=$(dirname "$(readlink -f "$(command -v swiftc)")")/clang
out=$(mktemp -d "${TMPDIR:-/tmp}/libc-trim.XXXXXX")
trap 'rm -rf "$out"' EXIT
"$clang" --target="$cc_target" -static -fuse-ld=lld -O2 -DEDGE_TRIM_LIBC -Wall -Werror \
  -o "$out/check" CSupport/CEdgeSupport/libc_trim.c CSupport/CEdgeSupport/stdio_trim.c CSupport/CEdgeSupport/locale_trim.c Cross/check/stdio_trim_check.c
"${run[@]}" "$out/check"
