#!/usr/bin/env bash
# Fuzz/run.sh [--src DIR] [--no-build] [SECONDS] [TARGET...]: for each fuzz target, first a pass
# over its committed seed corpus (Fuzz/corpus/TARGET, -runs=0: every seed must pass), then
# SECONDS (default 60) of fuzzing, one target after another (one core). New inputs go to
# Fuzz/.out/corpus/TARGET, never into the committed corpus; a crash leaves its input in
# Fuzz/.out/artifacts/. Prints one line per target: seeds, executions, crashes; exits 1 on any
# crash. SECONDS=0 runs only the corpus pass (what CI does first).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
srcargs=() build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --src) srcargs=(--src "$2"); shift 2 ;;
    --no-build) build=0; shift ;;
    *) break ;;
  esac
done
seconds=${1:-60}; shift || true
out=$here/.out
# A Swift trap is reported by libFuzzer itself; the runtime backtracer under ASan only adds noise.
export SWIFT_BACKTRACE=enable=no
# A skip is not a pass: say so, and record it for test.sh's summary (CI=true fails on any).
skip() { echo "SKIP $1"; [ -z "${EDGE_SKIP_LOG:-}" ] || echo "$1" >>"$EDGE_SKIP_LOG"; }
if [ $build = 1 ]; then "$here/build.sh" "${srcargs[@]}" "$@" || exit 1; fi
targets=("$@")
if [ ${#targets[@]} = 0 ]; then
  # Every target, built or not: one that build.sh skipped is reported (and logged) as a skip.
  for f in "$here"/targets/*.swift; do targets+=("$(basename "$f" .swift)"); done
fi
mkdir -p "$out/artifacts" "$out/logs"
failed=0 total=0 unbuilt=0
printf '%-14s %6s %12s %8s %s\n' target seeds executions crashes note
for t in "${targets[@]}"; do
  bin=$out/$t
  [ -x "$bin" ] || { printf '%-14s %6s %12s %8s %s\n' "$t" - - - "not built"; skip "fuzz $t: not built" >/dev/null; unbuilt=$((unbuilt + 1)); continue; }
  seeds=$here/corpus/$t
  mkdir -p "$out/corpus/$t"
  nseeds=$(find "$seeds" -type f | wc -l)
  log=$out/logs/$t.log
  crashes=0 execs=0 note=""
  # The seed pass: every committed input must run clean.
  if ! "$bin" -runs=0 -rss_limit_mb=2048 -artifact_prefix="$out/artifacts/$t-" "$seeds" >"$log.seeds" 2>&1; then
    crashes=$((crashes + 1)); note="seed corpus crashes (see $log.seeds)"
  fi
  if [ "$seconds" -gt 0 ] && [ $crashes = 0 ]; then
    "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$out/artifacts/$t-" "$out/corpus/$t" "$seeds" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    execs=${execs:-0}
    if [ $rc != 0 ]; then
      crashes=$((crashes + 1))
      note="$(grep -m1 -E 'ERROR|Fatal error|deadly signal|timeout' "$log" | cut -c1-80) (see $log)"
    fi
  fi
  total=$((total + execs))
  [ $crashes = 0 ] || failed=1
  printf '%-14s %6d %12d %8d %s\n' "$t" "$nseeds" "$execs" "$crashes" "$note"
done
echo "fuzz: $total executions in all; $([ $failed = 0 ] && echo 'no crashes' || echo 'CRASHES: see Fuzz/.out/artifacts'); $unbuilt target(s) not built (skipped)"
exit $failed
