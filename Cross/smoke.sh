#!/usr/bin/env bash
# Cross/smoke.sh TARGET: builds out/edgeagent-TARGET (through Cross/build.sh, which rebuilds only
# what changed) and puts it through real work, under qemu-user when TARGET is foreign:
# version, apply of examples/gateway.json to a temporary root, the files it must have written,
# a second apply that must keep everything and write nothing, status and status --json, and a
# policy with a duplicate id that must be rejected (exit 2) without touching root or state;
# also `bench --quick`'s allocation and syscall counts against the saved baseline, and, for aarch64, the
# size budget (at most 1,420,000 bytes, stripped); for x86_64, the Debian package (Cross/package-test.sh).
# Prints one PASS/FAIL line per check; exits 1 if any check failed.
set -uo pipefail
cd "$(dirname "$0")/.."

targets="x86_64 aarch64 armv7"
[ $# -eq 1 ] || { echo "usage: Cross/smoke.sh TARGET    (TARGET: ${targets// /, })" >&2; exit 2; }
target=$1
case "$target" in
  x86_64)  qemu=qemu-x86_64;  native=x86_64;  libc=x86_64-linux-musl ;;
  aarch64) qemu=qemu-aarch64; native=aarch64; libc=aarch64-linux-musl ;;
  armv7)   qemu=qemu-arm;     native=armv7l;  libc=armv7-linux-musleabihf ;;
  *) echo "Cross/smoke.sh: unknown target \"$target\"; targets are: $targets" >&2; exit 2 ;;
esac

# Run natively on a matching host, else under qemu-user.
run=()
if [ "$(uname -m)" != "$native" ]; then
  command -v "$qemu" >/dev/null ||
    { echo "Cross/smoke.sh: $qemu not found: run Cross/setup.sh (installs qemu-user)" >&2; exit 1; }
  run=("$qemu")
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/edgeagent-smoke-$target.XXXXXX")
trap 'rm -rf "$T"' EXIT

# build.sh's stdout: its checks, the stripped size, then the binary's path.
if ! Cross/build.sh "$target" >"$T/build.out" || ! bin=$(tail -1 "$T/build.out") || [ ! -x "$bin" ]; then
  sed 's/^/    /' "$T/build.out"
  echo "FAIL $target: build (Cross/build.sh $target)"; echo "smoke $target: 0 passed, 1 failed"; exit 1
fi
bin="$PWD/$bin"
root="$T/root"
state="$T/state-$target"   # LMDB files are not portable between 32- and 64-bit builds
mkdir "$root"

passed=0 failed=0
pass() { echo "PASS $target: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $target: $1"; failed=$((failed + 1)); }
# build.sh refuses a binary that fails its checks: its lines for those (static and the right
# architecture; hard-float on armv7) are passes, the rest (the size) is information only.
while read -r line; do
  case "$line" in
    *": statically linked, "*|*": hard-float "*) pass "build: $line" ;;
    *) echo "     $target: build: $line" ;;
  esac
done < <(sed '$d' "$T/build.out")
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
# ea NAME ARGS...: runs the agent, keeping stdout, stderr and the exit code in $T/NAME.{out,err,rc}.
ea() {
  local name=$1; shift
  "${run[@]}" "$bin" "$@" >"$T/$name.out" 2>"$T/$name.err"
  echo $? >"$T/$name.rc"
}
rc() { cat "$T/$1.rc"; }
has() { grep -qF -- "$2" "$T/$1"; }
show() { sed "s/^/    $1: /" "$T/$1.out" "$T/$1.err"; }   # the agent's own output, on failure

# version: the right architecture, Embedded, static.
ea version version
if [ "$(rc version)" = 0 ] && has version.out "target $libc (embedded, static)"; then
  pass "version says $(grep '^target' "$T/version.out")"
else
  fail "version should say \"target $libc (embedded, static)\""; show version
fi

# The size budget. Issue 13's goal was 1,000,000 bytes (the foundation's budget was 1.5 MB), held
# until issue 16 (host reports, the collector, its page) added 52 KB net of its own trims; the
# levers found paid 22.5 KB of it, and the budget became 1 MiB. Issue 15's promise library (five
# types: templates with Mustache and the facts, line edits with a regex engine, users and groups,
# packages) took it from 1,047,136 to 1,212,432 bytes after its own levers, and the budget was
# 1,250,000 bytes. Issue 18's self-update (staging, the self-test, the exec handoff and adoption,
# trial, commit and rollback, their status, metrics and report lines, publish --agent-dir) took it
# from 1,211,600 to 1,283,200 after its levers (one log helper, no sort, dictionary or integer
# parsing of its own), 1,287,248 with its fixes, and the budget was 1,300,000 bytes. Issue 17's
# delegation (scopes, the composed plan, per-team acceptance, the puller's and the relay's team
# bundles, status and metrics per team, publish --team and --delegations) took it from 1,287,840
# to 1,389,752 after its levers (one composition serves acceptance, the puller's teams in one
# list instead of four dictionaries, team serials read in place): the budget was 1,400,000 bytes.
# Issue 14's fourth pass (a large policy staged in a second `desired` and put in force by one
# commit, the stat cache's entries stored a range of keys a transaction, stale outcomes found
# through an IndexTable) took it from 1,399,904 to 1,409,440: the budget was 1,410,000 bytes.
# Its sixth pass (100,000 promises from nothing in 32 MiB: the policy's text let go as it is read,
# a large policy into an empty state staged and converged from the stage a window at a time)
# took it from 1,405,984 to 1,416,432: the budget is 1,420,000 bytes.
# Benchmarks/README.md, "Binary sizes", has what each lever took off and what each type costs.
if [ "$target" = aarch64 ]; then
  size=$(stat -c %s "$bin")
  check "stripped size $size bytes is at most 1,420,000" test "$size" -le 1420000
fi

# The hot paths' allocation and syscall counts, counted by the static binary's own malloc wrappers
# (CSupport/CEdgeSupport/alloccount.c) over this target's C library and by its syscall seam
# (syscallcount.c), compared exactly with this
# build's own baseline (`bench --build-name`: arch, libc, linkage), and the counter must count
# (the policy decoder allocates). Timings under qemu-user say nothing: counts only. Make each
# baseline the way this script runs the target (x86_64 natively on an x86_64 host, the others
# under qemu-user): qemu-user 7.2 answers openat2 with ENOSYS, and the O_NOFOLLOW walk that takes
# its place allocates 4 more per apply (apply-kept-200: 539 native, 567 under qemu-x86_64).
baseline=Benchmarks/baselines/$("${run[@]}" "$bin" bench --build-name)-quick.json
if [ ! -f "$baseline" ]; then
  echo "SKIP $target: bench count gate: no $baseline (make it: ${run[*]} $bin bench --quick --json >$baseline)"
  [ -z "${EDGE_SKIP_LOG:-}" ] || echo "smoke $target: bench count gate: no $baseline" >>"$EDGE_SKIP_LOG"
else
  # The binary's own gate (`--counts-only --baseline`, what an operator runs) must pass, and the
  # counts are compared once more here from its `--json`, with a check that the counter counts.
  # The gate once segfaulted on aarch64 in String == (CSupport/CEdgeSupport/bridgeobject.c).
  ea bench bench --quick --json --counts-only --baseline "$baseline"
  if [ "$(rc bench)" = 0 ] && python3 - "$T/bench.out" "$baseline" >"$T/bench.cmp" 2>&1 <<'PY'
import json, sys
run, base = (json.load(open(p)) for p in sys.argv[1:3])
if run.get("build") != base.get("build") or run.get("workload") != base.get("workload"):
    sys.exit("baseline is of %s/%s, this run %s/%s" % (base.get("build"), base.get("workload"), run.get("build"), run.get("workload")))
bad = []
for key in ("allocations", "syscalls", "failed_syscalls"):
    want = {r["name"]: r.get(key) for r in base["results"]}
    got = {r["name"]: r.get(key) for r in run["results"]}
    bad += ["%s: %s %s, baseline %s" % (n, got.get(n), key, want.get(n)) for n in sorted(set(want) | set(got)) if got.get(n) != want.get(n)]
got = {r["name"]: r for r in run["results"]}
if got.get("policy-decode-1000", {}).get("allocations", 0) == 0:
    bad.append("the allocation counter counted nothing (policy-decode-1000 allocates)")
if got.get("kept-file-check", {}).get("syscalls", 0) == 0:
    bad.append("the syscall counter counted nothing (kept-file-check makes an lstat a file)")
print("\n".join(bad) or " ".join("%s=%s/%s" % (n, got[n]["allocations"], got[n]["syscalls"]) for n in ("kept-file-check", "policy-decode-1000")))
sys.exit(1 if bad else 0)
PY
  then
    pass "bench --quick allocates and calls the kernel exactly as $baseline (allocations/syscalls): $(cat "$T/bench.cmp")"
  else
    fail "bench --quick should allocate and call the kernel exactly as $baseline (exit $(rc bench))"; show bench; sed 's/^/    cmp: /' "$T/bench.cmp"
  fi
fi

# First apply: converges the empty root.
ea apply1 apply examples/gateway.json --root "$root" --state "$state"
if [ "$(rc apply1)" = 0 ] && has apply1.out "repaired app-conf" && has apply1.out "failed=0"; then
  pass "apply repairs the empty root: $(tail -1 "$T/apply1.out")"
else
  fail "apply should exit 0 and repair app-conf (exit $(rc apply1))"; show apply1
fi

# What it must have written (paths and contents from examples/gateway.json).
content_is() { [ -f "$root$1" ] && [ "$(cat "$root$1"; echo .)" = "$(printf "$2"; echo .)" ]; }
mode_is() { [ "$(stat -c %a "$root$1" 2>/dev/null)" = "$2" ]; }
check "/opt/app is a directory, mode 0755" eval '[ -d "$root/opt/app" ] && mode_is /opt/app 755'
check "/opt/app/app.conf content" content_is /opt/app/app.conf 'port=8080\nlog=/var/log/app.log\n'
check "/opt/app/app.conf mode 0640" mode_is /opt/app/app.conf 640
check "/opt/app/env content and mode 0600" eval 'content_is /opt/app/env "ROLE=gateway\n" && mode_is /opt/app/env 600'
check "/etc/motd content" content_is /etc/motd 'managed by edgeagent\n'
check "/opt/app/current is a link to /opt/app" eval '[ -L "$root/opt/app/current" ] && [ "$(readlink "$root/opt/app/current")" = /opt/app ]'
check "absent and skipped promises wrote nothing" eval '[ ! -e "$root/opt/app/legacy.conf" ] && [ ! -e "$root/etc/router.flag" ]'

# Second apply: everything kept, no managed file rewritten (inode, mtime and ctime unchanged).
snapshot() { (cd "$root" && find . -printf '%p %y %i %T@ %C@ %m %s %l\n' | sort); }
snapshot >"$T/before"
ea apply2 apply examples/gateway.json --root "$root" --state "$state"
if [ "$(rc apply2)" = 0 ] && ! grep -q '^repaired' "$T/apply2.out" && has apply2.out "kept=6 repaired=0 failed=0"; then
  pass "second apply keeps every promise: $(tail -1 "$T/apply2.out")"
else
  fail "second apply should keep all 6 promises and repair none (exit $(rc apply2))"; show apply2
fi
snapshot >"$T/after"
if cmp -s "$T/before" "$T/after"; then
  pass "second apply wrote no file (inodes, mtimes, ctimes unchanged)"
else
  fail "second apply changed the root:"; diff "$T/before" "$T/after" | sed 's/^/    /'
fi

# status reads the state back.
ea status status --state "$state"
if [ "$(rc status)" = 0 ] && has status.out "policy gateway" &&
   grep -Eq '^app-conf +file +kept ' "$T/status.out"; then
  pass "status shows policy gateway, app-conf kept"
else
  fail "status should show policy gateway and app-conf kept (exit $(rc status))"; show status
fi
ea json status --json --state "$state"
appconf=$(grep -o '{"id":"app-conf"[^}]*}' "$T/json.out")
if [ "$(rc json)" = 0 ] && has json.out '"policy":"gateway"' &&
   has json.out '"summary":{"kept":6,"repaired":0,"failed":0,"skipped":1,"unknown":0}' &&
   [[ "$appconf" == *'"status":"kept"'* ]] && [[ "$appconf" == *'"repairs":1'* ]]; then
  pass "status --json: app-conf \"status\":\"kept\", summary kept=6 failed=0"
else
  fail "status --json should report app-conf kept and the summary (exit $(rc json))"; show json
fi

# Bad input: a duplicate id is rejected with its position, exit 2, root and state untouched.
cat >"$T/dup.json" <<'EOF'
{
  "policy": "dup",
  "promises": [
    {"id": "a", "type": "file", "path": "/opt/app/app.conf", "content": "x\n"},
    {"id": "a", "type": "file", "path": "/etc/motd", "content": "y\n"}
  ]
}
EOF
# The state's data must not change; lock.mdb holds only LMDB's reader table, which opening the
# environment may rewrite.
data_sum() { find "$state" -name data.mdb -printf '%p %T@ %s ' -exec cksum {} \; ; }
snapshot >"$T/before"
state_before=$(data_sum)
ea dup apply "$T/dup.json" --root "$root" --state "$state"
if [ "$(rc dup)" = 2 ] && grep -q "$T/dup.json:5:[0-9][0-9]*: .*duplicate id" "$T/dup.err"; then
  pass "duplicate id rejected, exit 2: $(grep -o 'dup.json:5:.*' "$T/dup.err")"
else
  fail "duplicate id should exit 2 and name dup.json:5:COLUMN (exit $(rc dup))"; show dup
fi
snapshot >"$T/after"
check "rejected policy touched neither root nor state" eval \
  'cmp -s "$T/before" "$T/after" && [ -n "$state_before" ] && [ "$state_before" = "$(data_sum)" ]'

# validate, as CI runs it before a rollout: the example is valid (exit 0, its promise count), the
# duplicate is not (exit 1, every error at FILE:LINE:COLUMN); neither touches the root.
ea valid validate examples/gateway.json
ea invalid validate "$T/dup.json"
if [ "$(rc valid)" = 0 ] && has valid.out "policy gateway: 7 promises, valid" &&
   [ "$(rc invalid)" = 1 ] && grep -q "$T/dup.json:5:[0-9][0-9]*: .*duplicate id" "$T/invalid.err"; then
  pass "validate: gateway.json valid (exit 0), dup.json invalid (exit 1): $(grep -o 'dup.json:5:.*' "$T/invalid.err")"
else
  fail "validate should pass gateway.json (exit $(rc valid)) and fail dup.json at line 5 (exit $(rc invalid))"; show valid; show invalid
fi
snapshot >"$T/after-validate"
check "validate touched nothing" cmp -s "$T/after" "$T/after-validate"

# The promise library in the static binary: a template rendered with vars, a class override and
# the root's facts (its os-release); a line edit that keeps the rest of the file; a user and a
# group in the root's passwd and group; packages read from dpkg's database; `facts`.
lroot=$T/lroot lstate=$T/lstate
mkdir -p "$lroot/etc/ssh"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n' >"$lroot/etc/os-release"
printf '# by hand\nPort 22\nPasswordAuthentication yes\n' >"$lroot/etc/ssh/sshd_config"
printf 'root:x:0:0:root:/root:/bin/sh\n+@nis::::::\n' >"$lroot/etc/passwd"
printf 'root:x:0:\n' >"$lroot/etc/group"
mkdir -p "$lroot/var/lib/dpkg"
printf 'Package: busybox\nStatus: install ok installed\nVersion: 1:1.35.0-4\n\n' >"$lroot/var/lib/dpkg/status"
cat >"$T/library.json" <<'EOF'
{"policy": "library", "vars": {"port": "8080", "peers": [{"a": "10.0.0.1"}, {"a": "10.0.0.2"}]},
 "class_vars": [{"if": "debian_12", "vars": {"port": "80"}}],
 "promises": [
  {"id": "conf", "type": "template", "path": "/etc/app.conf", "mode": "0640",
   "template": "# {{os_name}}\nlisten {{port}}\n{{#peers}}\npeer {{a}}\n{{/peers}}\n"},
  {"id": "pw", "type": "line", "path": "/etc/ssh/sshd_config", "key": "PasswordAuthentication", "value": "no", "separator": " "},
  {"id": "app", "type": "user", "name": "app", "uid": 1500, "groups": ["dialout"], "home": "/srv/app"},
  {"id": "dialout", "type": "group", "name": "dialout", "gid": 20},
  {"id": "busybox", "type": "package", "name": "busybox", "state": "1:1.35.0-4"},
  {"id": "no-telnet", "type": "package", "name": "telnetd", "state": "absent"}
 ]}
EOF
ea lib1 apply "$T/library.json" --root "$lroot" --state "$lstate"
lcontent_is() { [ -f "$lroot$1" ] && [ "$(cat "$lroot$1"; echo .)" = "$(printf "$2"; echo .)" ]; }
if [ "$(rc lib1)" = 0 ] && has lib1.out "repaired conf" && has lib1.out "repaired pw" &&
   lcontent_is /etc/app.conf '# Debian GNU/Linux 12 (bookworm)\nlisten 80\npeer 10.0.0.1\npeer 10.0.0.2\n' &&
   lcontent_is /etc/ssh/sshd_config '# by hand\nPort 22\nPasswordAuthentication no\n' &&
   lcontent_is /etc/passwd 'root:x:0:0:root:/root:/bin/sh\n+@nis::::::\napp:x:1500:1500::/srv/app:/bin/sh\n' &&
   lcontent_is /etc/group 'root:x:0:\ndialout:x:20:app\napp:x:1500:\n' && [ "$(stat -c %u:%a "$lroot/srv/app")" = 1500:750 ] &&
   has lib1.out "kept busybox" && has lib1.out "kept no-telnet"; then
  pass "template rendered with vars, class_vars and facts; line edit kept the rest of sshd_config; user, group and home made; packages kept from dpkg's database"
else
  fail "apply of library.json should render /etc/app.conf and edit sshd_config (exit $(rc lib1))"; show lib1
  cat "$lroot/etc/app.conf" "$lroot/etc/ssh/sshd_config" "$lroot/etc/passwd" "$lroot/etc/group" 2>&1 | sed 's/^/    /'
fi
ea lib2 apply "$T/library.json" --root "$lroot" --state "$lstate"
check "the library's promises kept on the next run" has lib2.out "kept=6 repaired=0 failed=0"
ea facts facts --root "$lroot" --json --label role_gateway
if [ "$(rc facts)" = 0 ] && has facts.out '"os_id":"debian"' && has facts.out '"debian_12"' && has facts.out '"role_gateway"' &&
   has facts.out '"127.0.0.1"'; then
  pass "facts --json: os_id debian, classes debian_12 and role_gateway, loopback 127.0.0.1"
else
  fail "facts --json should show the root's distribution, its classes and the addresses (exit $(rc facts))"; show facts
fi

# Metrics on a plain agent (no relay): the daemon on a local policy with --metrics on a free
# port; /healthz says 200 once it converged, /metrics has the build and the last run.
"${run[@]}" "$bin" run --policy examples/gateway.json --root "$root" --state "$state" --interval 1h \
  --metrics 127.0.0.1:0 >"$T/daemon.out" 2>"$T/daemon.err" &
daemon=$!
if python3 - "$T/daemon.err" "$T/metrics.txt" <<'PY'
import re, sys, time, urllib.request
err, out = sys.argv[1:3]
deadline = time.time() + 60
port = None
while time.time() < deadline:
    text = open(err).read()
    m = re.search(r'msg="metrics listening" address=127\.0\.0\.1:(\d+)', text)
    if m and "msg=converged" in text:
        port = m.group(1)
        break
    time.sleep(0.2)
if not port:
    sys.exit("no 'metrics listening' and 'converged' lines in 60 s")
health = urllib.request.urlopen("http://127.0.0.1:%s/healthz" % port, timeout=10)
metrics = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=10).read().decode()
open(out, "w").write(metrics)
body = health.read().decode().strip()
need = ["edgeagent_build_info{", "edgeagent_last_run_timestamp_seconds ", 'edgeagent_promises{status="kept"} 6']
missing = [n for n in need if n not in metrics]
if health.status != 200 or missing:
    sys.exit("healthz %s %r; missing from /metrics: %s" % (health.status, body, missing))
print("healthz 200 %r" % body)
PY
then
  pass "metrics: /healthz 200 and /metrics has edgeagent_build_info, the last run's time, promises kept 6"
else
  fail "metrics: /healthz and /metrics of a plain agent"; sed 's/^/    daemon: /' "$T/daemon.err" | tail -5
fi
kill -TERM "$daemon" 2>/dev/null
wait "$daemon"
check "daemon stops on SIGTERM with exit 0" test "$?" = 0

# Reports (issue 16): a collector on a free port, and an agent on a local policy that names it;
# the agent's signed report reaches it, and `fleet --url` shows the host converged.
mkdir -p "$T/croot" "$T/aroot"
"${run[@]}" "$bin" run --root "$T/croot" --state "$T/cstate" --collect 127.0.0.1:0 --host-id collector \
  >"$T/collector.out" 2>"$T/collector.err" &
collector=$!
cport=$(python3 - "$T/collector.err" <<'PY'
import re, sys, time
deadline = time.time() + 60
while time.time() < deadline:
    m = re.search(r'msg="collecting reports" address=127\.0\.0\.1:(\d+)', open(sys.argv[1]).read())
    if m:
        print(m.group(1)); break
    time.sleep(0.2)
PY
)
if [ -n "$cport" ]; then
  echo "{\"collectors\": [\"http://127.0.0.1:$cport\"], \"report_interval\": \"5s\"}" >"$T/reporter.json"
  "${run[@]}" "$bin" run --config "$T/reporter.json" --policy examples/gateway.json --root "$T/aroot" --state "$T/astate" \
    --interval 1h --host-id smoke-host >"$T/reporter.out" 2>"$T/reporter.err" &
  reporter=$!
  # Until the host is there (an empty fleet is all converged too: exit 0 says nothing here).
  for _ in $(seq 1 150); do
    "${run[@]}" "$bin" fleet --url "http://127.0.0.1:$cport" >"$T/fleet.out" 2>"$T/fleet.err"
    grep -q "^fleet: 1 hosts" "$T/fleet.out" && break
    sleep 0.2
  done
  if grep -q "fleet: 1 hosts, newest serial 0: 1 converged, 0 failed, 0 stale" "$T/fleet.out"; then
    pass "reports: the agent's signed report reached the collector; fleet --url: $(head -1 "$T/fleet.out")"
  else
    fail "reports: fleet --url should show the agent converged"; show fleet; sed 's/^/    reporter: /' "$T/reporter.err" | tail -5
  fi
  kill -TERM "$reporter" 2>/dev/null; wait "$reporter" 2>/dev/null
else
  fail "reports: the collector did not say where it listens"; sed 's/^/    collector: /' "$T/collector.err" | tail -5
fi
kill -TERM "$collector" 2>/dev/null; wait "$collector" 2>/dev/null

# Self-update (issue 18): the binary passes its own self-test for its target and refuses another.
ea selftest self-test --state "$state" --target "$target"
check "self-test passes for $target against the state" test "$(rc selftest)" = 0
other=x86_64; [ "$target" = x86_64 ] && other=aarch64
ea selftest2 self-test --state "$state" --target "$other"
if [ "$(rc selftest2)" = 1 ] && has selftest2.err "built for $target, offered for $other"; then
  pass "self-test refuses a binary offered for $other"
else
  fail "self-test for $other should fail naming both targets (exit $(rc selftest2))"; show selftest2
fi
# Delegation (issue 17): a baseline signed by the root key delegates /opt/payments to a team,
# whose own bundle (its key, `publish --team`) the daemon takes from the same file:// origin and
# converges with the baseline as one plan; a second team serial outside the scope is refused and
# the team's first stays in force.
d=$T/teams
mkdir -p "$d/root"
ea tkeyroot keygen --out "$d/root-k"
ea tkeypay keygen --out "$d/pay"
echo '{"policy": "platform", "promises": [{"id": "motd", "type": "file", "path": "/etc/motd", "content": "platform\n"}]}' > "$d/base.json"
echo "[{\"team\": \"payments\", \"keys\": [\"$(cat "$d/pay.pub" 2>/dev/null)\"], \"scope\": {\"paths\": [\"/opt/payments\"]}}]" > "$d/delegations.json"
team_policy() {   # content path
  echo "{\"policy\": \"payments\", \"promises\": [{\"id\": \"conf\", \"type\": \"file\", \"path\": \"$2\", \"content\": \"$1\\n\", \"after\": [\"baseline/motd\"]}]}" > "$d/pay.json"
}
team_policy "port=9000" /opt/payments/app.conf
ea tpubbase publish "$d/base.json" "$d/origin" --key "$d/root-k.key" --delegations "$d/delegations.json"
ea tpubpay publish "$d/pay.json" "$d/origin" --key "$d/pay.key" --team payments
echo "{\"root\": \"$d/root\", \"state_dir\": \"$d/state\", \"upstreams\": [\"file://$d/origin\"], \"trusted_keys\": [\"$d/root-k.pub\"], \"interval\": \"1h\", \"pull_interval\": \"1s\"}" > "$d/config.json"
"${run[@]}" "$bin" run --config "$d/config.json" >"$T/teamd.out" 2>"$T/teamd.err" &
teamd=$!
for _ in $(seq 1 300); do [ "$(cat "$d/root/opt/payments/app.conf" 2>/dev/null)" = "port=9000" ] && break; sleep 0.1; done
team_policy "pwned" /etc/shadow
ea tpubpay2 publish "$d/pay.json" "$d/origin" --key "$d/pay.key" --team payments
for _ in $(seq 1 300); do grep -q "team bundle rejected" "$T/teamd.err" && break; sleep 0.1; done
sleep 0.5
ea tstatus status --state "$d/state"
if [ "$(rc tpubbase)" = 0 ] && [ "$(rc tpubpay)" = 0 ] && [ "$(cat "$d/root/opt/payments/app.conf" 2>/dev/null)" = "port=9000" ] &&
   [ "$(cat "$d/root/etc/motd" 2>/dev/null)" = "platform" ] && [ ! -e "$d/root/etc/shadow" ] &&
   grep -q 'path \\"/etc/shadow\\" is outside the team' "$T/teamd.err" && has tstatus.out "team payments: serial 1, kept" &&
   has tstatus.out "payments/conf"; then
  pass "delegation: the baseline and team payments' own bundle converge as one plan; its out-of-scope serial 2 is refused, serial 1 stays ($(grep -o 'team payments: serial 1, [a-z]* [0-9]*, [a-z]* [0-9]*, [a-z]* [0-9]*' "$T/tstatus.out"))"
else
  fail "delegation: team payments' bundle should be converged and its out-of-scope serial refused"; sed 's/^/    teamd: /' "$T/teamd.err" | tail -15; show tstatus
fi
kill -TERM "$teamd" 2>/dev/null; wait "$teamd" 2>/dev/null

# On a native host the daemon updates itself in place: a bundle names this binary as 2.0-smoke,
# the agent stages it, self-tests it, execs it with its service handed over (same pid, never
# restarted) and commits it after its trial window. Under qemu-user an exec of the staged foreign
# binary needs binfmt_misc; Cross/boot-test.sh updates the aarch64 agent in a VM instead.
if [ ${#run[@]} -eq 0 ]; then
  u=$T/update
  mkdir -p "$u/root" "$u/agents"
  cp "$bin" "$u/agents/edgeagent-$target"
  cat > "$u/policy.json" <<'EOP'
{"policy": "update-smoke", "promises": [
  {"id": "ticker", "type": "service", "exec": ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done"]}
]}
EOP
  ea ukeygen keygen --out "$u/k"
  ea upublish publish "$u/policy.json" "$u/origin" --key "$u/k.key" --agent-dir "$u/agents" --agent-version 2.0-smoke
  echo "{\"root\": \"$u/root\", \"state_dir\": \"$u/state\", \"upstreams\": [\"file://$u/origin\"], \"trusted_keys\": [\"$u/k.pub\"], \"agent_trial\": \"1s\", \"interval\": \"1h\"}" > "$u/config.json"
  "$bin" run --config "$u/config.json" >"$T/update.out" 2>"$T/update.err" &
  updater=$!
  for _ in $(seq 1 300); do grep -q 'msg="agent committed"' "$T/update.err" && break; sleep 0.1; done
  before=$(grep -m1 'msg="started service" service=ticker' "$T/update.err" | grep -o ' pid=[0-9]*')
  adopted=$(grep -m1 'msg="adopted service" service=ticker' "$T/update.err" | grep -o ' pid=[0-9]*')
  ea ustatus status --state "$u/state" --json
  if [ "$(rc upublish)" = 0 ] && grep -q 'msg="agent committed" version=2.0-smoke' "$T/update.err" && [ -n "$before" ] &&
     [ "$before" = "$adopted" ] && [ "$(grep -c 'msg="started service"' "$T/update.err")" = 1 ] &&
     has ustatus.out '"committed":"2.0-smoke"'; then
    since=$(grep 'version=2.0-smoke' "$T/update.err" >/dev/null && awk '/msg=starting .*trial=true/ {t=1} t && /msg=converged/ {print; exit}' "$T/update.err" | grep -o 'since_start_ms=[0-9]*')
    pass "self-update in place: staged, self-tested, exec'd, service adopted (pid${before#* pid}, started once), committed 2.0-smoke; new image exec -> converged: ${since#*=} ms"
  else
    fail "self-update in place (publish exit $(rc upublish))"; sed 's/^/    update: /' "$T/update.err" | tail -15; show upublish
  fi
  kill -TERM "$updater" 2>/dev/null; wait "$updater" 2>/dev/null
fi

# The Debian package, for x86_64 only (CI's time): Cross/package-test.sh packages this binary and
# checks the .deb (lintian, an install into a temporary root, man pages, completion, the daemon
# on the packaged config); its PASS and FAIL lines count as this script's.
if [ "$target" = x86_64 ]; then
  Cross/package-test.sh "$target" >"$T/package.out" 2>&1
  prc=$?
  while IFS= read -r line; do
    case "$line" in
      "PASS $target: "*) echo "$line"; passed=$((passed + 1)) ;;
      "FAIL $target: "*) echo "$line"; failed=$((failed + 1)) ;;
      "package-test $target: "*) ;;
      *) echo "$line" ;;
    esac
  done <"$T/package.out"
  if [ "$prc" != 0 ] && ! grep -q "^FAIL $target: " "$T/package.out"; then
    fail "package: Cross/package-test.sh $target exited $prc"
  fi
fi

echo "smoke $target: $passed passed, $failed failed"
[ "$failed" = 0 ]
