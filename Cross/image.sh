#!/usr/bin/env bash
# Cross/image.sh TARGET: builds a fleet bootstrap image for an x86_64 or aarch64 VM, from Debian
# packages only, into out/boot/TARGET/:
#   vmlinuz             Debian's kernel for that architecture (linux-image-*, unpacked, not installed)
#   initramfs.cpio.gz   /init = the static edgeagent, /etc/edgeagent/config.json (the bootstrap
#                       config), busybox-static for the services, and the kernel modules the agent
#                       loads itself (virtio_pci, virtio_blk, ext4 and their dependencies)
#   state.img           a blank ext4 disk for the agent's LMDB state (the VM's persistent disk)
#   source.img          an ext4 disk holding a signed bundle of Cross/boot/policy.json: the agent's
#                       `file://` upstream (offline media), checked against the trusted key
#   source-update.img   the same disk's update: serial 2 of Cross/boot/update.json, naming this
#                       image's own agent binary as agent version 2.0-boot (the agent updates
#                       itself to it in place)
#   source-truncated.img  serial 3 of Cross/boot/update.json, naming the first 64 KiB of this
#                       binary as agent 2.5-truncated: its ELF header is whole, it fails its self-test
#   source-crash.img    serial 4 of Cross/boot/crash.json, naming Cross/boot/crashy.c built for
#                       the target as agent 3.0-crashy: it passes the self-test, then crashes as
#                       PID 1 (the rollback boots of Cross/boot-test.sh); a fixture, not the agent
#   keys/origin.{key,pub}  the bundle signing key made for this image; the .pub is baked into
#                       the bootstrap config's trusted_keys
#   cmdline             the kernel command line
# The downloaded .deb files are kept in out/boot/debs (out/ is not committed).
# EDGEAGENT_BIN=PATH uses that binary instead of running Cross/build.sh TARGET.
# Needs what Cross/setup.sh installs (apt-get, dpkg-deb, cpio, mke2fs); mknod for /dev/console
# needs root (without it, the agent opens the console itself once devtmpfs is mounted).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: Cross/image.sh TARGET    (TARGET: x86_64, aarch64)" >&2; exit 2; }
[ $# -eq 1 ] || usage
target=$1
case "$target" in
  x86_64)  deb_arch=amd64; console=ttyS0 ;;
  aarch64) deb_arch=arm64; console=ttyAMA0 ;;
  *) usage ;;
esac
for tool in apt-get dpkg-deb cpio gzip mke2fs; do
  command -v "$tool" >/dev/null || { echo "Cross/image.sh: missing $tool: run Cross/setup.sh" >&2; exit 1; }
done

boot=out/boot
debs=$boot/debs
# KERNEL=cloud: Debian's kernel flavour for virtual machines (linux-image-cloud-*), which has
# ext4 built in; the default is the generic one (linux-image-amd64 / linux-image-arm64).
flavour=${KERNEL:-generic}
case "$flavour" in
  generic) kmeta=linux-image-$deb_arch dir=$boot/$target ;;
  cloud)   kmeta=linux-image-cloud-$deb_arch dir=$boot/$target-cloud ;;
  *) echo "Cross/image.sh: KERNEL is generic or cloud, not \"$flavour\"" >&2; exit 2 ;;
esac
mkdir -p "$debs" "$dir"

# The kernel the meta package points at today, e.g. linux-image-6.1.0-50-amd64.
kpkg=$(apt-cache depends "$kmeta:$deb_arch" 2>/dev/null |
  sed -n "s/^ *Depends: \(linux-image-[0-9][^:]*\).*/\1/p" | head -1)
[ -n "$kpkg" ] || { echo "Cross/image.sh: no $kmeta in the apt lists (apt-get update?)" >&2; exit 1; }

# Downloads NAME:ARCH once into $debs; prints the .deb's path.
fetch() {
  local name=$1 found
  found=$(find "$debs" -maxdepth 1 -name "${name}_*_${deb_arch}.deb" | head -1)
  if [ -z "$found" ]; then
    echo "image $target: downloading $name:$deb_arch" >&2
    (cd "$debs" && apt-get download -q "$name:$deb_arch" >&2 2>/dev/null) ||
      (cd "$debs" && apt-get download "$name:$deb_arch" >&2)
    found=$(find "$debs" -maxdepth 1 -name "${name}_*_${deb_arch}.deb" | head -1)
  fi
  [ -n "$found" ] || { echo "Cross/image.sh: unable to download $name:$deb_arch" >&2; exit 1; }
  echo "$found"
}
kdeb=$(fetch "$kpkg")
bdeb=$(fetch busybox-static)

# Unpack both, once per .deb.
unpack() {
  local deb=$1 to=$2
  if [ ! -f "$to/.from" ] || [ "$(cat "$to/.from")" != "$(basename "$deb")" ]; then
    rm -rf "$to"; mkdir -p "$to"
    dpkg-deb -x "$deb" "$to"
    basename "$deb" > "$to/.from"
  fi
}
unpack "$kdeb" "$boot/pkg-$kpkg"
unpack "$bdeb" "$boot/pkg-busybox-$deb_arch"
kroot=$boot/pkg-$kpkg
kver=${kpkg#linux-image-}
moddir=$kroot/lib/modules/$kver
cp "$kroot/boot/vmlinuz-$kver" "$dir/vmlinuz"

bin=${EDGEAGENT_BIN:-}
[ -n "$bin" ] || bin=$(Cross/build.sh "$target" | tail -1)
[ -x "$bin" ] || { echo "Cross/image.sh: no edgeagent binary at $bin" >&2; exit 1; }

# Kernel modules: the ones the state and source disks need, after their dependencies (what
# modprobe would do; the package has no modules.dep, so read each .ko's `depends=`).
declare -A modpath=()
while read -r rel; do
  name=$(basename "$rel" .ko); modpath[${name//-/_}]=$moddir/$rel
done < "$moddir/modules.order"
loaded=()
declare -A seen=()
add_module() {
  local name=${1//-/_} path deps d
  [ -z "${seen[$name]:-}" ] || return 0
  seen[$name]=1
  if grep -qx "kernel/.*/$name.ko\|kernel/.*/${name//_/-}.ko" "$moddir/modules.builtin"; then return 0; fi
  path=${modpath[$name]:-}
  [ -n "$path" ] || { echo "Cross/image.sh: module $name is in neither modules.order nor modules.builtin" >&2; exit 1; }
  deps=$(tr '\0' '\n' < "$path" | sed -n 's/^depends=//p' | head -1)
  for d in ${deps//,/ }; do add_module "$d"; done
  loaded+=("$name")
}
# crc32c_generic: ext4's checksums ask the crypto API for crc32c, which would modprobe it.
for m in virtio_pci virtio_blk crc32c_generic ext4; do add_module "$m"; done

# The initramfs tree.
tree=$dir/initramfs
rm -rf "$tree"
mkdir -p "$tree"/{bin,dev,proc,sys,run,tmp,srv,etc/edgeagent,lib/modules,var/lib/edgeagent}
cp "$bin" "$tree/init"
chmod 0755 "$tree/init"
cp "$boot/pkg-busybox-$deb_arch/bin/busybox" "$tree/bin/busybox"
for applet in sh ash ip grep httpd pidof kill wget sleep poweroff echo cat ls ps mount test touch true false; do
  ln -s busybox "$tree/bin/$applet"
done
mods_json=""
for m in "${loaded[@]}"; do
  cp "${modpath[$m]}" "$tree/lib/modules/$m.ko"
  mods_json="$mods_json${mods_json:+, }\"/lib/modules/$m.ko\""
done
mknod -m 0600 "$tree/dev/console" c 5 1 2>/dev/null ||
  echo "image $target: note: cannot mknod /dev/console (not root); the agent opens it after mounting devtmpfs" >&2

# Runs the agent on this machine (keygen, publish): directly, or under qemu-user.
host_run() {
  if [ "$target" = "$(uname -m)" ]; then "$bin" "$@"; else "qemu-$target" "$bin" "$@"; fi
}

# The origin's signing key and the signed bundle (serial 1) on the source disk.
rm -rf "$dir/keys" "$dir/source"
mkdir -p "$dir/keys" "$dir/source"
host_run keygen --out "$dir/keys/origin" >&2
host_run publish Cross/boot/policy.json "$dir/source/bundle" --key "$dir/keys/origin.key" --expires 30d >&2
host_run verify "$dir/source/bundle" --pubkey "$dir/keys/origin.pub" >&2
pub=$(cat "$dir/keys/origin.pub")

# The update disks (Cross/boot-test.sh boots 3 to 6): this binary as agent 2.0-boot, then the
# crash fixture, built static against the target's musl, as 3.0-crashy.
rm -rf "$dir"/source-{update,truncated,crash} "$dir"/agents-{update,truncated,crash}
mkdir -p "$dir"/source-{update,truncated,crash} "$dir"/agents-{update,truncated,crash}
cp "$bin" "$dir/agents-update/edgeagent-$target"
host_run publish Cross/boot/update.json "$dir/source-update/bundle" --key "$dir/keys/origin.key" --expires 30d --serial 2 \
  --agent-dir "$dir/agents-update" --agent-version 2.0-boot >&2
head -c 65536 "$bin" > "$dir/agents-truncated/edgeagent-$target"
host_run publish Cross/boot/update.json "$dir/source-truncated/bundle" --key "$dir/keys/origin.key" --expires 30d --serial 3 \
  --agent-dir "$dir/agents-truncated" --agent-version 2.5-truncated >&2
# The same musl cross compilers Cross/musl-deps.sh builds the C libraries with (Cross/setup.sh).
case $target in x86_64) fixture_cc=musl-gcc ;; aarch64) fixture_cc=aarch64-linux-musl-gcc ;; esac
"$fixture_cc" -static -O1 -o "$dir/agents-crash/edgeagent-$target" Cross/boot/crashy.c
host_run publish Cross/boot/crash.json "$dir/source-crash/bundle" --key "$dir/keys/origin.key" --expires 30d --serial 4 \
  --agent-dir "$dir/agents-crash" --agent-version 3.0-crashy >&2
# The crash disk's marker: the update policy's chaos service never powers off beside it.
touch "$dir/source-crash/bundle/crash-test"

# The bootstrap config: /dev/vda is the state disk, /dev/vdb the bundle source (absent on a
# later boot: the agent then converges from the last accepted bundle in its state). virtio_blk
# adds its disks while it loads, so an absent bundle disk needs no wait ("wait": 0).
cat > "$tree/etc/edgeagent/config.json" <<EOF
{
  "comment": "Bootstrap config of the $target image (Cross/image.sh): drivers, disks, policy source.",
  "state_dir": "/var/lib/edgeagent",
  "upstreams": ["file:///srv/source/bundle"],
  "trusted_keys": ["$pub"],
  "labels": ["edge-vm", "boot-test"],
  "interval": "60s",
  "agent_trial": "2s",
  "modules": [$mods_json],
  "mounts": [
    {"device": "/dev/vda", "path": "/var/lib/edgeagent", "type": "ext4", "options": "noatime"},
    {"device": "/dev/vdb", "path": "/srv/source", "type": "ext4", "options": "ro", "wait": 0}
  ]
}
EOF

(cd "$tree" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) | gzip -9 > "$dir/initramfs.cpio.gz"

# Disks: a blank state disk, and the source disk with the bundle.
rm -f "$dir/state.img" "$dir/source.img" "$dir"/source-{update,truncated,crash}.img
# 4 KiB blocks (LMDB's page size; mke2fs would pick 1 KiB for so small a disk) and inode tables
# and journal initialised now, not by the kernel's ext4lazyinit thread during the first boot.
mke2fs -q -t ext4 -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 -L edgestate -F "$dir/state.img" 32M >/dev/null
mke2fs -q -t ext4 -L edgesource -d "$dir/source" -F "$dir/source.img" 8M >/dev/null
mke2fs -q -t ext4 -L edgesource -d "$dir/source-update" -F "$dir/source-update.img" 16M >/dev/null
mke2fs -q -t ext4 -L edgesource -d "$dir/source-truncated" -F "$dir/source-truncated.img" 8M >/dev/null
mke2fs -q -t ext4 -L edgesource -d "$dir/source-crash" -F "$dir/source-crash.img" 8M >/dev/null

echo "console=$console printk.time=1 panic=-1 rdinit=/init" > "$dir/cmdline"
echo "image $target: kernel $kver, modules: ${loaded[*]}" >&2
echo "image $target: initramfs $(stat -c %s "$dir/initramfs.cpio.gz") bytes, /init $(stat -c %s "$tree/init") bytes" >&2
echo "$dir"
