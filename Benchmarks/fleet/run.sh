#!/usr/bin/env bash
# The fleet benchmark (issue 5): an nginx origin on 127.0.0.1, N agents (each its own state dir
# and root), a new serial published, and what it cost the origin.
#
#   Benchmarks/fleet/run.sh N MODE [FANOUT]
#     MODE direct  every agent pulls from the origin (nginx, no long-poll: interval polling)
#          relay   N/FANOUT agents run --relay and pull from the origin; the bundle lists them;
#                  the others pull from their rendezvous-ranked relay with long-poll
#          cache   every agent pulls through an nginx proxy_cache tier in front of the origin
#   EDGEAGENT=path/to/binary (default .build-b5emb/release/edgeagent, the Embedded build)
#   INTERVAL=2s  the agents' convergence and poll interval
#
# Prints one line of key=value figures: origin requests and bytes for the rollout of the new
# serial (from the origin's access log), seconds from publish until every agent has the new
# file on disk, and peak RSS per agent (VmHWM). Loopback only.
set -euo pipefail
N=${1:?usage: run.sh N direct|relay|cache [FANOUT]}
MODE=${2:?mode}
FANOUT=${3:-10}
here=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${EDGEAGENT:-$here/.build-b5emb/release/edgeagent}
INTERVAL=${INTERVAL:-2s}
T=$(mktemp -d /tmp/edgefleet.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$T/origin/nginx.pid" ] && kill "$(cat "$T/origin/nginx.pid")" 2>/dev/null || true
  [ -f "$T/cache/nginx.pid" ] && kill "$(cat "$T/cache/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
base=$((20000 + RANDOM % 20000))
ORIGIN=$base
CACHE=$((base + 1))
RELAY0=$((base + 10))

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
fi
policy 1
"$BIN" publish src/policy.json out --key k.key --serial 1 "${relays[@]}" >/dev/null
nginx_conf "$T/origin" $ORIGIN "root $T/out;"
UP="http://127.0.0.1:$ORIGIN"
if [ "$MODE" = cache ]; then
  nginx_conf "$T/cache" $CACHE "proxy_pass http://127.0.0.1:$ORIGIN; proxy_cache edge; proxy_cache_valid 200 1s; proxy_cache_lock on; proxy_cache_revalidate on; proxy_cache_use_stale updating;"
  UP="http://127.0.0.1:$CACHE"
fi
sleep 0.3
PUB=$(cat k.pub)
for i in $(seq 0 $((N - 1))); do
  mkdir -p "a$i/root/etc"
  relay=""
  if [ "$i" -lt "$R" ]; then relay=", \"relay\": \"127.0.0.1:$((RELAY0 + i))\""; fi
  cat > "a$i/config.json" <<EOC
{"state_dir": "$T/a$i/state", "root": "$T/a$i/root", "interval": "$INTERVAL", "upstreams": ["$UP"], "trusted_keys": ["$PUB"]$relay}
EOC
  "$BIN" run --config "a$i/config.json" 2> "a$i/log" &
  PIDS+=($!)
  # Relays first, so children find them.
  if [ "$i" = $((R - 1)) ]; then sleep 1; fi
done

converged() {   # serial -> count of agents holding it on disk
  grep -lx "$1" a*/root/etc/serial 2>/dev/null | wc -l
}
wait_all() {   # serial timeout_s
  local deadline=$(( $(date +%s) + $2 ))
  while [ "$(converged "$1")" -lt "$N" ]; do
    [ "$(date +%s)" -ge $deadline ] && return 1
    sleep 0.05
  done
}
wait_all 1 120 || { echo "only $(converged 1)/$N agents reached serial 1" >&2; exit 1; }
sleep 1
: > "$T/origin/access.log"
policy 2
t0=$(date +%s.%N)
"$BIN" publish src/policy.json out --key k.key --serial 2 "${relays[@]}" >/dev/null
ok=yes
wait_all 2 120 || ok="no ($(converged 2)/$N)"
t1=$(date +%s.%N)
# Settle one interval so steady-state polling shows in the log too.
rss=$(for p in "${PIDS[@]}"; do awk '/VmHWM/ {print $2}' /proc/$p/status 2>/dev/null; done | sort -n)
max_rss=$(echo "$rss" | tail -1)
med_rss=$(echo "$rss" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
reqs=$(wc -l < "$T/origin/access.log")
bundles=$(grep -c '"GET /bundle.json[? ].* 200 ' "$T/origin/access.log" || true)
notmod=$(grep -c ' 304 ' "$T/origin/access.log" || true)
bytes=$(awk '{s += $10} END {print s + 0}' "$T/origin/access.log")
printf 'N=%s mode=%s fanout=%s relays=%s all_converged=%s seconds=%.2f origin_requests=%s origin_bundle_200=%s origin_304=%s origin_body_bytes=%s rss_kib_median=%s rss_kib_max=%s\n' \
  "$N" "$MODE" "$FANOUT" "$R" "$ok" "$(echo "$t1 - $t0" | bc)" "$reqs" "$bundles" "$notmod" "$bytes" "$med_rss" "$max_rss"
