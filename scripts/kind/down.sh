#!/usr/bin/env bash
# make kind-down: deletes the kind cluster that `make kind-up` created (and everything in it).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/kind/lib.sh

require_tools docker kind
require_docker_engine
if cluster_exists; then
  kind delete cluster --name "$KIND_CLUSTER"
else
  log "there is no kind cluster named $KIND_CLUSTER: nothing to do"
fi
