# Shared settings and checks of the kind wrappers (make kind-up / kind-e2e / kind-down). Sourced.
# shellcheck shell=bash disable=SC2034 # the settings are used by the scripts that source this
KIND_CLUSTER=${KIND_CLUSTER:-kube-usage}
KUBE_CONTEXT="kind-$KIND_CLUSTER"
OPERATOR_IMAGE=kube-usage-operator:dev
OPERATOR_NAMESPACE=kube-usage-system

log() { printf '[kind] %s\n' "$*" >&2; }
die() { printf '[kind] error: %s\n' "$*" >&2; exit 1; }

# Every command runs against the kind cluster's own context, never the current one.
k() { kubectl --context "$KUBE_CONTEXT" "$@"; }

require_tools() {
  local tool missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  ((${#missing[@]} == 0)) && return 0
  for tool in "${missing[@]}"; do
    case $tool in
      docker) log "docker is missing: install Docker Engine or Docker Desktop (https://docs.docker.com/get-docker/)" ;;
      kind) log "kind is missing: install it (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)" ;;
      kubectl) log "kubectl is missing: install it (https://kubernetes.io/docs/tasks/tools/)" ;;
      *) log "$tool is missing: install it" ;;
    esac
  done
  die "missing prerequisites: ${missing[*]}"
}

require_docker_engine() {
  docker info >/dev/null 2>&1 ||
    die "docker cannot reach a Docker engine (\`docker info\` fails): start Docker, or check DOCKER_HOST and your permissions on the socket"
}

cluster_exists() { kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; }

require_cluster() {
  cluster_exists || die "there is no kind cluster named $KIND_CLUSTER: run \`make kind-up\` first"
  k get --raw /readyz >/dev/null 2>&1 || die "the kind cluster $KIND_CLUSTER does not answer (context $KUBE_CONTEXT): is Docker running?"
}
