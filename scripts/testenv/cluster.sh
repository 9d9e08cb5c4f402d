#!/usr/bin/env bash
# Starts or stops a simulated Kubernetes cluster (kwokctl, binary runtime): a real etcd,
# kube-apiserver, controller-manager, scheduler, kwok and metrics-server, all on 127.0.0.1,
# from the binaries build.sh put in the cache. Nothing is downloaded.
#
#   cluster.sh up NAME KUBECONFIG_OUT     build (if needed), create, wait until ready
#   cluster.sh down NAME                  delete the cluster; returns when every component has exited
#   cluster.sh prune                      delete test clusters (kuo-test-PID) of runs that died
#   cluster.sh stop NAME / start NAME     stop every component and start them again (tests of
#                                         an apiserver outage; the data in etcd is kept)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export KWOK_WORKDIR="$CACHE_ROOT/kwok"
KWOKCTL="$BIN_DIR/kwokctl"

# With KUO_REAL_NODE_IP set (node.sh, inside a network namespace of its own), the cluster
# also serves a real node's kubelet and pods: the apiserver listens on every address of that
# namespace and advertises the node address (so the `kubernetes` Service leads to it), its
# certificate names the Service IP, it reaches kubelets with the admin's certificate, and kwok
# manages only the nodes annotated kwok.x-k8s.io/node=fake, never the real one.
real_node_options() {
  [ -n "${KUO_REAL_NODE_IP:-}" ] || return 0
  cat <<YAML
  kubeApiserverCertSANs:
    - ${KUO_KUBERNETES_SERVICE_IP:?}
    - $KUO_REAL_NODE_IP
YAML
}
real_node_patches() { # NAME
  [ -n "${KUO_REAL_NODE_IP:-}" ] || return 0
  local pki="$KWOK_WORKDIR/clusters/$1/pki"
  cat <<YAML
  - name: kube-apiserver
    extraArgs:
      - key: bind-address
        value: 0.0.0.0
      - key: advertise-address
        value: $KUO_REAL_NODE_IP
      - key: service-cluster-ip-range
        value: ${KUO_SERVICE_CIDR:?}
      - key: kubelet-client-certificate
        value: $pki/admin.crt
      - key: kubelet-client-key
        value: $pki/admin.key
      - key: kubelet-preferred-address-types
        value: InternalIP,Hostname
  - name: kwok-controller
    extraArgs:
      - key: manage-all-nodes
        value: "false"
      - key: manage-nodes-with-annotation-selector
        value: kwok.x-k8s.io/node=fake
YAML
}

config_file() { # OUT NAME: writes the KwokctlConfiguration for this machine
  local out=$1 name=$2 kubectl_bin
  kubectl_bin=$(command -v kubectl) || die "kubectl is required on the PATH"
  cat >"$out" <<YAML
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  cacheDir: $CACHE_ROOT/kwok-cache
  enableMetricsServer: true
  metricsServerManifests:
    - $TESTENV_DIR/metrics-server
  kubeApiserverBinary: $BIN_DIR/kube-apiserver
  kubeControllerManagerBinary: $BIN_DIR/kube-controller-manager
  kubeSchedulerBinary: $BIN_DIR/kube-scheduler
  etcdBinary: $BIN_DIR/etcd
  kwokControllerBinary: $BIN_DIR/kwok
  metricsServerBinary: $BIN_DIR/metrics-server
  kubectlBinary: $kubectl_bin
$(real_node_options)
componentsPatches:
  # One instance of each: no leader election. On a loaded machine a late Lease renewal would
  # make them exit (and nothing restarts them), leaving e.g. Deployments without ReplicaSets.
  - name: kube-controller-manager
    extraArgs:
      - key: leader-elect
        value: "false"
  - name: kube-scheduler
    extraArgs:
      - key: leader-elect
        value: "false"
  # metric-resolution as in metrics-server's upstream manifest (components.yaml), so that tests
  # see the windows a real cluster has (the binary's own default is 60s).
  - name: metrics-server
    extraArgs:
      - key: metric-resolution
        value: 15s
      - key: kubelet-request-timeout
        value: 5s
$(real_node_patches "$name")
---
# Usage of simulated containers, read from pod annotations: per container
# (kwok.x-k8s.io/usage-cpu.<container>) or per pod for every container (kwok.x-k8s.io/usage-cpu).
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterResourceUsage
metadata:
  name: usage-from-annotation
spec:
  usages:
    - usage:
        cpu:
          expression: |
            ("kwok.x-k8s.io/usage-cpu." + container.name) in pod.metadata.annotations
            ? Quantity(pod.metadata.annotations["kwok.x-k8s.io/usage-cpu." + container.name])
            : ("kwok.x-k8s.io/usage-cpu" in pod.metadata.annotations
              ? Quantity(pod.metadata.annotations["kwok.x-k8s.io/usage-cpu"]) : Quantity("1m"))
        memory:
          expression: |
            ("kwok.x-k8s.io/usage-memory." + container.name) in pod.metadata.annotations
            ? Quantity(pod.metadata.annotations["kwok.x-k8s.io/usage-memory." + container.name])
            : ("kwok.x-k8s.io/usage-memory" in pod.metadata.annotations
              ? Quantity(pod.metadata.annotations["kwok.x-k8s.io/usage-memory"]) : Quantity("1Mi"))
YAML
}

up() {
  local name=$1 kubeconfig=$2 conf dry
  "$TESTENV_DIR/build.sh" >/dev/null
  mkdir -p "$KWOK_WORKDIR" "$(dirname "$kubeconfig")"
  conf="$KWOK_WORKDIR/$name.kwok.yaml"
  if [ -n "${KUO_REAL_NODE_IP:-}" ] && [ "$(readlink /proc/self/ns/net)" = "$(readlink /proc/1/ns/net)" ]; then
    die "a cluster for a real node listens on every address: start it inside its network namespace (node.sh up)"
  fi
  config_file "$conf" "$name"
  "$KWOKCTL" delete cluster --name "$name" >/dev/null 2>&1 || true
  # Refuse to start anything that would be downloaded.
  dry=$("$KWOKCTL" --dry-run create cluster --name "$name" --config "$conf" 2>&1) ||
    die "kwokctl dry run failed: $dry"
  # Local binaries show as "# Download /path to ..." (a copy); a URL there is a real download.
  remote='# Download [a-z]+://|(^|[ ;&|])(curl|wget) '
  if grep -Eiq "$remote" <<<"$dry"; then
    grep -Ei "$remote" <<<"$dry" >&2
    die "kwokctl would download something (above); check the binaries in $BIN_DIR"
  fi
  log "starting cluster $name (kwokctl, binary runtime, 127.0.0.1)"
  if ! "$KWOKCTL" create cluster --name "$name" --config "$conf" --wait 5m >"$KWOK_WORKDIR/$name.create.log" 2>&1; then
    cat "$KWOK_WORKDIR/$name.create.log" >&2
    "$KWOKCTL" delete cluster --name "$name" >/dev/null 2>&1 || true
    die "cluster $name did not start (kwokctl's output above; component logs were in $KWOK_WORKDIR/clusters/$name/logs)"
  fi
  "$KWOKCTL" get kubeconfig --name "$name" >"$kubeconfig"
  log "cluster $name ready; kubeconfig: $kubeconfig"
}

# The PIDs of a cluster's running components (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok-controller, metrics-server), from kwokctl's pid files.
component_pids() {
  local f pid
  for f in "$KWOK_WORKDIR/clusters/$1/pids/"*.pid; do
    [ -f "$f" ] || continue
    pid=$(tr -dc 0-9 <"$f")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
  done
  return 0
}

# Waits until none of the PIDs is running; after 30 s the rest get SIGKILL.
wait_gone() {
  local pid deadline=$((SECONDS + 30)) left
  while :; do
    left=""
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && left="$left $pid"; done
    [ -z "$left" ] && return 0
    if ((SECONDS >= deadline)); then
      log "still running after 30 s, killing:$left"
      # shellcheck disable=SC2086
      kill -KILL $left 2>/dev/null || true
      deadline=$((SECONDS + 10))
    fi
    sleep 0.2
  done
}

# Returns only when every component has exited: kwokctl signals them and returns at once.
down() {
  local name=$1 pids
  [ -x "$KWOKCTL" ] || return 0
  pids=$(component_pids "$name")
  "$KWOKCTL" delete cluster --name "$name" >/dev/null 2>&1 || true
  # shellcheck disable=SC2086
  [ -n "$pids" ] && wait_gone $pids
  rm -f "$KWOK_WORKDIR/$name.kwok.yaml" "$KWOK_WORKDIR/$name.create.log"
}

prune() {
  [ -x "$KWOKCTL" ] || return 0
  local name pid
  for name in $("$KWOKCTL" get clusters 2>/dev/null); do
    # Only the test runs' clusters: kuo-test-PID or kuo-test-PID-N (a run's further clusters).
    # Any other (the real node's kuo-node-PID of make e2e-node) is not a test run's to delete.
    case $name in kuo-test-[0-9]*) ;; *) continue ;; esac
    pid=${name#kuo-test-}
    pid=${pid%%-*}
    if ! kill -0 "$pid" 2>/dev/null; then
      log "deleting cluster $name left by a run that died"
      down "$name"
    fi
  done
}

stop() {
  local pids
  pids=$(component_pids "$1")
  "$KWOKCTL" stop cluster --name "$1" >&2
  # shellcheck disable=SC2086
  [ -n "$pids" ] && wait_gone $pids
  return 0
}

# Starts the components of a stopped cluster. A restarted kwok has a new identity, and the node
# Leases its predecessor held keep it from managing the nodes (new pods stay Pending) until they
# expire, 200 s later. So once the apiserver answers, the Leases are deleted and kwok is started
# again, and it takes the nodes over at once.
start() {
  local name=$1 dir="$KWOK_WORKDIR/clusters/$1" pid
  "$KWOKCTL" start cluster --name "$name" --wait 2m >&2
  pid=$(cat "$dir/pids/kwok-controller.pid")
  local -a command
  mapfile -d '' command <"/proc/$pid/cmdline"
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  kubectl --kubeconfig "$dir/kubeconfig.yaml" delete leases --all -n kube-node-lease >&2
  "${command[@]}" >>"$dir/logs/kwok-controller.log" 2>&1 </dev/null &
  printf %s "$!" >"$dir/pids/kwok-controller.pid" # kwokctl stops it by this file (no newline)
}

case "${1:-}" in
  prune) prune ;;
  up) [ $# -eq 3 ] || die "usage: cluster.sh up NAME KUBECONFIG_OUT"; up "$2" "$3" ;;
  down) [ $# -eq 2 ] || die "usage: cluster.sh down NAME"; down "$2" ;;
  stop) [ $# -eq 2 ] || die "usage: cluster.sh stop NAME"; stop "$2" ;;
  start) [ $# -eq 2 ] || die "usage: cluster.sh start NAME"; start "$2" ;;
  *) die "usage: cluster.sh up NAME KUBECONFIG_OUT | down NAME | stop NAME | start NAME" ;;
esac
