#!/usr/bin/env bash
# Cross/boot-test.sh TARGET: boots the Cross/image.sh image of TARGET (x86_64, aarch64) under
# qemu-system (TCG, -nographic, serial console, no network device) with edgeagent as /init, twice
# on one persistent state disk, and checks the serial console:
#   boot 1 (bundle disk attached): the agent is PID 1, mounts the pseudo-filesystems, loads its
#     disk drivers and mounts its state disk, accepts the signed bundle from its file:// upstream,
#     converges every promise, starts the web service and sees its HTTP health check pass; the
#     chaos service kills it, the agent restarts it and it passes again; chaos asks for a
#     poweroff (busybox poweroff: SIGUSR2 to PID 1) and the agent stops chaos then web (reverse
#     order), closes its state, unmounts its disks, syncs and powers off: qemu exits 0, no kernel
#     panic, no "Attempted to kill init", and the state disk is clean (dumpe2fs).
#   boot 2 (bundle disk gone): the same, converging from the last accepted bundle in LMDB; the
#     kernel mounts the state disk without replaying its journal.
# In both boots a level=error line from the agent fails the boot, save boot 2's "unable to mount"
# of the absent bundle disk.
# Boots 3 to 6 (issue 18), on a fresh state disk: the agent updating itself as PID 1.
#   boot 3 (update disk: serial 2 names this image's binary as agent 2.0-boot): accepted, staged,
#     self-tested, exec'd in place (still PID 1), web adopted with its pid (not restarted),
#     committed after the 2 s trial window; then the usual restart and poweroff checks.
#   boot 4 (truncated disk: serial 3 names 64 KiB of the binary as 2.5-truncated): the image's
#     /init runs the committed 2.0-boot (exec chain: the update survived a reboot), which
#     refuses 2.5-truncated on its self-test and runs on.
#   boot 5 (crash disk: serial 4 names Cross/boot/crashy.c as 3.0-crashy): self-test passed,
#     switched, the fixture crashes as PID 1, the kernel panics, panic=-1 reboots (qemu's
#     -no-reboot makes that reboot an exit; the next boot is the reboot).
#   boot 6 (no disk): /init finds the trial unfinished, rolls back to 2.0-boot, does not try
#     3.0-crashy again, and converges and powers off as usual.
# Reports the boot figures: kernel start to /init, /init to first convergence (the kernel's
# console timestamps, printk.time=1), and the agent's own exec-to-converged, split by the t_ms
# of its log lines into loading modules and mounting disks (kernel work) and the agent's own.
# Prints one PASS/FAIL line per check and exits 1 if any failed. BOOT_TIMEOUT (seconds, 240)
# bounds each boot; KEEP=1 keeps the console logs (their folder is printed); KERNEL=cloud boots
# Debian's cloud kernel flavour instead of the generic one (Cross/image.sh).
set -uo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: Cross/boot-test.sh TARGET    (TARGET: x86_64, aarch64)" >&2; exit 2; }
[ $# -eq 1 ] || usage
target=$1
. Cross/vm.sh
vm_target "$target" || usage
for tool in "${qemu[0]}" dumpe2fs; do
  command -v "$tool" >/dev/null || { echo "Cross/boot-test.sh: $tool not found: run Cross/setup.sh" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/edgeagent-boot-$target.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$T"' EXIT

passed=0 failed=0
label=$target
[ "${KERNEL:-generic}" = generic ] || label="$target ($KERNEL kernel)"
pass() { echo "PASS $label: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $label: $1"; failed=$((failed + 1)); }
finish() { echo "boot-test $label: $passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }

if ! Cross/image.sh "$target" >"$T/image.out" 2>&1; then
  sed 's/^/    /' "$T/image.out" | tail -30
  fail "image (Cross/image.sh $target)"; finish
fi
img=$(tail -1 "$T/image.out")
grep '^image ' "$T/image.out"
cp "$img/state.img" "$T/state.img"   # the VM's persistent disk, kept across both boots

# boot N [source]: one boot, its console in $T/bootN.txt; returns qemu's exit status.
boot() {
  local start=$SECONDS rc
  vm_boot "$img" "$T/state.img" "$T/boot$1.txt" "${2:-}"
  rc=$?
  echo "boot $1: qemu exited $rc after $((SECONDS - start)) s (console: $(wc -l < "$T/boot$1.txt") lines)"
  return $rc
}

# expect LOG WHAT PATTERN...: each extended regex must match a line, in this order.
expect() {
  local log=$1 what=$2 line=0 p found
  shift 2
  for p in "$@"; do
    found=$(tail -n +$((line + 1)) "$log" | grep -n -E -m1 -- "$p" | cut -d: -f1)
    if [ -z "$found" ]; then fail "$what (no line matching /$p/ after line $line)"; return 1; fi
    line=$((line + found))
  done
  pass "$what"
}

# The checks both boots share: PID 1 duties, services, restart, ordered shutdown, clean poweroff.
# check_boot N RC [EXPECTED]: EXPECTED is an extended regex for the agent's level=error lines
# this boot provokes on purpose; any other level=error line fails the boot.
check_boot() {
  local n=$1 rc=$2 log=$T/boot$1.txt expected=${3:-}
  [ "$rc" = 0 ] && pass "boot $n: qemu exited 0" || fail "boot $n: qemu exited $rc (124: timed out)"
  grep -q 'Kernel panic' "$log" && fail "boot $n: kernel panic" || pass "boot $n: no kernel panic"
  grep -qi 'Attempted to kill init' "$log" && fail "boot $n: attempted to kill init" || pass "boot $n: init never exited"
  expect "$log" "boot $n: the kernel ran edgeagent as /init, PID 1" 'Run /init as init process' 'msg=starting .*pid1=true'
  expect "$log" "boot $n: mounted /proc, /sys, /dev, /run" 'msg="mounted proc on /proc"' 'msg="mounted sysfs on /sys"' \
    'msg="mounted devtmpfs on /dev"' 'msg="mounted tmpfs on /run"'
  # ext4 is a module of the generic kernel and built into the cloud one (KERNEL=cloud).
  local drivers=('msg="loaded module" module=/lib/modules/virtio_blk.ko') what=virtio_blk
  if grep -q '/ext4.ko' "$img/initramfs/etc/edgeagent/config.json"; then
    drivers+=('msg="loaded module" module=/lib/modules/ext4.ko') what="virtio_blk and ext4"
  fi
  expect "$log" "boot $n: loaded $what, mounted the state disk" "${drivers[@]}" \
    'msg=mounted device=/dev/vda path=/var/lib/edgeagent type=ext4'
  expect "$log" "boot $n: brought up loopback" 'msg="loopback up"'
  local p missing=""
  for p in 'stamp type=command' 'www type=directory' 'index type=file' 'current type=link'; do
    grep -q "msg=repaired promise=$p" "$log" || missing="$missing ${p%% *}"
  done
  [ -z "$missing" ] && pass "boot $n: command, directory, file and link promises repaired" ||
    fail "boot $n: not repaired:$missing"
  expect "$log" "boot $n: converged every promise (failed=0)" 'msg=converged policy=boot-test kept=[0-9]+ repaired=[0-9]+ failed=0 skipped=0 .*since_start_ms='
  expect "$log" "boot $n: web started and passed its HTTP health check" 'msg="started service" service=web .*restarts=0' \
    'msg="service ready" service=web'
  expect "$log" "boot $n: web killed, restarted by the agent, healthy again" 'msg="service exited" service=web .*exit="signal 9"' \
    'msg="started service" service=web .*restarts=1' 'msg="service ready" service=web'
  expect "$log" "boot $n: poweroff stopped chaos then web (reverse order), synced, powered off" \
    'msg="shutting down" reason=SIGUSR2' 'msg="service exited" service=chaos ' 'msg="service exited" service=web .*exit="signal 15"' \
    'msg="all services stopped"' 'msg="powering off"' 'reboot: Power down'
  expect "$log" "boot $n: closed the state and unmounted the state disk before powering off" \
    'msg="all services stopped"' 'EXT4-fs \(vda\): unmounting filesystem' 'msg=unmounted path=/var/lib/edgeagent' 'msg="powering off"'
  # The next mount must find the state disk clean: no journal to replay, no orphans to clean up.
  local state
  state=$(dumpe2fs -h "$T/state.img" 2>/dev/null | sed -n 's/^Filesystem state: *//p')
  if [ "$state" = clean ] && ! dumpe2fs -h "$T/state.img" 2>/dev/null | grep -q '^Filesystem features:.*needs_recovery'; then
    pass "boot $n: state disk left clean (dumpe2fs: state clean, no needs_recovery)"
  else
    fail "boot $n: state disk not clean after poweroff (dumpe2fs: state \"$state\", features:$(dumpe2fs -h "$T/state.img" 2>/dev/null | grep -o ' needs_recovery'))"
  fi
  grep 'level=warn' "$log" | grep -v 'unable to pull' | sed "s/^/    boot $n: /" || true
  local errors
  errors=$(grep 'level=error' "$log" | { if [ -n "$expected" ]; then grep -Ev "$expected"; else cat; fi; } || true)
  if [ -z "$errors" ]; then
    pass "boot $n: no unexpected level=error line from the agent"
  else
    fail "boot $n: the agent logged $(echo "$errors" | wc -l) unexpected level=error line(s):"
    echo "$errors" | sed "s/^/    boot $n: /"
  fi
}

# timing N: the boot figures, from the console, on the kernel's clock (printk.time=1): the
# hand-over to /init, the state disk mounted (the drivers the agent loaded have probed, ext4 is
# mounted), and the agent's "first convergence complete", which it writes to /dev/kmsg as PID 1.
# The agent's own exec-to-converged is since_start_ms in its first `converged` line.
timing() {
  local log=$T/boot$1.txt handover mounted done since conv prep0 prep1
  stamp() { sed -n "s/^\[ *\([0-9.]*\)\] $1.*/\1/p" "$log" | head -1; }
  handover=$(stamp 'Run \/init as init process')
  mounted=$(stamp 'EXT4-fs (vda): mounted')
  done=$(stamp 'edgeagent: first convergence complete')
  since=$(grep -m1 'msg=converged' "$log" | sed -n 's/.*since_start_ms=\([0-9]*\).*/\1/p')
  conv=$(grep -m1 'msg=converged' "$log" | sed -n 's/.* ms=\([0-9]*\).*/\1/p')
  # The agent's log lines carry t_ms (since its exec) as /init: loading the modules and mounting
  # the disks is the kernel's work (finit_module, driver probes, mount), from "loopback up" to
  # the last mount line; the rest of exec -> converged is the agent's own.
  prep0=$(grep -m1 'msg="loopback up"' "$log" | sed -n 's/.* t_ms=\([0-9.]*\).*/\1/p')
  prep1=$(grep -E 'msg=mounted device=|msg="unable to mount"' "$log" | tail -1 | sed -n 's/.* t_ms=\([0-9.]*\).*/\1/p')
  [ -n "$handover" ] && [ -n "$mounted" ] && [ -n "$done" ] && [ -n "$since" ] ||
    { fail "boot $1: boot figures not found in the console"; return 0; }
  awk -v h="$handover" -v m="$mounted" -v d="$done" -v s="$since" -v c="${conv:-0}" -v p0="${prep0:-0}" -v p1="${prep1:-0}" \
    -v t="$label" -v n="$1" 'BEGIN {
    printf "boot-time %s boot %s: kernel start -> /init %.0f ms; /init -> first convergence complete %.0f ms ", t, n, h * 1000, (d - h) * 1000
    printf "(drivers, probes and state disk mount %.0f ms, then the agent %.0f ms); agent exec -> converged %d ms ", (m - h) * 1000, (d - m) * 1000, s
    if (p1 > 0) printf "= modules and mounts %.0f ms + the agent'"'"'s own %.0f ms (of which the first convergence %d ms)", p1 - p0, s - (p1 - p0), c
    printf "\n" }'
}

boot 1 source; rc=$?
check_boot 1 $rc
expect "$T/boot1.txt" "boot 1: accepted the signed bundle from the file:// upstream, then converged to it" \
  'msg="no policy yet' 'msg="bundle accepted" serial=1 policy=boot-test' 'msg=converged policy=boot-test'
timing 1

boot 2; rc=$?
check_boot 2 $rc 'msg="unable to mount" device=/dev/vdb'
expect "$T/boot2.txt" "boot 2: bundle disk gone, converged from the last good policy in LMDB" \
  'msg="unable to mount" device=/dev/vdb' 'msg="converging to the last good policy from the state" policy=boot-test' \
  'msg=converged policy=boot-test'
grep -q 'msg="bundle accepted"' "$T/boot2.txt" && fail "boot 2: accepted a bundle with no bundle disk" ||
  pass "boot 2: no bundle accepted (no source)"
if grep -E 'EXT4-fs \(vda\).*(recovery complete|recovering journal|orphan)' "$T/boot2.txt" | sed 's/^/    /' | grep .; then
  fail "boot 2: the kernel replayed the state disk's journal (boot 1 did not unmount it cleanly)"
else
  pass "boot 2: the state disk mounted without journal recovery (boot 1 unmounted it cleanly)"
fi
timing 2

# Boots 3 to 6: the agent updates itself, on a fresh copy of the blank state disk.
cp "$img/state.img" "$T/state.img"
# pid N of the first line matching PATTERN in boot N's console
pid_of() { grep -m1 -E -- "$2" "$T/boot$1.txt" | grep -o ' pid=[0-9]*' | head -1; }

boot 3 update; rc=$?
check_boot 3 $rc
expect "$T/boot3.txt" "boot 3: accepted serial 2 naming agent 2.0-boot, staged and self-tested it, switched in place as PID 1, committed" \
  'msg="bundle accepted" serial=2' 'msg="staging agent" version=2.0-boot' 'msg="agent self-test passed" version=2.0-boot' \
  'msg="switching agent in place" from=[^ ]+ to=2.0-boot' 'msg=starting version=2.0-boot .*trial=true .*pid1=true' \
  'msg="adopted service" service=web' 'msg="agent trial window started"' 'msg="agent committed" version=2.0-boot'
started=$(pid_of 3 'msg="started service" service=web ')
adopted=$(pid_of 3 'msg="adopted service" service=web')
if [ -n "$started" ] && [ "$started" = "$adopted" ] && [ "$(grep -c 'msg="started service" service=web .*restarts=0' "$T/boot3.txt")" = 1 ]; then
  pass "boot 3: web kept running through the switch (adopted as ${adopted# }: the same process, started once)"
else
  fail "boot 3: web should be adopted, not restarted (started${started:- none}, adopted${adopted:- none})"
fi
switch_ms=$(awk '/msg=starting version=2.0-boot .*trial=true/ {t=1} t && /msg=converged/ {print; exit}' "$T/boot3.txt" | sed -n 's/.*since_start_ms=\([0-9]*\).*/\1/p')
echo "update-time $label boot 3: new image exec -> its first convergence ${switch_ms:-?} ms; services restarted by the switch: 0"

boot 4 truncated; rc=$?
check_boot 4 $rc 'msg="agent update refused" version=2.5-truncated'
expect "$T/boot4.txt" "boot 4: /init ran the committed agent 2.0-boot (the update survived the reboot)" \
  'msg="running the committed agent" version=2.0-boot' 'msg=starting version=2.0-boot .*trial=false .*pid1=true' \
  'msg=converged policy=boot-test'
expect "$T/boot4.txt" "boot 4: serial 3's 2.5-truncated failed its self-test, refused; the agent ran on" \
  'msg="bundle accepted" serial=3' 'msg="staging agent" version=2.5-truncated' \
  'msg="agent update refused" version=2.5-truncated reason="self-test' 'msg="powering off"'
grep -q 'msg="switching agent' "$T/boot4.txt" && fail "boot 4: switched to a binary that failed its self-test" ||
  pass "boot 4: no switch to the refused binary"

boot 5 crash; rc=$?
[ "$rc" = 0 ] && pass "boot 5: qemu exited 0 (the panic's reboot)" || fail "boot 5: qemu exited $rc (124: timed out)"
expect "$T/boot5.txt" "boot 5: accepted 3.0-crashy, self-test passed, switched; it crashed as PID 1 and the kernel panicked" \
  'msg="running the committed agent" version=2.0-boot' 'msg="bundle accepted" serial=4' \
  'msg="agent self-test passed" version=3.0-crashy' 'msg="switching agent in place" from=2.0-boot to=3.0-crashy' \
  'crashy: running as the agent' 'Kernel panic - not syncing: Attempted to kill init'

boot 6; rc=$?
check_boot 6 $rc 'msg="unable to mount" device=/dev/vdb|msg="agent trial did not commit: rolled back" version=3.0-crashy'
expect "$T/boot6.txt" "boot 6: /init rolled the unfinished trial back and ran 2.0-boot, which does not try 3.0-crashy again" \
  'msg="agent trial did not commit: rolled back" version=3.0-crashy' 'msg="running the committed agent" version=2.0-boot' \
  'msg=starting version=2.0-boot .*pid1=true' 'msg="not updating the agent" reason="agent 3.0-crashy failed before' \
  'msg="powering off"'
grep -q 'msg="switching agent' "$T/boot6.txt" && fail "boot 6: switched again to a version that failed" ||
  pass "boot 6: no switch to the failed version"
rollback_ms=$(grep -m1 'msg="agent trial did not commit' "$T/boot6.txt" | sed -n 's/.* t_ms=\([0-9.]*\).*/\1/p')
handover=$(sed -n 's/^\[ *\([0-9.]*\)\] Run \/init as init process.*/\1/p' "$T/boot6.txt" | head -1)
done6=$(sed -n 's/^\[ *\([0-9.]*\)\] edgeagent: first convergence complete.*/\1/p' "$T/boot6.txt" | head -1)
awk -v h="${handover:-0}" -v r="${rollback_ms:-0}" -v d="${done6:-0}" -v t="$label" 'BEGIN {
  printf "rollback-time %s boot 6: kernel start -> /init %.0f ms; /init -> rollback recorded %.0f ms; /init -> first convergence by 2.0-boot %.0f ms\n", t, h * 1000, r, (d - h) * 1000 }'

[ "${KEEP:-0}" = 1 ] && echo "console logs: $T/boot1.txt ... $T/boot6.txt"
finish
