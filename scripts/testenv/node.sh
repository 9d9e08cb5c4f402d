#!/usr/bin/env bash
# One real Kubernetes node for the test environment: containerd and runc from Debian, the
# pinned kubelet and kube-proxy built from the same k8s.io/kubernetes module as the
# apiserver, CNI bridge networking, joined to a test cluster next to its kwok nodes.
#
# Everything runs inside a network namespace of its own (NETNS, default kuo-node): the
# cluster's components, containerd, the kubelet, kube-proxy, the CNI bridge and the pods'
# namespaces below it. That namespace has no route off this machine, so the node address
# (192.0.2.2, a documentation address on a bridge with no ports) and the apiserver listening
# on every address of the namespace reach nothing but the namespace itself.
#
#   node.sh install           the Debian packages of the runtime (idempotent)
#   node.sh build             the kubelet and kube-proxy into the versioned cache
#   node.sh up NAME KUBECONFIG_OUT
#                             the namespace, cluster NAME (cluster.sh) and the node in it;
#                             returns when the node is Ready; KUBECONFIG_OUT is the admin's
#   node.sh down NAME         stops and removes all of it; returns when no process, mount,
#                             network namespace, bridge, cgroup or container is left
#   node.sh exec CMD...       runs CMD inside the namespace (kubectl, curl, ...)
#   node.sh check             fails if anything of a node is left on this machine
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NETNS=${KUO_NODE_NETNS:-kuo-node}
NETNS_PATH=/run/netns/$NETNS
NODE_NAME=kuo-node
NODE_IP=192.0.2.2
POD_CIDR=10.88.0.0/16
SERVICE_CIDR=10.0.0.0/24
KUBERNETES_SERVICE_IP=10.0.0.1
CNI_BRIDGE=kuocni0
NODE_BRIDGE=kuonode0
# Sockets, pid files and state live under RUN_DIR; the kubelet's root under VAR_DIR; both are
# removed at down. containerd's content store is kept in the cache, so images are imported
# once per content.
RUN_DIR=/run/kuo-node
VAR_DIR=/var/lib/kuo-node
CONTAINERD_ROOT="$CACHE_ROOT/node/containerd"
CONTAINERD_SOCK="$RUN_DIR/containerd.sock"
PACKAGES="containerd runc containernetworking-plugins iptables conntrack docker.io busybox-static gcc libc6-dev openssl"

step() { log "[$(date +%H:%M:%S)] node: $*"; }
in_netns() { nsenter --net="$NETNS_PATH" -- "$@"; }

install_packages() {
  local missing="" p
  for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  if [ -z "$missing" ]; then step "runtime packages: installed"; return; fi
  [ "$(id -u)" = 0 ] || die "installing$missing needs root"
  step "installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
    step "apt-get update"
    apt-get update -q >&2
  fi
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing >&2 || {
    step "apt-get update, then again"
    apt-get update -q >&2
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >&2
  }
  # Debian's units would start a dockerd and containerd under systemd; nothing here uses them.
  step "runtime packages: installed$missing"
}

# Built like the apiserver (build.sh): the same wrapper module, so the build cache is shared.
build_node_binaries() {
  if [ -x "$BIN_DIR/kubelet" ] && [ -x "$BIN_DIR/kube-proxy" ]; then
    step "kubelet, kube-proxy $KUBERNETES_VERSION: cached"
    return
  fi
  "$TESTENV_DIR/build.sh" >/dev/null
  step "kubelet, kube-proxy $KUBERNETES_VERSION: compiling (about 1 min with the apiserver's build cache)"
  local started=$SECONDS
  "$TESTENV_DIR/build.sh" node >/dev/null
  step "kubelet, kube-proxy: built in $((SECONDS - started)) s"
}

# ---- inside the namespace -------------------------------------------------------------

cluster_dir() { echo "$CACHE_ROOT/kwok/clusters/$1"; }

write_containerd_config() {
  mkdir -p "$RUN_DIR/cni/net.d" "$RUN_DIR/cni/ipam" "$CONTAINERD_ROOT"
  cat >"$RUN_DIR/containerd.toml" <<TOML
version = 2
root = "$CONTAINERD_ROOT"
state = "$RUN_DIR/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10.2"
  # The bounding set here lacks CAP_SYS_RESOURCE: lowering a sandbox's oom_score_adj to -998
  # fails in runc ("can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
        Root = "$RUN_DIR/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN_DIR/cni/net.d"
TOML
  cat >"$RUN_DIR/cni/net.d/10-kuo.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "kuo",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_CIDR" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$RUN_DIR/cni/ipam"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "loopback" }
  ]
}
JSON
}

# The node's own credentials: a client certificate for system:node:NAME signed by the
# cluster's CA (the Node authorizer and RBAC's system:nodes group do the rest).
write_kubelet_credentials() { # CLUSTER_DIR ADMIN_KUBECONFIG
  local pki="$1/pki" dir="$VAR_DIR/pki" server
  mkdir -p "$dir"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$dir/kubelet-client.key" -out "$dir/kubelet-client.csr" \
    -subj "/O=system:nodes/CN=system:node:$NODE_NAME" 2>/dev/null
  openssl x509 -req -in "$dir/kubelet-client.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -out "$dir/kubelet-client.crt" -days 2 2>/dev/null
  server=$(awk '$1 == "server:" {print $2; exit}' "$2")
  cat >"$VAR_DIR/kubelet.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: test
    cluster: { server: "$server", certificate-authority: "$pki/ca.crt" }
users:
  - name: node
    user: { client-certificate: "$dir/kubelet-client.crt", client-key: "$dir/kubelet-client.key" }
contexts:
  - name: node
    context: { cluster: test, user: node }
current-context: node
YAML
}

write_kubelet_config() { # CLUSTER_DIR
  cat >"$VAR_DIR/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1 controllers; Kubernetes 1.35+ refuses them unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
imageServiceEndpoint: unix://$CONTAINERD_SOCK
failSwapOn: false
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: "$1/pki/ca.crt" }
authorization:
  mode: Webhook
# Room for the disk and memory of a shared development machine.
evictionHard: { memory.available: 50Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1% }
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
podCIDR: $POD_CIDR
maxPods: 20
serializeImagePulls: false
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
shutdownGracePeriod: 0s
YAML
}

# Starts COMMAND in the background with its log, records its PID in RUN_DIR/NAME.pid.
start_process() { # NAME COMMAND...
  local name=$1
  shift
  "$@" >"$RUN_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}

wait_for() { # DESCRIPTION SECONDS LOG COMMAND...
  local what=$1 deadline=$((SECONDS + $2)) logf=$3
  shift 3
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      [ -f "$logf" ] && tail -30 "$logf" >&2
      die "timed out waiting for $what (log: $logf)"
    fi
    sleep 0.5
  done
}

# Runs inside the namespace: the cluster, then containerd, the images, the kubelet, kube-proxy.
up_inside() { # NAME KUBECONFIG_OUT
  local name=$1 kubeconfig=$2 dir
  NAME_FOR_LOGS=$name
  dir=$(cluster_dir "$name")
  ip link set lo up
  ip link add "$NODE_BRIDGE" type bridge
  ip addr add "$NODE_IP/32" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  # Anything not on this namespace's own bridges goes into a bridge with no ports: nowhere.
  ip route add default dev "$NODE_BRIDGE"

  KUO_REAL_NODE_IP=$NODE_IP KUO_SERVICE_CIDR=$SERVICE_CIDR KUO_KUBERNETES_SERVICE_IP=$KUBERNETES_SERVICE_IP \
    "$TESTENV_DIR/cluster.sh" up "$name" "$kubeconfig"

  mkdir -p "$RUN_DIR" "$VAR_DIR"
  write_containerd_config
  step "starting containerd $(containerd --version | awk '{print $3}')"
  start_process containerd containerd --config "$RUN_DIR/containerd.toml"
  wait_for "containerd" 60 "$RUN_DIR/containerd.log" ctr --address "$CONTAINERD_SOCK" version
  step "importing the images"
  "$TESTENV_DIR/images.sh" import "$CONTAINERD_SOCK"

  write_kubelet_credentials "$dir" "$kubeconfig"
  write_kubelet_config "$dir"
  step "starting the kubelet ($NODE_NAME, $NODE_IP)"
  start_process kubelet "$BIN_DIR/kubelet" --config="$VAR_DIR/kubelet.yaml" \
    --kubeconfig="$VAR_DIR/kubelet.kubeconfig" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" \
    --root-dir="$VAR_DIR/kubelet" --cert-dir="$VAR_DIR/kubelet-pki" \
    --node-labels=kubeusage.dev/real-node=true
  step "starting kube-proxy (iptables)"
  start_process kube-proxy "$BIN_DIR/kube-proxy" --kubeconfig="$kubeconfig" --hostname-override="$NODE_NAME" \
    --proxy-mode=iptables --cluster-cidr="$POD_CIDR" --conntrack-max-per-core=0 \
    --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256
  node_ready() {
    [ "$(kubectl --kubeconfig "$kubeconfig" get node "$NODE_NAME" \
      -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
  }
  wait_for "the node $NODE_NAME to be Ready" 120 "$RUN_DIR/kubelet.log" node_ready
  # kube-proxy is ready once it has written the Service rules.
  wait_for "kube-proxy" 60 "$RUN_DIR/kube-proxy.log" curl -sf http://127.0.0.1:10256/healthz
  storage_and_neighbour "$kubeconfig"
  step "node $NODE_NAME is Ready, next to the simulated node kwok-node-0"
}

# What a cluster provides around the node: a default StorageClass with two local volumes on
# it (the kubelet sets their owner from the pod's fsGroup), and one simulated node that kwok
# manages beside the real one (tainted, so only pods that ask for it go there).
storage_and_neighbour() { # KUBECONFIG
  local i
  for i in 0 1; do mkdir -p "$VAR_DIR/volumes/pv-$i"; done
  kubectl --kubeconfig "$1" apply -f - >/dev/null <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: kuo-node-local
  annotations: { storageclass.kubernetes.io/is-default-class: "true" }
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
$(for i in 0 1; do cat <<PV
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: kuo-node-pv-$i
spec:
  capacity: { storage: 2Gi }
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: kuo-node-local
  local: { path: "$VAR_DIR/volumes/pv-$i" }
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - { key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME] }
PV
done)
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  labels: { type: kwok, kubernetes.io/hostname: kwok-node-0, kubernetes.io/os: linux }
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
    metrics.k8s.io/resource-metrics-path: /metrics/nodes/kwok-node-0/metrics/resource
spec:
  taints: [{ key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule }]
YAML
  kwok_ready() {
    [ "$(kubectl --kubeconfig "$1" get node kwok-node-0 \
      -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
  }
  wait_for "kwok to manage kwok-node-0" 60 "$(cluster_dir "$NAME_FOR_LOGS")/logs/kwok-controller.log" kwok_ready "$1"
  # kwok must have left the real node to its kubelet.
  [ "$(kubectl --kubeconfig "$1" get node "$NODE_NAME" -o 'jsonpath={.status.nodeInfo.kubeletVersion}')" = "$KUBERNETES_VERSION" ] ||
    die "the node $NODE_NAME does not report the kubelet $KUBERNETES_VERSION: kwok took it over?"
}

up() { # NAME KUBECONFIG_OUT
  [ "$(id -u)" = 0 ] || die "a real node needs root"
  [ -x "$BIN_DIR/kubelet" ] || die "no kubelet in $BIN_DIR: run node.sh build"
  if [ -e "$NETNS_PATH" ]; then die "$NETNS_PATH exists: a node is running (node.sh down $1 stops it)"; fi
  mkdir -p "$RUN_DIR"
  # The pods' namespaces appear in /run/netns too: remember what was there before.
  ls /run/netns 2>/dev/null >"$RUN_DIR/netns.before" || : >"$RUN_DIR/netns.before"
  ip netns add "$NETNS"
  in_netns bash "$0" up-inside "$1" "$2"
}

# ---- teardown ----------------------------------------------------------------------------

alive() { local p; for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }

# TERM, then wait; KILL whatever is left after SECONDS.
stop_pids() { # SECONDS PID...
  local grace=$1 deadline
  shift
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while alive "$@" && ((SECONDS < deadline)); do sleep 0.2; done
  if alive "$@"; then
    kill -KILL "$@" 2>/dev/null || true
    while alive "$@"; do sleep 0.1; done
  fi
}

pid_of() { [ -f "$RUN_DIR/$1.pid" ] && cat "$RUN_DIR/$1.pid"; return 0; }

# The processes of every container: whatever is in the kubepods cgroups.
container_pids() {
  find /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/memory/kubepods -name cgroup.procs 2>/dev/null |
    xargs -r cat 2>/dev/null | sort -u
}

# Stops the kubelet's process (SIGSTOP: it answers nothing, the containers run on) or lets it
# go on (SIGCONT), for a test of a node that cannot be read for a while.
kubelet_signal() { # STOP|CONT
  alive "$(pid_of kubelet)" || die "no kubelet is running"
  kill -s "$1" "$(pid_of kubelet)"
}

down() { # NAME
  local name=$1 kubeconfig pids f m
  kubeconfig="$(cluster_dir "$name")/kubeconfig.yaml"
  # A kubelet left stopped by a test that failed must go on, to delete the pods.
  alive "$(pid_of kubelet)" && kill -s CONT "$(pid_of kubelet)" 2>/dev/null
  if [ -e "$NETNS_PATH" ] && [ -f "$kubeconfig" ] && alive "$(pid_of kubelet)"; then
    # Pods first, through the kubelet, so the CNI plugin removes their network.
    step "deleting the pods"
    in_netns kubectl --kubeconfig "$kubeconfig" delete deployments,statefulsets,daemonsets,replicasets,jobs \
      --all --all-namespaces --wait=false >/dev/null 2>&1 || true
    in_netns timeout 60 kubectl --kubeconfig "$kubeconfig" delete pods --all --all-namespaces \
      --grace-period=1 --wait=true >/dev/null 2>&1 || true
  fi
  step "stopping kube-proxy and the kubelet"
  stop_pids 20 $(pid_of kube-proxy) $(pid_of kubelet)
  if [ -e "$NETNS_PATH" ] && alive "$(pid_of containerd)"; then
    # Whatever the kubelet left: kill and remove every task and container.
    local c
    for c in $(in_netns ctr --address "$CONTAINERD_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      in_netns ctr --address "$CONTAINERD_SOCK" -n k8s.io tasks kill -s SIGKILL "$c" >/dev/null 2>&1 || true
    done
    for c in $(in_netns ctr --address "$CONTAINERD_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      in_netns ctr --address "$CONTAINERD_SOCK" -n k8s.io tasks delete -f "$c" >/dev/null 2>&1 || true
    done
    for c in $(in_netns ctr --address "$CONTAINERD_SOCK" -n k8s.io containers ls -q 2>/dev/null); do
      in_netns ctr --address "$CONTAINERD_SOCK" -n k8s.io containers delete "$c" >/dev/null 2>&1 || true
    done
  fi
  # Container processes and shims that survived (by the kubepods cgroups and the shims' pid files).
  # shellcheck disable=SC2046
  stop_pids 5 $(container_pids)
  pids=""
  for f in "$RUN_DIR"/containerd/io.containerd.runtime.v2.task/*/*/shim.pid; do
    [ -f "$f" ] && pids="$pids $(cat "$f")"
  done
  step "stopping containerd"
  # shellcheck disable=SC2086
  stop_pids 20 $(pid_of containerd) $pids
  step "stopping the cluster"
  if [ -e "$NETNS_PATH" ]; then
    in_netns "$TESTENV_DIR/cluster.sh" down "$name" || true
    # Anything else still in the namespace was started for this node.
    # shellcheck disable=SC2046
    stop_pids 10 $(ip netns pids "$NETNS" 2>/dev/null)
  else
    "$TESTENV_DIR/cluster.sh" down "$name" || true
  fi
  step "removing mounts, network namespaces and cgroups"
  # Mounts under the node's directories, deepest first (rootfs overlays, volumes, shm).
  for m in $(awk '{print $5}' /proc/self/mountinfo | grep -E "^($RUN_DIR|$VAR_DIR|$CONTAINERD_ROOT)(/|$)" | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  # The pods' network namespaces (bind mounts in /run/netns) that were not there before.
  if [ -d /run/netns ]; then
    for f in /run/netns/*; do
      [ -e "$f" ] || continue
      local n
      n=$(basename "$f")
      [ "$n" = "$NETNS" ] && continue
      [ -f "$RUN_DIR/netns.before" ] && grep -qx "$n" "$RUN_DIR/netns.before" && continue
      case $n in cni-*) umount "$f" 2>/dev/null || umount -l "$f" 2>/dev/null || true; rm -f "$f" ;; esac
    done
  fi
  [ -e "$NETNS_PATH" ] && ip netns delete "$NETNS"
  # The kubelet's cgroups, deepest first.
  find /sys/fs/cgroup/*/kubepods -depth -type d -exec rmdir {} \; 2>/dev/null || true
  rm -rf "$RUN_DIR" "$VAR_DIR" /var/lib/kubelet/device-plugins /var/log/pods /var/log/containers
  rmdir /var/lib/kubelet 2>/dev/null || true
  check
}

# What a node leaves if its teardown failed. Exits 1 (and says what) if anything is there.
check() {
  local left=() p n
  for p in kubelet kube-proxy containerd containerd-shim-runc-v2 containerd-shim dockerd; do
    pgrep -x "$p" >/dev/null 2>&1 && left+=("process $p ($(pgrep -x "$p" | tr '\n' ' '))")
  done
  [ -e "$NETNS_PATH" ] && left+=("network namespace $NETNS")
  for n in $(ls /run/netns 2>/dev/null); do
    case $n in cni-*) left+=("network namespace $n") ;; esac
  done
  ip link show "$CNI_BRIDGE" >/dev/null 2>&1 && left+=("bridge $CNI_BRIDGE")
  awk '{print $5}' /proc/self/mountinfo | grep -qE "^($RUN_DIR|$VAR_DIR|$CONTAINERD_ROOT)(/|$)" &&
    left+=("mounts under $RUN_DIR, $VAR_DIR or $CONTAINERD_ROOT")
  [ -n "$(find /sys/fs/cgroup/*/kubepods -maxdepth 0 2>/dev/null)" ] && left+=("kubepods cgroups")
  if [ ${#left[@]} -gt 0 ]; then
    printf '[testenv] left behind: %s\n' "${left[@]}" >&2
    return 1
  fi
  step "nothing left behind (no kubelet, kube-proxy, containerd, shim or dockerd process, network namespace, bridge, mount or cgroup)"
}

# Sourced (by a test or a script of its own): the functions only.
[[ ${BASH_SOURCE[0]} != "$0" ]] && return 0

case "${1:-}" in
  install) install_packages ;;
  build) build_node_binaries ;;
  up) [ $# -eq 3 ] || die "usage: node.sh up NAME KUBECONFIG_OUT"; up "$2" "$3" ;;
  up-inside) up_inside "$2" "$3" ;;
  down) [ $# -eq 2 ] || die "usage: node.sh down NAME"; down "$2" ;;
  exec) shift; in_netns "$@" ;;
  kubelet) [ $# -eq 2 ] && [[ $2 == STOP || $2 == CONT ]] || die "usage: node.sh kubelet STOP|CONT"; kubelet_signal "$2" ;;
  check) check ;;
  *) die "usage: node.sh install | build | up NAME KUBECONFIG_OUT | down NAME | exec CMD... | kubelet STOP|CONT | check" ;;
esac
