#!/usr/bin/env bash
# Benchmarks/chaos/diskfull.sh [--bin PATH]: full disks, in a private mount namespace.
# Needs root (mount); re-runs itself under `unshare --mount` so every tmpfs it mounts vanishes
# with it and nothing leaks to the host. Four cases, one PASS/FAIL line each:
#   repair-enospc   root on a 1 MiB tmpfs; a repair that needs 2 MiB fails with "No space left on
#                   device", the old content stays whole, no temporary is left, other promises
#                   in the same run are still repaired, and the state records the failure.
#   state-enospc    state on a 2 MiB tmpfs; a policy whose `desired` needs more: apply exits 111
#                   with "No space left on device", the last good state opens and still names
#                   the old policy; once space is back, the next apply converges.
#   map-growth      state on a large tmpfs; replacing a 40 MB `desired` by another needs more
#                   than the 64 MiB initial map: MDB_MAP_FULL is met by growing the map, apply
#                   exits 0, the map is 128 MiB after.
#   growth-enospc   the same on a 72 MiB tmpfs: the map grows but the disk is full; a clear
#                   error, the last good state intact.
# Exits 1 if any case fails.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=""
[ "${1:-}" = --bin ] && { bin=$2; shift 2; }
if [ -z "$bin" ]; then
  for p in .build-b7emb/release/edgeagent .build-emb/release/edgeagent .build-b7/debug/edgeagent .build/debug/edgeagent; do
    [ -x "$repo/$p" ] && { bin=$repo/$p; break; }
  done
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
# A skip is not a pass: say so, and record it for test.sh's summary (CI=true fails on any).
skip() { echo "SKIP $1"; [ -z "${EDGE_SKIP_LOG:-}" ] || echo "$1" >>"$EDGE_SKIP_LOG"; }
if [ "${EDGE_DISKFULL_NS:-}" != 1 ]; then
  [ "$(id -u)" = 0 ] || { skip "diskfull: needs root (tmpfs mounts in a private namespace)"; exit 0; }
  EDGE_DISKFULL_NS=1 exec unshare --mount --propagation private "$0" --bin "$bin"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/edgeagent-diskfull.XXXXXX")
trap 'umount -R "$work"/* 2>/dev/null; rm -rf "$work"' EXIT
failed=0
pass() { echo "PASS $1: $2"; }
fail() { echo "FAIL $1: $2"; failed=1; }

# policy NAME FILE SPEC...: SPEC is PATH=SIZE[:CHAR] (a file of SIZE bytes of CHAR, default 'x').
policy() {
  python3 - "$@" <<'EOF'
import json, sys
name, out, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
promises = []
for i, s in enumerate(specs):
    path, rest = s.split("=")
    size, _, ch = rest.partition(":")
    promises.append({"id": "p%d" % i, "type": "file", "path": path, "content": (ch or "x") * int(size), "mode": "0644"})
json.dump({"policy": name, "promises": promises}, open(out, "w"))
EOF
}
# many NAME FILE COUNT SIZE CHAR: COUNT files of SIZE bytes under /data.
many() {
  python3 - "$@" <<'EOF'
import json, sys
name, out, count, size, ch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
promises = [{"id": "d", "type": "directory", "path": "/data"}]
for i in range(count):
    promises.append({"id": "f%d" % i, "type": "file", "path": "/data/f%05d" % i, "content": (ch + str(i)) * (size // (len(str(i)) + 1))})
json.dump({"policy": name, "promises": promises}, open(out, "w"))
EOF
}
policy_name() { "$bin" status --json --state "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["policy"])'; }
state_ok() { mdb_stat -a "$1" >/dev/null && mdb_dump -a "$1" >/dev/null; }
temps() { find "$1" -name '*.edgeagent-new' | wc -l; }

# --- repair-enospc
c=repair-enospc
mkdir -p "$work/r1" "$work/s1"
mount -t tmpfs -o size=1m tmpfs "$work/r1"
mkdir "$work/r1/app"
policy old "$work/old.json" /app/big.conf=4:o /app/small.conf=5:s
policy new "$work/new.json" /app/big.conf=2097152:n /app/small.conf=6:t
"$bin" apply "$work/old.json" --root "$work/r1" --state "$work/s1" --quiet >/dev/null
out=$("$bin" apply "$work/new.json" --root "$work/r1" --state "$work/s1" 2>&1); rc=$?
if [ $rc = 1 ] && grep -q 'failed p0: .*No space left on device' <<<"$out" && grep -q 'repaired p1' <<<"$out" \
   && [ "$(cat "$work/r1/app/big.conf")" = oooo ] && [ "$(cat "$work/r1/app/small.conf")" = tttttt ] \
   && [ "$(temps "$work/r1")" = 0 ] && state_ok "$work/s1" \
   && grep -q 'No space left on device' <<<"$("$bin" status --state "$work/s1")"; then
  pass $c "exit 1, reason \"$(grep -o 'failed p0: .*' <<<"$out" | head -1)\", old content whole, no temporary, p1 repaired"
else
  fail $c "rc=$rc out=$out big=$(head -c 20 "$work/r1/app/big.conf") temps=$(temps "$work/r1")"
fi

# --- state-enospc
c=state-enospc
mkdir -p "$work/r2" "$work/s2"
mount -t tmpfs -o size=2m tmpfs "$work/s2"
policy small "$work/small.json" /a=10:a
many large "$work/large.json" 300 10000 L
"$bin" apply "$work/small.json" --root "$work/r2" --state "$work/s2" --quiet >/dev/null
out=$("$bin" apply "$work/large.json" --root "$work/r2" --state "$work/s2" --quiet 2>&1); rc=$?
if [ $rc = 111 ] && grep -q 'No space left on device' <<<"$out" && state_ok "$work/s2" \
   && [ "$(policy_name "$work/s2")" = small ]; then
  mount -o remount,size=64m "$work/s2"
  out2=$("$bin" apply "$work/large.json" --root "$work/r2" --state "$work/s2" --quiet 2>&1); rc2=$?
  if [ $rc2 = 0 ] && [ "$(policy_name "$work/s2")" = large ] && state_ok "$work/s2"; then
    pass $c "exit 111, \"$(grep -o 'edgeagent.*' <<<"$out" | head -1)\"; state opens, still \"small\"; with space back, the next apply converges"
  else
    fail $c "after remount: rc=$rc2 $out2"
  fi
else
  fail $c "rc=$rc out=$out policy=$(policy_name "$work/s2" 2>&1)"
fi

# --- map-growth
c=map-growth
mkdir -p "$work/r3" "$work/s3"
mount -t tmpfs -o size=512m tmpfs "$work/s3"
many one "$work/one.json" 4000 10000 A
many two "$work/two.json" 4000 10000 B
"$bin" apply "$work/one.json" --root "$work/r3" --state "$work/s3" --quiet >/dev/null; rc1=$?
out=$("$bin" apply "$work/two.json" --root "$work/r3" --state "$work/s3" --quiet 2>&1); rc=$?
map=$(mdb_stat -e "$work/s3" | sed -n 's/^ *Map size: //p')
if [ $rc1 = 0 ] && [ $rc = 0 ] && [ "${map:-0}" -gt $((64 << 20)) ] && [ "$(policy_name "$work/s3")" = two ] && state_ok "$work/s3"; then
  pass $c "two 40 MB policies in turn: exit 0, map grew from 64 MiB to $((map >> 20)) MiB, data.mdb $(du -m "$work/s3/data.mdb" | cut -f1) MB"
else
  fail $c "rc1=$rc1 rc=$rc map=$map out=$out"
fi

# --- growth-enospc
c=growth-enospc
mkdir -p "$work/r4" "$work/s4"
mount -t tmpfs -o size=72m tmpfs "$work/s4"
"$bin" apply "$work/one.json" --root "$work/r4" --state "$work/s4" --quiet >/dev/null; rc1=$?
out=$("$bin" apply "$work/two.json" --root "$work/r4" --state "$work/s4" --quiet 2>&1); rc=$?
if [ $rc1 = 0 ] && [ $rc = 111 ] && grep -q 'No space left on device' <<<"$out" && state_ok "$work/s4" \
   && [ "$(policy_name "$work/s4")" = one ]; then
  pass $c "exit 111, \"$(grep -o 'edgeagent.*' <<<"$out" | head -1)\"; the state opens and still holds \"one\""
else
  fail $c "rc1=$rc1 rc=$rc out=$out"
fi
exit $failed
