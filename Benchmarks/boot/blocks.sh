#!/usr/bin/env bash
# Benchmarks/boot/blocks.sh TARGET: where an init's boot goes under TCG, in code translated.
# qemu translates each block of guest code the first time it runs (then runs it from its cache),
# so code run once costs its translation. This boots boot 1 (bundle disk attached, fresh state
# disk) of the Cross/image.sh image of TARGET once with the agent and once with floor.c as
# /init, under qemu's `-d in_asm` log (every block as it is translated, in order), and counts the
# blocks and guest instructions translated from /init's entry point to the first busybox one
# (the policy's command), split into user code (/init's own) and kernel code.
# Also prints the TCG calibration of calibrate.c: what first runs cost per instruction.
set -uo pipefail
cd "$(dirname "$0")/../.."
usage() { echo "usage: Benchmarks/boot/blocks.sh TARGET    (TARGET: x86_64, aarch64)" >&2; exit 2; }
[ $# -eq 1 ] || usage
target=$1
. Cross/vm.sh
vm_target "$target" || usage
. Benchmarks/boot/floor.sh
case "$target" in x86_64) gnu=x86_64-linux-gnu ;; aarch64) gnu=aarch64-linux-gnu ;; esac

T=$(mktemp -d "${TMPDIR:-/tmp}/edgeagent-blocks-$target.XXXXXX")
trap 'rm -rf "$T"' EXIT
img=$(Cross/image.sh "$target" 2>"$T/image.err" | tail -1) || { cat "$T/image.err" >&2; exit 1; }
floor_initramfs "$target" "$img" "$T" || exit 1
entry() { "$gnu-readelf" -h "$1" | awk '/Entry point address/ { print $4 }'; }
busybox=$(entry "$img/initramfs/bin/busybox")

for who in agent floor; do
  initrd=$img/initramfs.cpio.gz init=$img/initramfs/init
  [ "$who" = floor ] && initrd=$T/floor.cpio.gz init=$T/floor
  cp "$img/state.img" "$T/state.img"
  vm_extra=(-d in_asm -D "$T/in_asm.log")
  vm_boot "$img" "$T/state.img" "$T/console.txt" source "$initrd" || { echo "$who: boot failed" >&2; exit 1; }
  python3 - "$T/in_asm.log" "$(entry "$init")" "$busybox" "$who" <<'PY' || { echo "$who: blocks not found in qemu's log" >&2; exit 1; }
import sys
log, start, busybox, who = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3], 16), sys.argv[4]
blocks = []   # [first address, instructions]
for line in open(log, errors="replace"):
    if line.startswith("IN:"):
        blocks.append([None, 0])
    elif blocks and line.startswith("0x"):
        b = blocks[-1]
        if b[0] is None:
            b[0] = int(line.split(":")[0], 16)
        b[1] += 1
blocks = [b for b in blocks if b[0] is not None]
i = next(n for n, b in enumerate(blocks) if b[0] == start)
j = next(n for n, b in enumerate(blocks) if n > i and b[0] == busybox)
user = [b for b in blocks[i:j] if b[0] < 1 << 47]
kernel = [b for b in blocks[i:j] if b[0] >= 1 << 47]
print(f"{who}: /init entry -> first busybox: user {len(user)} blocks, {sum(b[1] for b in user)} instructions; "
      f"kernel {len(kernel)} blocks, {sum(b[1] for b in kernel)} instructions")
PY
done

# Calibration: 4,000 small functions run once, then again; the difference is translation.
python3 Benchmarks/boot/calibrate.py > "$T/calibrate.c"
mkdir -p "$T/cal"
"$gnu-gcc" -O1 -static -o "$T/cal/init" "$T/calibrate.c" || exit 1
insns=$("$gnu-objdump" -d "$T/cal/init" | awk '/^[0-9a-f]+ <f[0-9]+>:/ { in_f = 1; next } /^[0-9a-f]+ </ { in_f = 0 } in_f && /^ +[0-9a-f]+:\t/ { n++ } END { print n }')
(cd "$T/cal" && echo init | cpio -o -H newc --quiet | gzip) > "$T/cal.cpio.gz"
mkdir -p "$T/calimg" && cp "$img/vmlinuz" "$T/calimg/" && cp "$img/cmdline" "$T/calimg/"
vm_extra=()
for i in 1 2 3; do
  vm_boot "$T/calimg" "$T/state.img" "$T/cal.txt" "" "$T/cal.cpio.gz"
  line=$(grep -o 'calibrate: .*' "$T/cal.txt") || { echo "calibrate: no figures on the console" >&2; exit 1; }
  echo "$line ($insns instructions in the functions)"
done
