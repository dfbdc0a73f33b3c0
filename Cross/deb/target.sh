# Sourced by Cross/package.sh and Cross/package-test.sh: `deb_target SCRIPT TARGET` sets arch
# (Debian's name), qemu (the qemu-user that runs it on another machine) and run (that command,
# or nothing when this machine is the target), or exits 2 naming SCRIPT.
deb_targets="x86_64 aarch64 armv7"
deb_target() {
  local native
  case "$2" in
    x86_64)  arch=amd64; qemu=qemu-x86_64;  native=x86_64 ;;
    aarch64) arch=arm64; qemu=qemu-aarch64; native=aarch64 ;;
    armv7)   arch=armhf; qemu=qemu-arm;     native=armv7l ;;
    *) echo "$1: unknown target \"$2\"; targets are: ${deb_targets// /, }" >&2; exit 2 ;;
  esac
  run=()
  [ "$(uname -m)" = "$native" ] || run=("$qemu")
}
