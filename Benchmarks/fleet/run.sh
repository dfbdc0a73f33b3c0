#!/usr/bin/env bash
# The fleet benchmark (issue 5): an nginx origin on 127.0.0.1, N agents (each its own state dir
# and root), a new serial published, and what it cost the origin.
#
#   Benchmarks/fleet/run.sh N MODE [FANOUT]
#     MODE direct  every agent pulls from the origin (nginx, no long-poll: interval polling)
#          relay   N/FANOUT agents run with `relay`; the bundle lists them with relay_fanout
#                  FANOUT, a tree: the first FANOUT relays pull from the origin, relay i >= FANOUT
#                  from relay i/FANOUT - 1 (long-poll); the other agents pull from their
#                  rendezvous-ranked relay with long-poll
#          cache   every agent pulls through an nginx proxy_cache tier in front of the origin
#   EDGEAGENT=path/to/binary (default .build-emb/release/edgeagent, the Embedded build)
#   INTERVAL=2s  the agents' convergence and poll interval
#   RELAY_PULL_INTERVAL=  relays' `pull_interval` (how often the first tier asks the origin;
#                default: INTERVAL)
#   STEADY=6     seconds of steady state measured after the rollout (0: skip)
#   FLEET_DIR=/tmp  where the agents' state dirs and roots go (/dev/shm: no shared disk, whose
#                fsyncs all N agents otherwise queue on)
#   COLLECT=1    also run a collector (`run --collect`, issue 16): the relays of the first tier (or,
#                without relays, every agent) name it in `collectors`, and the others report
#                through their relays; the line then adds seconds from publish until the
#                collector shows every agent converged on serial 2, its POST /report requests and
#                bytes in the STEADY window, and its peak RSS and LMDB size
#   OUTAGE=S     with COLLECT and relays, then an outage drill: every relay SIGKILLed, serial 3
#                published (agents take it from the origin, their reports wait), S seconds later
#                the relays restarted; adds seconds from the restart until the collector shows
#                every agent converged on serial 3 and the collector's peak POSTs per second then
#   REPORT_INTERVAL=2s  the agents' `report_interval` (heartbeats; a relay's forwarding period)
#   KEEP=1       keep the agents' folders (logs, states) and print where
#   AGENT=1      serial 2 also names agent binaries (issue 18): this binary as x86_64 (the
#                agents' target) and out/edgeagent-aarch64 and -armv7 when built, labelled
#                2.0-fleet; every agent stages, self-tests, execs and commits it (agent_trial 2s).
#                Adds the agents that committed, seconds from publish until the last did, and the
#                origin's downloads of each target's binary
#   TEAMS=1      the baseline delegates to two teams (issue 17), payments (/opt/payments) and web
#                (/srv/web), each with its own key and bundle under out/teams/NAME/; after the
#                baseline's rollout each team rolls out a new serial on its own. Adds, per team
#                rollout: seconds until every agent has the team's new file, the origin's 200s
#                for that team's bundle.json, for the other team's and for the baseline's, the
#                agents that accepted the other team's bundle again, and those whose copy of the
#                other team's file was rewritten
#
# Prints one line of key=value figures: origin requests and bytes for the rollout of the new
# serial (from the origin's access log), seconds from publish until every agent has the new
# file on disk (and until the first one has it), peak RSS per agent (VmHWM), and the origin's
# requests, 304s and bundle downloads in STEADY seconds of an unchanged bundle afterwards.
# Loopback only.
set -euo pipefail
N=${1:?usage: run.sh N direct|relay|cache [FANOUT]}
MODE=${2:?mode}
FANOUT=${3:-10}
here=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${EDGEAGENT:-$here/.build-emb/release/edgeagent}
INTERVAL=${INTERVAL:-2s}
STEADY=${STEADY:-6}
RELAY_PULL_INTERVAL=${RELAY_PULL_INTERVAL:-}
T=$(mktemp -d "${FLEET_DIR:-/tmp}/edgefleet.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$T/origin/nginx.pid" ] && kill "$(cat "$T/origin/nginx.pid")" 2>/dev/null || true
  [ -f "$T/cache/nginx.pid" ] && kill "$(cat "$T/cache/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
base=$((20000 + RANDOM % 12000))   # below the ephemeral range (32768-), so no relay port is taken
ORIGIN=$base
CACHE=$((base + 1))
RELAY0=$((base + 10))
COLLECTOR=$((base + 2))
COLLECT=${COLLECT:-}
REPORT_INTERVAL=${REPORT_INTERVAL:-2s}

nginx_conf() {   # dir port location
  mkdir -p "$1/tmp"
  cat > "$1/nginx.conf" <<EOC
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
  access_log $1/access.log;
  client_body_temp_path $1/tmp/b; proxy_temp_path $1/tmp/p; fastcgi_temp_path $1/tmp/f;
  uwsgi_temp_path $1/tmp/u; scgi_temp_path $1/tmp/s;
  proxy_cache_path $1/tmp/cache keys_zone=edge:1m;
  server { listen 127.0.0.1:$2; location / { $3 } }
}
EOC
  nginx -c "$1/nginx.conf" -p "$1" -g "user root;"
}

cd "$T"
"$BIN" keygen --out k >/dev/null
mkdir -p src
head -c 4096 /dev/urandom | od -An -tx1 | tr -d ' \n' > src/app.conf   # an 8 KiB blob
policy() {
  cat > src/policy.json <<EOP
{"policy": "fleet", "promises": [
  {"id": "conf", "type": "file", "path": "/etc/app.conf", "source_file": "app.conf", "mode": "0644"},
  {"id": "serial", "type": "file", "path": "/etc/serial", "content": "$1\n"}
]}
EOP
}
relays=()
R=0
if [ "$MODE" = relay ]; then
  R=$(( (N + FANOUT - 1) / FANOUT ))
  for i in $(seq 0 $((R - 1))); do relays+=(--relay "http://127.0.0.1:$((RELAY0 + i))"); done
  relays+=(--relay-fanout "$FANOUT")
fi
deleg=()
team_publish() {   # team serial
  mkdir -p "src/$1"
  local path=/opt/payments/serial
  [ "$1" = web ] && path=/srv/web/serial
  cat > "src/$1/policy.json" <<EOP
{"policy": "$1", "promises": [{"id": "serial", "type": "file", "path": "$path", "content": "$1 $2\n", "after": ["baseline/serial"]}]}
EOP
  "$BIN" publish "src/$1/policy.json" out --key "$1.key" --team "$1" --serial "$2" >/dev/null
}
if [ -n "${TEAMS:-}" ]; then
  "$BIN" keygen --out payments >/dev/null
  "$BIN" keygen --out web >/dev/null
  cat > src/delegations.json <<EOD
[{"team": "payments", "keys": ["$(cat payments.pub)"], "scope": {"paths": ["/opt/payments"]}},
 {"team": "web", "keys": ["$(cat web.pub)"], "scope": {"paths": ["/srv/web"]}}]
EOD
  deleg=(--delegations src/delegations.json)
fi
policy 1
"$BIN" publish src/policy.json out --key k.key --serial 1 "${relays[@]}" "${deleg[@]}" >/dev/null
if [ -n "${TEAMS:-}" ]; then team_publish payments 1; team_publish web 1; fi
nginx_conf "$T/origin" $ORIGIN "root $T/out;"
UP="http://127.0.0.1:$ORIGIN"
if [ "$MODE" = cache ]; then
  nginx_conf "$T/cache" $CACHE "proxy_pass http://127.0.0.1:$ORIGIN; proxy_cache edge; proxy_cache_valid 200 1s; proxy_cache_lock on; proxy_cache_revalidate on; proxy_cache_use_stale updating;"
  UP="http://127.0.0.1:$CACHE"
fi
sleep 0.3
PUB=$(cat k.pub)
declare -A APID
reports=""
if [ -n "$COLLECT" ]; then
  mkdir -p collector/root
  "$BIN" run --root "$T/collector/root" --state "$T/collector/state" --host-id collector \
    --collect "127.0.0.1:$COLLECTOR" 2> collector/log &
  CPID=$!
  PIDS+=($CPID)
  reports=", \"collectors\": [\"http://127.0.0.1:$COLLECTOR\"]"
fi
for i in $(seq 0 $((N - 1))); do
  mkdir -p "a$i/root/etc"
  relay=""
  # Reports: the first tier (or, without relays, every agent) names the collector; the rest
  # report through their relays.
  r=""
  if [ "$MODE" != relay ] || [ "$i" -lt "$FANOUT" ]; then r=$reports; fi
  if [ -n "$reports" ]; then r="$r, \"report_interval\": \"$REPORT_INTERVAL\""; fi
  if [ "$i" -lt "$R" ]; then
    relay=", \"relay\": \"127.0.0.1:$((RELAY0 + i))\""
    [ -n "$RELAY_PULL_INTERVAL" ] && relay="$relay, \"pull_interval\": \"$RELAY_PULL_INTERVAL\""
  fi
  cat > "a$i/config.json" <<EOC
{"state_dir": "$T/a$i/state", "root": "$T/a$i/root", "interval": "$INTERVAL", "upstreams": ["$UP"], "trusted_keys": ["$PUB"], "agent_trial": "2s"$relay$r}
EOC
  "$BIN" run --config "a$i/config.json" 2> "a$i/log" &
  PIDS+=($!)
  APID[$i]=$!
  # Relays first, so children find them.
  if [ "$i" = $((R - 1)) ]; then sleep 1; fi
done

converged() {   # serial -> count of agents holding it on disk
  grep -lx "$1" a*/root/etc/serial 2>/dev/null | wc -l
}
wait_all() {   # serial timeout_s; sets t_first when the first agent has it
  local deadline=$(( $(date +%s) + $2 )) c
  t_first=""
  while c=$(converged "$1"); [ "$c" -lt "$N" ]; do
    [ -z "$t_first" ] && [ "$c" -gt 0 ] && t_first=$(date +%s.%N)
    [ "$(date +%s)" -ge $deadline ] && return 1
    sleep 0.05
  done
  [ -z "$t_first" ] && t_first=$(date +%s.%N)
  return 0
}
wait_all 1 120 || { echo "only $(converged 1)/$N agents reached serial 1" >&2; exit 1; }
team_file() { [ "$1" = web ] && echo srv/web/serial || echo opt/payments/serial; }
team_count() {   # team serial -> agents holding it
  local n=0 i
  for i in $(seq 0 $((N - 1))); do [ "$(cat "a$i/root/$(team_file "$1")" 2>/dev/null)" = "$1 $2" ] && n=$((n + 1)); done
  echo $n
}
team_wait() {   # team serial timeout_s
  local deadline=$(( $(date +%s) + $3 ))
  while [ "$(team_count "$1" "$2")" -lt "$N" ]; do [ "$(date +%s)" -ge $deadline ] && return 1; sleep 0.05; done
}
if [ -n "${TEAMS:-}" ]; then
  team_wait payments 1 120 && team_wait web 1 120 || { echo "teams: $(team_count payments 1)/$N and $(team_count web 1)/$N agents on serial 1" >&2; exit 1; }
fi
sleep 1
: > "$T/origin/access.log"
policy 2
agent=()
if [ -n "${AGENT:-}" ]; then
  mkdir -p agents
  cp "$BIN" agents/edgeagent-x86_64
  for t in aarch64 armv7; do [ -x "$here/out/edgeagent-$t" ] && cp "$here/out/edgeagent-$t" "agents/edgeagent-$t"; done
  agent=(--agent-dir agents --agent-version 2.0-fleet)
fi
t0=$(date +%s.%N)
"$BIN" publish src/policy.json out --key k.key --serial 2 "${relays[@]}" "${agent[@]}" "${deleg[@]}" >/dev/null
ok=yes
wait_all 2 120 || ok="no ($(converged 2)/$N)"
t1=$(date +%s.%N)
updated=""
if [ -n "${AGENT:-}" ]; then
  committed() { grep -l 'msg="agent committed" version=2.0-fleet' a*/log 2>/dev/null | wc -l; }
  deadline=$(( $(date +%s) + 300 ))
  while [ "$(committed)" -lt "$N" ] && [ "$(date +%s)" -lt $deadline ]; do sleep 0.1; done
  t_agent=$(date +%s.%N)
  per=""
  for f in agents/edgeagent-*; do
    d=$(sha256sum "$f" | cut -c1-64)
    per="$per origin_agent_${f#agents/edgeagent-}_200=$(grep -c "\"GET /blobs/$d .* 200 " "$T/origin/access.log" || true)"
  done
  updated=" agent_committed=$(committed)/$N agent_seconds=$(printf %.2f "$(echo "$t_agent - $t0" | bc)")$per"
fi
teamed=""
if [ -n "${TEAMS:-}" ]; then
  cp "$T/origin/access.log" "$T/rollout-baseline.log"
  sleep 1
  for pair in "payments web" "web payments"; do
    set -- $pair
    team=$1 other=$2
    before=$(for i in $(seq 0 $((N - 1))); do stat -c %Y.%y "a$i/root/$(team_file "$other")"; done | md5sum)
    other_accepts=$(cat a*/log | grep -c "msg=\"team bundle accepted\" team=$other" || true)
    : > "$T/origin/access.log"
    t5=$(date +%s.%N)
    team_publish "$team" 2
    team_ok=yes
    team_wait "$team" 2 120 || team_ok="no ($(team_count "$team" 2)/$N)"
    t6=$(date +%s.%N)
    sleep 1
    after=$(for i in $(seq 0 $((N - 1))); do stat -c %Y.%y "a$i/root/$(team_file "$other")"; done | md5sum)
    [ "$before" = "$after" ] && rewritten=0 || rewritten=changed
    again=$(( $(cat a*/log | grep -c "msg=\"team bundle accepted\" team=$other" || true) - other_accepts ))
    cp "$T/origin/access.log" "$T/rollout-$team.log"
    teamed="$teamed ${team}_all=$team_ok ${team}_seconds=$(printf %.2f "$(echo "$t6 - $t5" | bc)")"
    teamed="$teamed ${team}_origin_team_200=$(grep -c "\"GET /teams/$team/bundle.json[? ].* 200 " "$T/rollout-$team.log" || true)"
    teamed="$teamed ${team}_origin_other_200=$(grep -c "\"GET /teams/$other/bundle.json[? ].* 200 " "$T/rollout-$team.log" || true)"
    teamed="$teamed ${team}_origin_baseline_200=$(grep -c '"GET /bundle.json[? ].* 200 ' "$T/rollout-$team.log" || true)"
    teamed="$teamed ${team}_other_accepted_again=$again ${team}_other_file_rewritten=$rewritten"
  done
  cp "$T/rollout-baseline.log" "$T/origin/access.log"
fi
collected=""
if [ -n "$COLLECT" ]; then
  # Until the collector shows all N converged on serial 2.
  fleet_done() {
    curl -sf "http://127.0.0.1:$COLLECTOR/fleet" | python3 -c '
import json, sys
f = json.load(sys.stdin); row = [s for s in f["serials"] if s["serial"] == 2]
sys.exit(0 if row and row[0]["converged"] == int(sys.argv[1]) else 1)' "$N"
  }
  deadline=$(( $(date +%s) + 120 ))
  while ! fleet_done; do
    [ "$(date +%s)" -ge $deadline ] && break
    sleep 0.1
  done
  t2=$(date +%s.%N)
  fleet_done && c_ok=yes || c_ok="no ($(curl -sf "http://127.0.0.1:$COLLECTOR/fleet"))"
  collected=" collector_converged=$c_ok collector_seconds=$(printf %.2f "$(echo "$t2 - $t0" | bc)")"
fi
cp "$T/origin/access.log" "$T/rollout.log"
if [ -n "${TEAMS:-}" ]; then cp "$T/rollout-baseline.log" "$T/rollout.log"; fi
rss=$(for p in "${PIDS[@]}"; do awk '/VmHWM/ {print $2}' /proc/$p/status 2>/dev/null; done | sort -n)
max_rss=$(echo "$rss" | tail -1)
med_rss=$(echo "$rss" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
reqs=$(wc -l < "$T/rollout.log")
bundles=$(grep -c '"GET /bundle.json[? ].* 200 ' "$T/rollout.log" || true)
notmod=$(grep -c '" 304 ' "$T/rollout.log" || true)
bytes=$(awk '{s += $10} END {print s + 0}' "$T/rollout.log")
# Steady state: the bundle no longer changes; what does the origin see?
steady=""
if [ "$STEADY" -gt 0 ]; then
  sleep 2
  : > "$T/origin/access.log"
  sleep "$STEADY"
  cp "$T/origin/access.log" "$T/steady.log"
  s_reqs=$(wc -l < "$T/steady.log")
  s_304=$(grep -c '" 304 ' "$T/steady.log" || true)
  s_200=$(grep -c '"GET /bundle.json[? ].* 200 ' "$T/steady.log" || true)
  steady=" steady_seconds=$STEADY steady_origin_requests=$s_reqs steady_origin_304=$s_304 steady_origin_bundle_200=$s_200"
fi
if [ -n "$COLLECT" ]; then
  # The collector in a steady window: POST /report requests and bytes (heartbeats only).
  metric() { curl -sf "http://127.0.0.1:$COLLECTOR/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
  b0=$(metric edgeagent_report_batches_total); y0=$(metric edgeagent_report_bytes_total)
  sleep "${STEADY:-6}"
  b1=$(metric edgeagent_report_batches_total); y1=$(metric edgeagent_report_bytes_total)
  c_rss=$(awk '/VmHWM/ {print $2}' /proc/$CPID/status)
  c_db=$(du -k "$T/collector/state/data.mdb" | cut -f1)
  collected="$collected collector_steady_seconds=${STEADY:-6} collector_steady_requests=$((b1 - b0)) collector_steady_bytes=$((y1 - y0)) collector_rss_kib=$c_rss collector_mdb_kib=$c_db"
fi
if [ -n "$COLLECT" ] && [ -n "${OUTAGE:-}" ] && [ "$R" -gt 0 ]; then
  for i in $(seq 0 $((R - 1))); do kill -9 "${APID[$i]}" 2>/dev/null || true; done
  policy 3
  "$BIN" publish src/policy.json out --key k.key --serial 3 "${relays[@]}" "${deleg[@]}" >/dev/null
  sleep "$OUTAGE"
  for i in $(seq 0 $((R - 1))); do
    "$BIN" run --config "a$i/config.json" 2>> "a$i/log" &
    PIDS+=($!)
  done
  t3=$(date +%s.%N)
  on3() {
    curl -sf "http://127.0.0.1:$COLLECTOR/fleet" | python3 -c '
import json, sys
f = json.load(sys.stdin); row = [s for s in f["serials"] if s["serial"] == 3]
sys.exit(0 if row and row[0]["converged"] == int(sys.argv[1]) else 1)' "$N"
  }
  metric() { curl -sf "http://127.0.0.1:$COLLECTOR/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
  # POSTs per second over each sampling window, timed (a sample takes longer than its sleep
  # under load, so counting windows as 0.5 s overstated the rate).
  last=$(metric edgeagent_report_batches_total); t_last=$(date +%s.%N); peak=0; d_ok=no
  deadline=$(( $(date +%s) + 600 ))
  while [ "$(date +%s)" -lt $deadline ]; do
    sleep 0.5
    now_b=$(metric edgeagent_report_batches_total); t_now=$(date +%s.%N)
    rate=$(echo "($now_b - $last) / ($t_now - $t_last)" | bc -l | cut -d. -f1); last=$now_b; t_last=$t_now
    [ "${rate:-0}" -gt "$peak" ] && peak=$rate
    if on3; then d_ok=yes; break; fi
  done
  t4=$(date +%s.%N)
  agents3=$(converged 3)
  collected="$collected outage_seconds=$OUTAGE outage_agents_on_3=$agents3 outage_collector_converged=$d_ok outage_replay_seconds=$(printf %.2f "$(echo "$t4 - $t3" | bc)") outage_peak_posts_per_second=$peak"
fi
printf 'N=%s mode=%s fanout=%s relays=%s all_converged=%s first_seconds=%.2f seconds=%.2f origin_requests=%s origin_bundle_200=%s origin_304=%s origin_body_bytes=%s rss_kib_median=%s rss_kib_max=%s%s%s%s%s\n' \
  "$N" "$MODE" "$FANOUT" "$R" "$ok" "$(echo "$t_first - $t0" | bc)" "$(echo "$t1 - $t0" | bc)" "$reqs" "$bundles" "$notmod" "$bytes" "$med_rss" "$max_rss" "$updated" "$teamed" "$steady" "$collected"
