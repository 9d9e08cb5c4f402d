#!/usr/bin/env bash
# Builds the test environment's binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok, kwokctl, metrics-server, ferretdb, and the VPA recommender with its CRDs)
# from Go modules into a versioned cache outside the repository. Pieces already in the cache are
# skipped. `build.sh node` builds the kubelet and kube-proxy of the real node instead (node.sh);
# `build.sh all` builds both sets at once (`make test`: one compile of Kubernetes);
# `build.sh vpa` only the VPA recommender (prints its folder).
# Independent pieces are built side by side (build_parallel), so module downloads overlap
# with compiling. Prints the cache folder on stdout when done.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MODE=${1:-}
CONTROL_PLANE="kube-apiserver kube-controller-manager kube-scheduler"
NODE="kubelet kube-proxy"
case "$MODE" in
  "") ALL="kwok kwokctl metrics-server ferretdb etcd $CONTROL_PLANE" ;;
  node) ALL="$NODE" ;;
  all) ALL="kwok kwokctl metrics-server ferretdb etcd $CONTROL_PLANE $NODE" ;;
  vpa) ALL="" ;;
  *) printf '[testenv] usage: build.sh [node|all|vpa]\n' >&2; exit 2 ;;
esac
vpa_built() { [ -x "$VPA_DIR/recommender" ] && [ -f "$VPA_DIR/crds/vpa-v1-crd-gen.yaml" ]; }
if [ "$MODE" = vpa ]; then
  if vpa_built; then echo "$VPA_DIR"; exit 0; fi
else
  complete=1
  for b in $ALL; do [ -x "$BIN_DIR/$b" ] || complete=0; done
  [ "$MODE" != node ] && ! vpa_built && complete=0
  if [ "$complete" = 1 ]; then echo "$BIN_DIR"; exit 0; fi
fi

command -v go >/dev/null || die "Go is required (>= 1.26): https://go.dev/doc/install"
mkdir -p "$BIN_DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kuo-build.XXXXXX")
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT

have() { [ -x "$BIN_DIR/$1" ]; }
step() { log "[$(date +%H:%M:%S)] $*"; }

# build_parallel FUNCTION...: runs each function in a background subshell and waits for all
# of them; fails (after all have ended) if any failed. Each function is one chain of steps
# that must run in order; chains share nothing but the Go module and build caches, which
# are safe to use from several go commands at once.
build_parallel() {
  local f pids=() rc=0
  for f in "$@"; do
    ("$f") &
    pids+=($!)
  done
  for f in "${pids[@]}"; do wait "$f" || rc=1; done
  return "$rc"
}

# k8s_module: the wrapper module that builds from k8s.io/kubernetes ($WORK/k8s), made once per
# run. k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with folders
# of its own repository, so each is replaced here by its published version.
k8s_module() {
  local dir="$WORK/k8s" staging gomod godebug
  [ -f "$dir/go.sum" ] && return 0
  step "kubernetes $KUBERNETES_VERSION: resolving modules (first time: ~1 GB download)"
  mkdir -p "$dir"
  (
    cd "$dir"
    go mod init local.invalid/k8sbin >/dev/null 2>&1
    staging="v0.${KUBERNETES_VERSION#v1.}"
    gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
    [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$KUBERNETES_VERSION"
    awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gomod" | sort -u | while read -r m; do
      go mod edit -replace="$m=$m@$staging"
    done
    godebug=$(awk '$1 == "godebug" && $2 ~ /^default=/ {print $2}' "$gomod" | head -n1)
    [ -n "$godebug" ] && go mod edit -godebug="$godebug"
    go get "k8s.io/kubernetes@$KUBERNETES_VERSION" >/dev/null 2>&1 || go get "k8s.io/kubernetes@$KUBERNETES_VERSION"
  )
}

# build_kubernetes [CMD...]: the control plane by default; `build.sh node` asks for the
# kubelet and kube-proxy of a real node (scripts/testenv/node.sh) from the same module setup,
# so they reuse the apiserver's build cache; `build.sh all` compiles all five in one go
# build (packages compiled once, links side by side).
build_kubernetes() {
  local cmds="${*:-$CONTROL_PLANE}" c all=1 pkgs="" minor
  for c in $cmds; do have "$c" || all=0; pkgs="$pkgs k8s.io/kubernetes/cmd/$c"; done
  if [ "$all" = 1 ]; then
    step "kubernetes $KUBERNETES_VERSION ($cmds): cached"; return
  fi
  k8s_module
  cd "$WORK/k8s"
  minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local pkg=k8s.io/component-base/version cpkg=k8s.io/client-go/pkg/version flags=""
  for p in $pkg $cpkg; do
    flags="$flags -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  step "kubernetes $KUBERNETES_VERSION: compiling (first time: 10-25 min on 2 cores)"
  # shellcheck disable=SC2086
  go build -trimpath -ldflags "-s -w $flags" -o "$BIN_DIR/" $pkgs
}

# build_vpa: the VPA recommender (k8s.io/autoscaler/vertical-pod-autoscaler/pkg/recommender) and
# the CRDs shipped in the same module (deploy/vpa-v1-crd-gen.yaml: VerticalPodAutoscaler and
# VerticalPodAutoscalerCheckpoint), into $VPA_DIR.
# To reuse the Kubernetes build's compiled packages (client-go, apimachinery, api, prometheus,
# ...) from Go's build cache, every module they come from must be required at the very version
# the Kubernetes wrapper module requires (with -trimpath, a package's cache key holds its
# module's required version). So the wrapper here is that module's go.mod as it is, plus VPA's
# source as a folder replacement whose go.mod requires nothing: its imports are resolved from
# the Kubernetes build list (every module the recommender needs is in it), and only VPA's own
# packages are compiled.
build_vpa() {
  if vpa_built; then step "vpa recommender $VPA_VERSION: cached"; return; fi
  step "vpa recommender $VPA_VERSION: building (with kubernetes $KUBERNETES_VERSION's module versions)"
  k8s_module
  local dir="$WORK/vpa" module=k8s.io/autoscaler/vertical-pod-autoscaler src gover
  src=$(go mod download -json "$module@$VPA_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || die "could not download $module@$VPA_VERSION"
  mkdir -p "$dir"
  cp -r "$src" "$dir/vpa" && chmod -R u+w "$dir/vpa"
  gover=$(awk '$1 == "go" {print $2}' "$src/go.mod")
  printf 'module %s\n\ngo %s\n' "$module" "$gover" >"$dir/vpa/go.mod"
  rm -f "$dir/vpa/go.sum"
  cp "$WORK/k8s/go.mod" "$WORK/k8s/go.sum" "$dir/"
  cd "$dir"
  go mod edit -module=local.invalid/vpabin -require="$module@v0.0.0" -replace="$module=./vpa"
  mkdir -p "$VPA_DIR/crds"
  go build -trimpath -ldflags "-s -w" -o "$VPA_DIR/recommender.tmp" "$module/pkg/recommender"
  cp "$src/deploy/vpa-v1-crd-gen.yaml" "$VPA_DIR/crds/vpa-v1-crd-gen.yaml"
  chmod u+w "$VPA_DIR/crds/vpa-v1-crd-gen.yaml"
  mv "$VPA_DIR/recommender.tmp" "$VPA_DIR/recommender"
}

build_etcd() {
  if have etcd; then step "etcd $ETCD_VERSION: cached"; return; fi
  step "etcd $ETCD_VERSION: building"
  local dir="$WORK/etcd"
  mkdir -p "$dir" && cd "$dir"
  go mod init local.invalid/etcdbin >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/etcd" go.etcd.io/etcd/server/v3
}

build_installable() { # version name=module/cmd...: one go install for commands of one module
  local version=$1 spec name pkgs="" names=""
  shift
  for spec in "$@"; do
    name=${spec%%=*}
    have "$name" && continue
    names="$names $name"; pkgs="$pkgs ${spec#*=}@$version"
  done
  if [ -z "$pkgs" ]; then step "${*%%=*} $version: cached"; return; fi
  step "${names# } $version: building"
  # shellcheck disable=SC2086
  GOBIN="$BIN_DIR" go install -trimpath -ldflags "-s -w" $pkgs
}

build_ferretdb() {
  if have ferretdb; then step "ferretdb $FERRETDB_VERSION: cached"; return; fi
  step "ferretdb $FERRETDB_VERSION: building"
  local src moddir="$WORK/ferretdb"
  src=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || die "could not download FerretDB $FERRETDB_VERSION"
  cp -r "$src" "$moddir" && chmod -R u+w "$moddir"
  # The module zip lacks build/version/version.txt, without which the binary panics.
  mkdir -p "$moddir/build/version"
  echo "$FERRETDB_VERSION" >"$moddir/build/version/version.txt"
  for f in commit.txt branch.txt package.txt; do [ -f "$moddir/build/version/$f" ] || : >"$moddir/build/version/$f"; done
  (cd "$moddir" && go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/ferretdb" ./cmd/ferretdb)
}

# The chains of build_parallel below. The Kubernetes chain (~1 GB of modules, the longest
# compile) starts at once; the smaller pieces download and compile beside it.
chain_kubernetes() {
  case "$MODE" in
    node) build_kubernetes $NODE ;;
    all) build_kubernetes $CONTROL_PLANE $NODE ;;
    *) build_kubernetes ;;
  esac
  # After Kubernetes: it reuses that build's compiled packages.
  [ "$MODE" = node ] || build_vpa
}
chain_small() {
  build_installable "$KWOK_VERSION" kwok=sigs.k8s.io/kwok/cmd/kwok kwokctl=sigs.k8s.io/kwok/cmd/kwokctl
  build_installable "$METRICS_SERVER_VERSION" metrics-server=sigs.k8s.io/metrics-server/cmd/metrics-server
  build_ferretdb
  build_etcd
}

started=$SECONDS
step "building into $BIN_DIR"
if [ "$MODE" = node ]; then
  chain_kubernetes
  step "kubelet and kube-proxy ready"
  echo "$BIN_DIR"
  exit 0
fi
if [ "$MODE" = vpa ]; then
  build_vpa
  step "vpa recommender ready"
  echo "$VPA_DIR"
  exit 0
fi
build_parallel chain_kubernetes chain_small || die "a build failed (see above)"
step "all binaries ready in $((SECONDS - started)) s"
echo "$BIN_DIR"
