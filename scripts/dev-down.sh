#!/usr/bin/env bash
# Stops what `make dev` started: signals its process, then makes sure nothing is left.
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
pkill -f "sqlite-url=file:$(pwd)/.dev/ferretdb/" 2>/dev/null || true
echo "make dev stopped"
