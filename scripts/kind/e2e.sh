#!/usr/bin/env bash
# make kind-e2e: the end-to-end scenario against the operator that `make kind-up` deployed,
# with real pods, the real metrics-server and the operator's HTTP API:
#   1. a pod burning CPU at its limit, a UsagePolicy selecting it, and a ResourceAlert on
#      50% of the CPU limit: the policy becomes Ready and counts the pod, the alert fires
#      (`kubectl wait --for=condition=Firing`) and records an Event;
#   2. the API answers a ServiceAccount bound to `view` in that namespace (200), refuses it
#      another namespace (403) and refuses a request without a token (401);
#   3. the leader's pod is deleted: the other replica takes over the Lease and carries on
#      counting from the breach count in status instead of starting from zero;
#   4. the threshold is raised: the alert resolves.
# Its objects are in e2e-scenario.yaml; it works in a namespace of its own and deletes it at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/kind/lib.sh

require_tools docker kind kubectl curl
require_docker_engine
require_cluster
k -n "$OPERATOR_NAMESPACE" get deployment/kube-usage-operator >/dev/null 2>&1 ||
  die "kube-usage-operator is not deployed in the kind cluster $KIND_CLUSTER: run \`make kind-up\` first"

ns="kuo-e2e-$RANDOM"
workdir=$(mktemp -d)
port_forward_pid=
passed=0

cleanup() {
  [[ -n $port_forward_pid ]] && kill "$port_forward_pid" 2>/dev/null
  k delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1
  rm -rf "$workdir"
}
trap cleanup EXIT

pass() {
  passed=$((passed + 1))
  log "ok: $*"
}

# wait_until DESCRIPTION SECONDS COMMAND...: polls COMMAND every 2 s until it succeeds.
wait_until() {
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || die "timed out waiting for $what"
    sleep 2
  done
}

jsonpath() { k -n "$ns" get "$1" -o "jsonpath={$2}"; }
lease_holder() { k -n "$OPERATOR_NAMESPACE" get lease kube-usage-operator -o 'jsonpath={.spec.holderIdentity}'; }

log "1. workload, UsagePolicy and ResourceAlert in namespace $ns"
k create namespace "$ns" >/dev/null
k -n "$ns" apply -f scripts/kind/e2e-scenario.yaml >/dev/null
k -n "$ns" rollout status deployment/burner --timeout=3m >/dev/null
k -n "$ns" wait --for=condition=Ready usagepolicy/burner --timeout=2m >/dev/null
pod_counted() { [[ $(jsonpath usagepolicy/burner .status.matchedPods) == 1 ]]; }
wait_until "the UsagePolicy to count the pod" 120 pod_counted
pass "the UsagePolicy is Ready and selects the pod"
k -n "$ns" wait --for=condition=Firing resourcealert/burner-hot --timeout=5m >/dev/null
[[ $(jsonpath resourcealert/burner-hot .status.state) == Firing ]] || die "the alert's status.state is not Firing"
pass "the ResourceAlert fires"
alert_event() {
  [[ -n $(k -n "$ns" get events --field-selector involvedObject.kind=ResourceAlert,involvedObject.name=burner-hot -o name) ]]
}
wait_until "an Event on the ResourceAlert" 60 alert_event
pass "the transition is recorded as an Event"

log "2. the HTTP API with a tenant's token"
k -n "$ns" create serviceaccount reader >/dev/null
k -n "$ns" create rolebinding reader-view --clusterrole=view --serviceaccount="$ns:reader" >/dev/null
token=$(k -n "$ns" create token reader)
pod=$(k -n "$ns" get pods -l app=burner -o 'jsonpath={.items[0].metadata.name}')
k -n "$OPERATOR_NAMESPACE" port-forward service/kube-usage-operator :8080 >"$workdir/port-forward.log" 2>&1 &
port_forward_pid=$!
forwarded() { grep -qoE '127\.0\.0\.1:[0-9]+' "$workdir/port-forward.log"; }
wait_until "kubectl port-forward" 30 forwarded
api="http://$(grep -oE '127\.0\.0\.1:[0-9]+' "$workdir/port-forward.log" | head -1)"
status_of() { # TOKEN PATH -> HTTP status
  local auth=()
  [[ -n $1 ]] && auth=(-H "Authorization: Bearer $1")
  curl -s -o /dev/null -w '%{http_code}' ${auth[@]+"${auth[@]}"} "$api$2"
}
usage_served() { [[ $(status_of "$token" "/api/v1/namespaces/$ns/pods/$pod/usage") == 200 ]]; }
wait_until "the API to serve the pod's usage" 60 usage_served
pass "the API serves the tenant its own pod's usage (200)"
code=$(status_of "$token" "/api/v1/namespaces/kube-system/pods/$pod/usage")
[[ $code == 403 ]] || die "another namespace: expected 403, got $code"
pass "the API refuses the tenant another namespace (403)"
code=$(status_of "" "/api/v1/namespaces/$ns/pods/$pod/usage")
[[ $code == 401 ]] || die "no token: expected 401, got $code"
pass "the API refuses a request without a token (401)"
kill "$port_forward_pid" 2>/dev/null
port_forward_pid=

log "3. failover"
leader=$(lease_holder)
k -n "$OPERATOR_NAMESPACE" get pod "$leader" >/dev/null 2>&1 ||
  die "the Lease's holder '$leader' is not a pod of $OPERATOR_NAMESPACE (is POD_NAME the identity?)"
breaches_before=$(jsonpath resourcealert/burner-hot .status.cpuConsecutiveBreaches)
k -n "$OPERATOR_NAMESPACE" delete pod "$leader" --wait=false >/dev/null
new_leader() { local h; h=$(lease_holder) && [[ -n $h && $h != "$leader" ]]; }
wait_until "another replica to take the Lease" 120 new_leader
evaluated_at=$(jsonpath resourcealert/burner-hot .status.lastEvaluationTime)
evaluated_again() { [[ $(jsonpath resourcealert/burner-hot .status.lastEvaluationTime) != "$evaluated_at" ]]; }
wait_until "the new leader to evaluate the alert" 120 evaluated_again
breaches_after=$(jsonpath resourcealert/burner-hot .status.cpuConsecutiveBreaches)
((breaches_after >= breaches_before)) ||
  die "the new leader restarted the breach count: $breaches_before before the failover, $breaches_after after"
[[ $(jsonpath resourcealert/burner-hot .status.state) == Firing ]] || die "the alert stopped firing after the failover"
pass "$(lease_holder) took over and carried on counting ($breaches_before -> $breaches_after breaches)"

log "4. recovery"
k -n "$ns" patch resourcealert/burner-hot --type=merge -p '{"spec":{"cpu":{"above":"150%","of":"limit"}}}' >/dev/null
k -n "$ns" wait --for=condition=Firing=False resourcealert/burner-hot --timeout=3m >/dev/null
pass "the alert resolves once the usage is below the threshold"

printf 'kind-e2e: %d passed, 0 failed\n' "$passed"
