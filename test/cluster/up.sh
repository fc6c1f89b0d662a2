#!/usr/bin/env bash
# Start a local Kubernetes control plane: etcd + kube-apiserver + kube-controller-manager +
# kube-scheduler + kwok (fake nodes and a fake kubelet, pod behaviour from stages/*.yaml).
# Everything listens on 127.0.0.1 only. Binaries come from build.sh.
#
# usage: up.sh [BIN_DIR]                   start the cluster (no-op if it already runs)
#        up.sh --restart-apiserver          stop kube-apiserver and start it again on the same
#                                           etcd data (the other components keep running)
#        up.sh --stop-apiserver | --start-apiserver   the two halves of that, for fault tests
# env:   BIN_DIR      binaries (default $HOME/.cache/tern/bin-$K8S_VERSION, K8S_VERSION v1.37.2)
#        STATE_DIR    certs, etcd data, logs, pids, kubeconfig (default $HOME/.cache/tern/cluster)
#        NODES        number of fake nodes (default 3, 110 pods each)
#        KWOK_STAGES  "default": stages from the kwok config file (fastest start)
#                     "crd": Stage CRD + Stage objects, so tests can change stages at run time
#        API_PORT ETCD_PORT ETCD_PEER_PORT KCM_PORT SCHED_PORT KWOK_PORT
#                     (16443 12379 12380 11257 11259 11247), all bound to 127.0.0.1
#        APISERVER_DOWNTIME  seconds between stop and start in --restart-apiserver (default 0)
#        STOP_SIGNAL  signal for --restart/--stop-apiserver: TERM (default) or KILL (a crash)
#        KEEP_ON_FAIL=1  leave processes running if start-up fails (default: stop them)
# The settings are saved in $STATE_DIR/cluster.env; later runs (restart, smoke.sh, down.sh) use
# them unless the environment says otherwise. Restarting on a kept STATE_DIR keeps the etcd data
# (objects survive); down.sh --purge wipes it.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODE=start
case "${1:-}" in
  --restart-apiserver) MODE=restart-apiserver; shift ;;
  --stop-apiserver) MODE=stop-apiserver; shift ;;
  --start-apiserver) MODE=start-apiserver; shift ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  -*) echo "up.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
esac
[ -z "${1:-}" ] || BIN_DIR=$1
# shellcheck source=lib.sh
. "$HERE/lib.sh"
NODES=${NODES:-3}
KWOK_STAGES=${KWOK_STAGES:-default}
PKI=$STATE_DIR/pki

for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
  [ -x "$BIN_DIR/$b" ] || die "missing $BIN_DIR/$b (run test/cluster/build.sh or make cluster-build first)"
done
command -v openssl >/dev/null || die "openssl not found (apt-get install -y openssl)"
command -v curl >/dev/null || die "curl not found (apt-get install -y curl)"

start() { # name, binary, args...
  local name=$1; shift
  port_free_or_die "$name"
  nohup "$@" >> "$STATE_DIR/logs/$name.log" 2>&1 &
  echo $! > "$STATE_DIR/pids/$name.pid"
}
port_free_or_die() {
  local p
  case $1 in
    etcd) p="$ETCD_PORT $ETCD_PEER_PORT" ;; kube-apiserver) p=$API_PORT ;;
    kube-controller-manager) p=$KCM_PORT ;; kube-scheduler) p=$SCHED_PORT ;; kwok) p=$KWOK_PORT ;;
  esac
  for port in $p; do
    port_free "$port" || die "port $HOST:$port (for $1) is in use by another process; choose another with the *_PORT variables"
  done
}
wait_url() { # name, timeout_s, curl args...
  local name=$1 t=$2; shift 2
  local end=$(( $(date +%s) + t ))
  until curl -fsS -o /dev/null --max-time 2 "$@" 2>/dev/null; do
    [ -n "$(pid_of "$name")" ] || { tail -30 "$STATE_DIR/logs/$name.log" >&2; die "$name exited (log: $STATE_DIR/logs/$name.log)"; }
    [ "$(date +%s)" -lt "$end" ] || { tail -30 "$STATE_DIR/logs/$name.log" >&2; die "$name not ready after ${t}s (log: $STATE_DIR/logs/$name.log)"; }
    sleep 0.1
  done
}

# --shutdown-watch-termination-grace-period: without it a SIGTERMed kube-apiserver stops listening
# at once but its process lingers (waiting on open watches) until SIGKILL; with it, ~1 s.
start_apiserver() {
  ts "starting kube-apiserver on https://$HOST:$API_PORT (~3 s) ..."
  start kube-apiserver "$BIN_DIR/kube-apiserver" \
    --etcd-servers="http://$HOST:$ETCD_PORT" \
    --bind-address=$HOST --advertise-address=$HOST --secure-port="$API_PORT" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" \
    --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true \
    --endpoint-reconciler-type=none --profiling=false \
    --shutdown-watch-termination-grace-period=1s
  wait_url kube-apiserver 90 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $(cat "$PKI/admin.token")" "https://$HOST:$API_PORT/readyz"
  ts "kube-apiserver /readyz ok (pid $(pid_of kube-apiserver))"
}

stop_apiserver() {
  [ -n "$(pid_of kube-apiserver)" ] || die "kube-apiserver is not running (STATE_DIR=$STATE_DIR)"
  ts "stopping kube-apiserver (SIG${STOP_SIGNAL:-TERM}) ..."
  stop "${STOP_SIGNAL:-TERM}" kube-apiserver
  # the port must be free before a new apiserver can bind it
  for _ in $(seq 100); do port_free "$API_PORT" && break; sleep 0.1; done
}

case $MODE in
  stop-apiserver) stop_apiserver; exit 0 ;;
  start-apiserver)
    [ -z "$(pid_of kube-apiserver)" ] || die "kube-apiserver already running (pid $(pid_of kube-apiserver))"
    [ -n "$(pid_of etcd)" ] || die "etcd is not running: start the whole cluster with up.sh"
    start_apiserver; exit 0 ;;
  restart-apiserver)
    [ -n "$(pid_of etcd)" ] || die "etcd is not running: start the whole cluster with up.sh"
    stop_apiserver
    if [ "${APISERVER_DOWNTIME:-0}" != 0 ]; then ts "kube-apiserver down for ${APISERVER_DOWNTIME}s"; sleep "$APISERVER_DOWNTIME"; fi
    start_apiserver; exit 0 ;;
esac

# ---------- already running? ----------
mkdir -p "$STATE_DIR"/{pki,logs,pids,etcd}
running=(); for c in "${COMPONENTS[@]}"; do [ -z "$(pid_of "$c")" ] || running+=("$c"); done
if [ ${#running[@]} -eq ${#COMPONENTS[@]} ]; then
  ts "cluster already running in $STATE_DIR (down.sh stops it)"
  echo "export KUBECONFIG=$KUBECONFIG_FILE"
  exit 0
fi
[ ${#running[@]} -eq 0 ] || die "partly running (${running[*]}); run test/cluster/down.sh first"
rm -f "$STATE_DIR"/pids/*.pid
for c in "${COMPONENTS[@]}"; do port_free_or_die "$c"; done
ts "starting a local control plane in $STATE_DIR (binaries: $BIN_DIR)"

# ---------- PKI (once per STATE_DIR) ----------
if [ ! -s "$PKI/apiserver.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=tern-e2e-ca" \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$PKI/apiserver.key" -out "$PKI/apiserver.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n' > "$PKI/apiserver.ext"
  openssl x509 -req -in "$PKI/apiserver.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -extfile "$PKI/apiserver.ext" -out "$PKI/apiserver.crt" 2>/dev/null
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$PKI/admin.token"
  echo "$(cat "$PKI/admin.token"),admin,admin,system:masters" > "$PKI/tokens.csv"
  chmod 600 "$PKI"/*.key "$PKI/admin.token" "$PKI/tokens.csv"
  ts "generated PKI in $PKI"
fi
cat > "$KUBECONFIG_FILE" <<KC
apiVersion: v1
kind: Config
clusters:
- name: tern-e2e
  cluster:
    server: https://$HOST:$API_PORT
    certificate-authority-data: $(base64 -w0 < "$PKI/ca.crt")
users:
- name: admin
  user:
    token: $(cat "$PKI/admin.token")
contexts:
- name: tern-e2e
  context: {cluster: tern-e2e, user: admin, namespace: default}
current-context: tern-e2e
KC
chmod 600 "$KUBECONFIG_FILE"
cat > "$STATE_DIR/cluster.env" <<ENV
# written by up.sh: the settings of this cluster (the environment overrides them)
BIN_DIR=\${BIN_DIR:-$BIN_DIR}
API_PORT=\${API_PORT:-$API_PORT}
ETCD_PORT=\${ETCD_PORT:-$ETCD_PORT}
ETCD_PEER_PORT=\${ETCD_PEER_PORT:-$ETCD_PEER_PORT}
KCM_PORT=\${KCM_PORT:-$KCM_PORT}
SCHED_PORT=\${SCHED_PORT:-$SCHED_PORT}
KWOK_PORT=\${KWOK_PORT:-$KWOK_PORT}
ENV

# if anything below fails, stop what this run started (unless KEEP_ON_FAIL=1, to debug)
OK=0
trap 'if [ "$OK" != 1 ] && [ "${KEEP_ON_FAIL:-0}" != 1 ]; then echo "up.sh failed; logs in $STATE_DIR/logs; stopping what it started" >&2; "$HERE/down.sh" >&2 || true; fi' EXIT

# ---------- etcd ----------
ts "starting etcd on http://$HOST:$ETCD_PORT ..."
start etcd "$BIN_DIR/etcd" --name tern-e2e --data-dir "$STATE_DIR/etcd" \
  --listen-client-urls "http://$HOST:$ETCD_PORT" --advertise-client-urls "http://$HOST:$ETCD_PORT" \
  --listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
  --initial-cluster "tern-e2e=http://$HOST:$ETCD_PEER_PORT" \
  --unsafe-no-fsync --quota-backend-bytes=4294967296 --log-level=warn
wait_url etcd 30 "http://$HOST:$ETCD_PORT/health"
ts "etcd healthy"

# ---------- kube-apiserver ----------
start_apiserver

# ---------- kube-controller-manager, kube-scheduler ----------
ts "starting kube-controller-manager and kube-scheduler ..."
start kube-controller-manager "$BIN_DIR/kube-controller-manager" \
  --kubeconfig="$KUBECONFIG_FILE" --authentication-kubeconfig="$KUBECONFIG_FILE" --authorization-kubeconfig="$KUBECONFIG_FILE" --authentication-skip-lookup \
  --bind-address=$HOST --secure-port="$KCM_PORT" --cert-dir="$PKI/kcm" \
  --leader-elect=false --cluster-name=tern-e2e \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --controllers='*,-node-ipam-controller' --profiling=false --kube-api-qps=200 --kube-api-burst=400
start kube-scheduler "$BIN_DIR/kube-scheduler" \
  --kubeconfig="$KUBECONFIG_FILE" --authentication-kubeconfig="$KUBECONFIG_FILE" --authorization-kubeconfig="$KUBECONFIG_FILE" --authentication-skip-lookup \
  --bind-address=$HOST --secure-port="$SCHED_PORT" --cert-dir="$PKI/scheduler" \
  --leader-elect=false --profiling=false --kube-api-qps=200 --kube-api-burst=400

# ---------- kwok ----------
# The standalone kwok binary has NO built-in stages: the node and pod-complete/delete stages come
# from the kwok module (copied next to the binaries by build.sh), the pod stages from stages/.
KM=$BIN_DIR/kwok-manifests
[ -s "$KM/kwok.x-k8s.io_stages.yaml" ] || die "missing $KM (run build.sh)"
STAGE_FILES=("$KM/node-initialize.yaml" "$KM/node-heartbeat-with-lease.yaml" "$KM/pod-complete.yaml" "$KM/pod-delete.yaml"
  "$HERE"/stages/*.yaml)
cat > "$STATE_DIR/kwok.yaml" <<KW
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  cidr: 10.244.0.0/16
  nodeIP: 127.0.0.2
  manageAllNodes: false
  manageNodesWithAnnotationSelector: kwok.x-k8s.io/node=fake
  nodeLeaseDurationSeconds: 40
  nodeLeaseParallelism: 4
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  enablePodsOnNodeSyncStreamWatch: true
KW
KWOK_ARGS=()
if [ "$KWOK_STAGES" = crd ]; then
  KWOK_ARGS+=(--enable-crds=Stage)
else
  for f in "${STAGE_FILES[@]}"; do printf -- '---\n' >> "$STATE_DIR/kwok.yaml"; cat "$f" >> "$STATE_DIR/kwok.yaml"; done
fi
wait_url kube-controller-manager 60 -k "https://$HOST:$KCM_PORT/healthz"
ts "kube-controller-manager /healthz ok"
wait_url kube-scheduler 60 -k "https://$HOST:$SCHED_PORT/healthz"
ts "kube-scheduler /healthz ok"

if [ "$KWOK_STAGES" = crd ]; then
  K apply -f "$KM/kwok.x-k8s.io_stages.yaml" >/dev/null
  K wait --for=condition=Established crd/stages.kwok.x-k8s.io --timeout=30s >/dev/null
  K apply $(printf -- '-f %s ' "${STAGE_FILES[@]}") >/dev/null
  ts "kwok Stage CRD + ${#STAGE_FILES[@]} Stage objects applied"
fi
# On a restart with kept etcd data the node Leases are still held by the previous kwok process
# (holderIdentity = its random id); the new kwok then fails "lease already exists", never takes
# the nodes over and leaves new pods Pending. Delete those leases first.
OLD_NODES=$(K get nodes -l type=kwok -o jsonpath='{.items[*].metadata.name}' 2>/dev/null || true)
if [ -n "$OLD_NODES" ]; then
  # shellcheck disable=SC2086
  K -n kube-node-lease delete lease $OLD_NODES --ignore-not-found >/dev/null
  ts "deleted the node leases of the previous kwok ($OLD_NODES)"
fi
ts "starting kwok ..."
start kwok "$BIN_DIR/kwok" -c "$STATE_DIR/kwok.yaml" --kubeconfig="$KUBECONFIG_FILE" \
  --server-address="$HOST:$KWOK_PORT" "${KWOK_ARGS[@]}"
wait_url kwok 60 "http://$HOST:$KWOK_PORT/healthz"
ts "kwok /healthz ok"

# ---------- fake nodes ----------
for i in $(seq 0 $((NODES - 1))); do
cat <<NODE
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok, topology.kubernetes.io/zone: zone-$((i % 3))}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
NODE
done | K apply -f - >/dev/null
K wait --for=condition=Ready node -l type=kwok --timeout=60s >/dev/null
ts "$NODES fake nodes Ready"
# pods in 'default' need the default ServiceAccount (created by kube-controller-manager)
end=$(( $(date +%s) + 30 ))
until K get serviceaccount default -n default >/dev/null 2>&1; do
  [ "$(date +%s)" -lt "$end" ] || die "default serviceaccount not created"; sleep 0.1
done
OK=1
ts "cluster ready; stop it with test/cluster/down.sh (--purge also removes $STATE_DIR)"
echo "export KUBECONFIG=$KUBECONFIG_FILE TERN_E2E_KUBECONFIG=$KUBECONFIG_FILE"
