# The end-to-end scenario against a deployed operator, shared by `make kind-e2e`
# (scripts/kind/e2e.sh) and `make e2e-node` (scripts/testenv/node-e2e.sh). Sourced.
#
# The caller defines k (kubectl for the cluster), log, die, and sets OPERATOR_NAMESPACE and
# optionally E2E_WORKLOAD_IMAGE (the image of the workload containers, default busybox:1.37).
# Its objects are in scripts/e2e/scenario.yaml:
#   1. a container burning CPU at its 250m limit and one holding 64 MiB, a UsagePolicy
#      selecting both, and a ResourceAlert on 50% of the CPU limit: the policy becomes Ready
#      and counts the pods, the alert fires (`kubectl wait --for=condition=Firing`) and records
#      an Event;
#   2. the API answers a ServiceAccount bound to `view` in that namespace (200), refuses it
#      another namespace (403) and refuses a request without a token (401);
#   3. the leader's pod is killed (--grace-period=0 --force): the other replica takes over the
#      Lease and carries on counting from the breach count in status instead of from zero;
#   4. the threshold is raised: the alert resolves.
# shellcheck shell=bash disable=SC2034 # E2E_* are read by the callers

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_PASSED=0
E2E_NS=""
E2E_TOKEN=""
E2E_API=""
E2E_PORT_FORWARD_PID=""
E2E_WORKDIR=""

e2e_pass() {
  E2E_PASSED=$((E2E_PASSED + 1))
  log "ok: $*"
}

# e2e_wait_until DESCRIPTION SECONDS COMMAND...: polls COMMAND every 2 s until it succeeds.
e2e_wait_until() {
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || die "timed out waiting for $what"
    sleep 2
  done
}

e2e_jsonpath() { k -n "$E2E_NS" get "$1" -o "jsonpath={$2}"; }
e2e_lease_holder() { k -n "$OPERATOR_NAMESPACE" get lease kube-usage-operator -o 'jsonpath={.spec.holderIdentity}'; }

# The operator's API through `kubectl port-forward` to its Service; sets E2E_API.
e2e_port_forward() {
  [[ -n $E2E_PORT_FORWARD_PID ]] && { kill "$E2E_PORT_FORWARD_PID" 2>/dev/null || true; }
  k -n "$OPERATOR_NAMESPACE" port-forward service/kube-usage-operator :8080 >"$E2E_WORKDIR/port-forward.log" 2>&1 &
  E2E_PORT_FORWARD_PID=$!
  forwarded() { grep -qoE '127\.0\.0\.1:[0-9]+' "$E2E_WORKDIR/port-forward.log"; }
  e2e_wait_until "kubectl port-forward" 30 forwarded
  # One grep, no pipe: with pipefail, `grep | head -1` fails when head closes the pipe early.
  E2E_API="http://$(grep -m1 -oE '127\.0\.0\.1:[0-9]+' "$E2E_WORKDIR/port-forward.log")"
}

# GET PATH with the tenant's token; prints the body, fails on a status other than 200.
e2e_get() { curl -sf -H "Authorization: Bearer $E2E_TOKEN" "$E2E_API$1"; }

e2e_cleanup() {
  [[ -n $E2E_PORT_FORWARD_PID ]] && { kill "$E2E_PORT_FORWARD_PID" 2>/dev/null || true; }
  E2E_PORT_FORWARD_PID=""
  [[ -n $E2E_NS ]] && k delete namespace "$E2E_NS" --ignore-not-found --wait=false >/dev/null 2>&1
  [[ -n $E2E_WORKDIR ]] && rm -rf "$E2E_WORKDIR"
  return 0
}

e2e_step1_workload_and_alert() {
  e2e_step1_workloads
  e2e_step1_alert_fires
}

# The objects created and the three workload pods running.
e2e_step1_workloads() {
  log "1. workloads, UsagePolicy and ResourceAlert in namespace $E2E_NS"
  k create namespace "$E2E_NS" >/dev/null
  sed "s|image: busybox:1.37|image: ${E2E_WORKLOAD_IMAGE:-busybox:1.37}|" "$E2E_DIR/scenario.yaml" |
    k -n "$E2E_NS" apply -f - >/dev/null
  k -n "$E2E_NS" rollout status deployment/burner --timeout=3m >/dev/null
  k -n "$E2E_NS" rollout status deployment/holder --timeout=3m >/dev/null
  k -n "$E2E_NS" rollout status deployment/sidecar --timeout=3m >/dev/null
}

# The policy Ready and counting the three pods, the alert Firing with an Event.
e2e_step1_alert_fires() {
  k -n "$E2E_NS" wait --for=condition=Ready usagepolicy/workloads --timeout=2m >/dev/null
  pods_counted() { [[ $(e2e_jsonpath usagepolicy/workloads .status.matchedPods) == 3 ]]; }
  e2e_wait_until "the UsagePolicy to count the pods" 120 pods_counted
  e2e_pass "the UsagePolicy is Ready and selects the three pods"
  k -n "$E2E_NS" wait --for=condition=Firing resourcealert/burner-hot --timeout=5m >/dev/null
  [[ $(e2e_jsonpath resourcealert/burner-hot .status.state) == Firing ]] || die "the alert's status.state is not Firing"
  e2e_pass "the ResourceAlert fires"
  alert_event() {
    [[ -n $(k -n "$E2E_NS" get events --field-selector involvedObject.kind=ResourceAlert,involvedObject.name=burner-hot -o name) ]]
  }
  e2e_wait_until "an Event on the ResourceAlert" 60 alert_event
  e2e_pass "the transition is recorded as an Event"
}

# A tenant's ServiceAccount `reader` with the view role in the namespace.
e2e_reader_account() {
  k -n "$E2E_NS" create serviceaccount reader >/dev/null
  k -n "$E2E_NS" create rolebinding reader-view --clusterrole=view --serviceaccount="$E2E_NS:reader" >/dev/null
}

e2e_step2_api() {
  log "2. the HTTP API with a tenant's token"
  e2e_reader_account
  E2E_TOKEN=$(k -n "$E2E_NS" create token reader --duration=1h --audience kube-usage-operator)
  local pod code
  pod=$(k -n "$E2E_NS" get pods -l app=burner -o 'jsonpath={.items[0].metadata.name}')
  e2e_port_forward
  status_of() { # TOKEN PATH -> HTTP status
    local auth=()
    [[ -n $1 ]] && auth=(-H "Authorization: Bearer $1")
    curl -s -o /dev/null -w '%{http_code}' ${auth[@]+"${auth[@]}"} "$E2E_API$2"
  }
  usage_served() { [[ $(status_of "$E2E_TOKEN" "/api/v1/namespaces/$E2E_NS/pods/$pod/usage") == 200 ]]; }
  e2e_wait_until "the API to serve the pod's usage" 60 usage_served
  e2e_pass "the API serves the tenant its own pod's usage (200)"
  code=$(status_of "$E2E_TOKEN" "/api/v1/namespaces/kube-system/pods/$pod/usage")
  [[ $code == 403 ]] || die "another namespace: expected 403, got $code"
  e2e_pass "the API refuses the tenant another namespace (403)"
  code=$(status_of "" "/api/v1/namespaces/$E2E_NS/pods/$pod/usage")
  [[ $code == 401 ]] || die "no token: expected 401, got $code"
  e2e_pass "the API refuses a request without a token (401)"
}

E2E_OLD_LEADER=""
e2e_step3_failover() {
  log "3. failover: the leader's pod is killed"
  local leader breaches_before breaches_after evaluated_at
  leader=$(e2e_lease_holder)
  k -n "$OPERATOR_NAMESPACE" get pod "$leader" >/dev/null 2>&1 ||
    die "the Lease's holder '$leader' is not a pod of $OPERATOR_NAMESPACE (is POD_NAME the identity?)"
  E2E_OLD_LEADER=$leader
  breaches_before=$(e2e_jsonpath resourcealert/burner-hot .status.cpuConsecutiveBreaches)
  k -n "$OPERATOR_NAMESPACE" delete pod "$leader" --grace-period=0 --force >/dev/null 2>&1
  new_leader() { local h; h=$(e2e_lease_holder) && [[ -n $h && $h != "$leader" ]]; }
  e2e_wait_until "another replica to take the Lease" 120 new_leader
  evaluated_at=$(e2e_jsonpath resourcealert/burner-hot .status.lastEvaluationTime)
  evaluated_again() { [[ $(e2e_jsonpath resourcealert/burner-hot .status.lastEvaluationTime) != "$evaluated_at" ]]; }
  e2e_wait_until "the new leader to evaluate the alert" 120 evaluated_again
  breaches_after=$(e2e_jsonpath resourcealert/burner-hot .status.cpuConsecutiveBreaches)
  ((breaches_after >= breaches_before)) ||
    die "the new leader restarted the breach count: $breaches_before before the failover, $breaches_after after"
  [[ $(e2e_jsonpath resourcealert/burner-hot .status.state) == Firing ]] || die "the alert stopped firing after the failover"
  e2e_pass "$(e2e_lease_holder) took over and carried on counting ($breaches_before -> $breaches_after breaches)"
  # The port-forward led to a pod of the Service; start it again for what follows.
  e2e_port_forward
}

e2e_step4_recovery() {
  log "4. recovery"
  k -n "$E2E_NS" patch resourcealert/burner-hot --type=merge -p '{"spec":{"cpu":{"above":"150%","of":"limit"}}}' >/dev/null
  k -n "$E2E_NS" wait --for=condition=Firing=False resourcealert/burner-hot --timeout=3m >/dev/null
  e2e_pass "the alert resolves once the usage is below the threshold"
}

# A namespace name and a work folder for a run (e2e_cleanup removes both).
e2e_begin() {
  E2E_NS="kuo-e2e-$RANDOM"
  E2E_WORKDIR=$(mktemp -d)
}

# scenario_run: the four steps in a namespace of its own, deleted at the end (the caller's EXIT
# trap should call e2e_cleanup too). make e2e-node runs the same steps with its measurements
# around them (scripts/testenv/node-e2e.sh).
scenario_run() {
  e2e_begin
  e2e_step1_workload_and_alert
  e2e_step2_api
  e2e_step3_failover
  e2e_step4_recovery
  e2e_cleanup
  E2E_NS=""
}
