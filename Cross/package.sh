#!/usr/bin/env bash
# Cross/package.sh TARGET [BINARY]: builds a Debian package of the static edgeagent for TARGET
# (x86_64, aarch64, armv7 -> amd64, arm64, armhf) with dpkg-deb alone (no debhelper):
# out/edgeagent_VERSION-1_ARCH.deb. BINARY defaults to out/edgeagent-TARGET (Cross/build.sh).
# It holds /usr/bin/edgeagent, the systemd unit (examples/edgeagent.service, its ExecStart moved
# to /usr/bin), /etc/edgeagent/config.json and policy.json as conffiles (Cross/deb/), the man
# pages edgeagent(1) and edgeagent.json(5) made by docs/man.py from docs/*.md, the bash
# completion, and copyright and changelog.Debian.gz in /usr/share/doc/edgeagent.
# VERSION is the binary's own (`edgeagent version`, run natively or under qemu-user; else
# Sources/EdgeAgent/Version.swift's), and Cross/deb/changelog must have an entry for VERSION-1.
# Reproducible: every mtime is SOURCE_DATE_EPOCH, by default the changelog entry's date, and
# dpkg-deb sorts the members and owns them by root. The last line of the output is the
# package's path, so `deb=$(Cross/package.sh x86_64 | tail -1)`.
set -euo pipefail
cd "$(dirname "$0")/.."

. Cross/deb/target.sh
usage() { echo "usage: Cross/package.sh TARGET [BINARY]    (TARGET: ${deb_targets// /, })" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
target=$1
deb_target Cross/package.sh "$target"
bin=${2:-out/edgeagent-$target}
die() { echo "Cross/package.sh: $*" >&2; exit 1; }
[ -f "$bin" ] || die "no binary $bin: build it first (Cross/build.sh $target)"
for tool in dpkg-deb gzip python3 md5sum; do command -v "$tool" >/dev/null || die "$tool not found"; done

# The version: the binary's own when it can run here, checked against the source's.
src_version=$(sed -n 's/^public let edgeagentVersion = "\(.*\)"$/\1/p' Sources/EdgeAgent/Version.swift)
[ -n "$src_version" ] || die "no edgeagentVersion in Sources/EdgeAgent/Version.swift"
if [ "${#run[@]}" = 0 ] || command -v "$qemu" >/dev/null; then
  version=$("${run[@]}" "$bin" version | sed -n '1s/^edgeagent //p') || die "$bin version failed"
  [ -n "$version" ] || die "$bin version printed no \"edgeagent VERSION\" line"
  [ "$version" = "$src_version" ] ||
    echo "Cross/package.sh: note: $bin says $version, Version.swift $src_version: packaging $version" >&2
else
  version=$src_version
  echo "Cross/package.sh: note: cannot run $bin here (no $qemu): version $version from Version.swift" >&2
fi
debversion=$version-1

# The changelog's first entry must be this version; its date is the package's timestamp.
changelog=Cross/deb/changelog
top=$(sed -n '1s/^edgeagent (\([^)]*\)).*/\1/p' "$changelog")
[ "$top" = "$debversion" ] ||
  die "$changelog's first entry is $top, not $debversion: add an entry for $debversion at its top"
trailer=$(grep -m1 '^ -- ' "$changelog")
maintainer=$(sed 's/^ -- \(.*>\)  .*/\1/' <<<"$trailer")
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(date -d "${trailer##*>  }" +%s) || die "cannot read the date of $changelog's first entry"
fi
export SOURCE_DATE_EPOCH

# The C libraries linked in, as Debian source packages (Policy 7.8, Static-Built-Using): those
# Cross/musl-deps.sh built (its stamp names their .dsc files) and musl.
built_using=()
if [ -f "out/musl/$target/stamp" ]; then
  for dsc in $(grep -o '[^ /]*\.dsc' "out/musl/$target/stamp"); do
    dsc=${dsc%.dsc}
    built_using+=("${dsc%%_*} (= ${dsc#*_})")
  done
fi
if musl=$(dpkg-query -W -f '${source:Package} (= ${source:Version})' "musl-dev:$arch" 2>/dev/null); then
  built_using+=("$musl")
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/edgeagent-package-$target.XXXXXX")
trap 'rm -rf "$T"' EXIT
root=$T/root
umask 022
install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/systemd/system" "$root/etc/edgeagent" \
  "$root/usr/share/man/man1" "$root/usr/share/man/man5" "$root/usr/share/bash-completion/completions" \
  "$root/usr/share/doc/edgeagent" "$root/usr/share/lintian/overrides"
install -m 0755 "$bin" "$root/usr/bin/edgeagent"
sed -e 's|/usr/local/bin/edgeagent|/usr/bin/edgeagent|' -e '/^Description=/a Documentation=man:edgeagent(1) man:edgeagent.json(5)' \
  examples/edgeagent.service >"$root/usr/lib/systemd/system/edgeagent.service"
grep -q '^ExecStart=/usr/bin/edgeagent ' "$root/usr/lib/systemd/system/edgeagent.service" ||
  die "examples/edgeagent.service: no ExecStart=/usr/local/bin/edgeagent to point at /usr/bin"
install -m 0644 Cross/deb/config.json Cross/deb/policy.json "$root/etc/edgeagent/"
python3 docs/man.py docs/edgeagent.1.md "$T/edgeagent.1"
python3 docs/man.py docs/edgeagent.json.5.md "$T/edgeagent.json.5"
gzip -9n <"$T/edgeagent.1" >"$root/usr/share/man/man1/edgeagent.1.gz"
gzip -9n <"$T/edgeagent.json.5" >"$root/usr/share/man/man5/edgeagent.json.5.gz"
install -m 0644 Cross/deb/edgeagent.bash-completion "$root/usr/share/bash-completion/completions/edgeagent"
install -m 0644 Cross/deb/copyright "$root/usr/share/doc/edgeagent/copyright"
gzip -9n <"$changelog" >"$root/usr/share/doc/edgeagent/changelog.Debian.gz"
# Each override there says why (lintian's tags that do not apply to a static binary).
if [ -f Cross/deb/lintian-overrides ]; then
  install -m 0644 Cross/deb/lintian-overrides "$root/usr/share/lintian/overrides/edgeagent"
else
  rmdir "$root/usr/share/lintian/overrides" "$root/usr/share/lintian"
fi
chmod 0644 "$root"/usr/share/man/man?/*.gz "$root/usr/share/doc/edgeagent/changelog.Debian.gz" \
  "$root/usr/lib/systemd/system/edgeagent.service"

printf '%s\n' /etc/edgeagent/config.json /etc/edgeagent/policy.json >"$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' |
  LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
# As dpkg-gencontrol counts it: KiB per file, rounded up, and 1 per directory.
installed_size=$(cd "$root" && find . -path ./DEBIAN -prune -o -printf '%y %s\n' |
  awk '$1 == "d" { n += 1; next } { n += int(($2 + 1023) / 1024) } END { print n }')
{
  echo "Package: edgeagent"
  echo "Version: $debversion"
  echo "Architecture: $arch"
  echo "Maintainer: $maintainer"
  echo "Installed-Size: $installed_size"
  if [ "${#built_using[@]}" -gt 0 ]; then
    (IFS=,; echo "Static-Built-Using: ${built_using[*]}" | sed 's/,/, /g')
  fi
  echo "Section: admin"
  echo "Priority: optional"
  cat <<'EOF'
Description: configuration agent and init for small Linux machines
 edgeagent converges a host to a policy of promises (files, directories,
 links, commands, services and sysctls) and reports each one kept, repaired
 or failed. As a daemon it repairs drift within milliseconds of an inotify
 event, supervises the policy's services with health checks, pulls
 Ed25519-signed policy bundles over HTTP and relays them to its peers, and
 keeps its last good state in LMDB. It can also be the init (PID 1) of a
 small virtual machine.
 .
 One static binary, linked with musl, libuv, LMDB and libsodium. The systemd
 unit is installed but neither enabled nor started.
EOF
} >"$root/DEBIAN/control"
chmod 0644 "$root"/DEBIAN/*

find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb=out/edgeagent_${debversion}_$arch.deb
mkdir -p out
rm -f "$deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
echo "$deb: $(stat -c %s "$deb") bytes, $(sha256sum "$deb" | cut -c1-16)..., SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
echo "$deb"
