#!/usr/bin/env bash
# Build the binaries of the local control plane from the Go module proxy (no downloads from
# GitHub / dl.k8s.io, no Docker): kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
# (k8s.io/kubernetes), etcd (go.etcd.io/etcd/server/v3), kwok (sigs.k8s.io/kwok).
# Idempotent: a binary already in BIN_DIR is not rebuilt (a run with everything present takes
# well under a second). BIN_DIR is versioned, so CI can cache it as a whole ($HOME/.cache/tern).
# A cold build takes ~10 min on 2 cores (~21 s if only GOCACHE/GOMODCACHE survived).
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
ts() { printf '[%4ds %s] %s\n' $(( $(date +%s) - T0 )) "$(date +%H:%M:%S)" "$*"; }
have() { for b in "$@"; do [ -x "$BIN_DIR/$b" ] || return 1; done; }
have_kwok() { have kwok && [ -s "$BIN_DIR/kwok-manifests/kwok.x-k8s.io_stages.yaml" ]; }
if have $K8S_CMDS etcd && have_kwok; then
  ts "all binaries present in $BIN_DIR, nothing to build"
  exit 0
fi

# one build at a time per BIN_DIR (two `make cluster-up` at once would build everything twice)
exec 9>"$BIN_DIR/.build.lock"
if ! flock -n 9; then
  ts "another build.sh is building into $BIN_DIR; waiting for it ..."
  flock 9
fi
ts "building the local control plane into $BIN_DIR"
ts "a cold build takes ~10 min on 2 cores (k8s ~8 min, etcd ~40 s, kwok ~1.5 min); later runs are instant"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tern-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# binaries are built into STAGE (inside BIN_DIR, so that mv is a rename) and moved into place when
# complete: an interrupted build never leaves a truncated binary that a later run would skip
STAGE=$BIN_DIR/.stage
rm -rf "$STAGE"; mkdir -p "$STAGE"

# step DESCRIPTION COMMAND...: run COMMAND, print its start and end, and a line every minute
step() {
  local what=$1 s; shift
  s=$(date +%s)
  ts "$what ..."
  : > "$WORK/running"
  ( n=0; while [ -e "$WORK/running" ]; do
      sleep 1; n=$((n + 1))
      [ $((n % 60)) -ne 0 ] || [ ! -e "$WORK/running" ] || ts "  ... $what: ${n}s so far"
    done ) &
  local hb=$! rc
  # in a subshell outside any || list, so that set -e stops the step at its first failure
  set +e; ( set -e; "$@" ); rc=$?; set -e
  rm -f "$WORK/running"; wait "$hb" || true
  [ "$rc" = 0 ] || { ts "FAILED ($rc): $what"; exit "$rc"; }
  ts "done in $(( $(date +%s) - s ))s: $what"
}
# no -trimpath and no CGO_ENABLED change: then the compiled k8s.io/* packages in GOCACHE are
# shared with the project's own `go test` builds of client-go / controller-runtime (same versions).

# ---- kube-apiserver, kube-controller-manager, kube-scheduler, kubectl ----
k8s_module() {
  # k8s.io/kubernetes replaces every k8s.io/<staging> module with ./staging/...; a consumer must
  # replace each of them with the published k8s.io/<staging> v0.<minor>.<patch> instead.
  local kmod staging_v m
  kmod=$(cd "$WORK" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -s "$kmod" ] || { echo "build.sh: cannot download k8s.io/kubernetes@$K8S_VERSION" >&2; return 1; }
  staging_v=v0.${K8S_VERSION#v1.}
  mkdir -p "$WORK/k8s"
  {
    echo "module tern.local/k8stools"; echo
    echo "go $(sed -n 's/^go //p' "$kmod")"; echo
    echo "tool ("
    for t in $K8S_CMDS; do echo "	k8s.io/kubernetes/cmd/$t"; done
    echo ")"; echo
    echo "require k8s.io/kubernetes $K8S_VERSION"; echo
    echo "replace ("
    # only staging modules that k8s.io/kubernetes requires (as v0.0.0)
    for m in $(sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) v0\.0\.0$#\1#p' "$kmod"); do
      if grep -q "^	$m => ./staging/" "$kmod"; then echo "	$m => $m $staging_v"; fi
    done
    echo ")"
  } > "$WORK/k8s/go.mod"
  (cd "$WORK/k8s" && go mod tidy)
  ts "  $(grep -c ' => ' "$WORK/k8s/go.mod") staging modules replaced by $staging_v"
}
k8s_build() {
  local minor ld p pkgs=()
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  for t in $K8S_CMDS; do pkgs+=("k8s.io/kubernetes/cmd/$t"); done
  (cd "$WORK/k8s" && go build -ldflags "$ld" -o "$STAGE/" "${pkgs[@]}")
  for t in $K8S_CMDS; do mv -f "$STAGE/$t" "$BIN_DIR/$t"; done
}
if ! have $K8S_CMDS; then
  step "resolve k8s.io/kubernetes $K8S_VERSION modules (~1 min cold)" k8s_module
  step "build $K8S_CMDS (~8 min cold)" k8s_build
else
  ts "$K8S_CMDS present, skipped"
fi

# ---- etcd (server/v3 has replace directives too, so build it from a wrapper module) ----
etcd_build() {
  mkdir -p "$WORK/etcd"
  printf 'module tern.local/etcdtool\n\ngo 1.26.0\n\ntool go.etcd.io/etcd/server/v3\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > "$WORK/etcd/go.mod"
  (cd "$WORK/etcd" && go mod tidy && go build -ldflags "-s -w" -o "$STAGE/etcd" go.etcd.io/etcd/server/v3)
  mv -f "$STAGE/etcd" "$BIN_DIR/etcd"
}
if ! have etcd; then
  step "build etcd $ETCD_VERSION (~40 s cold)" etcd_build
else
  ts "etcd present, skipped"
fi

# ---- kwok (no replace directives: plain go install works) + its stage/CRD manifests ----
kwok_build() {
  local kdir
  (cd "$WORK" && GOBIN="$STAGE" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
  kdir=$(cd "$WORK" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  mkdir -p "$STAGE/kwok-manifests"
  # the standalone kwok binary has no built-in stages (kwokctl normally injects them)
  cp "$kdir/kustomize/crd/bases/kwok.x-k8s.io_stages.yaml" \
     "$kdir/kustomize/stage/node/fast/node-initialize.yaml" \
     "$kdir/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
     "$kdir/kustomize/stage/pod/fast/pod-complete.yaml" \
     "$kdir/kustomize/stage/pod/fast/pod-delete.yaml" "$STAGE/kwok-manifests/"
  chmod -R u+w "$STAGE/kwok-manifests"
  rm -rf "$BIN_DIR/kwok-manifests"
  mv "$STAGE/kwok-manifests" "$BIN_DIR/kwok-manifests"
  mv -f "$STAGE/kwok" "$BIN_DIR/kwok"
}
if ! have_kwok; then
  step "build kwok $KWOK_VERSION (~1.5 min cold)" kwok_build
else
  ts "kwok present, skipped"
fi
rm -rf "$STAGE"
ls -l "$BIN_DIR" | sed 1d
ts "done: $BIN_DIR"
