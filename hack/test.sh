#!/usr/bin/env bash
# `make test`: unit tests, then the e2e suites against a local control plane started for
# this run only (one per run; each e2e test takes its own namespace). The control plane's
# binaries are built once into ~/.cache/tern and reused.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
: "${K8S_VERSION:=v1.37.2}"
: "${BIN_DIR:=$HOME/.cache/tern/bin-$K8S_VERSION}"
: "${GO:=go}"
export BIN_DIR K8S_VERSION
T0=$(date +%s)
say() { printf '\n==> [%ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }

say "checking formatting and vet"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^hack/tools/') || true)
if [ -n "$unformatted" ]; then echo "gofmt needed on:"; echo "$unformatted"; exit 1; fi
$GO vet ./...

say "building the control plane binaries (cached in $BIN_DIR; a cold build takes ~10 min)"
test/cluster/build.sh "$BIN_DIR"
make -s helm GO="$GO"  # the chart tests (hack/installmanifest) need helm: built once from hack/helm into ~/.cache/tern

say "installing the Prometheus server binary for analysis tests (cached in ~/.cache/tern)"
test/prometheus/install.sh >/dev/null

STATE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tern-test.XXXXXX")/cluster
export STATE_DIR
cleanup() {
  status=$?
  [ "${KEEP_CLUSTER:-0}" = 1 ] && { echo "cluster kept: export KUBECONFIG=$STATE_DIR/kubeconfig"; exit $status; }
  test/cluster/down.sh --purge >/dev/null 2>&1 || true
  rm -rf "$(dirname "$STATE_DIR")"
  exit $status
}
trap cleanup EXIT
say "starting the local control plane in $STATE_DIR"
test/cluster/up.sh "$BIN_DIR"
export KUBECONFIG=$STATE_DIR/kubeconfig

say "installing the CRDs"
"$BIN_DIR/kubectl" apply --server-side --force-conflicts -f config/crd/bases >/dev/null
"$BIN_DIR/kubectl" wait --for=condition=Established --timeout=60s -f config/crd/bases >/dev/null

say "running go test (unit and e2e)"
export TERN_E2E_KUBECONFIG=$KUBECONFIG TERN_E2E_REQUIRED=1 KUBEBUILDER_ASSETS=$BIN_DIR
$GO test -p 2 -count=1 -timeout 40m "${@:-./...}"
say "all tests passed"
