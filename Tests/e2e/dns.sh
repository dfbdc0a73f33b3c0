#!/usr/bin/env bash
# Tests/e2e/dns.sh [BIN]: the agent (default .build-emb/release/edgeagent; an aarch64 or armv7
# binary from Cross/build.sh runs under qemu-user) pulls a signed bundle
# from an upstream named by host name only, through DNS. Runs in a new user + network namespace
# (`unshare -rn`, loopback only), so a tiny DNS server written here (Python, stdlib) can bind
# 127.0.0.1:53 without touching the machine; the bundle is served by `python3 -m http.server`
# on 127.0.0.1:8080; the agent reads a resolv.conf and hosts file from the config
# (`resolv_conf`, `hosts_file`). Checks: the name goes through the search list (origin ->
# origin.test) and a CNAME to its A record, the bundle is applied, and a name the server does
# not know is logged as "unable to resolve ...: no such name". Exit 0 on success.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(readlink -f "${1:-.build-emb/release/edgeagent}")
# A skip is not a pass: say so, and record it for test.sh's summary (CI=true fails on any).
skip() { echo "SKIP $1"; [ -z "${EDGE_SKIP_LOG:-}" ] || echo "$1" >>"$EDGE_SKIP_LOG"; }
if [ -z "${EDGE_DNS_E2E_NS:-}" ]; then
  if ! unshare -rn true 2>/dev/null; then skip "dns-e2e: unshare -rn (user + network namespace) does not work here"; exit 0; fi
  exec unshare -rn env EDGE_DNS_E2E_NS=1 "$0" "$bin"
fi
ip link set lo up
# A foreign static binary (Cross/build.sh aarch64, armv7) runs under qemu-user.
run=("$bin")
case "$(uname -m) $(file -b "$bin")" in
  x86_64*aarch64*) run=(qemu-aarch64 "$bin") ;;
  x86_64*"ARM, EABI5"*) run=(qemu-arm "$bin") ;;
esac
T=$(mktemp -d "${TMPDIR:-/tmp}/edgeagent-dns.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "dns-e2e: FAIL: $*" >&2; for f in "$T"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done; exit 1; }

# A DNS server for one zone: origin.test is a CNAME of web.origin.test, which is 127.0.0.1;
# every other name is NXDOMAIN. Logs each question.
cat > "$T/dns.py" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
log = open(sys.argv[1], "a", buffering=1)
def name(n): return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\0"
while True:
    q, peer = s.recvfrom(512)
    i = 12
    labels = []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode()); i += q[i] + 1
    qname, question = ".".join(labels).lower(), q[12:i + 5]
    log.write(qname + "\n")
    if qname == "origin.test":
        target = name("web.origin.test")
        answers = b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c" + struct.pack(">H", len(target)) + target
        answers += name("web.origin.test") + b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([127, 0, 0, 1])
        s.sendto(q[:2] + b"\x81\x80\x00\x01\x00\x02\x00\x00\x00\x00" + question + answers, peer)
    else:
        s.sendto(q[:2] + b"\x81\x83\x00\x01\x00\x00\x00\x00\x00\x00" + question, peer)
PY
python3 "$T/dns.py" "$T/queries.txt" 2> "$T/dns.log" & pids+=($!)

"${run[@]}" keygen --out "$T/k" > /dev/null
mkdir -p "$T/src" "$T/root/etc"
echo '{"policy": "dns", "promises": [{"id": "serial", "type": "file", "path": "/etc/serial", "content": "by-name\n"}]}' > "$T/src/policy.json"
"${run[@]}" publish "$T/src/policy.json" "$T/out" --key "$T/k.key" --serial 1 > /dev/null
python3 -m http.server 8080 --bind 127.0.0.1 --directory "$T/out" > "$T/http.log" 2>&1 & pids+=($!)

printf 'nameserver 127.0.0.1\nsearch test\noptions timeout:1 attempts:2\n' > "$T/resolv.conf"
printf '127.0.0.1 localhost\n' > "$T/hosts"
agent() {   # NAME UPSTREAM
  mkdir -p "$T/$1/root/etc"
  cat > "$T/$1.json" <<EOC
{"state_dir": "$T/$1/state", "root": "$T/$1/root", "interval": "1s", "upstreams": ["$2"],
 "trusted_keys": ["$(cat "$T/k.pub")"], "resolv_conf": "$T/resolv.conf", "hosts_file": "$T/hosts"}
EOC
  "${run[@]}" run --config "$T/$1.json" 2> "$T/$1.log" & pids+=($!)
}
agent good "http://origin:8080/"
agent missing "http://missing.test:8080/"

for _ in $(seq 100); do
  [ -f "$T/good/root/etc/serial" ] && grep -q "unable to resolve missing.test" "$T/missing.log" && break
  sleep 0.1
done
[ "$(cat "$T/good/root/etc/serial" 2>/dev/null)" = by-name ] || fail "the bundle fetched by name was not applied"
grep -qx origin.test "$T/queries.txt" || fail "origin was not asked for as origin.test (search list)"
grep -q 'unable to resolve missing.test: no such name (NXDOMAIN from 127.0.0.1); tried missing.test, missing.test.test' "$T/missing.log" ||
  fail "an unknown name was not reported as NXDOMAIN"
echo "dns-e2e: ok: bundle pulled from http://origin:8080/ via DNS (search list, CNAME); unknown name reported: $(grep -o 'unable to resolve missing.test[^"]*' "$T/missing.log" | head -1)"
