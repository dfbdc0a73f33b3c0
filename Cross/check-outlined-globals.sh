#!/usr/bin/env bash
# Fails when a build's objects define the same outlined global (Swift's `...Tv_r`, `...Tv0_r`:
# array literals moved into read-only globals) more than once. The linker keeps one, so every
# other copy's code reads someone else's literal: a silent miscompile. Package.swift disables
# the SIL object-outliner in Embedded builds for this reason; this checks that it still holds.
# usage: Cross/check-outlined-globals.sh SCRATCH_DIR (e.g. .build-emb)
set -euo pipefail
dir=${1:?usage: $0 SCRATCH_DIR}
# LTO builds (Cross/build.sh) leave LLVM bitcode (*.bc) instead of objects: the toolchain's own
# llvm-nm reads both, where binutils' nm or an older llvm-nm cannot read this bitcode.
objects=$(find "$dir" \( -path '*release/*.build/*.o' -o -path '*release/*.build/*.bc' \) 2>/dev/null)
[ -n "$objects" ] || { echo "check-outlined-globals: no objects under $dir (build first)" >&2; exit 2; }
nm="$(dirname "$(readlink -f "$(command -v swiftc)")")/llvm-nm"
[ -x "$nm" ] || { echo "check-outlined-globals: no llvm-nm beside swiftc ($nm)" >&2; exit 2; }
dups=$(for f in $objects; do "$nm" --defined-only "$f" 2> >(grep -v ': no symbols$' >&2) | awk '$2=="V"||$2=="W"{print $3}' | sort -u; done \
  | grep -E 'Tv[0-9]*_r$' | sort | uniq -d || true)
if [ -n "$dups" ]; then
  echo "check-outlined-globals: FAIL: outlined globals defined in more than one object:" >&2
  echo "$dups" | head -20 >&2
  exit 1
fi
echo "check-outlined-globals: ok ($(echo "$objects" | wc -l) objects, no duplicated outlined global)"
