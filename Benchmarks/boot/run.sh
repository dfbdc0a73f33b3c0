#!/usr/bin/env bash
# Benchmarks/boot/run.sh TARGET [RUNS]: the agent's share of boot, measured against a floor.
#
# Boots the Cross/image.sh image of TARGET (x86_64, aarch64) RUNS times (5 by default) the way
# Cross/boot-test.sh does (boot 1 with the bundle disk, boot 2 without it, on one fresh state
# disk), and as often the same image with floor.c as /init instead of the agent: a C init that
# does the same kernel work (mounts, module loads, the state disk's first write and flush,
# busybox touch, httpd) with no logic of its own. The runs alternate, so drift in the machine's
# speed hits both alike.
#
# Per boot, on the kernel's console clock (printk.time=1): kernel start to the hand-over to
# /init, and from there to "first convergence complete". Prints each run, then the medians and
# the agent's share: the agent's median less the floor's, which is what the agent's own code
# costs on top of the kernel work every init of this image pays.
# KEEP=1 keeps every console log (their folder is printed).
# EDGEAGENT_BIN=PATH builds the image with that binary (Cross/image.sh's variable).
set -uo pipefail
cd "$(dirname "$0")/../.."
usage() { echo "usage: Benchmarks/boot/run.sh TARGET [RUNS]    (TARGET: x86_64, aarch64)" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
target=$1 runs=${2:-5}
. Cross/vm.sh
vm_target "$target" || usage
. Benchmarks/boot/floor.sh
for tool in "${qemu[0]}" cpio gzip; do
  command -v "$tool" >/dev/null || { echo "Benchmarks/boot/run.sh: $tool not found: run Cross/setup.sh" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/edgeagent-bootbench-$target.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$T"' EXIT
img=$(Cross/image.sh "$target" 2>"$T/image.err" | tail -1) ||
  { cat "$T/image.err" >&2; exit 1; }

floor_initramfs "$target" "$img" "$T" || exit 1

# handover LOG: kernel start -> hand-over to /init, on the kernel's clock.
handover() { awk '/\] Run \/init as init process/ { sub(/^\[ */, ""); printf "%.0f", $1 * 1000; exit }' "$1"; }

# ms LOG: hand-over to /init -> "first convergence complete", on the kernel's clock.
ms() {
  awk '/\] Run \/init as init process/ { sub(/^\[ */, ""); h = $1 + 0 }
       /\] edgeagent(-floor)?: first convergence complete/ { sub(/^\[ */, ""); d = $1 + 0 }
       END { if (h > 0 && d > 0) printf "%.0f", (d - h) * 1000; else print "none" }' "$1"
}

declare -A got=()
for i in $(seq "$runs"); do
  for who in agent floor; do
    initrd=$img/initramfs.cpio.gz
    [ "$who" = floor ] && initrd=$T/floor.cpio.gz
    cp "$img/state.img" "$T/state.img"
    vm_boot "$img" "$T/state.img" "$T/b1.txt" source "$initrd"; rc1=$?
    vm_boot "$img" "$T/state.img" "$T/b2.txt" "" "$initrd"; rc2=$?
    b1=$(ms "$T/b1.txt") b2=$(ms "$T/b2.txt")
    [ "${KEEP:-0}" = 1 ] && cp "$T/b1.txt" "$T/$who-$i-boot1.txt" && cp "$T/b2.txt" "$T/$who-$i-boot2.txt"
    if [ "$rc1" != 0 ] || [ "$rc2" != 0 ] || [ "$b1" = none ] || [ "$b2" = none ]; then
      echo "run $i $who: failed (qemu $rc1 / $rc2; figures: $b1 / $b2)" >&2
      tail -20 "$T/b1.txt" "$T/b2.txt" >&2
      exit 1
    fi
    h1=$(handover "$T/b1.txt") h2=$(handover "$T/b2.txt")
    echo "run $i $who: kernel start -> /init $h1 / $h2 ms; /init -> first convergence complete: boot 1 $b1 ms, boot 2 $b2 ms"
    got[$who.1]+="$b1 " got[$who.2]+="$b2 " got[handover]+="$h1 $h2 "
  done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "boot-share $target: kernel start -> /init: median $(echo "${got[handover]}" | median) ms of $((runs * 4)) boots"
for b in 1 2; do
  a=$(echo "${got[agent.$b]}" | median) f=$(echo "${got[floor.$b]}" | median)
  echo "boot-share $target boot $b: median of $runs: agent $a ms, floor $f ms, the agent's share $((${a%.*} - ${f%.*})) ms"
done
if [ "${KEEP:-0}" = 1 ]; then echo "console logs: $T"; fi
