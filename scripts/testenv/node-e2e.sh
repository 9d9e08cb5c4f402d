#!/usr/bin/env bash
# make e2e-node: the operator installed as a user installs it (`kubectl apply -k
# manifests/overlays/node`, two replicas under the shipped RBAC, FerretDB as the store's
# StatefulSet on a volume) on a real node of the test environment (scripts/testenv/node.sh),
# the end-to-end steps shared with `make kind-e2e` (scripts/e2e/scenario.sh), and the
# operator's chargeback compared with the kernel's own counters:
#   - CPU: the burner's cgroup counter (cpuacct.usage, or cpu.stat usage_usec on cgroup v2)
#     read at every whole minute, against the operator's core-seconds for the same minutes;
#   - memory: the holder's working set (usage minus inactive file pages, as the kubelet
#     computes it) read every 2 s, averaged, against the operator's GiB-hours divided by the
#     window.
# A recorder in the background reads the counters while the steps run, so the windows cost no
# extra time: the quiet window (2 minutes; the API step runs in it) and right after it the
# failover window (3 minutes): 30 s into it the leader is killed (scenario step 3: the standby
# takes over), then, once its replacement is ready, the new leader as well (a replica that has
# just started takes over), and the alert is made to resolve (step 4). A 15 s sample lost in
# the failover is -8.3% of that window, one counted twice +8.3%; each error is printed and
# must be within 1%. Then the kubelet window (2 minutes): 30 s into it the node's kubelet is
# stopped for a minute (SIGSTOP: the node cannot be read, its containers run on); the counter
# difference after the gap must cover it, so the window's CPU is within 1% too. The node agent is installed from the manifests too (`kubectl apply -k
# manifests/overlays/node-agent`, its DaemonSet ready on the real node); right after the API
# step, in time the run waits anyway, it and the kubelet are read side by side with the
# operator's token, and the agent's CPU counter and working set of the burner (and the
# holder's working set) must match the kubelet's /metrics/resource at the kubelet's instants,
# within bounds that follow from the kernel's accounting (scripts/testenv/agent-vs-kubelet.ts);
# the burner pod's network, block I/O and processes as the agent reads them are printed and
# must be there. Everything is torn down on every
# path; the last check is that nothing is left running. Needs root (a real node).
# `node-e2e.sh agent-compare [RUNS]` (make e2e-node-agent) sets the node up the same way and runs
# only the agent-vs-kubelet comparison RUNS times in a row (20 by default).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/testenv/lib.sh

NAME=${KUO_NODE_CLUSTER:-kuo-node-$$}
WINDOW_SECONDS=120
FAILOVER_WINDOW_SECONDS=180
FAILOVER_OFFSET_SECONDS=30
# Then a window in which the node's kubelet is stopped (SIGSTOP) for a minute.
KUBELET_WINDOW_SECONDS=120
KUBELET_STOP_OFFSET_SECONDS=30
KUBELET_STOP_SECONDS=60
MAX_ERROR_PERCENT=1
OPERATOR_NAMESPACE=kube-usage-system
AGENT_NAMESPACE=kube-usage-agent
AGENT_PORT=10265
# How long the agent and the kubelet are read side by side (before the failover: no extra time).
AGENT_COMPARE_SECONDS=45
REAL_NODE=""
phase() { log "[$(date +%H:%M:%S)] e2e-node: $*"; }

FAILURES=()
fail_later() { # MESSAGE: the run goes on (the other checks still say what they find), then fails
  printf '[e2e-node] FAILED: %s\n' "$*" >&2
  FAILURES+=("$*")
}

RECORDER_PID=""
inner_cleanup() {
  [[ -n $RECORDER_PID ]] && { kill "$RECORDER_PID" 2>/dev/null || true; wait "$RECORDER_PID" 2>/dev/null || true; }
  RECORDER_PID=""
  e2e_cleanup
}

# What both inner runs need inside the node's network namespace: kubectl on KUBECONFIG, the
# scenario's steps with the image built here, the teardown on exit.
inner_setup() { # KUBECONFIG
  export KUBECONFIG=$1
  k() { kubectl "$@"; }
  # shellcheck source=../e2e/scenario.sh
  . scripts/e2e/scenario.sh
  E2E_WORKLOAD_IMAGE=$(bash scripts/testenv/images.sh names | sed -n 's/^busybox=//p')
  trap inner_cleanup EXIT
  # A command that fails under set -e says where (die says why; this covers the rest).
  set -E
  trap 'printf "[e2e-node] error: \"%s\" failed (line %s)\n" "$BASH_COMMAND" "$LINENO" >&2' ERR
}

# The operator as users install it: two replicas and FerretDB on its volume, ready.
install_operator() {
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
}

# make e2e-node-agent: the node as the e2e sets it up (the operator and the agent installed from
# the manifests, the scenario's workloads and policy, so the operator collects as it does there),
# then only the agent-vs-kubelet comparison, RUNS times in a row: each run's figures, then how
# many runs failed.
inner_agent_compare() { # KUBECONFIG RUNS
  inner_setup "$1"
  local runs=$2 run failed=0
  install_operator
  install_agent
  e2e_begin
  e2e_step1_workloads
  e2e_reader_account
  for ((run = 1; run <= runs; run++)); do
    if agent_vs_kubelet "run $run of $runs"; then
      printf '[e2e-node] run %d of %d: passed\n' "$run" "$runs"
    else
      failed=$((failed + 1))
      printf '[e2e-node] run %d of %d: FAILED\n' "$run" "$runs"
    fi
  done
  e2e_cleanup
  E2E_NS=""
  printf 'e2e-node-agent: %d runs of the agent-vs-kubelet comparison\n' "$runs"
  printf '%d passed, %d failed\n' $((runs - failed)) "$failed"
  ((failed == 0))
}

inner() { # KUBECONFIG: runs inside the node's network namespace
  inner_setup "$1"

  install_operator
  install_agent

  e2e_begin
  e2e_step1_workloads
  local counters="$E2E_WORKDIR/counters"
  record_counters "$(container_cgroup burner cpuacct)" "$(container_cgroup holder memory)" "$counters" \
    "$(container_cgroup sidecar cpuacct initContainerStatuses)" "$(container_cgroup sidecar cpuacct)" &
  RECORDER_PID=$!
  e2e_step1_alert_fires

  # Whole minutes: the store's buckets are minute-aligned, so the windows need no pro-rating.
  local quiet_from failover_from failover_to kubelet_to
  quiet_from=$(((($(date +%s) + 5) / 60 + 1) * 60))
  failover_from=$((quiet_from + WINDOW_SECONDS))
  failover_to=$((failover_from + FAILOVER_WINDOW_SECONDS))
  kubelet_to=$((failover_to + KUBELET_WINDOW_SECONDS))
  phase "quiet window $(iso_of "$quiet_from") .. $(iso_of "$failover_from"), failover window .. $(iso_of "$failover_to"), kubelet window .. $(iso_of "$kubelet_to")"
  e2e_step2_api
  # Before the failover (it only reads, in time the run waits anyway): the agent's figures
  # against the kubelet's.
  if agent_vs_kubelet; then
    e2e_pass "the agent's CPU counter and working sets match the kubelet's; the burner pod's I/O figures are there"
  else
    fail_later "the agent's figures do not match the kubelet's (or lack the pod's I/O; see above)"
  fi
  sleep_until $((failover_from + FAILOVER_OFFSET_SECONDS))
  phase "the leader is killed $FAILOVER_OFFSET_SECONDS s into the failover window: the standby takes over"
  e2e_step3_failover
  # Then the replica that took over is killed too, as soon as the one started in place of the
  # first is ready: now a replica that has just started takes over (no series of its own yet).
  replicas_ready() {
    [[ $(k -n "$OPERATOR_NAMESPACE" get deployment kube-usage-operator -o 'jsonpath={.status.readyReplicas}') == 2 ]]
  }
  e2e_wait_until "the replacement replica to be ready" 120 replicas_ready
  phase "the new leader is killed too: the replica started in place of the first takes over"
  e2e_step3_failover
  e2e_step4_recovery
  sleep_until $((failover_to + KUBELET_STOP_OFFSET_SECONDS))
  phase "the kubelet is stopped for $KUBELET_STOP_SECONDS s: the node cannot be read, its containers run on"
  bash scripts/testenv/node.sh kubelet STOP
  sleep "$KUBELET_STOP_SECONDS"
  bash scripts/testenv/node.sh kubelet CONT
  # The API's port-forward runs through the kubelet: a new one.
  e2e_port_forward
  sleep_until "$kubelet_to"
  # The operator has the windows once its latest sample of the burner is past their end.
  local pod
  pod=$(k -n "$E2E_NS" get pods -l app=burner -o 'jsonpath={.items[0].metadata.name}')
  past_windows() {
    local t
    t=$(e2e_get "/api/v1/namespaces/$E2E_NS/pods/$pod/usage" | node -e \
      'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Date.parse(JSON.parse(s).containers[0].time)/1000))' 2>/dev/null) ||
      return 1
    awk -v t="$t" -v to="$kubelet_to" 'BEGIN {exit !(t > to + 15)}'
  }
  e2e_wait_until "the operator to record past the windows" 120 past_windows
  kill "$RECORDER_PID" 2>/dev/null || true
  wait "$RECORDER_PID" 2>/dev/null || true
  RECORDER_PID=""

  compare_window "quiet window" "$quiet_from" "$failover_from" "$counters"
  if within "$WINDOW_CPU_ERROR" && within "$WINDOW_MEMORY_ERROR"; then
    e2e_pass "chargeback matches the kernel's counters: CPU ${WINDOW_CPU_ERROR}%, memory ${WINDOW_MEMORY_ERROR}%"
  else
    fail_later "quiet window: CPU ${WINDOW_CPU_ERROR}%, memory ${WINDOW_MEMORY_ERROR}% off the cgroup's counters (more than ${MAX_ERROR_PERCENT}%)"
  fi
  if within "$WINDOW_SIDECAR_ERROR"; then
    e2e_pass "a native sidecar (an init container that runs beside the pod's container) is billed as it runs: ${WINDOW_SIDECAR_ERROR}%"
  else
    fail_later "quiet window: the sidecar pod's CPU is ${WINDOW_SIDECAR_ERROR}% off its containers' cgroup counters (more than ${MAX_ERROR_PERCENT}%)"
  fi
  compare_window "failover window" "$failover_from" "$failover_to" "$counters"
  if within "$WINDOW_CPU_ERROR" && within "$WINDOW_MEMORY_ERROR"; then
    e2e_pass "two leaders killed mid-window lose and double nothing: CPU ${WINDOW_CPU_ERROR}%, memory ${WINDOW_MEMORY_ERROR}%"
  else
    local seconds
    seconds=$(awk -v e="$WINDOW_CPU_ERROR" -v w="$FAILOVER_WINDOW_SECONDS" \
      'BEGIN {printf "%.1f s %s", (e < 0 ? -e : e) * w / 100, (e < 0 ? "missing" : "counted twice")}')
    fail_later "failover window: CPU ${WINDOW_CPU_ERROR}%, memory ${WINDOW_MEMORY_ERROR}% off the cgroup's counters (more than ${MAX_ERROR_PERCENT}%; ${seconds} of the ${FAILOVER_WINDOW_SECONDS} s)"
  fi
  compare_window "kubelet window" "$failover_to" "$kubelet_to" "$counters"
  if within "$WINDOW_CPU_ERROR"; then
    e2e_pass "the kubelet stopped for $KUBELET_STOP_SECONDS s loses and doubles no CPU: ${WINDOW_CPU_ERROR}% (memory over the gap is not invented: ${WINDOW_MEMORY_ERROR}%)"
  else
    fail_later "kubelet window: CPU ${WINDOW_CPU_ERROR}% off the cgroup's counter (more than ${MAX_ERROR_PERCENT}%) with the kubelet stopped for $KUBELET_STOP_SECONDS s"
  fi
  # Minute by minute (printed, not checked: a single 15 s sample's timing is a larger share of
  # a minute): where a failover gap or a double count sits.
  local m
  for ((m = quiet_from; m < kubelet_to; m += 60)); do
    compare_window "  minute $(date -u -d "@$m" +%H:%M)" "$m" $((m + 60)) "$counters"
  done
  e2e_cleanup
  E2E_NS=""
  if ((${#FAILURES[@]} > 0)); then
    printf 'e2e-node: %d passed, %d failed\n' "$E2E_PASSED" "${#FAILURES[@]}"
    printf '  failed: %s\n' "${FAILURES[@]}"
    exit 1
  fi
  printf 'e2e-node: %d passed, 0 failed\n' "$E2E_PASSED"
}

# ---- the node agent against the kubelet ------------------------------------------------

# The agent's DaemonSet from the manifests (overlays/node-agent: manifests/agent with the image
# built here), ready on the real node. It tolerates every taint, so kwok's simulated node runs
# one too; only the real node's is the agent's work.
install_agent() {
  phase "kubectl apply -k manifests/overlays/node-agent"
  local started=$SECONDS pod
  REAL_NODE=$(k get nodes -l kubeusage.dev/real-node=true -o 'jsonpath={.items[0].metadata.name}')
  [[ -n $REAL_NODE ]] || die "no node labelled kubeusage.dev/real-node=true"
  k apply --server-side -k manifests/overlays/node-agent >/dev/null
  agent_ready() {
    [[ $(k -n "$AGENT_NAMESPACE" get pods -l app.kubernetes.io/name=kube-usage-agent --field-selector "spec.nodeName=$REAL_NODE" \
      -o 'jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
  }
  e2e_wait_until "the agent on $REAL_NODE to be ready" 180 agent_ready
  pod=$(k -n "$AGENT_NAMESPACE" get pods -l app.kubernetes.io/name=kube-usage-agent --field-selector "spec.nodeName=$REAL_NODE" \
    -o 'jsonpath={.items[0].metadata.name}')
  e2e_pass "the agent DaemonSet from the manifests is ready on $REAL_NODE ($pod) in $((SECONDS - started)) s"
}

# A container's CFS bandwidth from its cgroup folder: "QUOTA_US PERIOD_US BURST_US" (quota 0: no
# limit; burst 0 where the kernel has none).
cpu_bandwidth() { # DIR
  local burst=0
  if [[ -f $1/cpu.cfs_quota_us ]]; then
    [[ -f $1/cpu.cfs_burst_us ]] && burst=$(cat "$1/cpu.cfs_burst_us")
    awk -v p="$(cat "$1/cpu.cfs_period_us")" -v b="$burst" '{print ($1 < 0 ? 0 : $1), p, b}' "$1/cpu.cfs_quota_us"
  else
    [[ -f $1/cpu.max.burst ]] && burst=$(cat "$1/cpu.max.burst")
    awk -v b="$burst" '{print ($1 == "max" ? 0 : $1), $2, b}' "$1/cpu.max"
  fi
}

# The scheduler tick in microseconds (1 s / CONFIG_HZ), from the running kernel's configuration;
# 10000 (HZ=100, the longest tick Linux offers) when the configuration cannot be read.
scheduler_tick_us() {
  local hz=""
  if [[ -r /proc/config.gz ]]; then
    hz=$(zcat /proc/config.gz | sed -n 's/^CONFIG_HZ=//p')
  elif [[ -r /boot/config-$(uname -r) ]]; then
    hz=$(sed -n 's/^CONFIG_HZ=//p' "/boot/config-$(uname -r)")
  fi
  echo $((1000000 / ${hz:-100}))
}

# GET URL with TOKEN into DIR/NAME-<asked>-<answered>.EXT: when it was asked for and when the
# answer was in, ms since epoch (the comparison needs both).
save_answer() { # TOKEN URL DIR NAME EXT
  local asked answered tmp="$3/.$4.partial"
  asked=$(date +%s%3N)
  curl -sfk -H "Authorization: Bearer $1" -o "$tmp" "$2" || return 1
  answered=$(date +%s%3N)
  mv "$tmp" "$3/$4-$asked-$answered.$5"
}

# The agent's /stats and the kubelet's /metrics/resource, both asked with the operator's own
# token (the shipped RBAC grants it nodes/stats and nodes/metrics), every 0.4 s for
# AGENT_COMPARE_SECONDS; then the burner's CPU counter and working set and the holder's working
# set compared at the kubelet's reads (scripts/testenv/agent-vs-kubelet.ts says how, and the
# bounds), and the burner pod's I/O figures printed. Returns 1 when a figure is outside its
# bounds; dies when an endpoint refuses.
agent_vs_kubelet() { # [LABEL]
  log "the node agent against the kubelet on $REAL_NODE${1:+ ($1)}"
  local node_ip token code dir deadline burner holder cgroup quota period burst
  node_ip=$(k get node "$REAL_NODE" -o 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}')
  local agent="https://$node_ip:$AGENT_PORT" kubelet="https://$node_ip:10250"
  # The agents' and the kubelet's serving certificates are self-signed: -k, as the operator's
  # --agent-insecure-tls and metrics-server's --kubelet-insecure-tls.
  code=$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(k -n "$E2E_NS" create token reader --duration=10m)" "$agent/stats")
  [[ $code == 403 ]] || die "the agent answered a token without nodes/stats with $code, not 403"
  e2e_pass "the agent refuses a token that may not get nodes/stats of its node (403)"
  token=$(k -n "$OPERATOR_NAMESPACE" create token kube-usage-operator --duration=10m)
  dir=$(mktemp -d "$E2E_WORKDIR/agent-vs-kubelet.XXXXXX")
  deadline=$((SECONDS + AGENT_COMPARE_SECONDS))
  while ((SECONDS < deadline)); do
    save_answer "$token" "$kubelet/metrics/resource" "$dir" kubelet prom ||
      die "the kubelet's /metrics/resource refused the operator's token"
    save_answer "$token" "$agent/stats" "$dir" agent json || die "the agent's /stats refused the operator's token"
    sleep 0.4
  done
  burner=$(k -n "$E2E_NS" get pods -l app=burner -o 'jsonpath={.items[0].metadata.name}')
  holder=$(k -n "$E2E_NS" get pods -l app=holder -o 'jsonpath={.items[0].metadata.name}')
  cgroup=$(container_cgroup burner cpu)
  read -r quota period burst <<<"$(cpu_bandwidth "$cgroup")"
  node_modules/.bin/tsx scripts/testenv/agent-vs-kubelet.ts --dir "$dir" --cpus "$(getconf _NPROCESSORS_ONLN)" \
    --page-size "$(getconf PAGESIZE)" --cpu "$E2E_NS/$burner/burner" --quota-us "$quota" --period-us "$period" \
    --burst-us "$burst" --slice-us "$(cat /proc/sys/kernel/sched_cfs_bandwidth_slice_us)" --tick-us "$(scheduler_tick_us)" \
    --memory "$E2E_NS/$holder/holder" --io "$E2E_NS/$burner"
}

# ---- the kernel's counters -------------------------------------------------------------

# The cgroup folder of the first container (or init container) of the scenario's pod with label
# app=APP, for CONTROLLER.
container_cgroup() { # APP CONTROLLER [STATUSES]: STATUSES containerStatuses (default) or initContainerStatuses
  local uid id qos dir c
  uid=$(k -n "$E2E_NS" get pods -l "app=$1" -o 'jsonpath={.items[0].metadata.uid}')
  id=$(k -n "$E2E_NS" get pods -l "app=$1" -o "jsonpath={.items[0].status.${3:-containerStatuses}[0].containerID}")
  id=${id#*://}
  qos=$(k -n "$E2E_NS" get pods -l "app=$1" -o 'jsonpath={.items[0].status.qosClass}' | tr '[:upper:]' '[:lower:]')
  # cgroup v1 names the CPU accounting controller cpuacct (or cpu,cpuacct); v2 has one tree.
  for c in "$2" cpu,cpuacct cpu; do
    for dir in "/sys/fs/cgroup/$c/kubepods/$qos/pod$uid/$id" "/sys/fs/cgroup/$c/kubepods/pod$uid/$id"; do
      [[ -d $dir ]] && { echo "$dir"; return; }
    done
  done
  for dir in "/sys/fs/cgroup/kubepods/$qos/pod$uid/$id" "/sys/fs/cgroup/kubepods/pod$uid/$id"; do
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

# In the background until killed: appends `cpu MINUTE T_NS CPU_NS` at every whole minute (and
# `side MINUTE T_NS CPU_NS`, the sum of the SIDE_CPU_DIRs) and `mem T_NS BYTES` every 2 s to FILE. Stops when a container's cgroup is gone (a window that
# needs the missing reads then fails with "no counters").
record_counters() { # CPU_DIR MEM_DIR FILE [SIDE_CPU_DIR...]
  local cpu_dir=$1 mem_dir=$2 out=$3 next_min next_mem t c m d side
  shift 3
  local side_dirs=("$@")
  trap 'exit 0' TERM
  next_min=$((($(date +%s) / 60 + 1) * 60))
  next_mem=$(($(date +%s) + 1))
  while :; do
    if ((next_min <= next_mem)); then
      sleep_until "$next_min"
      t=$(now_ns)
      c=$(cpu_ns "$cpu_dir" 2>/dev/null) && [[ -n $c ]] || exit 0
      echo "cpu $next_min $t $c" >>"$out"
      if ((${#side_dirs[@]} > 0)); then
        side=0
        for d in "${side_dirs[@]}"; do
          c=$(cpu_ns "$d" 2>/dev/null) && [[ -n $c ]] || exit 0
          side=$((side + c))
        done
        echo "side $next_min $(now_ns) $side" >>"$out"
      fi
      next_min=$((next_min + 60))
    else
      sleep_until "$next_mem"
      t=$(now_ns)
      m=$(working_set "$mem_dir" 2>/dev/null) && [[ -n $m ]] || exit 0
      echo "mem $t $m" >>"$out"
      next_mem=$((next_mem + 2))
    fi
  done
}

# The counters over [FROM, TO] from the recorder's FILE: "CPU_SECONDS MEMORY_BYTES READS". The
# CPU reads are a few ms off the minute: corrected at the rate measured between them.
counters_of() { # FILE FROM TO
  awk -v f="$2" -v t="$3" '
    $1 == "cpu" && $2 == f {t1 = $3; c1 = $4}
    $1 == "cpu" && $2 == t {t2 = $3; c2 = $4}
    $1 == "mem" && $2 >= f * 1e9 && $2 < t * 1e9 {sum += $3; n++}
    END {
      if (!t1 || !t2 || !n) exit 1
      rate = (c2 - c1) / (t2 - t1)
      printf "%.9f %.0f %d\n", ((c2 - c1) - rate * ((t2 - t * 1e9) - (t1 - f * 1e9))) / 1e9, sum / n, n
    }' "$1"
}

# The sidecar pod's CPU seconds over [FROM, TO] from the recorder's FILE, corrected to the whole
# minutes at the rate measured between the reads, as counters_of does.
side_cpu_of() { # FILE FROM TO
  awk -v f="$2" -v t="$3" '
    $1 == "side" && $2 == f {t1 = $3; c1 = $4}
    $1 == "side" && $2 == t {t2 = $3; c2 = $4}
    END {
      if (!t1 || !t2) exit 1
      rate = (c2 - c1) / (t2 - t1)
      printf "%.9f\n", ((c2 - c1) - rate * ((t2 - t * 1e9) - (t1 - f * 1e9))) / 1e9
    }' "$1"
}

# Compares the operator's chargeback of the burner and the holder over [FROM, TO] with the
# counters; prints both and sets WINDOW_CPU_ERROR and WINDOW_MEMORY_ERROR (percent).
compare_window() { # LABEL FROM TO FILE
  local label=$1 from=$2 to=$3 counters summary result cg_cpu_s cg_mem reads
  read -r cg_cpu_s cg_mem reads < <(counters_of "$4" "$from" "$to") ||
    die "$label: the recorder has no counters for $(iso_of "$from") .. $(iso_of "$to")"
  summary=$(e2e_get "/api/v1/usage/summary?namespace=$E2E_NS&groupBy=pod&from=$(iso_of "$from")&to=$(iso_of "$to")")
  result=$(SUMMARY=$summary NS=$E2E_NS CPU_S=$cg_cpu_s MEM=$cg_mem SPAN=$((to - from)) node -e '
    const s = JSON.parse(process.env.SUMMARY);
    const pod = (prefix) => s.items.find((i) => i.group.startsWith(`${process.env.NS}/${prefix}-`));
    const burner = pod("burner"), holder = pod("holder");
    const cpu = burner ? burner.cpuCoreHours * 3600 : 0, cgroupCpu = Number(process.env.CPU_S);
    const mem = holder ? (holder.memoryGiBHours * 3600 * 2 ** 30) / Number(process.env.SPAN) : 0;
    const cgroupMem = Number(process.env.MEM);
    const e = (a, b) => (100 * (a - b)) / b;
    console.log([cpu.toFixed(4), cgroupCpu.toFixed(4), e(cpu, cgroupCpu).toFixed(3), (mem / 2 ** 20).toFixed(3),
      (cgroupMem / 2 ** 20).toFixed(3), e(mem, cgroupMem).toFixed(3)].join(" "));')
  local op_cpu cg_cpu op_mem cg_mem_mib
  read -r op_cpu cg_cpu WINDOW_CPU_ERROR op_mem cg_mem_mib WINDOW_MEMORY_ERROR <<<"$result"
  printf '[e2e-node] %s: CPU    operator %s core-s, cgroup %s core-s over %s s: error %s%%\n' \
    "$label" "$op_cpu" "$cg_cpu" "$((to - from))" "$WINDOW_CPU_ERROR"
  printf '[e2e-node] %s: memory operator %s MiB average, cgroup working set %s MiB (%d reads): error %s%%\n' \
    "$label" "$op_mem" "$cg_mem_mib" "$reads" "$WINDOW_MEMORY_ERROR"
  # The sidecar pod: its init container (restartPolicy Always) and its main container, billed
  # together as the pod, against the sum of their two cgroup counters.
  local cg_side_s
  cg_side_s=$(side_cpu_of "$4" "$from" "$to") || die "$label: the recorder has no sidecar counters"
  result=$(SUMMARY=$summary NS=$E2E_NS CPU_S=$cg_side_s node -e '
    const s = JSON.parse(process.env.SUMMARY);
    const pod = s.items.find((i) => i.group.startsWith(`${process.env.NS}/sidecar-`));
    const cpu = pod ? pod.cpuCoreHours * 3600 : 0, cgroupCpu = Number(process.env.CPU_S);
    console.log([cpu.toFixed(4), cgroupCpu.toFixed(4), ((100 * (cpu - cgroupCpu)) / cgroupCpu).toFixed(3)].join(" "));')
  read -r op_cpu cg_cpu WINDOW_SIDECAR_ERROR <<<"$result"
  printf '[e2e-node] %s: sidecar pod CPU operator %s core-s, cgroups %s core-s: error %s%%\n' \
    "$label" "$op_cpu" "$cg_cpu" "$WINDOW_SIDECAR_ERROR"
}

within() { awk -v e="$1" -v m="$MAX_ERROR_PERCENT" 'BEGIN {exit !(e <= m && e >= -m)}'; }

# ---- the driver (outside the namespace) ------------------------------------------------

STARTED=$SECONDS
TIMES=""
timed() { # LABEL COMMAND...: runs COMMAND and adds its wall time to the summary
  local label=$1 t=$SECONDS rc=0
  shift
  # In the background and waited for, so that INT or TERM runs the teardown at once (bash
  # defers traps until a foreground command ends).
  "$@" &
  wait $! || rc=$?
  TIMES="$TIMES, $label $((SECONDS - t)) s"
  return "$rc"
}
main() {
  [ "$(id -u)" = 0 ] || die "the real-node e2e needs root (containerd, the kubelet, a network namespace); \`npm test\` runs the other tests"
  timed packages bash scripts/testenv/node.sh install
  timed binaries bash -c 'bash scripts/testenv/build.sh >/dev/null && bash scripts/testenv/node.sh build'
  timed images bash -c 'bash scripts/testenv/images.sh build >/dev/null'
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/kuo-e2e-node.XXXXXX")
  teardown() {
    local rc=$?
    trap - EXIT INT TERM
    phase "tearing down"
    timed teardown bash scripts/testenv/node.sh down "$NAME" || rc=1
    rm -rf "$workdir"
    local total=$((SECONDS - STARTED))
    printf '[e2e-node] wall time %d min %02d s (%s)%s\n' $((total / 60)) $((total % 60)) "${TIMES#, }" \
      "$([ "$rc" = 0 ] || echo ": FAILED")"
    exit "$rc"
  }
  trap teardown EXIT
  trap 'exit 130' INT TERM
  timed "cluster and node up" bash scripts/testenv/node.sh up "$NAME" "$workdir/kubeconfig"
  if [[ -n $AGENT_COMPARE_RUNS ]]; then
    timed "install and $AGENT_COMPARE_RUNS comparisons" bash scripts/testenv/node.sh exec bash "$0" inner-agent-compare \
      "$workdir/kubeconfig" "$AGENT_COMPARE_RUNS"
  else
    timed "install and scenario" bash scripts/testenv/node.sh exec bash "$0" inner "$workdir/kubeconfig"
  fi
}

AGENT_COMPARE_RUNS=""
case "${1:-}" in
  inner) inner "$2" ;;
  inner-agent-compare) inner_agent_compare "$2" "$3" ;;
  agent-compare) AGENT_COMPARE_RUNS=${2:-20} main ;;
  "") main ;;
  *) die "usage: node-e2e.sh [agent-compare [RUNS]]" ;;
esac
