#!/usr/bin/env bash
# Benchmarks/peers/cmp.sh OLD NEW [ROUNDS] [N]: two edgeagent binaries side by side on the peers
# workload (a directory and N files of 64 bytes, run.py's policy), against the floors of
# floor.c, interleaved: each round runs `floor write` and `floor lstat` on a fresh directory,
# then for OLD and for NEW three applies on an empty root and state (nothing, kept-first,
# kept-steady), each timed by `floor spawn` (fork to wait4, and wait4's peak RSS). Prints each
# case's median and range of wall and RSS. Works in ${TMP_DIR:-/dev/shm}; not part of the product.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: Benchmarks/peers/cmp.sh OLD NEW [ROUNDS] [N]" >&2; exit 2; }
old=$(realpath "$1") new=$(realpath "$2") rounds=${3:-7} n=${4:-10000}
here=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d "${TMP_DIR:-/dev/shm}/edgeagent-cmp.XXXXXX")
trap 'rm -rf "$W"' EXIT
cc -O2 -static -o "$W/floor" "$here/floor.c"
python3 - "$W/policy.json" "$n" <<'PY'
import json, sys
def content(i): return f"file {i:05d} {'of the peers workload':<52}\n"   # run.py's content()
n = int(sys.argv[2])
promises = [{"id": "d", "type": "directory", "path": "/d", "mode": "0755"}]
promises += [{"id": f"f{i:05d}", "type": "file", "path": f"/d/f{i:05d}", "content": content(i), "mode": "0644"} for i in range(n)]
json.dump({"policy": f"peers-{n}", "promises": promises}, open(sys.argv[1], "w"))
PY
F=$W/floor
for r in $(seq 1 "$rounds"); do
  rm -rf "$W/fl" && mkdir "$W/fl"
  echo "floor-write $("$F" spawn /dev/null "$F" write "$W/fl" "$n")"
  echo "floor-lstat $("$F" spawn /dev/null "$F" lstat "$W/fl" "$n")"
  for b in old new; do
    bin=$old; [ $b = new ] && bin=$new
    rm -rf "$W/R" "$W/S" && mkdir "$W/R"
    for c in nothing kept-first kept-steady; do
      echo "$b-$c $("$F" spawn /dev/null "$bin" apply "$W/policy.json" --root "$W/R" --state "$W/S" --quiet)"
    done
  done
done >"$W/samples"
python3 - "$W/samples" <<'PY'
import collections, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    case, wall, rss, code = line.split()
    if code != "0": sys.exit(f"cmp.sh: {case} exited {code}")
    d[case].append((int(wall) / 1e6, int(rss)))
for case, v in d.items():
    w = [x[0] for x in v]; r = [x[1] for x in v]
    print(f"{case:18s} wall median {statistics.median(w):7.1f} ms ({min(w):.1f}-{max(w):.1f})"
          f"  rss median {statistics.median(r):.0f} KiB ({min(r)}-{max(r)})")
PY
