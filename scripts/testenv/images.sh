#!/usr/bin/env bash
# The container images of the test environment's real node, all built on this machine (no
# image registry is reachable): the operator from the project's Dockerfile on a local Node 24
# base, FerretDB as the store, the pause image the kubelet asks for, and busybox for the
# workloads. Each is saved as a tar in the versioned cache under a key made of its inputs,
# so an unchanged image is never built twice; `images.sh import` loads the tars into the
# node's containerd.
#
#   images.sh build [NAME..] build what is missing (starts a private dockerd if none answers,
#                            stops it again) and print the tars
#   images.sh import SOCKET  import every image into the containerd at SOCKET (namespace k8s.io)
#   images.sh names          print the image references the overlay and the e2e use
set -euo pipefail
. "$(dirname "$0")/lib.sh"

REPO_ROOT=$(cd "$TESTENV_DIR/../.." && pwd)
IMAGE_CACHE="$CACHE_ROOT/images"
# What the Dockerfile's base images become here (the defaults are the public ones).
BUILD_BASE=kuo-local/node-build
RUNTIME_BASE=kuo-local/node-runtime
OPERATOR_IMAGE=kube-usage-operator:local
FERRETDB_IMAGE=kuo-local/ferretdb:local
BUSYBOX_IMAGE=kuo-local/busybox:local
# The tag the kubelet of KUBERNETES_VERSION expects for its sandboxes.
PAUSE_IMAGE=registry.k8s.io/pause:3.10.2
# Bump when the way an image is assembled here changes.
RECIPE=1

DOCKER_SOCK=/run/kuo-docker/docker.sock
DOCKERD_PID=""
docker_cli() { DOCKER_BUILDKIT=1 "$DOCKER" "$@"; }

step() { log "[$(date +%H:%M:%S)] images: $*"; }

# A key from the contents of FILES (not where they are) and the recipe.
hash_of() { { sha256sum "$@" | cut -d' ' -f1; echo "recipe $RECIPE"; } | sha256sum | cut -c1-16; }

# A Docker engine: the user's if one answers, else a private dockerd (own socket, data and
# exec roots) that stop_dockerd ends again.
start_dockerd() {
  DOCKER=$(command -v docker) || die "docker is required (Debian: apt-get install docker.io)"
  # Debian's client speaks BuildKit without the buildx plugin; prefer it when both exist.
  [ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker
  if "$DOCKER" info >/dev/null 2>&1; then return 0; fi
  command -v dockerd >/dev/null || die "dockerd is required (Debian: apt-get install docker.io)"
  mkdir -p "$(dirname "$DOCKER_SOCK")"
  step "starting a private dockerd ($DOCKER_SOCK)"
  dockerd --host "unix://$DOCKER_SOCK" --pidfile /run/kuo-docker/dockerd.pid \
    --exec-root /run/kuo-docker/exec --data-root /var/lib/kuo-docker \
    >"$CACHE_ROOT/dockerd.log" 2>&1 </dev/null &
  DOCKERD_PID=$!
  export DOCKER_HOST="unix://$DOCKER_SOCK"
  for _ in $(seq 1 120); do
    "$DOCKER" info >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -20 "$CACHE_ROOT/dockerd.log" >&2; die "dockerd exited"; }
    sleep 0.5
  done
  die "dockerd did not answer within 60 s (log: $CACHE_ROOT/dockerd.log)"
}

# Stops the private dockerd and its containerd; returns when both have exited.
stop_dockerd() {
  [ -n "$DOCKERD_PID" ] || return 0
  local children
  children=$(pgrep -P "$DOCKERD_PID" || true)
  kill -TERM "$DOCKERD_PID" 2>/dev/null || true
  for _ in $(seq 1 150); do
    local alive=""
    for p in $DOCKERD_PID $children; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.2
  done
  for p in $DOCKERD_PID $children; do kill -0 "$p" 2>/dev/null && kill -KILL "$p"; done
  DOCKERD_PID=""
}

# A directory with a rootfs/ folder becomes an image FROM scratch.
build_from_rootfs() { # DIR TAG [Dockerfile lines...]
  local dir=$1 tag=$2
  shift 2
  { echo "FROM scratch"; echo "COPY rootfs/ /"; printf '%s\n' "$@"; } >"$dir/Dockerfile"
  docker_cli build --quiet --tag "$tag" "$dir" >/dev/null
}

# The shared libraries a dynamically linked binary needs, copied into ROOTFS at their paths.
copy_libraries() { # BINARY ROOTFS
  local lib
  for lib in $(ldd "$1" | awk '/=> \// {print $3} /^[ \t]*\/lib/ {print $1}'); do
    mkdir -p "$2$(dirname "$lib")"
    cp -L "$lib" "$2$lib"
  done
}

base_users() { # ROOTFS
  mkdir -p "$1/etc" "$1/tmp" "$1/home/nonroot" "$1/root"
  chmod 1777 "$1/tmp"
  chown 65532:65532 "$1/home/nonroot"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$1/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$1/etc/group"
  printf 'hosts: files dns\n' >"$1/etc/nsswitch.conf"
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$1/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/"
  fi
}

NODE_BIN="$REPO_ROOT/node_modules/node/bin/node"
NPM_DIR=""
npm_dir() {
  local d
  d=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  [ -f "$d/package.json" ] || die "cannot find npm's own folder (from $(command -v npm))"
  echo "$d"
}

# Node 24 as distroless ships it (/nodejs/bin/node, user nonroot), from the `node` package's
# binary (stripped) and the libraries it links; the build base adds busybox and npm, and trusts
# this machine's CA bundle (npm reaches its registry through whatever this machine trusts).
node_bases() {
  [ -x "$NODE_BIN" ] || die "$NODE_BIN is missing: run \`npm install\` first"
  NPM_DIR=$(npm_dir)
  local key
  key=$(hash_of "$NODE_BIN" /bin/busybox "$NPM_DIR/package.json")
  RUNTIME_TAG="$RUNTIME_BASE:$key"
  BUILD_TAG="$BUILD_BASE:$key"
  if docker_cli image inspect "$RUNTIME_TAG" "$BUILD_TAG" >/dev/null 2>&1; then
    step "node bases: cached ($key)"
    return
  fi
  step "node bases: assembling from $NODE_BIN and npm $(node -p "require('$NPM_DIR/package.json').version")"
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/kuo-base.XXXXXX")
  mkdir -p "$dir/runtime/rootfs/nodejs/bin"
  base_users "$dir/runtime/rootfs"
  cp "$NODE_BIN" "$dir/runtime/rootfs/nodejs/bin/node"
  strip "$dir/runtime/rootfs/nodejs/bin/node"
  copy_libraries "$NODE_BIN" "$dir/runtime/rootfs"
  build_from_rootfs "$dir/runtime" "$RUNTIME_TAG" \
    'ENV PATH=/nodejs/bin:/usr/local/bin:/usr/bin:/bin' 'USER 65532:65532' 'WORKDIR /home/nonroot'
  cp -a "$dir/runtime/rootfs" "$dir/rootfs-build"
  mkdir -p "$dir/build"
  mv "$dir/rootfs-build" "$dir/build/rootfs"
  local r="$dir/build/rootfs" applet
  mkdir -p "$r/bin" "$r/usr/bin" "$r/usr/local/bin" "$r/usr/local/lib/node_modules"
  cp /bin/busybox "$r/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ -e "$r/bin/$applet" ] || ln -s busybox "$r/bin/$applet"
  done
  ln -s /bin/busybox "$r/usr/bin/env"
  cp -r "$NPM_DIR" "$r/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/local/bin/npm"
  ln -s /nodejs/bin/node "$r/usr/local/bin/node"
  build_from_rootfs "$dir/build" "$BUILD_TAG" \
    'ENV PATH=/nodejs/bin:/usr/local/bin:/usr/bin:/bin HOME=/root NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    'WORKDIR /root'
  rm -rf "$dir"
}

# Builds TAG with BUILDER unless IMAGE_CACHE has the tar of this KEY; prints nothing.
cached_image() { # NAME KEY TAG BUILDER
  local name=$1 key=$2 tag=$3 builder=$4 tar="$IMAGE_CACHE/$1-$2.tar"
  if [ -f "$tar" ]; then
    step "$name: cached ($key)"
    TARS+=("$tar")
    return
  fi
  [ -n "${DOCKER:-}" ] || start_dockerd
  step "$name: building ($key)"
  local started=$SECONDS
  "$builder" "$tag"
  rm -f "$IMAGE_CACHE/$name"-*.tar
  docker_cli save "$tag" >"$tar.part" && mv "$tar.part" "$tar"
  step "$name: built in $((SECONDS - started)) s, $(docker_cli image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}')"
  TARS+=("$tar")
}

build_operator() {
  node_bases
  docker_cli build --quiet --tag "$1" \
    --build-arg "BUILD_IMAGE=$BUILD_TAG" --build-arg "RUNTIME_IMAGE=$RUNTIME_TAG" \
    "$REPO_ROOT" >/dev/null
}

build_ferretdb() {
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/kuo-ferretdb.XXXXXX")
  mkdir -p "$dir/rootfs/data"
  base_users "$dir/rootfs"
  chown 65532:65532 "$dir/rootfs/data"
  cp "$BIN_DIR/ferretdb" "$dir/rootfs/ferretdb"
  build_from_rootfs "$dir" "$1" 'USER 65532:65532' 'EXPOSE 27017' \
    'ENTRYPOINT ["/ferretdb", "--handler=sqlite", "--sqlite-url=file:/data/", "--listen-addr=:27017", "--telemetry=disable", "--log-format=json"]'
  rm -rf "$dir"
}

build_pause() {
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/kuo-pause.XXXXXX")
  mkdir -p "$dir/rootfs"
  cc -Os -static -o "$dir/rootfs/pause" "$TESTENV_DIR/images/pause.c"
  strip "$dir/rootfs/pause"
  build_from_rootfs "$dir" "$1" 'USER 65535:65535' 'ENTRYPOINT ["/pause"]'
  rm -rf "$dir"
}

build_busybox() {
  local dir applet
  dir=$(mktemp -d "${TMPDIR:-/tmp}/kuo-busybox.XXXXXX")
  mkdir -p "$dir/rootfs/bin"
  base_users "$dir/rootfs"
  cp /bin/busybox "$dir/rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do [ -e "$dir/rootfs/bin/$applet" ] || ln -s busybox "$dir/rootfs/bin/$applet"; done
  build_from_rootfs "$dir" "$1" 'ENV PATH=/bin' 'CMD ["sh"]'
  rm -rf "$dir"
}

# The operator's key: the Dockerfile, everything its context admits (the `!` lines of
# .dockerignore, so a folder added there is part of the key too), and the bases' inputs.
operator_key() {
  local files
  files=$(cd "$REPO_ROOT" && {
    printf '%s\n' Dockerfile .dockerignore
    sed -n 's|^!\(.*[^/]\)/*$|\1|p' .dockerignore | while read -r p; do
      if [ -d "$p" ]; then find "$p" -type f; else echo "$p"; fi
    done
  } | sort)
  # shellcheck disable=SC2086 # one path a line, none with spaces
  { echo "$files"; cd "$REPO_ROOT" && hash_of $files "$NODE_BIN" /bin/busybox "$(npm_dir)/package.json"; } | sha256sum | cut -c1-16
}

build_all() {
  command -v cc >/dev/null || die "a C compiler is required for the pause image (Debian: apt-get install gcc libc6-dev)"
  [ -x /bin/busybox ] || die "/bin/busybox is required (Debian: apt-get install busybox-static)"
  mkdir -p "$IMAGE_CACHE"
  TARS=()
  trap stop_dockerd EXIT
  local name
  for name in ${@:-pause busybox ferretdb operator}; do
    case $name in
      pause) cached_image pause "$(hash_of "$TESTENV_DIR/images/pause.c")" "$PAUSE_IMAGE" build_pause ;;
      busybox) cached_image busybox "$(hash_of /bin/busybox)" "$BUSYBOX_IMAGE" build_busybox ;;
      ferretdb)
        [ -x "$BIN_DIR/ferretdb" ] || die "$BIN_DIR/ferretdb is missing: run scripts/testenv/build.sh"
        cached_image ferretdb "$(hash_of "$BIN_DIR/ferretdb")" "$FERRETDB_IMAGE" build_ferretdb
        ;;
      operator) cached_image operator "$(operator_key)" "$OPERATOR_IMAGE" build_operator ;;
      *) die "no image named $name (pause, busybox, ferretdb, operator)" ;;
    esac
  done
  stop_dockerd
  trap - EXIT
  printf '%s\n' "${TARS[@]}"
}

import_all() { # SOCKET
  local tar
  for tar in "$IMAGE_CACHE"/{pause,busybox,ferretdb,operator}-*.tar; do
    [ -f "$tar" ] || die "no image tar like $tar: run images.sh build"
    ctr --address "$1" -n k8s.io images import "$tar" >/dev/null
  done
}

case "${1:-}" in
  build) shift; build_all "$@" ;;
  import) [ $# -eq 2 ] || die "usage: images.sh import SOCKET"; import_all "$2" ;;
  names) printf 'operator=%s\nferretdb=%s\nbusybox=%s\npause=%s\n' "$OPERATOR_IMAGE" "$FERRETDB_IMAGE" "$BUSYBOX_IMAGE" "$PAUSE_IMAGE" ;;
  *) die "usage: images.sh build | import SOCKET | names" ;;
esac
