#!/usr/bin/env bash
# make kind-e2e: the end-to-end scenario (scripts/e2e/scenario.sh, shared with `make e2e-node`)
# against the operator that `make kind-up` deployed, with real pods, the real metrics-server
# and the operator's HTTP API: alerts fire and resolve, the API authorizes tenants, the leader
# fails over. It works in a namespace of its own and deletes it at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/kind/lib.sh
# shellcheck source=../e2e/scenario.sh
. scripts/e2e/scenario.sh

require_tools docker kind kubectl curl
require_docker_engine
require_cluster
k -n "$OPERATOR_NAMESPACE" get deployment/kube-usage-operator >/dev/null 2>&1 ||
  die "kube-usage-operator is not deployed in the kind cluster $KIND_CLUSTER: run \`make kind-up\` first"

trap e2e_cleanup EXIT
scenario_run
printf 'kind-e2e: %d passed, 0 failed\n' "$E2E_PASSED"
