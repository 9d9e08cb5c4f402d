#!/usr/bin/env bash
# make kind-up: a kind cluster running kube-usage-operator, ready to use.
#   1. creates the kind cluster $KIND_CLUSTER (default kube-usage) unless it exists;
#   2. installs metrics-server (with --kubelet-insecure-tls, as kind needs);
#   3. builds the image kube-usage-operator:dev and loads it into the cluster's nodes;
#   4. applies manifests/overlays/kind and waits until MongoDB, the operator and the metrics
#      API are ready.
# Running it again rebuilds and redeploys the operator into the same cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/kind/lib.sh

require_tools docker kind kubectl
require_docker_engine

if cluster_exists; then
  log "using the existing kind cluster $KIND_CLUSTER"
else
  log "creating the kind cluster $KIND_CLUSTER"
  kind create cluster --name "$KIND_CLUSTER" ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 3m
fi

log "installing metrics-server"
k apply --server-side -k scripts/kind/metrics-server

log "building $OPERATOR_IMAGE"
docker build --tag "$OPERATOR_IMAGE" .
kind load docker-image "$OPERATOR_IMAGE" --name "$KIND_CLUSTER"

redeploy=false
k -n "$OPERATOR_NAMESPACE" get deployment/kube-usage-operator >/dev/null 2>&1 && redeploy=true

log "deploying manifests/overlays/kind"
k apply --server-side -k manifests/overlays/kind
# The tag stays `dev`, so a rebuilt image needs a restart to be picked up.
if $redeploy; then k -n "$OPERATOR_NAMESPACE" rollout restart deployment/kube-usage-operator; fi

log "waiting until everything is ready"
k -n kube-system rollout status deployment/metrics-server --timeout=3m
k wait --for=condition=Available apiservice/v1beta1.metrics.k8s.io --timeout=3m
k -n "$OPERATOR_NAMESPACE" rollout status statefulset/kube-usage-mongodb --timeout=5m
k -n "$OPERATOR_NAMESPACE" rollout status deployment/kube-usage-operator --timeout=5m

log "ready: kubectl --context $KUBE_CONTEXT get usagepolicies,resourcealerts -A"
log "the API: kubectl --context $KUBE_CONTEXT -n $OPERATOR_NAMESPACE port-forward service/kube-usage-operator 8080"
