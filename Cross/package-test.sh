#!/usr/bin/env bash
# Cross/package-test.sh TARGET: packages an existing out/edgeagent-TARGET (Cross/package.sh; it
# builds nothing) and checks the .deb: built twice, byte for byte the same; its contents and
# their modes and owners; lintian --pedantic (no error and no warning; Cross/deb/lintian-overrides
# says why for each tag it overrides); installed with dpkg into a temporary root with its own
# database (never the host's): the status, the conffiles, the binary runs; both man pages render
# with no groff warning (`man --warnings -l`), and edgeagent.json(5)'s example policy is accepted
# (`apply --dry-run` in a sandbox); the bash completion completes commands and each
# command's options, with and without the bash-completion library; every option a command's
# --help lists is in edgeagent(1) and the completion; and the daemon starts with the
# packaged config and policy in a sandbox root, converges, sends READY=1 to a NOTIFY_SOCKET as
# under systemd, stops cleanly on SIGTERM, and `status` reads the state it left.
# The binary runs natively, or under qemu-user for a foreign TARGET.
# Prints one PASS/FAIL line per check, as Cross/smoke.sh does; exits 1 if any check failed.
set -uo pipefail
cd "$(dirname "$0")/.."

. Cross/deb/target.sh
[ $# -eq 1 ] || { echo "usage: Cross/package-test.sh TARGET    (TARGET: ${deb_targets// /, })" >&2; exit 2; }
target=$1
deb_target Cross/package-test.sh "$target"
for tool in dpkg dpkg-deb lintian man bash python3 "${run[@]}"; do
  command -v "$tool" >/dev/null ||
    { echo "Cross/package-test.sh: $tool not found: run Cross/setup.sh (installs lintian, man-db, bash-completion)" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/edgeagent-package-test-$target.XXXXXX")
daemon=""
cleanup() {
  [ -z "$daemon" ] || kill "$daemon" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

passed=0 failed=0
pass() { echo "PASS $target: package: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $target: package: $1"; failed=$((failed + 1)); }
# check WHAT COMMAND...: PASS or FAIL by the command, and its status again (so `|| show` can follow).
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; return 1; fi; }
show() { sed "s/^/    /" "$@"; }
finish() { echo "package-test $target: $passed passed, $failed failed"; [ "$failed" = 0 ]; exit; }

# Built twice: the same bytes (fixed mtimes, sorted members, root-owned, gzip -n).
if ! Cross/package.sh "$target" >"$T/package1.out" 2>"$T/package1.err" || ! deb=$(tail -1 "$T/package1.out") || [ ! -f "$deb" ]; then
  show "$T/package1.out" "$T/package1.err"
  fail "build (Cross/package.sh $target)"; finish
fi
pass "built $(sed -n 1p "$T/package1.out")"
sum1=$(sha256sum <"$deb")
sleep 1   # a clock-dependent mtime would now differ
if Cross/package.sh "$target" >"$T/package2.out" 2>"$T/package2.err" && [ "$(sha256sum <"$deb")" = "$sum1" ]; then
  pass "reproducible: a second build is byte for byte the same (sha256 ${sum1:0:16}...)"
else
  fail "a second build should be byte for byte the same"; show "$T/package2.out" "$T/package2.err"
fi
version=$(dpkg-deb -f "$deb" Version)

# Contents: each path, its mode and root ownership.
dpkg-deb -c "$deb" | awk '{ print $1, $2, $6 }' >"$T/contents"
want() { grep -qxF -- "$1 root/root ./$2" "$T/contents"; }
check "contents: /usr/bin/edgeagent 0755, unit, conffiles, man pages, completion, copyright, changelog; root-owned" eval '
  want -rwxr-xr-x usr/bin/edgeagent &&
  want -rw-r--r-- usr/lib/systemd/system/edgeagent.service &&
  want -rw-r--r-- etc/edgeagent/config.json && want -rw-r--r-- etc/edgeagent/policy.json &&
  want -rw-r--r-- usr/share/man/man1/edgeagent.1.gz && want -rw-r--r-- usr/share/man/man5/edgeagent.json.5.gz &&
  want -rw-r--r-- usr/share/bash-completion/completions/edgeagent &&
  want -rw-r--r-- usr/share/doc/edgeagent/copyright && want -rw-r--r-- usr/share/doc/edgeagent/changelog.Debian.gz &&
  ! grep -v " root/root " "$T/contents" | grep -q .' || show "$T/contents"
check "control: Package edgeagent, Version $version, Architecture $arch, Static-Built-Using names the C libraries" eval '
  [ "$(dpkg-deb -f "$deb" Package)" = edgeagent ] && [ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] &&
  dpkg-deb -f "$deb" Static-Built-Using | grep -q "libuv1 (= .*lmdb (= .*musl (= "' || dpkg-deb -f "$deb" | show /dev/stdin

# lintian: no error and no warning (informational tags are printed, not failed).
lintian --fail-on error,warning --display-info --pedantic "$deb" >"$T/lintian" 2>&1
lrc=$?
if [ "$lrc" = 0 ]; then
  pass "lintian: no errors or warnings ($(grep -c '^[IP]:' "$T/lintian") info/pedantic tags; overrides in /usr/share/lintian/overrides/edgeagent)"
else
  fail "lintian should report no errors or warnings (exit $lrc)"
fi
show "$T/lintian"

# Installed with dpkg into a temporary root that has its own dpkg database.
inst=$T/inst
mkdir -p "$inst/var/lib/dpkg/info" "$inst/var/lib/dpkg/updates" "$inst/var/log"
touch "$inst/var/lib/dpkg/status" "$inst/var/lib/dpkg/available"
dpkg_t() { dpkg --root="$inst" --admindir="$inst/var/lib/dpkg" --log="$T/dpkg.log" \
  --force-not-root --force-script-chrootless --path-include='/*' "$@"; }
# A foreign TARGET's architecture is added to that database only (dpkg --add-architecture).
[ "$arch" = "$(dpkg --print-architecture)" ] || dpkg_t --add-architecture "$arch"
if dpkg_t -i "$deb" >"$T/install.out" 2>&1 &&
   [ "$(dpkg-query --admindir="$inst/var/lib/dpkg" -W -f '${Status} ${Version}' edgeagent)" = "install ok installed $version" ]; then
  pass "dpkg -i into a temporary root: edgeagent $version install ok installed"
else
  fail "dpkg -i into $inst should install the package"; show "$T/install.out"
fi
conffiles=$(dpkg-query --admindir="$inst/var/lib/dpkg" -W -f '${Conffiles}' edgeagent)
check "conffiles registered: /etc/edgeagent/config.json, /etc/edgeagent/policy.json" eval '
  grep -q "^ /etc/edgeagent/config.json [0-9a-f]\{32\}$" <<<"$conffiles" &&
  grep -q "^ /etc/edgeagent/policy.json [0-9a-f]\{32\}$" <<<"$conffiles"' || echo "$conffiles" | show /dev/stdin
check "md5sums of the installed files match (dpkg --verify)" eval 'dpkg_t --verify edgeagent >"$T/verify" 2>&1 && ! grep -q . "$T/verify"' ||
  show "$T/verify"
if "${run[@]}" "$inst/usr/bin/edgeagent" version >"$T/version" 2>&1 && grep -qx "edgeagent ${version%-*}" "$T/version"; then
  pass "installed binary runs: $(head -1 "$T/version"), $(sed -n 2p "$T/version")"
else
  fail "$inst/usr/bin/edgeagent version should print edgeagent ${version%-*}"; show "$T/version"
fi
check "unit runs /usr/bin/edgeagent run --config /etc/edgeagent/config.json" \
  grep -qx 'ExecStart=/usr/bin/edgeagent run --config /etc/edgeagent/config.json' "$inst/usr/lib/systemd/system/edgeagent.service"

# Man pages: groff renders them with every warning on, and says none.
for page in man1/edgeagent.1.gz man5/edgeagent.json.5.gz; do
  MANWIDTH=80 man --warnings -l "$inst/usr/share/man/$page" >"$T/man.out" 2>"$T/man.err"
  mrc=$?
  if [ "$mrc" = 0 ] && ! grep -q . "$T/man.err" && [ "$(wc -l <"$T/man.out")" -gt 50 ]; then
    pass "man --warnings -l $page: $(wc -l <"$T/man.out") lines, no warnings"
  else
    fail "man --warnings -l $page should render with no warnings (exit $mrc)"; show "$T/man.err"
  fi
done
MANWIDTH=80 man -l "$inst/usr/share/man/man1/edgeagent.1.gz" 2>/dev/null >"$T/man1.txt"
names_commands() {
  local c
  for c in apply run status validate fleet facts keygen publish verify bench version; do
    grep -q "^   $c" "$T/man1.txt" || { echo "    no section for $c"; return 1; }
  done
}
check "edgeagent(1) has a section for every command" names_commands

# The example policy of edgeagent.json(5) (docs/edgeagent.json.5.md) is one the agent accepts.
awk '/^A policy:$/ { f = 1; next } f && /^```$/ { if (++n == 2) exit; next } f && n == 1' \
  docs/edgeagent.json.5.md >"$T/example.json"
mkdir "$T/example-root"
"${run[@]}" "$inst/usr/bin/edgeagent" apply "$T/example.json" --root "$T/example-root" --dry-run >"$T/example.out" 2>&1
erc=$?
if [ "$erc" = 0 ] && [ -s "$T/example.json" ] && grep -q '^policy gateway: .*failed=0' "$T/example.out"; then
  pass "edgeagent.json(5)'s example policy is accepted: $(tail -1 "$T/example.out")"
else
  fail "edgeagent.json(5)'s example policy should apply with --dry-run (exit $erc)"; show "$T/example.json" "$T/example.out"
fi

# Bash completion: sourced alone, then after the bash-completion library (its _init_completion).
# complete WORDS...: the replies for the last word, as bash would ask.
cat >"$T/complete.sh" <<'EOF'
[ -z "$LIB" ] || . "$LIB"
. "$COMPLETION"
complete -p edgeagent >/dev/null || exit 1
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_edgeagent edgeagent "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}" | sort | paste -sd ' '
EOF
completion=$inst/usr/share/bash-completion/completions/edgeagent
for lib in "" /usr/share/bash-completion/bash_completion; do
  how=${lib:+with the bash-completion library}; how=${how:-alone}
  c() { (cd "$T" && LIB=$lib COMPLETION=$completion bash "$T/complete.sh" "$@" 2>&1); }
  got_va=$(c edgeagent va) got_st=$(c edgeagent st) got_val=$(c edgeagent validate --) got_run=$(c edgeagent run --log-format '')
  if [ "$got_va" = validate ] && [ "$got_st" = status ] &&
     [ "$got_val" = "--help --json --key --team" ] && [ "$got_run" = "json logfmt" ]; then
    pass "bash completion ($how): 'va' -> '$got_va', 'validate --' -> '$got_val', 'run --log-format ' -> '$got_run'"
  else
    fail "bash completion ($how): 'va' gave '$got_va', 'st' '$got_st', 'validate --' '$got_val', 'run --log-format ' '$got_run'"
  fi
done

# Each command's options, as its own --help lists them, are in edgeagent(1) and in the
# completion (a command this binary does not have, e.g. before validate lands, is left out).
options_covered() {
  local cmd opt missing="" n=0
  for cmd in apply run status validate fleet facts keygen publish verify bench version; do
    "${run[@]}" "$inst/usr/bin/edgeagent" "$cmd" --help >"$T/help" 2>&1 || continue
    n=$((n + 1))
    local offered; offered=" $(LIB="" COMPLETION=$completion bash "$T/complete.sh" edgeagent "$cmd" --) "
    # The options the help lists, one a line: not an option of another command it mentions.
    for opt in $(grep -oE -- '^ +--[a-z][a-z-]*' "$T/help" | tr -d ' ' | sort -u); do
      grep -qF -- "$opt" "$T/man1.txt" || missing="$missing $cmd $opt (man page);"
      [[ $offered == *" $opt "* ]] || missing="$missing $cmd $opt (completion);"
    done
  done
  [ -z "$missing" ] || echo "    missing:$missing"
  echo "$n" >"$T/ncommands"
  [ -z "$missing" ] && [ "$n" -ge 8 ]
}
if options_covered; then
  pass "every option in the --help of $(cat "$T/ncommands") commands is in edgeagent(1) and the completion"
else
  fail "every option in each command's --help should be in edgeagent(1) and the completion"
fi

# The daemon with the packaged config and policy, in a sandbox root (the policy path is the
# package's copy, not the host's): converges, says READY=1 as systemd's Type=notify expects,
# stops on SIGTERM with exit 0; status reads the state it left under the sandbox.
sandbox=$T/sandbox
mkdir "$sandbox"
python3 - "$T/notify.sock" "$T/notify.log" >/dev/null 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "w") as log:
    try:
        while True:
            log.write(s.recv(4096).decode(errors="replace") + "\n"); log.flush()
    except socket.timeout:
        pass
PY
listener=$!
for _ in $(seq 50); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$T/notify.sock "${run[@]}" "$inst/usr/bin/edgeagent" run --config "$inst/etc/edgeagent/config.json" \
  --policy "$inst/etc/edgeagent/policy.json" --root "$sandbox" >"$T/daemon.out" 2>"$T/daemon.err" &
daemon=$!
for _ in $(seq 100); do grep -q 'READY=1' "$T/notify.log" 2>/dev/null && break; sleep 0.1; done
if grep -q 'msg=converged policy=local kept=0 repaired=1 failed=0' "$T/daemon.err" && grep -q 'READY=1' "$T/notify.log" &&
   [ -d "$sandbox/etc/edgeagent" ] && [ "$(stat -c %a "$sandbox/etc/edgeagent")" = 755 ]; then
  pass "daemon with the packaged config converges the sandbox and sends READY=1: $(grep -o 'msg=converged.*failed=0' "$T/daemon.err")"
else
  fail "daemon with the packaged config should converge (repaired=1 failed=0) and send READY=1"; show "$T/daemon.err"
fi
kill -TERM "$daemon" 2>/dev/null
wait "$daemon"
drc=$?
daemon=""
kill "$listener" 2>/dev/null; wait "$listener" 2>/dev/null
if [ "$drc" = 0 ] && grep -q 'STOPPING=1' "$T/notify.log"; then
  pass "daemon stops on SIGTERM: exit 0, STOPPING=1 sent"
else
  fail "daemon should exit 0 on SIGTERM and send STOPPING=1 (exit $drc)"; show "$T/daemon.err" "$T/notify.log"
fi
"${run[@]}" "$inst/usr/bin/edgeagent" status --root "$sandbox" >"$T/status.out" 2>&1
src=$?
if [ "$src" = 0 ] && grep -q 'policy local' "$T/status.out" && grep -Eq '^edgeagent-config +directory +repaired ' "$T/status.out"; then
  pass "status --root reads the daemon's state: policy local, edgeagent-config repaired"
else
  fail "status --root should show policy local and edgeagent-config repaired (exit $src)"; show "$T/status.out"
fi

finish
