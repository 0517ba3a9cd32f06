#!/usr/bin/env bash
# Two real Kubernetes control planes, dc1 and dc2, on loopback:
# one etcd (prefixes /dc1 and /dc2), and per cluster kube-apiserver (RBAC, client
# certificates), kube-controller-manager, kube-scheduler and kwok with two fake
# nodes so that pods are scheduled, become Running/Ready and workloads roll.
# Usage: kube.sh up|down|status
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

KUBE_BIN="$CACHE/kubernetes-$K8S_VERSION/bin"
ETCD_BIN="$CACHE/etcd-$ETCD_VERSION/bin"
KWOK_DIR="$CACHE/kwok-$KWOK_VERSION"
KROOT="$RUN/kube"
KUBECONFIG_FILE="$RUN/kubeconfig"
CLUSTERS=(dc1 dc2)
NODES_PER_CLUSTER="${REKEY_KWOK_NODES:-2}"
# kube-controller-manager's client rate and workers. Its defaults (20 requests/s and burst 30 per controller, 5
# Deployment and 5 ReplicaSet workers) make it the slowest part of a mass rollout: 300 Deployments restarted at once
# took 110 s on this 2-core machine, with 1,047 s spent in client-side throttling and 22 s of queueing per Deployment
# sync. Control planes sized for thousands of workloads raise them (kwokctl lifts the limits altogether); with
# these, rollouts are bound by the API server and the CPU, as in a real cluster.
KCM_API_QPS="${REKEY_KCM_API_QPS:-200}"
KCM_API_BURST="${REKEY_KCM_API_BURST:-400}"
KCM_CONCURRENT_SYNCS="${REKEY_KCM_CONCURRENT_SYNCS:-20}"
KCM_TUNING=(--kube-api-qps="$KCM_API_QPS" --kube-api-burst="$KCM_API_BURST"
  --concurrent-deployment-syncs="$KCM_CONCURRENT_SYNCS" --concurrent-replicaset-syncs="$KCM_CONCURRENT_SYNCS")

api_port() { if [ "$1" = dc1 ]; then echo "$KUBE_DC1_PORT"; else echo "$KUBE_DC2_PORT"; fi; }
aux_base() { if [ "$1" = dc1 ]; then echo "$KUBE_DC1_AUX_BASE"; else echo "$KUBE_DC2_AUX_BASE"; fi; }
svc_cidr() { if [ "$1" = dc1 ]; then echo 10.96.0.0/16; else echo 10.97.0.0/16; fi; }
svc_ip()   { if [ "$1" = dc1 ]; then echo 10.96.0.1; else echo 10.97.0.1; fi; }
pod_cidr() { if [ "$1" = dc1 ]; then echo 10.244.0.0/16; else echo 10.245.0.0/16; fi; }

ensure_built() {
  bash "$INFRA_DIR/components/kube-build.sh" kubernetes etcd kwok
  # kwok needs Stage objects; use the ones the pinned release ships (what kwokctl
  # embeds): node initialize + heartbeat with lease, pod ready/complete/delete.
  if [ ! -s "$KWOK_DIR/stages.yaml" ]; then
    local dir
    dir="$(cd /tmp && GOFLAGS= go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
    [ -d "$dir/kustomize/stage" ] || die "kwok $KWOK_VERSION module source not found"
    local s f=()
    for s in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      f+=("$dir/kustomize/stage/$s")
    done
    { for s in "${f[@]}"; do echo "---"; cat "$s"; done; } > "$KWOK_DIR/stages.yaml.tmp"
    mv "$KWOK_DIR/stages.yaml.tmp" "$KWOK_DIR/stages.yaml"
  fi
}

b64() { base64 -w0 < "$1"; }

# kubeconfig FILE DC USER_CERT_BASENAME CONTEXT
write_kubeconfig() {
  local file="$1" dc="$2" user="$3" pki="$KROOT/$2/pki"
  cat > "$file" <<KC
apiVersion: v1
kind: Config
clusters:
- name: $dc
  cluster:
    server: https://$HOST:$(api_port "$dc")
    certificate-authority-data: $(b64 "$pki/server-ca.crt")
users:
- name: $dc-$user
  user:
    client-certificate-data: $(b64 "$pki/$user.crt")
    client-key-data: $(b64 "$pki/$user.key")
contexts:
- name: $dc
  context: {cluster: $dc, user: $dc-$user}
current-context: $dc
KC
}

setup_pki() {
  local dc="$1" pki="$KROOT/$1/pki"
  mkdir -p "$pki"
  mk_ca "$pki" server-ca "rekey-test $dc server CA"
  mk_ca "$pki" client-ca "rekey-test $dc client CA"
  mk_cert "$pki" apiserver server-ca "/CN=kube-apiserver" server \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$(svc_ip "$dc")"
  mk_cert "$pki" admin client-ca "/O=system:masters/CN=rekey-admin" client
  mk_cert "$pki" controller-manager client-ca "/CN=system:kube-controller-manager" client
  mk_cert "$pki" scheduler client-ca "/CN=system:kube-scheduler" client
  mk_cert "$pki" kwok client-ca "/O=system:masters/CN=kwok-controller" client
  if [ ! -f "$pki/sa.key" ]; then
    openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
    openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  fi
  write_kubeconfig "$KROOT/$dc/controller-manager.kubeconfig" "$dc" controller-manager
  write_kubeconfig "$KROOT/$dc/scheduler.kubeconfig" "$dc" scheduler
  write_kubeconfig "$KROOT/$dc/kwok.kubeconfig" "$dc" kwok
  write_kubeconfig "$KROOT/$dc/admin.kubeconfig" "$dc" admin
}

write_admin_kubeconfig() {
  local tmp="$KUBECONFIG_FILE.tmp"
  {
    echo "apiVersion: v1"
    echo "kind: Config"
    echo "clusters:"
    local dc
    for dc in "${CLUSTERS[@]}"; do
      echo "- name: $dc"
      echo "  cluster:"
      echo "    server: https://$HOST:$(api_port "$dc")"
      echo "    certificate-authority-data: $(b64 "$KROOT/$dc/pki/server-ca.crt")"
    done
    echo "users:"
    for dc in "${CLUSTERS[@]}"; do
      echo "- name: $dc-admin"
      echo "  user:"
      echo "    client-certificate-data: $(b64 "$KROOT/$dc/pki/admin.crt")"
      echo "    client-key-data: $(b64 "$KROOT/$dc/pki/admin.key")"
    done
    echo "contexts:"
    for dc in "${CLUSTERS[@]}"; do
      echo "- name: $dc"
      echo "  context: {cluster: $dc, user: $dc-admin}"
    done
    echo "current-context: dc1"
  } > "$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$KUBECONFIG_FILE"
}

etcd_healthy() { curl -fsS --max-time 2 "http://$HOST:$ETCD_PORT/health" | grep -q '"health":"true"'; }

start_etcd() {
  if pid_alive etcd && etcd_healthy; then return 0; fi
  stop_pid etcd
  require_free_port "$ETCD_PORT" etcd
  require_free_port "$ETCD_PEER_PORT" "etcd peer"
  mkdir -p "$KROOT/etcd"
  start_bg etcd "$ETCD_BIN/etcd" --name rekey-test --data-dir "$KROOT/etcd" \
    --listen-client-urls "http://$HOST:$ETCD_PORT" --advertise-client-urls "http://$HOST:$ETCD_PORT" \
    --listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
    --initial-cluster "rekey-test=http://$HOST:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --quota-backend-bytes=2147483648 --log-level=warn
  wait_for "etcd" 60 etcd_healthy || die "etcd did not become healthy (see $LOGS/etcd.log)"
}

kc() { "$KUBE_BIN/kubectl" --request-timeout=30s --kubeconfig "$KROOT/$1/admin.kubeconfig" "${@:2}"; }

api_ready() {
  local pki="$KROOT/$1/pki"
  curl -fsS --max-time 3 --cacert "$pki/server-ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://$HOST:$(api_port "$1")/readyz" | grep -q ok
}

start_apiserver() {
  local dc="$1" pki="$KROOT/$1/pki" port; port="$(api_port "$1")"
  if pid_alive "$dc-apiserver" && api_ready "$dc"; then return 0; fi
  stop_pid "$dc-apiserver"
  require_free_port "$port" "$dc kube-apiserver"
  start_bg "$dc-apiserver" "$KUBE_BIN/kube-apiserver" \
    --etcd-servers="http://$HOST:$ETCD_PORT" --etcd-prefix="/$dc" \
    --bind-address="$HOST" --advertise-address="$HOST" --secure-port="$port" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/client-ca.crt" \
    --authorization-mode=Node,RBAC --anonymous-auth=false \
    --service-account-issuer="https://$dc.kubernetes.rekey.test" \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range="$(svc_cidr "$dc")" --allow-privileged=true \
    --enable-priority-and-fairness=false --profiling=false \
    --endpoint-reconciler-type=none \
    --v=1
}

# controller_tuned DC -> 0 if DC's running kube-controller-manager has today's KCM_TUNING (one started before a
# change of them is restarted by `up`, alone: the API servers, etcd, scheduler and kwok keep running)
controller_tuned() {
  local args flag
  args="$(tr '\0' '\n' < "/proc/$(cat "$PIDS/$1-controller-manager.pid" 2>/dev/null)/cmdline" 2>/dev/null)" || return 1
  for flag in "${KCM_TUNING[@]}"; do grep -qxF -- "$flag" <<<"$args" || return 1; done
}

start_controllers() {
  local dc="$1" pki="$KROOT/$1/pki" base; base="$(aux_base "$1")"
  if pid_alive "$dc-controller-manager" && ! controller_tuned "$dc"; then
    log "$dc kube-controller-manager runs with other client rate or workers than ${KCM_TUNING[*]}: restarting it"
    stop_pid "$dc-controller-manager"
  fi
  if ! pid_alive "$dc-controller-manager"; then
    require_free_port $((base + 7)) "$dc kube-controller-manager"
    start_bg "$dc-controller-manager" "$KUBE_BIN/kube-controller-manager" \
      --kubeconfig="$KROOT/$dc/controller-manager.kubeconfig" \
      --authentication-kubeconfig="$KROOT/$dc/controller-manager.kubeconfig" \
      --authorization-kubeconfig="$KROOT/$dc/controller-manager.kubeconfig" \
      --bind-address="$HOST" --secure-port=$((base + 7)) --leader-elect=false \
      --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/server-ca.crt" \
      --use-service-account-credentials=true \
      --cluster-signing-cert-file="$pki/client-ca.crt" --cluster-signing-key-file="$pki/client-ca.key" \
      --cluster-cidr="$(pod_cidr "$dc")" --service-cluster-ip-range="$(svc_cidr "$dc")" \
      --controllers='*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller,-persistentvolume-attach-detach-controller,-ephemeral-volume-controller,-bootstrap-signer-controller,-token-cleaner-controller' \
      "${KCM_TUNING[@]}" --profiling=false --v=1
  fi
  if ! pid_alive "$dc-scheduler"; then
    require_free_port $((base + 9)) "$dc kube-scheduler"
    start_bg "$dc-scheduler" "$KUBE_BIN/kube-scheduler" \
      --kubeconfig="$KROOT/$dc/scheduler.kubeconfig" \
      --authentication-kubeconfig="$KROOT/$dc/scheduler.kubeconfig" \
      --authorization-kubeconfig="$KROOT/$dc/scheduler.kubeconfig" \
      --bind-address="$HOST" --secure-port=$((base + 9)) --leader-elect=false --profiling=false --v=1
  fi
  if ! pid_alive "$dc-kwok"; then
    require_free_port $((base + 1)) "$dc kwok"
    start_bg "$dc-kwok" "$KWOK_DIR/bin/kwok" \
      --kubeconfig="$KROOT/$dc/kwok.kubeconfig" --config="$KWOK_DIR/stages.yaml" \
      --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
      --node-ip="$HOST" --node-port=$((base + 1)) --server-address="$HOST:$((base + 1))" \
      --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
      --cidr="$(pod_cidr "$dc" | sed 's#/16#/24#')" --node-lease-duration-seconds=40
  fi
}

ensure_nodes() {
  local dc="$1" i manifest=""
  for i in $(seq 0 $((NODES_PER_CLUSTER - 1))); do
    manifest+="---
apiVersion: v1
kind: Node
metadata:
  name: $dc-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: \"0\"
  labels:
    kubernetes.io/hostname: $dc-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
    topology.kubernetes.io/zone: $dc-zone-$i
status:
  allocatable: {cpu: \"32\", memory: 128Gi, pods: \"110\"}
  capacity: {cpu: \"32\", memory: 128Gi, pods: \"110\"}
"
  done
  printf '%s' "$manifest" | kc "$dc" apply -f - >/dev/null
}

nodes_ready() {
  local n
  n="$(kc "$1" get nodes -l type=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)"
  [ "$n" -ge "$NODES_PER_CLUSTER" ]
}
default_sa() { kc "$1" get serviceaccount default -n default >/dev/null; }

cluster_status() {
  local dc="$1"
  pid_alive "$dc-apiserver" && pid_alive "$dc-controller-manager" && controller_tuned "$dc" && pid_alive "$dc-scheduler" \
    && pid_alive "$dc-kwok" && api_ready "$dc"
}

up() {
  ensure_built
  mkdir -p "$KROOT"
  local dc
  for dc in "${CLUSTERS[@]}"; do setup_pki "$dc"; done
  write_admin_kubeconfig
  start_etcd
  for dc in "${CLUSTERS[@]}"; do start_apiserver "$dc"; done
  for dc in "${CLUSTERS[@]}"; do
    wait_for "$dc kube-apiserver" 120 api_ready "$dc" || die "$dc kube-apiserver not ready (see $LOGS/$dc-apiserver.log)"
  done
  for dc in "${CLUSTERS[@]}"; do start_controllers "$dc"; done
  for dc in "${CLUSTERS[@]}"; do ensure_nodes "$dc"; done
  for dc in "${CLUSTERS[@]}"; do
    wait_for "$dc nodes Ready" 90 nodes_ready "$dc" || die "$dc kwok nodes not Ready (see $LOGS/$dc-kwok.log)"
    wait_for "$dc default ServiceAccount" 90 default_sa "$dc" || die "$dc controller-manager did not create the default ServiceAccount (see $LOGS/$dc-controller-manager.log)"
  done
  write_env kube <<ENV
export KUBECONFIG='$KUBECONFIG_FILE'
export REKEY_TEST_KUBECONFIG='$KUBECONFIG_FILE'
export KUBECTL='$KUBE_BIN/kubectl'
export KUBE_BIN='$KUBE_BIN'
export K8S_VERSION='$K8S_VERSION'
export KUBE_DC1_SERVER='https://$HOST:$KUBE_DC1_PORT'
export KUBE_DC2_SERVER='https://$HOST:$KUBE_DC2_PORT'
export KUBE_DC1_CA_CERT='$KROOT/dc1/pki/server-ca.crt'
export KUBE_DC2_CA_CERT='$KROOT/dc2/pki/server-ca.crt'
export KUBE_DC1_CLIENT_CA_CERT='$KROOT/dc1/pki/client-ca.crt'
export KUBE_DC1_CLIENT_CA_KEY='$KROOT/dc1/pki/client-ca.key'
export KUBE_DC2_CLIENT_CA_CERT='$KROOT/dc2/pki/client-ca.crt'
export KUBE_DC2_CLIENT_CA_KEY='$KROOT/dc2/pki/client-ca.key'
export KUBE_DC1_ADMIN_KUBECONFIG='$KROOT/dc1/admin.kubeconfig'
export KUBE_DC2_ADMIN_KUBECONFIG='$KROOT/dc2/admin.kubeconfig'
ENV
}

down() {
  local dc
  for dc in "${CLUSTERS[@]}"; do
    stop_pid "$dc-kwok"; stop_pid "$dc-scheduler"; stop_pid "$dc-controller-manager"
  done
  for dc in "${CLUSTERS[@]}"; do stop_pid "$dc-apiserver"; done
  stop_pid etcd
  rm -f "$ENV_DIR/kube.sh"; rebuild_env_file
}

status() {
  pid_alive etcd && etcd_healthy || return 1
  local dc
  for dc in "${CLUSTERS[@]}"; do cluster_status "$dc" || return 1; done
}

"${1:?usage: kube.sh up|down|status}"
