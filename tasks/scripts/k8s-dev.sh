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
# Where the kubeconfig finds the API (cluster.yaml's kubeAPI.host): the bind address itself,
# unless that is every address.
case "${K8S_DEV_BIND_ADDRESS}" in
  0.0.0.0 | :: | "[::]") export K8S_DEV_API_HOST=127.0.0.1 ;;
  *) export K8S_DEV_API_HOST="${K8S_DEV_BIND_ADDRESS}" ;;
esac
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
# The workload: defaults drive the stand-in in example/; see README for OpenShell's values.
K8S_DEV_NAMESPACE="${K8S_DEV_NAMESPACE:-openshell}"
K8S_DEV_SANDBOX_NAMESPACE="${K8S_DEV_SANDBOX_NAMESPACE:-openshell}"
K8S_DEV_RELEASE="${K8S_DEV_RELEASE:-openshell}"
K8S_DEV_CHART="${K8S_DEV_CHART:-deploy/helm/openshell}"
K8S_DEV_VALUES="${K8S_DEV_VALUES:-deploy/helm/openshell/values.dev.yaml}"
K8S_DEV_ROLLOUT="${K8S_DEV_ROLLOUT:-deployment/openshell}"
K8S_DEV_CRDS="${K8S_DEV_CRDS:-}"
K8S_DEV_SKAFFOLD_FILE="${K8S_DEV_SKAFFOLD_FILE:-skaffold.yaml}"
K8S_DEV_GATEWAY_PACKAGE="${K8S_DEV_GATEWAY_PACKAGE:-example-gateway}"
K8S_DEV_GATEWAY_BIN="${K8S_DEV_GATEWAY_BIN:-example-gateway}"
K8S_DEV_GATEWAY_IMAGE="${K8S_DEV_GATEWAY_IMAGE:-openshell-gateway}"
K8S_DEV_GATEWAY_DOCKERFILE="${K8S_DEV_GATEWAY_DOCKERFILE:-deploy/docker/Dockerfile.gateway}"
K8S_DEV_GATEWAY_PORT="${K8S_DEV_GATEWAY_PORT:-8080}"
K8S_DEV_SUPERVISOR_PACKAGE="${K8S_DEV_SUPERVISOR_PACKAGE:-example-supervisor}"
K8S_DEV_SUPERVISOR_BIN="${K8S_DEV_SUPERVISOR_BIN:-example-supervisor}"
K8S_DEV_SUPERVISOR_IMAGE="${K8S_DEV_SUPERVISOR_IMAGE:-openshell-supervisor}"
K8S_DEV_SUPERVISOR_DOCKERFILE="${K8S_DEV_SUPERVISOR_DOCKERFILE:-deploy/docker/Dockerfile.supervisor}"
K8S_DEV_RUST_TARGET="${K8S_DEV_RUST_TARGET:-}"
K8S_DEV_IMAGE_BUILDER="${K8S_DEV_IMAGE_BUILDER:-helper}"
K8S_DEV_IMAGE_COMPRESSION="${K8S_DEV_IMAGE_COMPRESSION:-zstd}"

K3D_CONTEXT="k3d-${K8S_DEV_CLUSTER}"
CLUSTER_KUBECONFIG="${HOME}/.kube/k3d-${K8S_DEV_CLUSTER}.yaml"
# Images of the last sync (their content tags, publish reports), read by bootstrap.
STATE_DIR="${K8S_DEV_STATE_DIR:-${CARGO_TARGET_DIR:-${PWD}/target}/k8s-dev}"

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
  sync               build gateway and supervisor on the host and publish both images to the
                     registry as :dev and a content tag (nothing is pushed when unchanged)
  bootstrap          namespace, CRDs (K8S_DEV_CRDS), helm upgrade --install with the dev
                     values and the synced images, wait for the rollout (idempotent)
  gateway [ARGS...]  run the gateway on the host against the cluster (cargo run)
  watch [ARGS...]    skaffold dev against the cluster and registry; Ctrl-C cleans up
  image COMPONENT    skaffold custom builder: build gateway|supervisor, publish \$IMAGE,
                     push when \$PUSH_IMAGE=true

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
  K8S_DEV_NAMESPACE        Helm release namespace (openshell)
  K8S_DEV_SANDBOX_NAMESPACE  sandbox pod namespace (openshell)
  K8S_DEV_RELEASE          Helm release (openshell)
  K8S_DEV_CHART            chart directory (deploy/helm/openshell)
  K8S_DEV_VALUES           dev values file (deploy/helm/openshell/values.dev.yaml)
  K8S_DEV_ROLLOUT          workload bootstrap waits for (deployment/openshell)
  K8S_DEV_CRDS             CRD file or directory applied before the chart (none)
  K8S_DEV_SKAFFOLD_FILE    Skaffold config (skaffold.yaml)
  K8S_DEV_GATEWAY_PACKAGE / _BIN / _IMAGE / _DOCKERFILE
                           gateway cargo package, binary, image name, Dockerfile
                           (example-gateway, example-gateway, openshell-gateway,
                           deploy/docker/Dockerfile.gateway)
  K8S_DEV_SUPERVISOR_PACKAGE / _BIN / _IMAGE / _DOCKERFILE
                           the same for the supervisor (example-supervisor, example-supervisor,
                           openshell-supervisor, deploy/docker/Dockerfile.supervisor)
  K8S_DEV_GATEWAY_PORT     host port of the out-of-cluster gateway (8080)
  K8S_DEV_RUST_TARGET      Linux target triple of image binaries (the host's, on Linux)
  K8S_DEV_IMAGE_BUILDER    helper (daemonless publish) or engine (docker/podman build + push)
  K8S_DEV_IMAGE_COMPRESSION  zstd (k3s, Podman, Docker >= 23) or gzip (older Docker) (zstd)
  K8S_DEV_STATE_DIR        sync's state: staged binaries, tags, publish reports (target/k8s-dev)
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
      # Rename first: of two callers seeing the same dead holder only one rename succeeds, so
      # the other cannot delete the lock the first one takes next.
      if mv "${LOCK_DIR}" "${LOCK_DIR}.stale.$$" 2>/dev/null; then
        log "taking over the lock of exited process ${holder}"
        rm -rf "${LOCK_DIR}.stale.$$"
      fi
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

# k3d's timeout (options.k3d.timeout, K8S_DEV_TIMEOUT) also covers pulling the k3s image, which
# alone can take longer on a cold machine or a slow link, and k3d then rolls the new cluster
# back: pull it first, outside that limit. If the engine cannot, k3d tries and says why.
pull_node_image() {
  ce image inspect "${K8S_DEV_K3S_IMAGE}" >/dev/null 2>&1 && return 0
  log "pulling ${K8S_DEV_K3S_IMAGE} (before k3d, whose ${K8S_DEV_TIMEOUT} limit then covers only the start)"
  ce pull "${K8S_DEV_K3S_IMAGE}" >&2 || log "pulling ${K8S_DEV_K3S_IMAGE} failed; k3d will try"
}

ensure_cluster() { # state
  case "$1" in
    running) ;;
    stopped | partial)
      log "starting cluster ${K8S_DEV_CLUSTER}"
      k3d cluster start "${K8S_DEV_CLUSTER}" >&2
      ;;
    missing)
      pull_node_image
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

wait_ready() { # after select_cluster
  local nodes=$((1 + K8S_DEV_AGENTS))
  ce_helper wait registry "${K8S_DEV_REGISTRY}" --timeout "${K8S_DEV_TIMEOUT}"
  ce_helper wait apiserver "${KUBE_FLAGS[@]}" --timeout "${K8S_DEV_TIMEOUT}"
  ce_helper wait nodes --count "${nodes}" "${KUBE_FLAGS[@]}" --timeout "${K8S_DEV_TIMEOUT}"
}

# KEP-1755: tells Skaffold and Tilt where to push for this cluster and how pods pull.
publish_registry_hosting() { # after select_cluster
  kctl apply -f - >/dev/null <<CM
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
  ce_helper cluster check-name -- "${K8S_DEV_CLUSTER}"
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
  # Ports first, so a fresh machine with a busy port fails before any k3d call. Busy ports
  # are fine when they are ours: then only the ports of what is not running must be free.
  local all_ports=("${K8S_DEV_REGISTRY_PORT}=K8S_DEV_REGISTRY_PORT" "${K8S_DEV_API_PORT}=K8S_DEV_API_PORT" "${K8S_DEV_LB_PORT}=K8S_DEV_LB_PORT")
  local ports_free=1
  ce_helper ports check --no-bind "${all_ports[@]}"
  ce_helper ports check "${all_ports[@]}" 2>/dev/null || ports_free=0
  read_state
  if ((!ports_free)); then
    local ports=()
    [[ "${K8S_DEV_REGISTRY_STATE}" == running ]] || ports+=("${all_ports[0]}")
    [[ "${K8S_DEV_CLUSTER_STATE}" == running ]] || ports+=("${all_ports[1]}" "${all_ports[2]}")
    if ((${#ports[@]})); then ce_helper ports check "${ports[@]}"; fi
  fi
  # Both kubeconfigs must be writable before anything is created: a cluster nobody can reach
  # is worse than no cluster.
  ce_helper kubeconfig check --into "${CLUSTER_KUBECONFIG}"
  ce_helper kubeconfig check
  if [[ "${K8S_DEV_REGISTRY_STATE}" != running || "${K8S_DEV_CLUSTER_STATE}" != running ]]; then
    ce_ensure_network "${K8S_DEV_NETWORK}"
  fi
  ensure_registry "${K8S_DEV_REGISTRY_STATE}"
  ensure_cluster "${K8S_DEV_CLUSTER_STATE}"
  write_kubeconfig
  select_cluster
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
  ce_helper cluster check-name -- "${K8S_DEV_CLUSTER}"
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

# --- workload ---------------------------------------------------------------------------------

# kubectl/helm/skaffold flags for the target cluster: the kit's cluster file, or in remote mode
# the user's kubeconfig with K8S_DEV_CONTEXT.
KUBE_CONTEXT=""
KUBE_FILE=""
KUBE_FLAGS=()
select_cluster() {
  if is_remote; then
    KUBE_CONTEXT="${K8S_DEV_CONTEXT}"
    KUBE_FILE=""
    KUBE_FLAGS=(--context "${KUBE_CONTEXT}")
  else
    [[ -f "${CLUSTER_KUBECONFIG}" ]] \
      || die "no kubeconfig for cluster ${K8S_DEV_CLUSTER} at ${CLUSTER_KUBECONFIG}. Run: mise run k8s:dev:up"
    KUBE_CONTEXT="${K3D_CONTEXT}"
    KUBE_FILE="${CLUSTER_KUBECONFIG}"
    KUBE_FLAGS=(--kubeconfig "${KUBE_FILE}" --context "${KUBE_CONTEXT}")
  fi
}
kctl() { kubectl "${KUBE_FLAGS[@]}" "$@"; }

now_ms() {
  local t
  t="$(date +%s%N 2>/dev/null)"
  if [[ "${t}" == *N ]]; then # BSD date has no %N
    perl -MTime::HiRes=time -e 'printf "%d\n", time * 1000'
  else
    echo $((t / 1000000))
  fi
}
phase_done() { # name, start ms
  local ms=$(($(now_ms) - $2))
  log "$(printf '%-22s %d.%03ds' "$1" $((ms / 1000)) $((ms % 1000)))"
}

# Component settings into C_PACKAGE, C_BIN, C_IMAGE, C_DOCKERFILE (bash 3.2: no assoc arrays).
component() {
  case "$1" in
    gateway)
      C_PACKAGE="${K8S_DEV_GATEWAY_PACKAGE}" C_BIN="${K8S_DEV_GATEWAY_BIN}"
      C_IMAGE="${K8S_DEV_GATEWAY_IMAGE}" C_DOCKERFILE="${K8S_DEV_GATEWAY_DOCKERFILE}"
      ;;
    supervisor)
      C_PACKAGE="${K8S_DEV_SUPERVISOR_PACKAGE}" C_BIN="${K8S_DEV_SUPERVISOR_BIN}"
      C_IMAGE="${K8S_DEV_SUPERVISOR_IMAGE}" C_DOCKERFILE="${K8S_DEV_SUPERVISOR_DOCKERFILE}"
      ;;
    *) die "unknown component '$1'; expected gateway or supervisor" ;;
  esac
}

rust_target() {
  if [[ -n "${K8S_DEV_RUST_TARGET}" ]]; then
    echo "${K8S_DEV_RUST_TARGET}"
    return
  fi
  [[ "$(uname -s)" == Linux ]] \
    || die "images need Linux binaries: set K8S_DEV_RUST_TARGET (e.g. aarch64-unknown-linux-musl) and K8S_DEV_CARGO_BUILD=\"cargo zigbuild\""
  rustc -vV | sed -n 's/^host: //p'
}

# Host build of image binaries. Static, so the images need no libc: crt-static for glibc
# targets (musl is static anyway). The flags go through CARGO_TARGET_<TRIPLE>_RUSTFLAGS so they
# reach only the target's artifacts, not build scripts or proc-macros.
build_binaries() { # package...
  # mise does not pin Rust (the project's own toolchain builds the images), so not `mise install`.
  command -v cargo >/dev/null 2>&1 || die "cargo not found. Install Rust (https://rustup.rs)"
  local target var args=() pkg
  target="$(rust_target)"
  var="CARGO_TARGET_$(echo "${target}" | tr 'a-z.-' 'A-Z__')_RUSTFLAGS"
  for pkg in "$@"; do args+=(-p "${pkg}"); done
  if [[ "${target}" == *-linux-gnu* ]]; then
    export "${var}=${!var:-} -C target-feature=+crt-static"
  fi
  # shellcheck disable=SC2086 # K8S_DEV_CARGO_BUILD is a command with its arguments
  ${K8S_DEV_CARGO_BUILD:-cargo build} --target "${target}" "${args[@]}" >&2
  BIN_DIR="${CARGO_TARGET_DIR:-${PWD}/target}/${target}/debug"
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1
}

# Publish one component's image with the given tags; the helper first, the engine when the
# helper says the Dockerfile needs one (exit 4) or K8S_DEV_IMAGE_BUILDER=engine.
publish() { # component, tag...
  component "$1"
  shift
  local context="${STATE_DIR}/context/${C_IMAGE}" rc=0 tag
  local report="${STATE_DIR}/publish-${C_IMAGE//\//_}.json" # image names may have a path
  mkdir -p "${context}"
  rm -f "${report}"
  # A hard link costs nothing; cargo replaces the binary on rebuild, so re-link every time.
  ln -f "${BIN_DIR}/${C_BIN}" "${context}/${C_BIN}" 2>/dev/null || cp -p "${BIN_DIR}/${C_BIN}" "${context}/${C_BIN}"
  [[ -f "${C_DOCKERFILE}" ]] || die "Dockerfile ${C_DOCKERFILE} not found; set the component's K8S_DEV_*_DOCKERFILE"
  if [[ "${K8S_DEV_IMAGE_BUILDER}" == helper ]]; then
    local tag_args=()
    for tag in "$@"; do tag_args+=(--tag "${tag}"); done
    ce_helper image publish --dockerfile "${C_DOCKERFILE}" --context "${context}" "${tag_args[@]}" \
      --compression "${K8S_DEV_IMAGE_COMPRESSION}" --json >"${report}" || rc=$?
    if ((rc == 0)); then return 0; fi
    ((rc == 4)) || die "publishing ${C_IMAGE} failed (see above)"
    log "falling back to the container engine for ${C_DOCKERFILE}"
  elif [[ "${K8S_DEV_IMAGE_BUILDER}" != engine ]]; then
    die "K8S_DEV_IMAGE_BUILDER=${K8S_DEV_IMAGE_BUILDER} is not helper or engine"
  fi
  require_engine
  local build_tags=()
  for tag in "$@"; do build_tags+=(-t "${tag}"); done
  ce build -q -f "${C_DOCKERFILE}" "${build_tags[@]}" "${context}" >&2
  if [[ "${PUSH:-true}" == true ]]; then
    for tag in "$@"; do ce push -q "${tag}" >&2; done
  fi
}

cmd_sync() {
  need_helper
  local t0 t tag gw_tag sup_tag
  t0="$(now_ms)"
  t="${t0}"
  build_binaries "${K8S_DEV_GATEWAY_PACKAGE}" "${K8S_DEV_SUPERVISOR_PACKAGE}"
  phase_done "cargo build" "${t}"
  mkdir -p "${STATE_DIR}"
  for c in gateway supervisor; do
    component "${c}"
    t="$(now_ms)"
    tag="dev-$(sha256_of "${BIN_DIR}/${C_BIN}" | cut -c1-12)"
    publish "${c}" "${K8S_DEV_REGISTRY}/${C_IMAGE}:dev" "${K8S_DEV_REGISTRY}/${C_IMAGE}:${tag}"
    phase_done "${c} image" "${t}"
    if [[ "${c}" == gateway ]]; then gw_tag="${tag}"; else sup_tag="${tag}"; fi
  done
  printf 'K8S_DEV_GATEWAY_TAG=%s\nK8S_DEV_SUPERVISOR_TAG=%s\n' "${gw_tag}" "${sup_tag}" >"${STATE_DIR}/images.env"
  phase_done "sync" "${t0}"
  echo "Gateway: ${K8S_DEV_REGISTRY}/${K8S_DEV_GATEWAY_IMAGE}:${gw_tag} (and :dev)"
  echo "Supervisor: ${K8S_DEV_REGISTRY}/${K8S_DEV_SUPERVISOR_IMAGE}:${sup_tag} (and :dev)"
}

# Skaffold's custom builder: IMAGE is the exact tag to produce; PUSH_IMAGE=true means push it,
# otherwise it must end up in the local engine, where Skaffold inspects it.
cmd_image() {
  local name="${1:-}"
  [[ -n "${name}" ]] || { usage >&2; exit 2; }
  [[ -n "${IMAGE:-}" ]] || die "IMAGE is not set; this verb is Skaffold's custom builder (see skaffold.yaml)"
  need_helper
  component "${name}"
  build_binaries "${C_PACKAGE}"
  if [[ "${PUSH_IMAGE:-false}" == true ]]; then
    publish "${name}" "${IMAGE}"
  else
    K8S_DEV_IMAGE_BUILDER=engine PUSH=false publish "${name}" "${IMAGE}"
  fi
}

# The sandbox namespace, with Helm's ownership metadata for the release: a chart that renders it
# (the stand-in's namespace.yaml) then adopts it, where Helm otherwise refuses to install ("exists
# and cannot be imported into the current release"); a chart that does not leaves it alone. One
# owned by another release is not taken over (Helm's own error then names it).
ensure_sandbox_namespace() {
  local ns="${K8S_DEV_SANDBOX_NAMESPACE}" owner
  if ! owner="$(kctl get namespace "${ns}" -o jsonpath='{.metadata.annotations.meta\.helm\.sh/release-name}' 2>/dev/null)"; then
    kctl create namespace "${ns}" >/dev/null
    owner=""
  fi
  [[ -z "${owner}" ]] || return 0
  kctl label namespace "${ns}" --overwrite app.kubernetes.io/managed-by=Helm >/dev/null
  kctl annotate namespace "${ns}" --overwrite "meta.helm.sh/release-name=${K8S_DEV_RELEASE}" \
    "meta.helm.sh/release-namespace=${K8S_DEV_NAMESPACE}" >/dev/null
}

# A helm killed mid-operation (Ctrl-C, a dropped connection) leaves the release pending-* and
# every later upgrade refuses: "another operation (install/upgrade/rollback) is in progress".
# bootstrap is the only helm client of this release besides a running watch, so a pending
# release here was interrupted: put it back (rollback; uninstall when it never deployed).
recover_release() { # helm flags...
  local status
  status="$(helm status "${K8S_DEV_RELEASE}" "$@" --namespace "${K8S_DEV_NAMESPACE}" -o json 2>/dev/null \
    | grep -o '"status":"[a-z-]*"' | head -n1 | cut -d'"' -f4)" || true
  case "${status}" in
    pending-install)
      log "release ${K8S_DEV_RELEASE} was left pending-install by an interrupted helm; uninstalling it"
      helm uninstall "${K8S_DEV_RELEASE}" "$@" --namespace "${K8S_DEV_NAMESPACE}" >&2
      ;;
    pending-upgrade | pending-rollback)
      log "release ${K8S_DEV_RELEASE} was left ${status} by an interrupted helm; rolling back to its previous revision"
      helm rollback "${K8S_DEV_RELEASE}" "$@" --namespace "${K8S_DEV_NAMESPACE}" >&2
      ;;
  esac
}

cmd_bootstrap() {
  need_helper
  require_tool kubectl
  require_tool helm
  select_cluster
  ce_helper wait apiserver "${KUBE_FLAGS[@]}" --timeout "${K8S_DEV_TIMEOUT}"
  kctl create namespace "${K8S_DEV_NAMESPACE}" --dry-run=client -o yaml | kctl apply -f - >/dev/null
  if [[ "${K8S_DEV_SANDBOX_NAMESPACE}" != "${K8S_DEV_NAMESPACE}" ]]; then
    ensure_sandbox_namespace
  fi
  if [[ -n "${K8S_DEV_CRDS}" ]]; then
    local crd
    log "applying CRDs from ${K8S_DEV_CRDS}"
    for crd in $(kctl apply -f "${K8S_DEV_CRDS}" -o name | sed -n 's|^customresourcedefinition.apiextensions.k8s.io/||p'); do
      ce_helper wait crd "${crd}" "${KUBE_FLAGS[@]}" --timeout "${K8S_DEV_TIMEOUT}"
    done
  fi
  if [[ "${K8S_DEV_SKIP_SYNC:-0}" != 1 ]]; then
    cmd_sync >/dev/null
  fi
  # The gateway gets the content tag of the last sync, so a changed gateway rolls out; sandboxes
  # keep pulling the supervisor's :dev (pull policy Always in values.dev.yaml), so a sync alone
  # reaches every sandbox created after it.
  local gateway_tag=""
  if [[ -f "${STATE_DIR}/images.env" ]]; then
    gateway_tag="$(sed -n 's/^K8S_DEV_GATEWAY_TAG=//p' "${STATE_DIR}/images.env")"
  fi
  local helm_flags=(--kube-context "${KUBE_CONTEXT}")
  [[ -z "${KUBE_FILE}" ]] || helm_flags+=(--kubeconfig "${KUBE_FILE}")
  recover_release "${helm_flags[@]}"
  log "helm upgrade --install ${K8S_DEV_RELEASE} (${K8S_DEV_CHART}, ${K8S_DEV_VALUES})"
  helm upgrade --install "${K8S_DEV_RELEASE}" "${K8S_DEV_CHART}" "${helm_flags[@]}" \
    --namespace "${K8S_DEV_NAMESPACE}" --create-namespace \
    --values "${K8S_DEV_VALUES}" \
    --set "image.repository=${K8S_DEV_REGISTRY_PULL}/${K8S_DEV_GATEWAY_IMAGE}" \
    --set "image.tag=${gateway_tag:-dev}" \
    --set "supervisor.image.repository=${K8S_DEV_REGISTRY_PULL}/${K8S_DEV_SUPERVISOR_IMAGE}" \
    --set "supervisor.image.tag=dev" >&2
  ce_helper wait rollout "${K8S_DEV_ROLLOUT}" -n "${K8S_DEV_NAMESPACE}" "${KUBE_FLAGS[@]}" --timeout "${K8S_DEV_TIMEOUT}"
  echo "Release: ${K8S_DEV_RELEASE} in ${K8S_DEV_NAMESPACE} (${K8S_DEV_ROLLOUT} rolled out)"
}

cmd_gateway() {
  need_helper
  select_cluster
  if ! ce_helper ports check "${K8S_DEV_GATEWAY_PORT}=K8S_DEV_GATEWAY_PORT" 2>/dev/null; then
    if [[ "${K8S_DEV_GATEWAY_PORT}" == "${K8S_DEV_LB_PORT}" ]] && ! is_remote; then
      die "port ${K8S_DEV_GATEWAY_PORT} is the cluster load balancer, where the in-cluster gateway answers; run this one on another port: K8S_DEV_GATEWAY_PORT=8090 mise run k8s:dev:gateway"
    fi
    ce_helper ports check "${K8S_DEV_GATEWAY_PORT}=K8S_DEV_GATEWAY_PORT"
  fi
  local kubeconfig="${KUBE_FILE}"
  if [[ -z "${kubeconfig}" ]]; then
    # kube::Config::infer() follows the current context: hand it a one-context copy.
    kubeconfig="${STATE_DIR}/remote-kubeconfig.yaml"
    mkdir -p "${STATE_DIR}"
    (umask 077 && kubectl config view --minify --flatten --context "${KUBE_CONTEXT}" >"${kubeconfig}")
  fi
  export KUBECONFIG="${kubeconfig}"
  export OPENSHELL_DRIVERS=kubernetes
  export OPENSHELL_SANDBOX_NAMESPACE="${K8S_DEV_SANDBOX_NAMESPACE}"
  export OPENSHELL_SANDBOX_IMAGE="${K8S_DEV_REGISTRY_PULL}/${K8S_DEV_SUPERVISOR_IMAGE}:dev"
  export OPENSHELL_GATEWAY_PORT="${K8S_DEV_GATEWAY_PORT}"
  log "gateway on 127.0.0.1:${K8S_DEV_GATEWAY_PORT} against ${KUBE_CONTEXT} (sandboxes in ${K8S_DEV_SANDBOX_NAMESPACE})"
  exec cargo run -p "${K8S_DEV_GATEWAY_PACKAGE}" --bin "${K8S_DEV_GATEWAY_BIN}" -- "$@"
}

cmd_watch() {
  need_helper
  require_tool skaffold
  select_cluster
  local flags=(--filename "${K8S_DEV_SKAFFOLD_FILE}" --default-repo "${K8S_DEV_REGISTRY}" --kube-context "${KUBE_CONTEXT}")
  [[ -z "${KUBE_FILE}" ]] || flags+=(--kubeconfig "${KUBE_FILE}")
  log "skaffold dev (Ctrl-C stops and removes what it deployed)"
  # exec: Ctrl-C reaches skaffold directly, which then uninstalls its release.
  exec skaffold dev "${flags[@]}" "$@"
}

main() {
  local verb="${1:-}"
  (($#)) && shift
  case "${verb}" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    doctor) cmd_doctor "$@" ;;
    sync) cmd_sync "$@" ;;
    bootstrap) cmd_bootstrap "$@" ;;
    gateway) cmd_gateway "$@" ;;
    watch) cmd_watch "$@" ;;
    image) cmd_image "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
