#!/usr/bin/env bash
# The second half of `make test`: the integration tests (the simulated cluster and FerretDB,
# scripts/testenv and test/harness) and the real-node e2e (scripts/testenv/node-e2e.sh) side by
# side. They share nothing but the machine: the e2e runs its own cluster, node and store in a
# network namespace of its own, and its figures are counters, so the machine's load changes its
# time, not its results. The e2e's output goes to a log that is printed once both are done, so
# the run ends with the e2e's summary; the exit status fails when either failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
. scripts/testenv/lib.sh

log_dir=$(mktemp -d "${TMPDIR:-/tmp}/kuo-test.XXXXXX")
e2e_log="$log_dir/e2e-node.log"
log "the real-node e2e runs beside the integration tests; its log: $e2e_log (printed at the end)"
bash scripts/testenv/node-e2e.sh >"$e2e_log" 2>&1 &
e2e_pid=$!
# Stop the e2e (its own traps tear the node down) when this is interrupted.
trap 'kill -TERM "$e2e_pid" 2>/dev/null; wait "$e2e_pid"; exit 130' INT TERM

"${NPM:-npm}" run test:integration
integration_rc=$?
wait "$e2e_pid"
e2e_rc=$?
trap - INT TERM
cat "$e2e_log"
rm -rf "$log_dir"
[[ $integration_rc == 0 ]] || printf 'integration tests failed (exit %d)\n' "$integration_rc" >&2
[[ $e2e_rc == 0 ]] || printf 'real-node e2e failed (exit %d)\n' "$e2e_rc" >&2
((integration_rc == 0 && e2e_rc == 0))
