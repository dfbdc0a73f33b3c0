# Cross/vm.sh: sourced by Cross/boot-test.sh and Benchmarks/boot/run.sh, so both boot the
# image the same way. vm_target TARGET sets `qemu` (x86_64, aarch64; returns 1 otherwise);
# vm_boot IMAGE STATE LOG [source] [INITRD] boots IMAGE (a Cross/image.sh folder) under
# qemu-system (TCG, one vCPU, -nographic, serial console, no network device) with the disk
# image STATE as /dev/vda and, with "source", the image's bundle disk as /dev/vdb (with "update",
# "truncated" or "crash", its source-NAME.img there instead); the
# console goes to LOG, without carriage returns. INITRD replaces the image's initramfs.
# Returns qemu's exit status (124: BOOT_TIMEOUT seconds, 240 by default, ran out). The array
# vm_extra, when set, adds qemu options (Benchmarks/boot/blocks.sh: -d in_asm).

vm_target() {
  case "$1" in
    # -cpu max: RDRAND, so the kernel's random pool is ready at boot (else the first
    # getrandom(2), libsodium's, waits about a second for jitter entropy under TCG).
    x86_64)  qemu=(qemu-system-x86_64 -M pc -cpu max) ;;
    # QEMU's virt machine hands the kernel an rng-seed in the device tree.
    aarch64) qemu=(qemu-system-aarch64 -M virt -cpu cortex-a57) ;;
    *) return 1 ;;
  esac
}

vm_boot() {
  local img=$1 state=$2 log=$3 source=${4:-} initrd=${5:-$1/initramfs.cpio.gz} rc
  local disks=(-drive "file=$state,if=none,id=state,format=raw" -device virtio-blk-pci,drive=state)
  local disk=$img/source.img
  case $source in update | truncated | crash) disk=$img/source-$source.img ;; esac
  [ -n "$source" ] &&
    disks+=(-drive "file=$disk,if=none,id=source,format=raw,readonly=on" -device virtio-blk-pci,drive=source)
  timeout "${BOOT_TIMEOUT:-240}" "${qemu[@]}" -m 256M -smp 1 -nographic -no-reboot -nic none \
    -kernel "$img/vmlinuz" -initrd "$initrd" -append "$(cat "$img/cmdline")" \
    "${disks[@]}" ${vm_extra[@]+"${vm_extra[@]}"} </dev/null 2>&1 | tr -d '\r' > "$log"
  rc=${PIPESTATUS[0]}
  return "$rc"
}
