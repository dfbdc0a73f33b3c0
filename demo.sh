#!/usr/bin/env bash
# ./demo.sh: on Debian with the Swift toolchain, installs the libraries edgeagent needs (libuv,
# LMDB, libsodium; through Cross/setup.sh --host), builds the agent with Embedded Swift, applies
# examples/gateway.json to a sandbox root in a temporary directory, applies it again (everything
# kept), and shows the status read back from the state. The sandbox is removed at the end;
# `./demo.sh --keep` leaves it for a look.
set -euo pipefail
cd "$(dirname "$0")"

keep=0
case "${1:-}" in
  "") ;;
  --keep) keep=1 ;;
  *) echo "usage: ./demo.sh [--keep]" >&2; exit 2 ;;
esac
command -v swift >/dev/null ||
  { echo "demo.sh: no swift on PATH: install the Swift toolchain (6.3 or later) first" >&2; exit 1; }

Cross/setup.sh --host
echo "== build: EDGE_EMBEDDED=1 swift build -c release --scratch-path .build-emb"
EDGE_EMBEDDED=1 swift build -c release --scratch-path .build-emb ||
  { echo "demo.sh: build failed" >&2; exit 1; }
bin=.build-emb/release/edgeagent

sandbox=$(mktemp -d "${TMPDIR:-/tmp}/edgeagent-demo.XXXXXX")
[ "$keep" = 1 ] || trap 'rm -rf "$sandbox"' EXIT
mkdir "$sandbox/root"
run() { echo; echo "\$ edgeagent ${*//$sandbox/\$SANDBOX}"; "$bin" "$@"; }

echo; echo "SANDBOX=$sandbox"
run version
run apply examples/gateway.json --root "$sandbox/root" --state "$sandbox/state"
echo; echo "files under \$SANDBOX/root:"
(cd "$sandbox/root" && find . -mindepth 1 -printf '  %M %-22p %l\n' | sort -k2)
run apply examples/gateway.json --root "$sandbox/root" --state "$sandbox/state"
run status --state "$sandbox/state"
echo
if [ "$keep" = 1 ]; then echo "sandbox kept: $sandbox"; else echo "sandbox removed (./demo.sh --keep keeps it)"; fi
