#!/usr/bin/env bash
# Cross/musl-deps.sh TARGET...: builds libuv, LMDB and libsodium as static libraries against musl
# for each TARGET (x86_64, aarch64, armv7), from Debian's own source packages (the same versions
# and Debian patches as the glibc -dev packages), into out/musl/TARGET/{include,lib}. Debian has
# no musl builds of them. Sources and builds live under out/musl (never committed). Safe to run
# again: a target whose libraries are there and were built from the same sources is skipped.
# Needs the deb-src line and the tools Cross/setup.sh installs (musl-tools, musl-dev for each
# architecture, autoconf, automake, libtool, dpkg-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD/out/musl
src=$root/src
mkdir -p "$src"

[ $# -ge 1 ] || { echo "usage: Cross/musl-deps.sh TARGET...    (TARGET: x86_64, aarch64, armv7)" >&2; exit 2; }

# The source packages, fetched once (apt verifies them against the signed index) and unpacked
# with Debian's patches applied.
packages="libuv1 lmdb libsodium"
fetch() {
  local have=1
  for p in $packages; do ls "$src/$p"_*.dsc >/dev/null 2>&1 || have=0; done
  if [ "$have" = 0 ]; then
    echo "musl-deps: apt-get source --download-only $packages" >&2
    (cd "$src" && apt-get source --download-only $packages >&2) ||
      { echo "musl-deps: apt-get source failed: Cross/setup.sh adds the deb-src line it needs" >&2; exit 1; }
  fi
  for p in $packages; do
    local dsc; dsc=$(ls "$src/$p"_*.dsc | tail -1)
    [ -d "$src/$p" ] || (cd "$src" && dpkg-source -x "$dsc" "$p" >&2)
  done
  # libuv's and libsodium's orig tarballs are git snapshots without configure.
  [ -x "$src/libuv1/configure" ] || (cd "$src/libuv1" && sh autogen.sh >&2)
  [ -x "$src/libsodium/configure" ] || (cd "$src/libsodium" && autoreconf -fi >&2)
  # A process-shared robust mutex is refused with ENOSYS when the kernel cannot keep a robust
  # list: musl probes get_robust_list, which qemu-user does not emulate (the smoke tests run
  # there). A kernel without robust futexes cannot give the guarantee anyway, so LMDB falls back
  # to a plain process-shared mutex there and only there; Linux has had them since 2.6.17, so on
  # every real kernel (and under qemu-system) the lock stays robust.
  local mdb=$src/lmdb/libraries/liblmdb/mdb.c
  if ! grep -q 'EDGE: ENOSYS' "$mdb"; then
    sed -i 's|^\t\tif (!rc) rc = pthread_mutexattr_setrobust(&mattr, PTHREAD_MUTEX_ROBUST);$|\t\tif (!rc \&\& (rc = pthread_mutexattr_setrobust(\&mattr, PTHREAD_MUTEX_ROBUST)) == ENOSYS) rc = 0; /* EDGE: ENOSYS: no robust futexes (qemu-user) */|' "$mdb"
    grep -q 'EDGE: ENOSYS' "$mdb" || { echo "musl-deps: cannot patch $mdb (LMDB changed?)" >&2; exit 1; }
  fi
  # LMDB puts its environment functions in one named section, text_env, for locality; but one
  # section is kept or dropped whole, so --gc-sections kept every one of them, mdb_env_copy*
  # (a backup tool's, about 4 KB) and mdb_reader_list among them. In their own function sections
  # the link keeps only those the agent calls: aarch64 -N bytes.
  if ! grep -q 'EDGE: no text_env' "$mdb"; then
    sed -i 's|^#  define\tESECT\t__attribute__ ((section("text_env")))$|#  define\tESECT\t/* EDGE: no text_env */|' "$mdb"
    grep -q 'EDGE: no text_env' "$mdb" || { echo "musl-deps: cannot patch $mdb's ESECT (LMDB changed?)" >&2; exit 1; }
  fi
  # printf's formatter (vfprintf, long-double arithmetic: about 20 KB on aarch64) was linked for
  # three messages no healthy run prints: failed assertions (musl's __assert_fail, LMDB's
  # mdb_assert_fail) and libuv's note on an unexpected control message. Assertions go to
  # edge_assert_fail (CSupport/CEdgeSupport/assert.c: the same message by write(2), then
  # abort()); the note is dropped (the message is still skipped, as before).
  if ! grep -q 'EDGE: assert' "$mdb"; then
    perl -0pi -e 's|\tchar buf\[400\];\n\tsprintf\(buf, "%\.100s:%d: Assertion \x27%\.200s\x27 failed in %\.40s\(\)",\n\t\tfile, line, expr_txt, func\);\n\tif \(env->me_assert_func\)\n\t\tenv->me_assert_func\(env, buf\);\n\tfprintf\(stderr, "%s\\n", buf\);\n\tabort\(\);|\tif (env->me_assert_func)\n\t\tenv->me_assert_func(env, expr_txt);\n\t{ extern void edge_assert_fail(const char *, const char *, int, const char *);\n\t  edge_assert_fail(expr_txt, file, line, func); } /* EDGE: assert */|' "$mdb"
    grep -q 'EDGE: assert' "$mdb" || { echo "musl-deps: cannot patch $mdb's mdb_assert_fail (LMDB changed?)" >&2; exit 1; }
  fi
  local stream=$src/libuv1/src/unix/stream.c
  if ! grep -q 'EDGE: not printed' "$stream"; then
    perl -0pi -e 's|fprintf\(stderr, "ignoring non-SCM_RIGHTS ancillary data: %d\\n",\s*cmsg->cmsg_type\);|/* EDGE: not printed */|' "$stream"
    grep -q 'EDGE: not printed' "$stream" || { echo "musl-deps: cannot patch $stream (libuv changed?)" >&2; exit 1; }
  fi
}

# One directory per target holds everything the Swift build needs besides the toolchain, so
# Package.swift takes one path (EDGE_MUSL): libc/ (musl's headers, crt*.o and libc.a, from
# musl-dev), include/ (the libraries' headers and the kernel's, which musl-dev does not carry) and
# lib/ (the libraries, and gcc's libgcc for the compiler helpers the C code calls).
link_toolchain() {
  local target=$1 multi gnu kernel
  case "$target" in
    x86_64)  multi=x86_64-linux-musl;   gnu=x86_64-linux-gnu;     kernel=/usr/include ;;
    aarch64) multi=aarch64-linux-musl;  gnu=aarch64-linux-gnu;    kernel=/usr/$gnu/include ;;
    armv7)   multi=arm-linux-musleabihf; gnu=arm-linux-gnueabihf; kernel=/usr/$gnu/include ;;
  esac
  local out=$root/$target
  mkdir -p "$out/libc"
  ln -sfn "/usr/include/$multi" "$out/libc/include"
  ln -sfn "/usr/lib/$multi" "$out/libc/lib"
  for d in linux asm-generic mtd; do ln -sfn "$kernel/$d" "$out/include/$d"; done
  if [ -d "$kernel/$gnu/asm" ]; then ln -sfn "$kernel/$gnu/asm" "$out/include/asm"; else ln -sfn "$kernel/asm" "$out/include/asm"; fi
  local libgcc; libgcc=$("$gnu-gcc" -print-libgcc-file-name)
  ln -sfn "$libgcc" "$out/lib/libgcc.a"
  ln -sfn "${libgcc%.a}_eh.a" "$out/lib/libgcc_eh.a"
  for f in "$out/libc/include/stdio.h" "$out/libc/lib/crt1.o" "$out/libc/lib/libc.a" "$out/include/linux/openat2.h" \
           "$out/include/asm/types.h" "$out/lib/libgcc.a" "$out/lib/libgcc_eh.a"; do
    [ -e "$f" ] || { echo "musl-deps: $target: missing $f (run Cross/setup.sh)" >&2; exit 1; }
  done
}

build() {
  local target=$1 cc host
  case "$target" in
    x86_64)  cc=musl-gcc;                host=x86_64-linux-musl ;;
    aarch64) cc=aarch64-linux-musl-gcc;  host=aarch64-linux-musl ;;
    armv7)   cc=arm-linux-musleabihf-gcc; host=arm-linux-musleabihf ;;
    *) echo "musl-deps: unknown target \"$target\"; targets are: x86_64, aarch64, armv7" >&2; exit 2 ;;
  esac
  command -v "$cc" >/dev/null || { echo "musl-deps: $cc not found: run Cross/setup.sh" >&2; exit 1; }
  local out=$root/$target b=$root/build/$target
  # Bump recipe when the build below changes.
  local recipe=6 stamp; stamp="recipe $recipe: $(cd "$src" && ls ./*.dsc | tr '\n' ' ')"
  if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ]; then
    echo "musl-deps: $target up to date ($out)" >&2; link_toolchain "$target"; return
  fi
  rm -rf "$out" "$b"
  mkdir -p "$out/lib" "$out/include" "$b"
  # Function sections: the agent links a fraction of each library, and the link drops the rest.
  # libuv at -Os: none of it is on the hot path. LMDB and libsodium at -O2: they are (every
  # check reads LMDB, a cold check hashes with SHA-256), and -Os made SHA-256 and LMDB reads
  # 6-11% slower on x86_64 for a few KB (Benchmarks/README.md, "Binary sizes").
  local common="-g0 -ffunction-sections -fdata-sections"
  [ "$target" = armv7 ] && common="$common -march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard"
  # Failed assertions go to edge_assert_at, not musl's __assert_fail (see fetch), with the file
  # and line only: the header below turns musl's assert(), which passes the expression's text
  # and the function's name as well, into edge_assert_at(__FILE__, __LINE__) as it is
  # preprocessed, so those strings are never compiled in (libuv's hundreds of assertions:
  # aarch64 -N bytes; Benchmarks/README.md, "Binary sizes"). File names are relative to the
  # Debian sources (-fmacro-prefix-map). LMDB's own mdb_assert keeps its message (fetch).
  printf '%s\n' '/* Cross/musl-deps.sh: a failed assert() names its file and line (CSupport/CEdgeSupport/assert.c). */' \
    '#define __assert_fail(expr, file, line, func) edge_assert_at(file, line)' >"$b/edge_assert.h"
  common="$common -include $b/edge_assert.h -fmacro-prefix-map=$src/="
  local cflags="-Os $common" hot_cflags="-O2 $common"

  echo "musl-deps: $target: libuv" >&2
  mkdir -p "$b/libuv" && (cd "$b/libuv" &&
    "$src/libuv1/configure" --host="$host" CC="$cc" CFLAGS="$cflags" --disable-shared --enable-static \
      --prefix="$out" >&2 && make -j2 >&2 && make install >&2)
  echo "musl-deps: $target: libsodium" >&2
  mkdir -p "$b/libsodium" && (cd "$b/libsodium" &&
    "$src/libsodium/configure" --host="$host" CC="$cc" CFLAGS="$hot_cflags" --disable-shared --enable-static \
      --disable-pie --prefix="$out" >&2 && make -j2 >&2 && make install >&2)
  echo "musl-deps: $target: lmdb" >&2
  local l=$src/lmdb/libraries/liblmdb
  mkdir -p "$b/lmdb"
  "$cc" $hot_cflags -pthread -c "$l/mdb.c" -o "$b/lmdb/mdb.o"
  "$cc" $hot_cflags -pthread -c "$l/midl.c" -o "$b/lmdb/midl.o"
  ar rcs "$out/lib/liblmdb.a" "$b/lmdb/mdb.o" "$b/lmdb/midl.o"
  cp "$l/lmdb.h" "$out/include/"
  rm -rf "$out/lib/pkgconfig" "$out/lib"/*.la "$out/share"
  echo "$stamp" >"$out/stamp"
  link_toolchain "$target"
  echo "musl-deps: $target: $(cd "$out/lib" && ls | tr '\n' ' ')in $out" >&2
}

fetch
for t in "$@"; do build "$t"; done
