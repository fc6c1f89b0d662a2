#!/usr/bin/env bash
# Build the binaries of a local simulated cluster from the Go module proxy (no downloads from
# GitHub / dl.k8s.io, no Docker): kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
# (k8s.io/kubernetes), etcd (go.etcd.io/etcd/server/v3), kwok (sigs.k8s.io/kwok).
# Idempotent: a binary already in BIN_DIR is not rebuilt. BIN_DIR is versioned, so it can be
# cached as a whole by CI (e.g. $HOME/.cache/k8slab).
#
# usage: build.sh [BIN_DIR]      (default $HOME/.cache/tern/bin-$K8S_VERSION)
# env:   K8S_VERSION (v1.37.2) ETCD_VERSION (v3.7.3) KWOK_VERSION (v0.8.0)
#        K8S_CMDS  which k8s.io/kubernetes/cmd/* to build (default: kube-apiserver
#                  kube-controller-manager kube-scheduler kubectl; envtest alone needs only
#                  kube-apiserver (+ etcd; kubectl optional))
set -euo pipefail
K8S_VERSION=${K8S_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
K8S_CMDS=${K8S_CMDS:-kube-apiserver kube-controller-manager kube-scheduler kubectl}
BIN_DIR=${1:-${BIN_DIR:-$HOME/.cache/tern/bin-$K8S_VERSION}}
mkdir -p "$BIN_DIR"
BIN_DIR=$(cd "$BIN_DIR" && pwd)
T0=$(date +%s)
ts() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
have() { for b in "$@"; do [ -x "$BIN_DIR/$b" ] || return 1; done; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tern-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# no -trimpath and no CGO_ENABLED change: then the compiled k8s.io/* packages in GOCACHE are
# shared with the project's own `go test` builds of client-go / controller-runtime (same versions).

# ---- kube-apiserver, kube-controller-manager, kube-scheduler, kubectl ----
if ! have $K8S_CMDS; then
  # k8s.io/kubernetes replaces every k8s.io/<staging> module with ./staging/...; a consumer must
  # replace each of them with the published k8s.io/<staging> v0.<minor>.<patch> instead.
  KMOD=$(cd "$WORK" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -s "$KMOD" ] || { echo "build.sh: cannot download k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
  STAGING_V=v0.${K8S_VERSION#v1.}
  mkdir -p "$WORK/k8s"
  {
    echo "module tern.local/k8stools"; echo
    echo "go $(sed -n 's/^go //p' "$KMOD")"; echo
    echo "tool ("
    for t in $K8S_CMDS; do echo "	k8s.io/kubernetes/cmd/$t"; done
    echo ")"; echo
    echo "require k8s.io/kubernetes $K8S_VERSION"; echo
    echo "replace ("
    # only staging modules that k8s.io/kubernetes requires (as v0.0.0)
    for m in $(sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) v0\.0\.0$#\1#p' "$KMOD"); do
      grep -q "^	$m => ./staging/" "$KMOD" && echo "	$m => $m $STAGING_V"
    done
    echo ")"
  } > "$WORK/k8s/go.mod"
  (cd "$WORK/k8s" && go mod tidy)
  ts "k8s tools module resolved ($(grep -c ' => ' "$WORK/k8s/go.mod") staging replaces)"
  MINOR=${K8S_VERSION#v1.}; MINOR=${MINOR%%.*}
  LD="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LD="$LD -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  PKGS=(); for t in $K8S_CMDS; do PKGS+=("k8s.io/kubernetes/cmd/$t"); done
  (cd "$WORK/k8s" && go build -ldflags "$LD" -o "$BIN_DIR/" "${PKGS[@]}")
  ts "built $K8S_CMDS $K8S_VERSION"
else
  ts "$K8S_CMDS present, skipped"
fi

# ---- etcd (server/v3 has replace directives too, so build it from a wrapper module) ----
if ! have etcd; then
  mkdir -p "$WORK/etcd"
  printf 'module tern.local/etcdtool\n\ngo 1.26.0\n\ntool go.etcd.io/etcd/server/v3\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > "$WORK/etcd/go.mod"
  (cd "$WORK/etcd" && go mod tidy && go build -ldflags "-s -w" -o "$BIN_DIR/etcd" go.etcd.io/etcd/server/v3)
  ts "built etcd $ETCD_VERSION"
else
  ts "etcd present, skipped"
fi

# ---- kwok (no replace directives: plain go install works) + its stage/CRD manifests ----
if ! have kwok || [ ! -s "$BIN_DIR/kwok-manifests/kwok.x-k8s.io_stages.yaml" ]; then
  (cd "$WORK" && GOBIN="$BIN_DIR" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
  KDIR=$(cd "$WORK" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  mkdir -p "$BIN_DIR/kwok-manifests"
  # the standalone kwok binary has no built-in stages (kwokctl normally injects them)
  cp "$KDIR/kustomize/crd/bases/kwok.x-k8s.io_stages.yaml" \
     "$KDIR/kustomize/stage/node/fast/node-initialize.yaml" \
     "$KDIR/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
     "$KDIR/kustomize/stage/pod/fast/pod-complete.yaml" \
     "$KDIR/kustomize/stage/pod/fast/pod-delete.yaml" "$BIN_DIR/kwok-manifests/"
  chmod -R u+w "$BIN_DIR/kwok-manifests"
  ts "built kwok $KWOK_VERSION"
else
  ts "kwok present, skipped"
fi
ls -l "$BIN_DIR" | sed 1d
ts "done: $BIN_DIR"
