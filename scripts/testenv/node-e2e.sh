#!/usr/bin/env bash
# make e2e-node: the operator installed as a user installs it (`kubectl apply -k
# manifests/overlays/node`, two replicas under the shipped RBAC, FerretDB as the store's
# StatefulSet on a volume) on a real node of the test environment (scripts/testenv/node.sh),
# then the end-to-end scenario shared with `make kind-e2e` (scripts/e2e/scenario.sh), and the
# operator's chargeback compared with the kernel's own counters:
#   - CPU: the burner's cgroup counter (cpuacct.usage, or cpu.stat usage_usec on cgroup v2)
#     read at the start and the end of a window, against the operator's core-hours for the
#     same window;
#   - memory: the holder's working set (usage minus inactive file pages, as the kubelet
#     computes it) read every 2 s over the window, averaged, against the operator's GiB-hours
#     divided by the window;
# once in a quiet window and once in a window over the leader's failover (no bucket lost or
# doubled). Each error is printed and must be within E2E_MAX_ERROR_PERCENT (1).
# Everything is torn down on every path; the last check is that nothing is left running.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/testenv/lib.sh

NAME=${KUO_NODE_CLUSTER:-kuo-node-$$}
WINDOW_SECONDS=${E2E_WINDOW_SECONDS:-120}
MAX_ERROR_PERCENT=${E2E_MAX_ERROR_PERCENT:-1}
OPERATOR_NAMESPACE=kube-usage-system
phase() { log "[$(date +%H:%M:%S)] e2e-node: $*"; }

inner() { # KUBECONFIG: runs inside the node's network namespace
  export KUBECONFIG=$1
  k() { kubectl "$@"; }
  # shellcheck source=../e2e/scenario.sh
  . scripts/e2e/scenario.sh
  E2E_WORKLOAD_IMAGE=$(bash scripts/testenv/images.sh names | sed -n 's/^busybox=//p')
  trap e2e_cleanup EXIT

  phase "kubectl apply -k manifests/overlays/node"
  local started=$SECONDS
  k apply --server-side -k manifests/overlays/node >/dev/null
  k -n "$OPERATOR_NAMESPACE" rollout status statefulset/kube-usage-mongodb --timeout=3m >/dev/null
  k -n "$OPERATOR_NAMESPACE" rollout status deployment/kube-usage-operator --timeout=3m >/dev/null
  [[ $(k -n "$OPERATOR_NAMESPACE" get deployment kube-usage-operator -o 'jsonpath={.status.readyReplicas}') == 2 ]] ||
    die "the operator does not run 2 ready replicas"
  k -n "$OPERATOR_NAMESPACE" get pvc data-kube-usage-mongodb-0 -o 'jsonpath={.status.phase}' | grep -qx Bound ||
    die "the store's volume is not bound"
  e2e_pass "installed with kubectl apply -k: 2 operator replicas and FerretDB on its volume ready in $((SECONDS - started)) s"

  scenario_run measure_quiet_window measure_failover_window
  printf 'e2e-node: %d passed, 0 failed\n' "$E2E_PASSED"
}

# ---- the kernel's counters -------------------------------------------------------------

# The cgroup folder of a container of the scenario's pod with label app=APP, for CONTROLLER.
container_cgroup() { # APP CONTROLLER
  local uid id qos dir
  uid=$(k -n "$E2E_NS" get pods -l "app=$1" -o 'jsonpath={.items[0].metadata.uid}')
  id=$(k -n "$E2E_NS" get pods -l "app=$1" -o 'jsonpath={.items[0].status.containerStatuses[0].containerID}')
  id=${id#*://}
  qos=$(k -n "$E2E_NS" get pods -l "app=$1" -o 'jsonpath={.items[0].status.qosClass}' | tr '[:upper:]' '[:lower:]')
  for dir in "/sys/fs/cgroup/$2/kubepods/$qos/pod$uid/$id" "/sys/fs/cgroup/$2/kubepods/pod$uid/$id" \
    "/sys/fs/cgroup/kubepods/$qos/pod$uid/$id" "/sys/fs/cgroup/kubepods/pod$uid/$id"; do
    [[ -d $dir ]] && { echo "$dir"; return; }
  done
  die "no $2 cgroup for the $1 container ($id)"
}

# CPU time used by the cgroup, in nanoseconds.
cpu_ns() { # DIR
  if [[ -f $1/cpuacct.usage ]]; then cat "$1/cpuacct.usage"; else
    awk '$1 == "usage_usec" {printf "%.0f", $2 * 1000}' "$1/cpu.stat"
  fi
}

# The working set in bytes: usage minus inactive file pages (cgroup v1 or v2).
working_set() { # DIR
  if [[ -f $1/memory.usage_in_bytes ]]; then
    awk -v u="$(cat "$1/memory.usage_in_bytes")" '$1 == "total_inactive_file" {w = u - $2; print (w < 0 ? 0 : w)}' "$1/memory.stat"
  else
    awk -v u="$(cat "$1/memory.current")" '$1 == "inactive_file" {w = u - $2; print (w < 0 ? 0 : w)}' "$1/memory.stat"
  fi
}

now_ns() { date +%s%N; }
iso_of() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
sleep_until() { # EPOCH_SECONDS
  local d
  d=$(awk -v t="$1" -v n="$(now_ns)" 'BEGIN {d = t - n / 1e9; print (d > 0 ? d : 0)}')
  sleep "$d"
}

# Reads the counters over [FROM, FROM + WINDOW_SECONDS] (FROM a whole minute), with an optional
# action at an offset into the window, and compares them with the operator's chargeback.
# Sets WINDOW_CPU_ERROR and WINDOW_MEMORY_ERROR (percent).
measure_window() { # LABEL [ACTION_OFFSET_SECONDS ACTION]
  local label=$1 offset=${2:-} action=${3:-} cpu_dir mem_dir from to t1 c1 t2 c2 samples=0 sum=0 ws acted=""
  cpu_dir=$(container_cgroup burner cpuacct)
  [[ -d $cpu_dir ]] || cpu_dir=$(container_cgroup burner cpu)
  mem_dir=$(container_cgroup holder memory)
  # Whole minutes: the store's buckets are minute-aligned, so the window needs no pro-rating.
  from=$(((($(date +%s) + 70) / 60) * 60))
  to=$((from + WINDOW_SECONDS))
  phase "$label: window $(iso_of "$from") .. $(iso_of "$to")"
  sleep_until "$from"
  t1=$(now_ns)
  c1=$(cpu_ns "$cpu_dir")
  while (($(date +%s) < to - 2)); do
    ws=$(working_set "$mem_dir")
    sum=$((sum + ws))
    samples=$((samples + 1))
    if [[ -n $action && -z $acted ]] && (($(date +%s) >= from + offset)); then
      "$action"
      acted=1
    fi
    sleep 2
  done
  sleep_until "$to"
  t2=$(now_ns)
  c2=$(cpu_ns "$cpu_dir")
  # The reads are a few ms off the window's edges: correct them at the measured rate.
  local cgroup_cpu_s cgroup_mem
  cgroup_cpu_s=$(awk -v c1="$c1" -v c2="$c2" -v t1="$t1" -v t2="$t2" -v f="$from" -v t="$to" \
    'BEGIN {rate = (c2 - c1) / (t2 - t1); print ((c2 - c1) - rate * ((t2 - t * 1e9) - (t1 - f * 1e9))) / 1e9}')
  cgroup_mem=$((sum / samples))

  # A killed replica may have been the port-forward's pod.
  [[ -n $acted ]] && e2e_port_forward
  # The operator has the window once its latest sample of the burner is past the window's end.
  local pod
  pod=$(k -n "$E2E_NS" get pods -l app=burner -o 'jsonpath={.items[0].metadata.name}')
  past_window() {
    local t
    t=$(e2e_get "/api/v1/namespaces/$E2E_NS/pods/$pod/usage" | node -e \
      'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Date.parse(JSON.parse(s).containers[0].time)/1000))' 2>/dev/null) ||
      return 1
    awk -v t="$t" -v to="$to" 'BEGIN {exit !(t > to + 15)}'
  }
  e2e_wait_until "the operator to record past the window" 120 past_window
  local summary
  summary=$(e2e_get "/api/v1/usage/summary?namespace=$E2E_NS&groupBy=pod&from=$(iso_of "$from")&to=$(iso_of "$to")")
  local result
  result=$(SUMMARY=$summary NS=$E2E_NS CPU_S=$cgroup_cpu_s MEM=$cgroup_mem SPAN=$WINDOW_SECONDS node -e '
    const s = JSON.parse(process.env.SUMMARY);
    const pod = (prefix) => s.items.find((i) => i.group.startsWith(`${process.env.NS}/${prefix}-`));
    const burner = pod("burner"), holder = pod("holder");
    if (!burner || !holder) throw new Error(`no chargeback for both pods: ${JSON.stringify(s)}`);
    const cpu = burner.cpuCoreHours * 3600, cgroupCpu = Number(process.env.CPU_S);
    const mem = (holder.memoryGiBHours * 3600 * 2 ** 30) / Number(process.env.SPAN), cgroupMem = Number(process.env.MEM);
    const e = (a, b) => (100 * (a - b)) / b;
    console.log([cpu.toFixed(4), cgroupCpu.toFixed(4), e(cpu, cgroupCpu).toFixed(3), (mem / 2 ** 20).toFixed(3),
      (cgroupMem / 2 ** 20).toFixed(3), e(mem, cgroupMem).toFixed(3)].join(" "));')
  local op_cpu cg_cpu cpu_err op_mem cg_mem mem_err
  read -r op_cpu cg_cpu cpu_err op_mem cg_mem mem_err <<<"$result"
  printf '[e2e-node] %s: CPU    operator %s core-s, cgroup %s core-s over %s s: error %s%%\n' \
    "$label" "$op_cpu" "$cg_cpu" "$WINDOW_SECONDS" "$cpu_err"
  printf '[e2e-node] %s: memory operator %s MiB average, cgroup working set %s MiB (%d reads): error %s%%\n' \
    "$label" "$op_mem" "$cg_mem" "$samples" "$mem_err"
  WINDOW_CPU_ERROR=$cpu_err
  WINDOW_MEMORY_ERROR=$mem_err
  within "$cpu_err" || die "$label: the CPU chargeback is $cpu_err% off the cgroup's counter (more than $MAX_ERROR_PERCENT%)"
  within "$mem_err" || die "$label: the memory chargeback is $mem_err% off the cgroup's working set (more than $MAX_ERROR_PERCENT%)"
}

within() { awk -v e="$1" -v m="$MAX_ERROR_PERCENT" 'BEGIN {exit !(e <= m && e >= -m)}'; }

measure_quiet_window() {
  measure_window "quiet window"
  e2e_pass "chargeback matches the kernel's counters: CPU ${WINDOW_CPU_ERROR}%, memory ${WINDOW_MEMORY_ERROR}%"
}

kill_leader() {
  local leader
  leader=$(e2e_lease_holder)
  phase "killing the leader $leader (--grace-period=0 --force)"
  k -n "$OPERATOR_NAMESPACE" delete pod "$leader" --grace-period=0 --force >/dev/null 2>&1
}

# Over a window in which the new leader is killed in turn: nothing lost, nothing counted twice.
measure_failover_window() {
  e2e_wait_until "the replacement replica to be ready" 120 \
    bash -c "[[ \$(kubectl -n $OPERATOR_NAMESPACE get deployment kube-usage-operator -o 'jsonpath={.status.readyReplicas}') == 2 ]]"
  measure_window "failover window" 30 kill_leader
  e2e_pass "a leader killed mid-window loses and doubles nothing: CPU ${WINDOW_CPU_ERROR}%, memory ${WINDOW_MEMORY_ERROR}%"
}

# ---- the driver (outside the namespace) ------------------------------------------------

STARTED=$SECONDS
main() {
  local t
  bash scripts/testenv/node.sh install
  t=$SECONDS
  bash scripts/testenv/build.sh >/dev/null
  bash scripts/testenv/node.sh build
  phase "binaries ready in $((SECONDS - t)) s"
  t=$SECONDS
  bash scripts/testenv/images.sh build >/dev/null
  phase "images ready in $((SECONDS - t)) s"
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/kuo-e2e-node.XXXXXX")
  teardown() {
    local rc=$?
    trap - EXIT INT TERM
    phase "tearing down"
    bash scripts/testenv/node.sh down "$NAME" || rc=1
    rm -rf "$workdir"
    phase "done in $((SECONDS - STARTED)) s"
    exit "$rc"
  }
  trap teardown EXIT
  trap 'exit 130' INT TERM
  t=$SECONDS
  bash scripts/testenv/node.sh up "$NAME" "$workdir/kubeconfig"
  phase "cluster and node up in $((SECONDS - t)) s"
  bash scripts/testenv/node.sh exec bash "$0" inner "$workdir/kubeconfig"
}

case "${1:-}" in
  inner) inner "$2" ;;
  "") main ;;
  *) die "usage: node-e2e.sh" ;;
esac
