#!/usr/bin/env bash
# Tests/e2e/reports.sh [BIN]: issue 16 with real processes on 127.0.0.1 (default binary
# .build-emb/release/edgeagent, the Embedded build). A collector (`run --collect`), a relay
# listed in the bundle and reporting to the collector, and five agents that pull from a file://
# origin and know no collector: their reports can only go up through the relay. Checks:
#   - the collector shows every host (agents and relay) converged on serial 1, by `fleet --url`
#     and `fleet --state`, and a failing promise on one agent with its reason;
#   - garbage and a replay POSTed to the collector are refused and counted, nothing replaced;
#   - SIGKILL of the collector loses no host (its state, then its answers after a restart);
#   - with the relay SIGKILLed, serial 2 is applied (pulled from the origin) and reported once the
#     relay is back: every host's latest report reaches the collector;
#   - with the collector down, the relay holds serial 3's reports; SIGKILLed and restarted, it
#     still sends them: nothing it took is lost;
#   - the page at / in headless chromium (Tests/browser/fleet-page.sh) shows /fleet's numbers.
# Exit 0 on success.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=$(pwd)
bin=$(readlink -f "${1:-.build-emb/release/edgeagent}")
T=$(mktemp -d "${TMPDIR:-/tmp}/edgeagent-reports.XXXXXX")
declare -A pid
cleanup() { for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "reports-e2e: FAIL: $*" >&2; for f in "$T"/*.log; do echo "--- $f" >&2; tail -8 "$f" >&2; done; exit 1; }
ok() { echo "ok   $*"; }

base=$((20000 + RANDOM % 10000))
C=$base
R=$((base + 1))
N=5
"$bin" keygen --out "$T/k" >/dev/null
PUB=$(cat "$T/k.pub")
mkdir -p "$T/src"
policy() {   # serial
  cat > "$T/src/policy.json" <<EOP
{"policy": "fleet", "promises": [
  {"id": "serial", "type": "file", "path": "/etc/serial", "content": "$1\n"},
  {"id": "conf", "type": "file", "path": "/blocked/app.conf", "content": "x\n", "if": "failing"}
]}
EOP
  "$bin" publish "$T/src/policy.json" "$T/out" --key "$T/k.key" --serial "$1" --relay "http://127.0.0.1:$R" >/dev/null
}
policy 1

start() {   # name [extra json]
  mkdir -p "$T/$1/root/etc"
  cat > "$T/$1/config.json" <<EOC
{"state_dir": "$T/$1/state", "root": "$T/$1/root", "host_id": "$1", "interval": "1s", "report_interval": "2s",
 "upstreams": ["file://$T/out"], "trusted_keys": ["$PUB"]${2:-}}
EOC
  "$bin" run --config "$T/$1/config.json" >> "$T/$1.log" 2>&1 &
  pid[$1]=$!
}
start_collector() {
  mkdir -p "$T/collector/root"
  "$bin" run --root "$T/collector/root" --state "$T/collector/state" --host-id collector --interval 1s \
    --collect "127.0.0.1:$C" >> "$T/collector.log" 2>&1 &
  pid[collector]=$!
}
start_collector
start relay ", \"relay\": \"127.0.0.1:$R\", \"collectors\": [\"http://127.0.0.1:$C\"]"
sleep 0.5
for i in $(seq 1 $N); do start "edge-$i"; done
# edge-3 fails a promise: its /blocked is a file, and its label turns the promise on.
touch "$T/edge-3/root/blocked"
kill -9 "${pid[edge-3]}"; wait "${pid[edge-3]}" 2>/dev/null || true
start edge-3 ', "labels": ["failing"]'

# until SECONDS CMD...: retries CMD every 0.2 s.
until_ok() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt $deadline ] || return 1; sleep 0.2; done
}
fleet_json() { curl -sf "http://127.0.0.1:$C/fleet"; }
fleet_has() {   # hosts serial converged failed
  fleet_json | python3 -c '
import json, sys
f = json.load(sys.stdin); hosts, serial, conv, failed = map(int, sys.argv[1:])
row = [s for s in f["serials"] if s["serial"] == serial]
sys.exit(0 if f["hosts"] == hosts and row and row[0]["hosts"] == hosts and row[0]["converged"] == conv and row[0]["failed"] == failed else 1)' "$@"
}
H=$((N + 1))
until_ok 40 fleet_has $H 1 $((H - 1)) 1 || fail "the collector should show $H hosts on serial 1, one failed: $(fleet_json)"
ok "collector: $H hosts on serial 1 ($((H - 1)) converged, 1 failed), reported through the relay"
grep -q '"collectors"' "$T/edge-1/config.json" && fail "agents must not know the collector"
batches=$(curl -sf "http://127.0.0.1:$C/metrics" | awk '/^edgeagent_report_batches_total/ {print $2}')
reports=$(curl -sf "http://127.0.0.1:$C/metrics" | awk '/^edgeagent_reports_received_total/ {print $2}')
ok "collector took $reports reports in $batches batches (the relay batches its subtree)"

out=$("$bin" fleet --url "http://127.0.0.1:$C") && fail "fleet should exit 1 with a failed host"
grep -q "fleet: $H hosts, newest serial 1: $((H - 1)) converged, 1 failed" <<<"$out" || fail "fleet --url said: $out"
grep -q "edge-3  serial 1" <<<"$out" && grep -q "conf: .*blocked" <<<"$out" || fail "fleet --url should name edge-3 and its reason: $out"
ok "fleet --url: $(head -1 <<<"$out")"
{ "$bin" fleet --state "$T/collector/state" --json || true; } | python3 -c '
import json, sys; d = json.load(sys.stdin); assert d["fleet"]["hosts"] == int(sys.argv[1]), d; assert d["failed"]["hosts"][0]["host_id"] == "edge-3", d' $H ||
  fail "fleet --state --json should agree"
ok "fleet --state --json agrees (read beside the running collector)"

# Hostile posts: garbage, and a batch that is not a report.
resp=$(curl -sf -X POST --data-binary 'not a batch of reports at all' "http://127.0.0.1:$C/report")
grep -q "accepted 0 refused 1" <<<"$resp" || fail "garbage should be refused: $resp"
curl -sf "http://127.0.0.1:$C/metrics" | grep -q '^edgeagent_reports_refused_total{reason="malformed"} 1$' || fail "malformed should be counted"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @<(head -c 1100000 /dev/zero) "http://127.0.0.1:$C/report")
[ "$code" = 413 ] || fail "an oversized batch should be 413, got $code"
fleet_has $H 1 $((H - 1)) 1 || fail "refused posts replaced something: $(fleet_json)"
ok "garbage refused and counted, an oversized batch 413, nothing replaced"

# SIGKILL of the collector: nothing lost.
kill -9 "${pid[collector]}"; wait "${pid[collector]}" 2>/dev/null || true
{ "$bin" fleet --state "$T/collector/state" --json || true; } | python3 -c 'import json, sys; assert json.load(sys.stdin)["fleet"]["hosts"] == int(sys.argv[1])' $H ||
  fail "the killed collector's state should hold every host"
start_collector
until_ok 10 fleet_has $H 1 $((H - 1)) 1 || fail "after a restart the collector should show every host: $(fleet_json)"
ok "collector SIGKILLed and restarted: $H hosts still there"

# The relay dies; serial 2 is pulled from the origin; reports wait until the relay is back.
kill -9 "${pid[relay]}"; wait "${pid[relay]}" 2>/dev/null || true
policy 2
all_on() { for i in $(seq 1 $N); do grep -qx "$1" "$T/edge-$i/root/etc/serial" || return 1; done; }
until_ok 40 all_on 2 || fail "agents should apply serial 2 from the origin while the relay is down"
sleep 3
fleet_json | python3 -c 'import json, sys; f = json.load(sys.stdin); assert f["hosts"] == int(sys.argv[1]) and f["newest_serial"] == 1, f' $H ||
  fail "with the relay down the collector should still know every host, on serial 1: $(fleet_json)"
ok "relay down: agents on serial 2, the collector still on 1 (reports pending at the agents)"
start relay ", \"relay\": \"127.0.0.1:$R\", \"collectors\": [\"http://127.0.0.1:$C\"]"
t0=$(date +%s.%N)
until_ok 60 fleet_has $H 2 $((H - 1)) 1 || fail "once the relay is back every host's latest report should arrive: $(fleet_json)"
ok "relay back: every host on serial 2 at the collector after $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4) s"

# The collector dies while the relay holds its subtree's news; then the relay is SIGKILLed too:
# what it took was in its state, and reaches the collector once both are back.
kill -9 "${pid[collector]}"; wait "${pid[collector]}" 2>/dev/null || true
policy 3
relay_has() {   # serial: the relay's own /metrics counts every host on it
  curl -sf "http://127.0.0.1:$R/metrics" | grep -q "^edgeagent_fleet_hosts{serial=\"$1\",state=\"converged\"} $((H - 1))\$"
}
until_ok 40 relay_has 3 || fail "the relay should hold every agent's report of serial 3: $(curl -sf "http://127.0.0.1:$R/metrics" | grep fleet_hosts)"
kill -9 "${pid[relay]}"; wait "${pid[relay]}" 2>/dev/null || true
start_collector
start relay ", \"relay\": \"127.0.0.1:$R\", \"collectors\": [\"http://127.0.0.1:$C\"]"
until_ok 60 fleet_has $H 3 $((H - 1)) 1 || fail "the relay's pending reports should survive its SIGKILL: $(fleet_json)"
ok "collector down, relay SIGKILLed holding its subtree's reports, both back: every host on serial 3"

if [ -n "${EDGE_NO_BROWSER:-}" ]; then
  echo "SKIP page: EDGE_NO_BROWSER set"; [ -z "${EDGE_SKIP_LOG:-}" ] || echo "reports-e2e: browser" >>"$EDGE_SKIP_LOG"
else
  SCREENSHOT_DIR=${SCREENSHOT_DIR:-$T} "$here/Tests/browser/fleet-page.sh" "http://127.0.0.1:$C" || fail "the page in chromium"
  ok "the page in headless chromium"
fi
echo "reports-e2e: all passed"
