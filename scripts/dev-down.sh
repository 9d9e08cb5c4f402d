#!/usr/bin/env bash
# Stops what `make dev` started: signals its process, then makes sure nothing is left, and
# returns only when every process (the cluster's components, FerretDB) has exited.
set -uo pipefail
cd "$(dirname "$0")/.."
pidfile=.dev/dev.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  pid=$(cat "$pidfile")
  kill -TERM "$pid"
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
fi
rm -f "$pidfile"
# Whatever the process could not stop (e.g. it was killed with -9):
bash scripts/testenv/cluster.sh down kuo-dev 2>/dev/null || true
ferretdb=$(pgrep -f "sqlite-url=file:$(pwd)/.dev/ferretdb/" || true)
if [ -n "$ferretdb" ]; then
  # shellcheck disable=SC2086
  kill -TERM $ferretdb 2>/dev/null
  for _ in $(seq 1 100); do
    alive=""
    for p in $ferretdb; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.2
  done
  for p in $ferretdb; do kill -0 "$p" 2>/dev/null && kill -KILL "$p"; done
fi
echo "make dev stopped"
