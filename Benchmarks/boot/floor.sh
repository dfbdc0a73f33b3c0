# Benchmarks/boot/floor.sh: sourced by run.sh and blocks.sh. floor_initramfs TARGET IMAGE DIR
# compiles floor.c for TARGET (static, with Cross/setup.sh's cross gcc) into DIR/floor and
# writes DIR/floor.cpio.gz: IMAGE's initramfs tree (a Cross/image.sh folder) with floor as /init.
floor_initramfs() {
  local target=$1 img=$2 dir=$3 cc
  case "$target" in x86_64) cc=x86_64-linux-gnu-gcc ;; aarch64) cc=aarch64-linux-gnu-gcc ;; *) return 1 ;; esac
  command -v "$cc" >/dev/null || { echo "floor: $cc not found: run Cross/setup.sh" >&2; return 1; }
  # Linked above busybox's addresses, so blocks.sh can tell where busybox's code starts.
  "$cc" -O2 -static -Wall -Wl,-Ttext-segment=0x10000000 -o "$dir/floor" Benchmarks/boot/floor.c || return 1
  rm -rf "$dir/tree"
  cp -a "$img/initramfs" "$dir/tree"
  cp "$dir/floor" "$dir/tree/init"
  (cd "$dir/tree" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$dir/floor.cpio.gz"
}
