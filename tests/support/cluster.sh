#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# A real Kubernetes control plane for the tests: etcd, kube-apiserver, kube-controller-manager
# and kube-scheduler on 127.0.0.1 (ports the OS hands out), and kwok marking one Node and every
# pod scheduled to it Ready (no container runs); a default StorageClass whose claims the
# controller manager binds to hostPath volumes, as k3s's local-path provisioner does. The tasks' remote mode (K8S_DEV_CONTEXT) runs
# against it with real kubectl, helm and skaffold. Certificates, service-account keys and the
# kubeconfigs are generated here with openssl; everything lives under one state directory.
# Every process runs under setsid with a PID file and is stopped by that PID only.
#
# `up` starts what is not running, so after a test killed one component `up` brings back just
# that one with the same ports and certificates; with nothing running it starts from a clean
# state. The binaries come from tests/support/tools.sh's cache (built there), else from PATH.
#
# Needs: openssl, curl, python3; etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kwok and kwok's stage file (tests/support/tools.sh build etcd kubernetes kwok).
#
# Environment:
#   K8S_DEV_CLUSTER_STATE     state directory (default: /tmp/k8s-dev-cluster)
#   K8S_DEV_CLUSTER_API_PORT  kube-apiserver port on 127.0.0.1 (default: a free port)
#   K8S_DEV_HARNESS_CONTEXT   context name in the admin kubeconfig (default: k8s-dev-harness)
#   K8S_DEV_CLUSTER_TIMEOUT   seconds to wait for each component (default: 60)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${K8S_DEV_CLUSTER_STATE:-/tmp/k8s-dev-cluster}"
CONTEXT="${K8S_DEV_HARNESS_CONTEXT:-k8s-dev-harness}"
TIMEOUT="${K8S_DEV_CLUSTER_TIMEOUT:-60}"
# Start order; `down` stops in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
NODE_NAME=kwok-node-0
# kwok's stage file, next to its binary in the tools cache (tests/support/tools.sh).
KWOK_STAGES=kwok-stages-heartbeat.yaml
SERVICE_CIDR=10.96.0.0/16
PKI="${STATE}/pki"

usage() {
  cat <<USAGE
Usage: $(basename "$0") <command>

Commands:
  up      start what is not running (from a clean state when nothing is), wait until the API
          answers and the node is Ready, then print the test environment as shell exports
  env     print the test environment as shell exports
  status  each component: running (pid, port) or stopped
  down    stop every component by its PID file (idempotent); fails naming a port still listening
  purge   down, then delete the state directory

Environment:
  K8S_DEV_CLUSTER_STATE     state directory (default: /tmp/k8s-dev-cluster)
  K8S_DEV_CLUSTER_API_PORT  kube-apiserver port on 127.0.0.1 (default: a free port)
  K8S_DEV_HARNESS_CONTEXT   context name in the admin kubeconfig (default: k8s-dev-harness)
  K8S_DEV_CLUSTER_TIMEOUT   seconds to wait for each component (default: 60)
USAGE
}

log() { echo "[cluster] $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

# shellcheck source=SCRIPTDIR/daemons.sh
source "${SCRIPT_DIR}/daemons.sh"
component_alive() { daemon_alive "${STATE}/$1.pid"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port_listening() { # port
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.5)' "$1" 2>/dev/null
}

# The binary of a component: the pinned build in tools.sh's cache, else PATH.
binary() { # component
  local tool dir
  case "$1" in
    etcd) tool=etcd ;;
    kwok | kwok-stages*.yaml) tool=kwok ;;
    *) tool=kubernetes ;;
  esac
  if dir="$("${SCRIPT_DIR}/tools.sh" path "${tool}" 2>/dev/null)" && [[ -e "${dir}/$1" ]]; then
    echo "${dir}/$1"
  elif [[ "$1" != *.yaml ]] && command -v "$1" >/dev/null 2>&1; then
    command -v "$1"
  else
    die "$1: not found in the tools cache or on PATH; run: tests/support/tools.sh build ${tool}"
  fi
}

# --- state: ports, certificates, kubeconfigs ----------------------------------------------------

write_ports() {
  local api="${K8S_DEV_CLUSTER_API_PORT:-}"
  [[ -n "${api}" ]] || api="$(free_port)"
  if ! [[ "${api}" =~ ^[0-9]+$ ]] || ((api < 1 || api > 65535)); then
    die "K8S_DEV_CLUSTER_API_PORT=${api} is not a port number; unset it or give one in 1-65535"
  fi
  ETCD_PORT="$(free_port)" ETCD_PEER_PORT="$(free_port)" API_PORT="${api}"
  CONTROLLER_MANAGER_PORT="$(free_port)" SCHEDULER_PORT="$(free_port)" KWOK_PORT="$(free_port)"
  save_ports
}

save_ports() {
  cat >"${STATE}/ports.env" <<PORTS
ETCD_PORT=${ETCD_PORT}
ETCD_PEER_PORT=${ETCD_PEER_PORT}
API_PORT=${API_PORT}
CONTROLLER_MANAGER_PORT=${CONTROLLER_MANAGER_PORT}
SCHEDULER_PORT=${SCHEDULER_PORT}
KWOK_PORT=${KWOK_PORT}
PORTS
}

# A free port is picked before the components start: on a busy machine another program can take
# one in between. Found taken when `up` checks the ports, such a component gets new ones (the
# kubeconfigs follow the API server's), unless the port was asked for, or others already use it
# (etcd's and the API server's, once this state has run: FRESH is 1 only for a new state). A
# port taken after the check still fails that component's start, with its log.
FRESH=0
new_ports_for() { # component
  case "$1" in
    etcd)
      ((FRESH)) || return 1
      ETCD_PORT="$(free_port)" ETCD_PEER_PORT="$(free_port)"
      rm -rf "${STATE}/etcd-data"
      ;;
    kube-apiserver)
      ((FRESH)) && [[ -z "${K8S_DEV_CLUSTER_API_PORT:-}" ]] || return 1
      API_PORT="$(free_port)"
      write_kubeconfigs
      ;;
    kube-controller-manager) CONTROLLER_MANAGER_PORT="$(free_port)" ;;
    kube-scheduler) SCHEDULER_PORT="$(free_port)" ;;
    kwok) KWOK_PORT="$(free_port)" ;;
  esac
  save_ports
}

load_ports() {
  # shellcheck source=/dev/null
  source "${STATE}/ports.env"
}

ports_of() { # component
  case "$1" in
    etcd) echo "${ETCD_PORT} ${ETCD_PEER_PORT}" ;;
    kube-apiserver) echo "${API_PORT}" ;;
    kube-controller-manager) echo "${CONTROLLER_MANAGER_PORT}" ;;
    kube-scheduler) echo "${SCHEDULER_PORT}" ;;
    kwok) echo "${KWOK_PORT}" ;;
  esac
}

# ECDSA P-256 throughout: generated in milliseconds, accepted by every component.
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

issue_cert() { # name, subject, extensions
  new_key "${PKI}/$1.key"
  openssl req -new -key "${PKI}/$1.key" -subj "$2" -out "${PKI}/$1.csr" 2>/dev/null
  printf '%b\n' "$3" >"${PKI}/$1.ext"
  openssl x509 -req -in "${PKI}/$1.csr" -CA "${PKI}/ca.crt" -CAkey "${PKI}/ca.key" -CAcreateserial \
    -days 30 -extfile "${PKI}/$1.ext" -out "${PKI}/$1.crt" 2>/dev/null
  rm -f "${PKI}/$1.csr" "${PKI}/$1.ext"
}

write_pki() {
  command -v openssl >/dev/null 2>&1 || die "openssl not found; apt-get install openssl"
  mkdir -p "${PKI}"
  chmod 700 "${PKI}"
  new_key "${PKI}/ca.key"
  openssl req -x509 -new -key "${PKI}/ca.key" -subj "/CN=k8s-dev-harness-ca" -days 30 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "${PKI}/ca.crt" 2>/dev/null
  local client="keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth"
  # 127.0.0.2: tests reach it through a k3d load balancer bound to another loopback address.
  issue_cert apiserver "/CN=kube-apiserver" \
    "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:127.0.0.2,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  issue_cert admin "/O=system:masters/CN=kubernetes-admin" "${client}"
  issue_cert controller-manager "/CN=system:kube-controller-manager" "${client}"
  issue_cert scheduler "/CN=system:kube-scheduler" "${client}"
  # The API server's client certificate at kubelets (kubectl logs/exec of a real node's pods).
  issue_cert kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "${client}"
  # Signs and verifies service-account tokens.
  new_key "${PKI}/sa.key"
  openssl pkey -in "${PKI}/sa.key" -pubout -out "${PKI}/sa.pub" 2>/dev/null
}

write_kubeconfig() { # file, user cert name
  local b64="base64 -w0"
  (
    umask 077
    cat >"$1" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: ${CONTEXT}
  cluster:
    server: https://127.0.0.1:${API_PORT}
    certificate-authority-data: $(${b64} "${PKI}/ca.crt")
users:
- name: ${CONTEXT}-$2
  user:
    client-certificate-data: $(${b64} "${PKI}/$2.crt")
    client-key-data: $(${b64} "${PKI}/$2.key")
contexts:
- name: ${CONTEXT}
  context:
    cluster: ${CONTEXT}
    user: ${CONTEXT}-$2
current-context: ${CONTEXT}
KUBECONFIG
  )
}

fresh_state() {
  log "new control plane state in ${STATE}"
  FRESH=1
  rm -rf "${STATE}"
  mkdir -p "${STATE}"
  write_ports
  load_ports
  write_pki
  write_kubeconfigs
}

write_kubeconfigs() {
  write_kubeconfig "${STATE}/admin.kubeconfig" admin
  write_kubeconfig "${STATE}/controller-manager.kubeconfig" controller-manager
  write_kubeconfig "${STATE}/scheduler.kubeconfig" scheduler
}

# --- components ---------------------------------------------------------------------------------

# The command line of a component, into COMMAND; BIN is its binary (see resolve_binaries).
command_of() { # component
  local kc bin="${BIN[$1]}"
  case "$1" in
    etcd)
      COMMAND=("${bin}" --name harness --data-dir "${STATE}/etcd-data"
        --listen-client-urls "http://127.0.0.1:${ETCD_PORT}" --advertise-client-urls "http://127.0.0.1:${ETCD_PORT}"
        --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}"
        --initial-cluster "harness=http://127.0.0.1:${ETCD_PEER_PORT}"
        # A test cluster: losing the last writes on a crash of the machine is fine, waiting for disks is not.
        --unsafe-no-fsync --log-level warn)
      ;;
    kube-apiserver)
      # No endpoint reconciler: it refuses a loopback advertise address for the kubernetes
      # Service, and nothing here reaches the API through that Service.
      COMMAND=("${bin}" --etcd-servers "http://127.0.0.1:${ETCD_PORT}"
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "${API_PORT}"
        --endpoint-reconciler-type none --cert-dir "${STATE}/kube-apiserver"
        --tls-cert-file "${PKI}/apiserver.crt" --tls-private-key-file "${PKI}/apiserver.key"
        --client-ca-file "${PKI}/ca.crt" --authorization-mode "Node,RBAC" --allow-privileged
        --service-account-issuer https://kubernetes.default.svc.cluster.local
        --service-account-key-file "${PKI}/sa.pub" --service-account-signing-key-file "${PKI}/sa.key"
        --service-cluster-ip-range "${SERVICE_CIDR}" --profiling=false
        # A real node (tests/support/node.sh) is reached at its address: its name resolves nowhere.
        --kubelet-preferred-address-types "InternalIP,Hostname")
      if [[ -f "${PKI}/kubelet-client.crt" ]]; then
        COMMAND+=(--kubelet-client-certificate "${PKI}/kubelet-client.crt" --kubelet-client-key "${PKI}/kubelet-client.key")
      fi
      ;;
    kube-controller-manager)
      kc="${STATE}/controller-manager.kubeconfig"
      COMMAND=("${bin}" --kubeconfig "${kc}"
        --authentication-kubeconfig "${kc}" --authorization-kubeconfig "${kc}"
        --bind-address 127.0.0.1 --secure-port "${CONTROLLER_MANAGER_PORT}" --cert-dir "${STATE}/kube-controller-manager"
        --leader-elect=false --use-service-account-credentials
        --service-account-private-key-file "${PKI}/sa.key" --root-ca-file "${PKI}/ca.crt"
        --cluster-signing-cert-file "${PKI}/ca.crt" --cluster-signing-key-file "${PKI}/ca.key"
        --service-cluster-ip-range "${SERVICE_CIDR}" --profiling=false
        # The default StorageClass's provisioner (ensure_storage_class): hostPath directories
        # under /tmp/hostpath_pv on this machine, for one-node test clusters only.
        --enable-hostpath-provisioner)
      ;;
    kube-scheduler)
      kc="${STATE}/scheduler.kubeconfig"
      COMMAND=("${bin}" --kubeconfig "${kc}"
        --authentication-kubeconfig "${kc}" --authorization-kubeconfig "${kc}"
        --bind-address 127.0.0.1 --secure-port "${SCHEDULER_PORT}" --cert-dir "${STATE}/kube-scheduler"
        --leader-elect=false --profiling=false)
      ;;
    kwok)
      # Only its own node: a real kubelet may join too (tests/support/node.sh).
      COMMAND=("${bin}" --kubeconfig "${STATE}/admin.kubeconfig" --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake
        --config "${BIN[${KWOK_STAGES}]}" --server-address "127.0.0.1:${KWOK_PORT}")
      ;;
  esac
}

# Whether a component answers; the API server's readyz needs the admin client certificate.
healthy() { # component
  case "$1" in
    etcd) curl -fsS "http://127.0.0.1:${ETCD_PORT}/health" | grep -q '"health":"true"' ;;
    kube-apiserver)
      curl -fsS --cacert "${PKI}/ca.crt" --cert "${PKI}/admin.crt" --key "${PKI}/admin.key" \
        "https://127.0.0.1:${API_PORT}/readyz" | grep -qx ok
      ;;
    kube-controller-manager) curl -fsSk "https://127.0.0.1:${CONTROLLER_MANAGER_PORT}/healthz" | grep -qx ok ;;
    kube-scheduler) curl -fsSk "https://127.0.0.1:${SCHEDULER_PORT}/healthz" | grep -qx ok ;;
    kwok) curl -fsS "http://127.0.0.1:${KWOK_PORT}/healthz" >/dev/null && node_ready ;;
  esac
}

api() { # method, path, [body]
  curl -fsS --cacert "${PKI}/ca.crt" --cert "${PKI}/admin.crt" --key "${PKI}/admin.key" \
    -X "$1" -H 'Content-Type: application/json' "https://127.0.0.1:${API_PORT}$2" ${3:+--data "$3"}
}

node_ready() {
  api GET "/api/v1/nodes/${NODE_NAME}" 2>/dev/null | python3 -c '
import json, sys
node = json.load(sys.stdin)
ready = [c for c in node.get("status", {}).get("conditions", []) if c["type"] == "Ready"]
sys.exit(0 if ready and ready[0]["status"] == "True" else 1)'
}

# The one Node kwok manages (kwok creates none itself): what a registered kubelet would post.
ensure_node() {
  api GET "/api/v1/nodes/${NODE_NAME}" >/dev/null 2>&1 && return 0
  api POST /api/v1/nodes "$(
    cat <<NODE
{"apiVersion": "v1", "kind": "Node",
 "metadata": {"name": "${NODE_NAME}",
   "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
   "labels": {"kubernetes.io/hostname": "${NODE_NAME}", "kubernetes.io/os": "linux",
     "kubernetes.io/arch": "amd64", "type": "kwok"}},
 "spec": {}}
NODE
  )" >/dev/null || die "creating Node ${NODE_NAME} failed; log: ${STATE}/kube-apiserver.log"
}

# A default StorageClass, as k3s has (local-path): the chart's StatefulSet claims a volume, which
# otherwise stays Pending and its pod unscheduled. Deleting a claim deletes its volume.
ensure_storage_class() {
  api GET /apis/storage.k8s.io/v1/storageclasses/standard >/dev/null 2>&1 && return 0
  api POST /apis/storage.k8s.io/v1/storageclasses '{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
    "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
    "provisioner": "kubernetes.io/host-path", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}' >/dev/null \
    || die "creating the default StorageClass failed; log: ${STATE}/kube-apiserver.log"
}

log_tail() { tail -n 20 "${STATE}/$1.log" >&2 2>/dev/null || true; }

# Every port of what is about to start, before anything starts.
check_ports() {
  local c port
  for c in "${COMPONENTS[@]}"; do
    component_alive "${c}" && continue
    for port in $(ports_of "${c}"); do
      port_listening "${port}" || continue
      if new_ports_for "${c}"; then
        log "${c}: a port was taken since it was picked (127.0.0.1:${port}); using new ports"
        break
      fi
      die "${c}: 127.0.0.1:${port} is already in use by another program; stop it, or run 'down' then 'up' for new ports (K8S_DEV_CLUSTER_API_PORT picks the API server's)"
    done
  done
}

# What this `up` started, stopped again when a later component fails: a failed `up` leaves
# what ran before it, and nothing of its own.
STARTED=()
stop_started() {
  local i
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_component "${STARTED[i]}"; done
}

start_component() { # component
  local name="$1"
  if component_alive "${name}"; then return 0; fi
  command_of "${name}"
  daemon_start "${STATE}/${name}.pid" "${STATE}/${name}.log" "${COMMAND[@]}"
  STARTED+=("${name}")
  local deadline=$((SECONDS + TIMEOUT))
  until healthy "${name}" >/dev/null 2>&1; do
    if ! component_alive "${name}"; then
      log_tail "${name}"
      die "${name} exited while starting; log: ${STATE}/${name}.log"
    fi
    if ((SECONDS >= deadline)); then
      log_tail "${name}"
      die "${name} did not become ready within ${TIMEOUT}s; log: ${STATE}/${name}.log"
    fi
    if [[ "${name}" == kwok ]]; then ensure_node; fi
    sleep 0.2
  done
  log "${name} ready (pid $(cat "${STATE}/${name}.pid"))"
}

# Every binary before anything starts, so a missing one fails fast and names itself.
declare -A BIN
resolve_binaries() {
  local c
  for c in "${COMPONENTS[@]}" "${KWOK_STAGES}"; do
    BIN[${c}]="$(binary "${c}")" || exit 1
  done
}

any_alive() {
  local c
  for c in "${COMPONENTS[@]}"; do component_alive "${c}" && return 0; done
  return 1
}

cmd_env() {
  [[ -f "${STATE}/admin.kubeconfig" ]] || die "no control plane state in ${STATE}; run: tests/support/cluster.sh up"
  cat <<ENV
export K8S_DEV_CLUSTER_STATE=${STATE}
export KUBECONFIG=${STATE}/admin.kubeconfig
export K8S_DEV_TEST_KUBECONFIG=${STATE}/admin.kubeconfig
export K8S_DEV_TEST_CONTEXT=${CONTEXT}
ENV
}

cmd_up() {
  command -v curl >/dev/null 2>&1 || die "curl not found; apt-get install curl"
  resolve_binaries
  if any_alive && [[ -f "${STATE}/ports.env" ]]; then
    load_ports
  else
    fresh_state
  fi
  check_ports
  trap stop_started EXIT
  local c
  for c in "${COMPONENTS[@]}"; do start_component "${c}"; done
  ensure_storage_class
  trap - EXIT
  log "control plane up: https://127.0.0.1:${API_PORT} (context ${CONTEXT}, state ${STATE})"
  cmd_env
}

stop_component() { daemon_stop "$1" "${STATE}/$1.pid"; }

cmd_down() {
  local i c port busy=()
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_component "${COMPONENTS[i]}"; done
  [[ -f "${STATE}/ports.env" ]] || return 0
  load_ports
  for c in "${COMPONENTS[@]}"; do
    for port in $(ports_of "${c}"); do
      if port_listening "${port}"; then busy+=("${c} 127.0.0.1:${port}"); fi
    done
  done
  ((${#busy[@]} == 0)) || die "still listening after down: ${busy[*]}; find the process with: ss -ltnp"
}

cmd_purge() {
  cmd_down
  rm -rf "${STATE}"
  log "purged ${STATE}"
}

cmd_status() {
  local c
  [[ ! -f "${STATE}/ports.env" ]] || load_ports
  for c in "${COMPONENTS[@]}"; do
    daemon_status "${c}" "${STATE}/${c}.pid" "127.0.0.1:$(ports_of "${c}" | cut -d' ' -f1)"
  done
}

main() {
  case "${1:-}" in
    up) cmd_up ;;
    env) cmd_env ;;
    status) cmd_status ;;
    down) cmd_down ;;
    purge) cmd_purge ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
