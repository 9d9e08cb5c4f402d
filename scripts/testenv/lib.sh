# Shared settings for the test-environment scripts. Sourced, not run.
# shellcheck shell=bash
TESTENV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$TESTENV_DIR/versions.env"

versions_key() {
  printf 'k8s-%s_etcd-%s_kwok-%s_ms-%s_ferretdb-%s' "$KUBERNETES_VERSION" "$ETCD_VERSION" \
    "$KWOK_VERSION" "$METRICS_SERVER_VERSION" "$FERRETDB_VERSION"
}

CACHE_ROOT=${KUO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-usage-operator}
BIN_DIR="$CACHE_ROOT/bin/$(versions_key)"
# The VPA recommender and its CRDs (build.sh vpa).
VPA_DIR="$BIN_DIR/vpa-$VPA_VERSION"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

log() { printf '[testenv] %s\n' "$*" >&2; }
die() { printf '[testenv] error: %s\n' "$*" >&2; exit 1; }
