#!/usr/bin/env bash
# Fuzz/build.sh [--src DIR] [TARGET...]: builds one libFuzzer binary per target in Fuzz/targets/
# (full Swift, -sanitize=fuzzer,address) into Fuzz/.out/. EdgeCore is compiled once, instrumented
# and with -enable-testing, into Fuzz/.out/lib; each target `@testable import`s it. (Compiled into
# every target, EdgeCore took 7 x 31 s of CI's reliability stage; now 24 s, then about 1 s a target.) A target's "// requires:" line names the EdgeCore files it needs; a target whose
# files are not in DIR/Sources/EdgeCore yet (bundle, HTTP: issue 5) is skipped with a note, so
# it starts building the day those sources land. --src points at another checkout (a worktree).
# -package-name: EdgeCore's `package` declarations (IndexTable) are visible across the package's
# modules, as under SwiftPM; without one swiftc makes them file-private.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
if [ "${1:-}" = --src ]; then src=$(cd "$2" && pwd); shift 2; fi
out=$here/.out
mkdir -p "$out"
targets=("$@")
if [ ${#targets[@]} = 0 ]; then
  for f in "$here"/targets/*.swift; do targets+=("$(basename "$f" .swift)"); done
fi
built=0
lib=$out/lib
rm -rf "$lib" && mkdir -p "$lib"
quiet() { { grep -v "Cannot export local symbol" || true; }; }
for t in "${targets[@]}"; do
  file=$here/targets/$t.swift
  missing=""
  for need in $(sed -n 's|^// requires: ||p' "$file"); do
    [ -f "$src/Sources/EdgeCore/$need" ] || missing="$missing $need"
  done
  if [ -n "$missing" ]; then
    echo "fuzz: skip $t (not in $src/Sources/EdgeCore:$missing)"
    continue
  fi
  if [ ! -f "$lib/libEdgeCore.a" ]; then
    echo "fuzz: build EdgeCore"
    swiftc -sanitize=fuzzer,address -parse-as-library -O -g -enable-testing -wmo -module-name EdgeCore -package-name edgeagent \
      -emit-module -emit-module-path "$lib/EdgeCore.swiftmodule" -emit-library -static -o "$lib/libEdgeCore.a" \
      "$src"/Sources/EdgeCore/*.swift 2>&1 | quiet
  fi
  echo "fuzz: build $t"
  swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name "Fuzz_$t" -package-name edgeagent -I "$lib" -L "$lib" -lEdgeCore \
    "$file" -o "$out/$t" 2>&1 | quiet
  built=$((built + 1))
done
echo "fuzz: built $built target(s) into $out"
