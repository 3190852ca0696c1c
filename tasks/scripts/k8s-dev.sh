#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# The k8s-dev loop: a k3d cluster with a persistent local registry (up/down/status/doctor), the
# workload on it (bootstrap, sync, gateway, watch) and the skaffold image builder (image). Every
# verb is idempotent. The mise tasks in tasks/k8s-dev.toml call one verb each.
#
# Needs: k3d, kubectl, helm, skaffold (mise install), cargo, and Docker or Podman for the
# cluster. Decisions that need more than glue (engine and socket, kubeconfig merge, readiness,
# k3d state, ports) are k8s-dev-helper's; this script only sequences them.
#
# Remote mode: with K8S_DEV_CONTEXT naming an existing context that is not this kit's k3d
# cluster, up/down create and delete nothing; they check that the context answers and that
# the registry settings are given, so sync/bootstrap/watch run against a shared cluster.
#
# Settings (defaults also listed in mise.toml; the caller's environment wins): see usage().
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KIT_DIR="$(cd "${SCRIPT_DIR}/../.." && pwd)"

# k3d expands these inside deploy/k3d/cluster.yaml, so they are exported.
export K8S_DEV_CLUSTER="${K8S_DEV_CLUSTER:-openshell-dev}"
export K8S_DEV_AGENTS="${K8S_DEV_AGENTS:-1}"
export K8S_DEV_K3S_IMAGE="${K8S_DEV_K3S_IMAGE:-docker.io/rancher/k3s:v1.32.5-k3s1}"
export K8S_DEV_NETWORK="${K8S_DEV_NETWORK:-k3d}"
export K8S_DEV_BIND_ADDRESS="${K8S_DEV_BIND_ADDRESS:-127.0.0.1}"
export K8S_DEV_API_PORT="${K8S_DEV_API_PORT:-6550}"
export K8S_DEV_LB_PORT="${K8S_DEV_LB_PORT:-8080}"
export K8S_DEV_NODEPORT="${K8S_DEV_NODEPORT:-30051}"
export K8S_DEV_REGISTRY_NAME="${K8S_DEV_REGISTRY_NAME:-openshell-registry}"
export K8S_DEV_REGISTRY_PORT="${K8S_DEV_REGISTRY_PORT:-5000}"
export K8S_DEV_REGISTRY="${K8S_DEV_REGISTRY:-localhost:${K8S_DEV_REGISTRY_PORT}}"
export K8S_DEV_REGISTRY_PULL="${K8S_DEV_REGISTRY_PULL:-${K8S_DEV_REGISTRY_NAME}:5000}"
export K8S_DEV_TIMEOUT="${K8S_DEV_TIMEOUT:-180s}"
K8S_DEV_CONTEXT="${K8S_DEV_CONTEXT:-}"
K8S_DEV_SWITCH_CONTEXT="${K8S_DEV_SWITCH_CONTEXT:-1}"
K8S_DEV_K3D_CONFIG="${K8S_DEV_K3D_CONFIG:-${KIT_DIR}/deploy/k3d/cluster.yaml}"

K3D_CONTEXT="k3d-${K8S_DEV_CLUSTER}"
CLUSTER_KUBECONFIG="${HOME}/.kube/k3d-${K8S_DEV_CLUSTER}.yaml"

usage() {
  cat <<USAGE
Usage: $(basename "$0") <verb> [options]

Verbs:
  up                 create or start the k3d cluster and registry, merge the kubeconfig,
                     wait until ready (idempotent; fast when already up)
  down [--registry]  delete the cluster and its kubeconfig entries; keep the registry and
                     its images unless --registry
  status [--json]    cluster, nodes, registry, kubeconfig and engine
  doctor [--json]    check tools, engine, ports, kubeconfig permissions and disk

Environment (defaults in parentheses):
  K8S_DEV_CLUSTER          cluster name (openshell-dev)
  K8S_DEV_AGENTS           agent nodes (1)
  K8S_DEV_K3S_IMAGE        k3s image (docker.io/rancher/k3s:v1.32.5-k3s1)
  K8S_DEV_NETWORK          container network of cluster and registry (k3d)
  K8S_DEV_BIND_ADDRESS     host address of every published port (127.0.0.1)
  K8S_DEV_API_PORT         Kubernetes API host port (6550)
  K8S_DEV_LB_PORT          load balancer host port (8080), mapped to K8S_DEV_NODEPORT (30051)
  K8S_DEV_REGISTRY_NAME    registry name (openshell-registry)
  K8S_DEV_REGISTRY_PORT    registry host port (5000)
  K8S_DEV_REGISTRY         push name from the host (localhost:5000)
  K8S_DEV_REGISTRY_PULL    pull name in the cluster (openshell-registry:5000)
  K8S_DEV_CONTEXT          an existing context: remote mode (unset)
  K8S_DEV_SWITCH_CONTEXT   1: make the cluster's context current after up (1)
  K8S_DEV_TIMEOUT          limit of each readiness wait (180s)
  K8S_DEV_K3D_CONFIG       k3d config (<kit>/deploy/k3d/cluster.yaml)
  K8S_DEV_ENGINE           docker|podman: restrict engine detection (detect)
  KUBECONFIG               the default kubeconfig the cluster is merged into (~/.kube/config)
USAGE
}

log() { echo "[k8s-dev] $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

need_helper() {
  # shellcheck source=SCRIPTDIR/helper.sh
  source "${SCRIPT_DIR}/helper.sh"
  require_helper
}
# Lazy, so --help and remote mode work without an engine.
require_engine() {
  # shellcheck source=SCRIPTDIR/container-engine.sh
  source "${SCRIPT_DIR}/container-engine.sh"
}
require_tool() { # tool
  command -v "$1" >/dev/null 2>&1 || die "$1 not found. Run: mise install"
}

is_remote() { [[ -n "${K8S_DEV_CONTEXT}" && "${K8S_DEV_CONTEXT}" != "${K3D_CONTEXT}" ]]; }

# One `up`/`down` at a time per cluster: a second caller waits, then finds the work done.
# mkdir is atomic everywhere (flock is not on macOS); a dead holder's lock is taken over.
LOCK_DIR=""
acquire_lock() {
  LOCK_DIR="${TMPDIR:-/tmp}/k8s-dev-${K8S_DEV_CLUSTER}.lock"
  local waited=0 holder
  until mkdir "${LOCK_DIR}" 2>/dev/null; do
    holder="$(cat "${LOCK_DIR}/pid" 2>/dev/null || true)"
    if [[ -n "${holder}" ]] && ! kill -0 "${holder}" 2>/dev/null; then
      log "taking over the lock of exited process ${holder}"
      rm -rf "${LOCK_DIR}"
      continue
    fi
    if ((waited == 0)); then log "waiting for another k8s-dev up/down (pid ${holder:-?}) to finish"; fi
    if ((waited >= 600)); then die "lock ${LOCK_DIR} held for 10 minutes by pid ${holder:-?}; remove it if that process is gone"; fi
    sleep 1
    waited=$((waited + 1))
  done
  echo "$$" >"${LOCK_DIR}/pid"
  trap release_lock EXIT
}
release_lock() { if [[ -n "${LOCK_DIR}" ]]; then rm -rf "${LOCK_DIR}"; fi; }

read_state() {
  local exports
  exports="$(ce_helper cluster state --name "${K8S_DEV_CLUSTER}" --registry "${K8S_DEV_REGISTRY_NAME}")" || exit 1
  eval "${exports}"
}

ensure_registry() { # state
  case "$1" in
    running) ;;
    stopped)
      log "starting registry k3d-${K8S_DEV_REGISTRY_NAME}"
      ce start "k3d-${K8S_DEV_REGISTRY_NAME}" >/dev/null
      ;;
    missing)
      log "creating registry ${K8S_DEV_REGISTRY_NAME} on ${K8S_DEV_BIND_ADDRESS}:${K8S_DEV_REGISTRY_PORT}"
      k3d registry create "${K8S_DEV_REGISTRY_NAME}" \
        --port "${K8S_DEV_BIND_ADDRESS}:${K8S_DEV_REGISTRY_PORT}" \
        --default-network "${K8S_DEV_NETWORK}" >&2
      ;;
  esac
}

ensure_cluster() { # state
  case "$1" in
    running) ;;
    stopped | partial)
      log "starting cluster ${K8S_DEV_CLUSTER}"
      k3d cluster start "${K8S_DEV_CLUSTER}" >&2
      ;;
    missing)
      log "creating cluster ${K8S_DEV_CLUSTER} from ${K8S_DEV_K3D_CONFIG}"
      k3d cluster create --config "${K8S_DEV_K3D_CONFIG}" >&2
      ;;
  esac
}

# k3d's kubeconfig, written 0600 to its own file and merged into the default kubeconfig by the
# helper: entries of a re-created cluster replace the stale ones, all others stay.
write_kubeconfig() {
  local fresh
  fresh="$(mktemp "${TMPDIR:-/tmp}/k8s-dev-kubeconfig.XXXXXX")"
  chmod 600 "${fresh}"
  k3d kubeconfig get "${K8S_DEV_CLUSTER}" >"${fresh}" || { rm -f "${fresh}"; die "k3d kubeconfig get ${K8S_DEV_CLUSTER} failed"; }
  local merged=0
  ce_helper kubeconfig merge --from "${fresh}" --into "${CLUSTER_KUBECONFIG}" --set-current && merged=1
  if ((merged)); then
    if [[ "${K8S_DEV_SWITCH_CONTEXT}" == "1" ]]; then
      ce_helper kubeconfig merge --from "${fresh}" --set-current || merged=0
    else
      ce_helper kubeconfig merge --from "${fresh}" || merged=0
    fi
  fi
  rm -f "${fresh}"
  ((merged)) || die "merging the kubeconfig of ${K8S_DEV_CLUSTER} failed (see above)"
}

wait_ready() {
  local nodes=$((1 + K8S_DEV_AGENTS))
  ce_helper wait registry "${K8S_DEV_REGISTRY}" --timeout "${K8S_DEV_TIMEOUT}"
  ce_helper wait apiserver --kubeconfig "${CLUSTER_KUBECONFIG}" --context "${K3D_CONTEXT}" --timeout "${K8S_DEV_TIMEOUT}"
  ce_helper wait nodes --count "${nodes}" --kubeconfig "${CLUSTER_KUBECONFIG}" --context "${K3D_CONTEXT}" --timeout "${K8S_DEV_TIMEOUT}"
}

# KEP-1755: tells Skaffold and Tilt where to push for this cluster and how pods pull.
publish_registry_hosting() {
  kubectl --kubeconfig "${CLUSTER_KUBECONFIG}" --context "${K3D_CONTEXT}" apply -f - >/dev/null <<CM
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "${K8S_DEV_REGISTRY}"
    hostFromClusterNetwork: "k3d-${K8S_DEV_REGISTRY_NAME}:5000"
    hostFromContainerRuntime: "${K8S_DEV_REGISTRY_PULL}"
    help: "https://github.com/k8s-dev/k8s-dev#settings"
CM
}

check_remote() {
  require_tool kubectl
  [[ -n "${K8S_DEV_REGISTRY:-}" && -n "${K8S_DEV_REGISTRY_PULL:-}" ]] \
    || die "remote mode needs K8S_DEV_REGISTRY (push name) and K8S_DEV_REGISTRY_PULL (in-cluster pull name)"
  kubectl config get-contexts "${K8S_DEV_CONTEXT}" >/dev/null 2>&1 \
    || die "context ${K8S_DEV_CONTEXT} (K8S_DEV_CONTEXT) is not in your kubeconfig; unset K8S_DEV_CONTEXT to use the local k3d cluster"
  ce_helper wait apiserver --context "${K8S_DEV_CONTEXT}" --timeout "${K8S_DEV_TIMEOUT}"
}

cmd_up() {
  need_helper
  ce_helper cluster check-name "${K8S_DEV_CLUSTER}"
  if is_remote; then
    check_remote
    log "remote mode: using context ${K8S_DEV_CONTEXT}; nothing created"
    echo "Context: ${K8S_DEV_CONTEXT}"
    echo "Registry: push ${K8S_DEV_REGISTRY}, pull ${K8S_DEV_REGISTRY_PULL}"
    return 0
  fi
  require_tool k3d
  require_tool kubectl
  require_engine
  acquire_lock
  read_state
  local ports=()
  [[ "${K8S_DEV_REGISTRY_STATE}" == running ]] || ports+=("${K8S_DEV_REGISTRY_PORT}=K8S_DEV_REGISTRY_PORT")
  [[ "${K8S_DEV_CLUSTER_STATE}" == running ]] || ports+=("${K8S_DEV_API_PORT}=K8S_DEV_API_PORT" "${K8S_DEV_LB_PORT}=K8S_DEV_LB_PORT")
  if ((${#ports[@]})); then
    ce_helper ports check "${ports[@]}"
    ce_ensure_network "${K8S_DEV_NETWORK}"
  fi
  ensure_registry "${K8S_DEV_REGISTRY_STATE}"
  ensure_cluster "${K8S_DEV_CLUSTER_STATE}"
  write_kubeconfig
  wait_ready
  if [[ "${K8S_DEV_CLUSTER_STATE}" != running ]]; then
    publish_registry_hosting
  fi
  echo "Cluster: ${K8S_DEV_CLUSTER} (${K3D_CONTEXT}, was ${K8S_DEV_CLUSTER_STATE})"
  echo "Kubeconfig: ${CLUSTER_KUBECONFIG}"
  echo "Registry: push ${K8S_DEV_REGISTRY}, pull ${K8S_DEV_REGISTRY_PULL} (was ${K8S_DEV_REGISTRY_STATE})"
}

cmd_down() {
  local delete_registry=0
  while (($#)); do
    case "$1" in
      --registry) delete_registry=1 ;;
      *) usage >&2; exit 2 ;;
    esac
    shift
  done
  need_helper
  ce_helper cluster check-name "${K8S_DEV_CLUSTER}"
  if is_remote; then
    log "remote mode: context ${K8S_DEV_CONTEXT} is not the kit's cluster; nothing deleted"
    return 0
  fi
  require_tool k3d
  require_engine
  acquire_lock
  read_state
  if [[ "${K8S_DEV_CLUSTER_STATE}" != missing ]]; then
    log "deleting cluster ${K8S_DEV_CLUSTER}"
    k3d cluster delete "${K8S_DEV_CLUSTER}" >&2
  fi
  ce_helper kubeconfig remove --context "${K3D_CONTEXT}"
  rm -f "${CLUSTER_KUBECONFIG}" "${CLUSTER_KUBECONFIG}.bak"
  if ((delete_registry)) && [[ "${K8S_DEV_REGISTRY_STATE}" != missing ]]; then
    log "deleting registry ${K8S_DEV_REGISTRY_NAME} and its images"
    k3d registry delete "${K8S_DEV_REGISTRY_NAME}" >&2
  elif [[ "${K8S_DEV_REGISTRY_STATE}" != missing ]]; then
    log "kept registry ${K8S_DEV_REGISTRY_NAME} and its images (down --registry deletes it)"
  fi
}

cmd_status() {
  need_helper
  ce_helper status "$@"
}

cmd_doctor() {
  need_helper
  ce_helper doctor "$@"
}

main() {
  local verb="${1:-}"
  (($#)) && shift
  case "${verb}" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    doctor) cmd_doctor "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
