#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# The k8s-dev loop: a cluster (k3d, kind, or the host's k3s: K8S_DEV_PROVIDER) with a persistent
# local registry (up/down/status/doctor), the workload on it (bootstrap, sync, gateway, watch) and
# the skaffold image builder (image). Every verb is idempotent. The mise tasks in
# tasks/k8s-dev.toml call one verb each.
#
# Needs: k3d or kind (or a running k3s), kubectl, helm, skaffold (mise install), cargo, and Docker
# or Podman for the cluster and the registry. This script only sequences: k8s-dev-helper owns every decision that needs more than
# glue. It validates, defaults and derives every K8S_DEV_* setting once at start (`settings
# --shell`; usage() lists them), decides what `up`, `down` and `bootstrap` do from what exists
# (`up plan`, `down plan`, `bootstrap plan`), and writes kubeconfigs and waits (`up finish`,
# `down finish`).
#
# Remote mode: with K8S_DEV_CONTEXT naming an existing context that is not this kit's
# cluster, up/down create and delete nothing; up checks that the context answers and that the
# registry settings are given, so sync/bootstrap/watch run against a shared cluster.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KIT_DIR="$(cd "${SCRIPT_DIR}/../.." && pwd)"

usage() {
  cat <<USAGE
Usage: $(basename "$0") <verb> [options]

Verbs:
  up                 create or start the cluster (k3d, kind; attach to k3s) and registry,
                     merge the kubeconfig, wait until ready (idempotent; fast when already up)
  down [--registry]  delete the cluster (never the host's k3s) and its kubeconfig entries;
                     keep the registry and its images unless --registry
  status [--json]    cluster, nodes, registry, kubeconfig and engine
  doctor [--json]    check tools, engine, ports, kubeconfig permissions and disk
  sync               build gateway and supervisor on the host and publish both images to the
                     registry as :dev and a content tag (nothing is pushed when unchanged)
  bootstrap          namespace, CRDs (K8S_DEV_CRDS), helm upgrade --install with the dev
                     values and the synced images, wait for the rollout (idempotent)
  gateway [ARGS...]  run the gateway command (K8S_DEV_GATEWAY_COMMAND) on the host against the
                     cluster; prints the address once it listens
  watch [ARGS...]    skaffold dev against the cluster and registry; Ctrl-C cleans up
  image COMPONENT    skaffold custom builder: build gateway|supervisor, publish \$IMAGE,
                     push when \$PUSH_IMAGE=true

USAGE
  usage_settings
}

# BEGIN generated settings (k8s-dev-helper settings --usage; helper/tests/settings.rs checks it)
usage_settings() {
  cat <<'SETTINGS'
Settings (environment; default in parentheses; `k8s-dev-helper settings` shows the
values in effect, `k8s-dev-helper settings --json` where each comes from):
  K8S_DEV_PROVIDER                where the cluster comes from: k3d (k3s in containers), kind, or
                                  k3s (attach to the host's running k3s, never created or deleted)
                                  (k3d)
  K8S_DEV_CLUSTER_PER_WORKTREE    1: a cluster per git worktree, named from its branch as
                                  OpenShell's helm:k3s tasks name theirs, with host ports derived
                                  from that name (k3d and kind) (0)
  K8S_DEV_CLUSTER                 cluster name (openshell-dev; per worktree: openshell-dev-<last
                                  part of the branch, lower-case, runs of other characters as '-'>)
  K8S_DEV_AGENTS                  nodes besides the one server (k3d agents, kind workers; k3s: not
                                  used) (1)
  K8S_DEV_K3S_IMAGE               k3d only: k3s node image (docker.io/rancher/k3s:v1.32.5-k3s1)
  K8S_DEV_KIND_IMAGE              kind only: node image of every node (kind supports the images of
                                  its own release) (the kindest/node image deploy/kind/cluster.yaml
                                  pins by digest)
  K8S_DEV_NETWORK                 k3d only: container network shared by cluster and registry (kind's
                                  is always kind) (k3d)
  K8S_DEV_BIND_ADDRESS            host address of every published port; 0.0.0.0 exposes them
                                  (127.0.0.1)
  K8S_DEV_API_PORT                host port of the Kubernetes API (k3s: not used, its kubeconfig
                                  says) (6550; per worktree: 16550 + the cluster name's slot
                                  (0-999))
  K8S_DEV_API_HOST                address of the Kubernetes API in the cluster's kubeconfig (k3d's
                                  kubeAPI.host) (K8S_DEV_BIND_ADDRESS; 127.0.0.1 when that is
                                  0.0.0.0)
  K8S_DEV_LB_PORT                 host port mapped to K8S_DEV_NODEPORT (k3d: its load balancer;
                                  kind: the control plane's; k3s: not used, the NodePort itself is
                                  on the host) (8080; per worktree: 18100 + the cluster name's slot
                                  (0-999))
  K8S_DEV_NODEPORT                NodePort of the gateway Service behind K8S_DEV_LB_PORT (30051)
  K8S_DEV_REGISTRY_NAME           registry name, as pods pull from it (<name>:5000); k3d names its
                                  container k3d-<name> (openshell-registry)
  K8S_DEV_REGISTRY_PORT           host port of the registry (5000)
  K8S_DEV_REGISTRY_IMAGE          kind and k3s: image of the registry container the kit runs (k3d
                                  runs its own) (docker.io/library/registry:2)
  K8S_DEV_CONTEXT                 an existing context to use instead: remote mode, up/down create
                                  and delete nothing (unset: the kit's cluster)
  K8S_DEV_REGISTRY                registry as the host pushes to it (Skaffold's default repo)
                                  (localhost:<K8S_DEV_REGISTRY_PORT>; remote mode: none)
  K8S_DEV_REGISTRY_PULL           registry as the cluster pulls from it
                                  (<K8S_DEV_REGISTRY_NAME>:5000; remote mode: none)
  K8S_DEV_SWITCH_CONTEXT          1: make the cluster's context current in the default kubeconfig
                                  after up (1)
  K8S_DEV_TIMEOUT                 limit of each readiness wait (180s)
  K8S_DEV_LOCK_TIMEOUT            how long up/down wait for another up/down of this user to finish
                                  (10m)
  K8S_DEV_K3D_CONFIG              k3d only: config the cluster is created from
                                  (<kit>/deploy/k3d/cluster.yaml)
  K8S_DEV_KIND_CONFIG             kind only: the config template the helper renders with these
                                  settings for kind (<kit>/deploy/kind/cluster.yaml)
  K8S_DEV_K3S_KUBECONFIG          k3s only: the host k3s's kubeconfig, or a copy of it you can read
                                  (/etc/rancher/k3s/k3s.yaml)
  K8S_DEV_ENGINE                  restrict engine detection to docker or podman ($CONTAINER_ENGINE,
                                  else detected)
  K8S_DEV_NAMESPACE               namespace of the Helm release (openshell)
  K8S_DEV_SANDBOX_NAMESPACE       namespace the gateway creates sandbox pods in (openshell)
  K8S_DEV_RELEASE                 Helm release name (openshell)
  K8S_DEV_CHART                   Helm chart directory (deploy/helm/openshell)
  K8S_DEV_VALUES                  Helm values file for development (TLS off, images from the kit's
                                  registry) (<kit>/deploy/values/dev.yaml)
  K8S_DEV_ROLLOUT                 workload bootstrap waits for (statefulset/openshell)
  K8S_DEV_CRDS                    CRD manifests bootstrap and watch apply first (files, directories
                                  or http(s) URLs, space-separated), waiting until every CRD is
                                  Established and every workload in them (a controller) has rolled
                                  out (none)
  K8S_DEV_SERVICE_TYPE            type of the gateway Service the chart gets (NodePort
                                  (K8S_DEV_NODEPORT, behind the load balancer); remote mode:
                                  ClusterIP)
  K8S_DEV_PULL_SECRET             image pull secret bootstrap and watch make in the release and
                                  sandbox namespaces when you have a login for the registry (remote
                                  mode), and hand the chart (k8s-dev-pull)
  K8S_DEV_SKAFFOLD_FILE           Skaffold config watch runs (relative to the repository root)
                                  (<kit>/skaffold.yaml)
  K8S_DEV_SKAFFOLD_DIR            directory watch runs Skaffold in, for a config whose relative
                                  paths start there (OpenShell's own: deploy/helm/openshell) (the
                                  repository root)
  K8S_DEV_GATEWAY_PACKAGE         cargo package of the gateway (openshell-server)
  K8S_DEV_GATEWAY_BIN             gateway binary (openshell-gateway)
  K8S_DEV_GATEWAY_IMAGE           gateway image repository in the registry (openshell-gateway)
  K8S_DEV_GATEWAY_DOCKERFILE      gateway Dockerfile (relative to the repository root)
                                  (deploy/docker/Dockerfile.gateway)
  K8S_DEV_GATEWAY_BUILD_ARGS      build args of the gateway Dockerfile, e.g. its base from a mirror
                                  you can reach (none)
  K8S_DEV_GATEWAY_FEATURES        cargo features of the gateway package in image builds (none)
  K8S_DEV_GATEWAY_COMMAND         command k8s:dev:gateway runs in the repository root, with
                                  KUBECONFIG and the OPENSHELL_* variables set for the cluster (mise
                                  run gateway -- --driver kubernetes)
  K8S_DEV_GATEWAY_PORT            host port of the out-of-cluster gateway (k8s:dev:gateway) (18082)
  K8S_DEV_SUPERVISOR_PACKAGE      cargo package of the supervisor (openshell-sandbox)
  K8S_DEV_SUPERVISOR_BIN          supervisor binary (openshell-sandbox)
  K8S_DEV_SUPERVISOR_IMAGE        supervisor image repository in the registry (openshell-supervisor)
  K8S_DEV_SUPERVISOR_DOCKERFILE   supervisor Dockerfile (relative to the repository root); its steps
                                  up to the last RUN are built by the container engine once, the
                                  binary goes on top without it
                                  (deploy/docker/Dockerfile.supervisor)
  K8S_DEV_SUPERVISOR_BUILD_ARGS   build args of the supervisor Dockerfile (none)
  K8S_DEV_SUPERVISOR_FEATURES     cargo features of the supervisor package in image builds (none)
  K8S_DEV_SKIP_SYNC               1: bootstrap installs the images of the last sync instead of
                                  syncing first (0)
  K8S_DEV_RUST_TARGET             Linux target triple of the image binaries (the host triple, on
                                  Linux)
  K8S_DEV_GATEWAY_RUST_TARGET     target triple of the gateway binary (zigbuild's glibc floor:
                                  x86_64-unknown-linux-gnu.2.28) (K8S_DEV_RUST_TARGET)
  K8S_DEV_SUPERVISOR_RUST_TARGET  target triple of the supervisor binary (K8S_DEV_RUST_TARGET)
  K8S_DEV_GATEWAY_LINKAGE         static: glibc targets get +crt-static (musl is static anyway);
                                  dynamic: as the target links by default (static)
  K8S_DEV_SUPERVISOR_LINKAGE      linkage of the supervisor binary (static: it runs inside any
                                  sandbox image) (static)
  K8S_DEV_CARGO_BUILD             command that builds the image binaries (macOS: cargo zigbuild)
                                  (cargo build)
  K8S_DEV_CARGO_PROFILE           cargo profile of the image binaries (dev builds into debug/) (dev)
  K8S_DEV_IMAGE_CONTEXT           build context of both Dockerfiles: the repository root, where
                                  their COPY sources start (.)
  K8S_DEV_IMAGE_STAGING_DIR       where sync puts each binary in the build context, for the
                                  Dockerfile's COPY ({arch}: amd64 or arm64, as BuildKit's
                                  TARGETARCH) (deploy/docker/.build/prebuilt-binaries/{arch})
  K8S_DEV_IMAGE_BUILDER           helper: daemonless publish; engine: docker/podman build and push
                                  (helper)
  K8S_DEV_IMAGE_COMPRESSION       layer compression: zstd (k3s, Podman, Docker >= 23) or gzip (older
                                  Docker) (zstd)
  K8S_DEV_INSECURE_REGISTRIES     registries image publish and Skaffold reach over plain HTTP (none;
                                  loopback registries always are)
  K8S_DEV_REGISTRY_CERTS          certs.d-style directory of registry CAs (DIR/HOST:PORT/ca.crt) for
                                  image publish (the certs.d directories Docker and Podman read)
  K8S_DEV_CACHE_DIR               layer cache of image publish ($XDG_CACHE_HOME/k8s-dev, else
                                  ~/.cache/k8s-dev)
  K8S_DEV_STATE_DIR               sync's staged binaries, image tags and publish reports
                                  ($CARGO_TARGET_DIR/k8s-dev, else target/k8s-dev)
  K8S_DEV_HELPER                  the k8s-dev-helper binary the tasks run (k8s-dev-helper on PATH,
                                  else built from the kit)
Derived, read-only:
  K8S_DEV_KIT_DIR                 the kit's directory, whose files (dev values, skaffold.yaml, k3d
                                  config) the tasks pass on (where the kit is (OpenShell:
                                  tools/k8s-dev))
  K8S_DEV_CLUSTER_CONTEXT         context, cluster and user name of the cluster in kubeconfigs
                                  (k3d's user: admin@…) (<K8S_DEV_PROVIDER>-<K8S_DEV_CLUSTER>:
                                  k3d-, kind- (kind's own) or k3s-)
  K8S_DEV_REGISTRY_CONTAINER      the registry's container (k3d-<K8S_DEV_REGISTRY_NAME> on k3d, else
                                  <K8S_DEV_REGISTRY_NAME>)
  K8S_DEV_CLUSTER_KUBECONFIG      the cluster's own kubeconfig (0600), the one kubectl, helm and
                                  skaffold get (~/.kube/<K8S_DEV_CLUSTER_CONTEXT>.yaml)
  K8S_DEV_KIND_KUBECONFIG         kind only: the file kind create/delete write (--kubeconfig), so
                                  kind never edits yours; up merges from kind get kubeconfig
                                  (<K8S_DEV_STATE_DIR>/kind/<K8S_DEV_CLUSTER>.kubeconfig)
  K8S_DEV_DEFAULT_KUBECONFIG      the kubeconfig files up merges the cluster into, as kubectl config
                                  writes them: an entry where it is defined, a new one into the
                                  first file that exists, else the last (OpenShell: its repo-local
                                  KUBECONFIG) (the files of KUBECONFIG, else ~/.kube/config)
  K8S_DEV_REMOTE                  remote mode: the tasks use K8S_DEV_CONTEXT and create or delete
                                  nothing (1 when K8S_DEV_CONTEXT names another context than
                                  K8S_DEV_CLUSTER_CONTEXT)
  K8S_DEV_NODES                   nodes up waits for, at least (every node there must be Ready) (1 +
                                  K8S_DEV_AGENTS; k3s: 1)
  K8S_DEV_LOCK_FILE               the per-user lock that keeps two up/down from racing
                                  ($XDG_RUNTIME_DIR/k8s-dev/up.lock, else
                                  ~/.local/state/k8s-dev/up.lock)
SETTINGS
}
# END generated settings

log() { echo "[k8s-dev] $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

need_helper() {
  # shellcheck source=SCRIPTDIR/helper.sh
  source "${SCRIPT_DIR}/helper.sh"
  require_helper
}
# Every K8S_DEV_* setting, validated (a bad one stops here, one line each, before any use),
# defaulted and derived by the helper: one process, evaluated once.
load_settings() {
  local exports
  exports="$(ce_helper settings --shell --kit-dir "${KIT_DIR}")" || exit 1
  eval "${exports}"
}
# Lazy, so --help and remote mode work without an engine.
require_engine() {
  # shellcheck source=SCRIPTDIR/container-engine.sh
  source "${SCRIPT_DIR}/container-engine.sh"
}
require_tool() { # tool
  command -v "$1" >/dev/null 2>&1 || die "$1 not found. Run: mise install"
}

# k3d as the kit runs it. `k3d cluster delete` rewrites the default kubeconfig (KUBECONFIG, else
# ~/.kube/config) whatever the cluster's config says, and `cluster create` does with a config
# that sets updateDefaultKubeconfig (an adopter's K8S_DEV_K3D_CONFIG may): its own rename, outside
# kubectl's lock, dropping comments and a file's owner (k3d 5.9 pkg/client/kubeconfig.go
# KubeconfigWrite). The kit writes the user's kubeconfig only through the helper (up finish, down
# finish), so k3d gets an empty kubeconfig of its own, in a private directory removed on exit.
K3D_KUBECONFIG_DIR=""
remove_k3d_kubeconfig() { if [[ -n "${K3D_KUBECONFIG_DIR}" ]]; then rm -rf "${K3D_KUBECONFIG_DIR}"; fi; }
kit_k3d() {
  if [[ -z "${K3D_KUBECONFIG_DIR}" ]]; then
    K3D_KUBECONFIG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/k8s-dev-k3d.XXXXXX")"
    trap remove_k3d_kubeconfig EXIT
    (umask 077 && : >"${K3D_KUBECONFIG_DIR}/kubeconfig")
  fi
  KUBECONFIG="${K3D_KUBECONFIG_DIR}/kubeconfig" k3d "$@"
}

# One up/down at a time per user: the script holds the lock file open on descriptor 9 and the
# helper's plan takes a flock on it before reading anything. The kernel drops the lock when
# this process ends, however it ends. The directory is created private (0700).
open_lock() {
  (umask 077 && mkdir -p "${K8S_DEV_LOCK_FILE%/*}")
  exec 9<>"${K8S_DEV_LOCK_FILE}"
}

# The registry the plan wants. k3d makes its own (`k3d-<name>`, on its network). For kind and k3s
# the kit runs it, labelled as its own: kind's on kind's network (made with the cluster, which
# is why the cluster comes first), published on the bind address; k3s's on the host's network,
# listening on the bind address, where k3s's containerd (on the host) reaches it.
create_registry() {
  log "creating registry ${K8S_DEV_REGISTRY_CONTAINER} on ${K8S_DEV_BIND_ADDRESS}:${K8S_DEV_REGISTRY_PORT}"
  local where=()
  case "${K8S_DEV_PROVIDER}" in
    k3d)
      kit_k3d registry create "${K8S_DEV_REGISTRY_NAME}" \
        --port "${K8S_DEV_BIND_ADDRESS}:${K8S_DEV_REGISTRY_PORT}" \
        --default-network "${K8S_DEV_NETWORK}" >&2
      return 0
      ;;
    kind) where=(--network kind --publish "${K8S_DEV_BIND_ADDRESS}:${K8S_DEV_REGISTRY_PORT}:5000") ;;
    k3s) where=(--network host --env "REGISTRY_HTTP_ADDR=${K8S_DEV_BIND_ADDRESS}:${K8S_DEV_REGISTRY_PORT}") ;;
  esac
  require_engine
  ce run --detach --name "${K8S_DEV_REGISTRY_CONTAINER}" --restart=always \
    --label io.k8s-dev.role=registry "${where[@]}" "${K8S_DEV_REGISTRY_IMAGE}" >/dev/null
}

create_cluster() {
  case "${K8S_DEV_PROVIDER}" in
    k3d)
      if [[ "${PLAN_NODE_IMAGE}" == pull ]]; then
        # Apart from k3d, whose K8S_DEV_TIMEOUT would cover the pull too (the plan says why); if
        # the engine cannot pull it, k3d tries and says why.
        require_engine
        log "pulling ${K8S_DEV_K3S_IMAGE} (before k3d, whose ${K8S_DEV_TIMEOUT} limit then covers only the start)"
        ce pull "${K8S_DEV_K3S_IMAGE}" >&2 || log "pulling ${K8S_DEV_K3S_IMAGE} failed; k3d will try"
      fi
      log "creating cluster ${K8S_DEV_CLUSTER} from ${K8S_DEV_K3D_CONFIG}"
      kit_k3d cluster create --config "${K8S_DEV_K3D_CONFIG}" >&2
      ;;
    kind)
      local config
      config="$(ce_helper up config)" || exit 1
      log "creating kind cluster ${K8S_DEV_CLUSTER} from ${config} (rendered from ${K8S_DEV_KIND_CONFIG})"
      # --kubeconfig: kind writes its own file, never yours; up finish merges from it.
      kind create cluster --config "${config}" --name "${K8S_DEV_CLUSTER}" \
        --kubeconfig "${K8S_DEV_KIND_KUBECONFIG}" >&2
      ;;
  esac
}

start_cluster() {
  log "starting cluster ${K8S_DEV_CLUSTER}"
  case "${K8S_DEV_PROVIDER}" in
    k3d) kit_k3d cluster start "${K8S_DEV_CLUSTER}" >&2 ;;
    kind) ce_helper up start ;;
  esac
}

ensure_registry() {
  case "${PLAN_REGISTRY}" in
    create) create_registry ;;
    start)
      require_engine
      log "starting registry ${K8S_DEV_REGISTRY_CONTAINER}"
      ce start "${K8S_DEV_REGISTRY_CONTAINER}" >/dev/null
      ;;
  esac
}

ensure_cluster() {
  case "${PLAN_CLUSTER}" in
    create) create_cluster ;;
    start) start_cluster ;;
  esac
}

cmd_up() {
  if [[ "${K8S_DEV_REMOTE}" == 1 ]]; then
    ce_helper up plan
    ce_helper up finish
    log "remote mode: using context ${K8S_DEV_CONTEXT}; nothing created"
    echo "Context: ${K8S_DEV_CONTEXT}"
    echo "Registry: push ${K8S_DEV_REGISTRY}, pull ${K8S_DEV_REGISTRY_PULL}"
    return 0
  fi
  open_lock
  local plan
  plan="$(ce_helper up plan --lock-fd 9 --lock-pid "$$")" || exit 1
  eval "${plan}"
  if [[ "${PLAN_NETWORK}" == create ]]; then
    require_engine
    log "creating network ${K8S_DEV_NETWORK}"
    ce network create "${K8S_DEV_NETWORK}" >/dev/null
  fi
  # kind's registry joins the network kind makes with the cluster; k3d's registry must exist
  # before the cluster that uses it.
  if [[ "${K8S_DEV_PROVIDER}" == kind ]]; then
    ensure_cluster
    ensure_registry
  else
    ensure_registry
    ensure_cluster
  fi
  if [[ "${PLAN_NETWORK}" == connect ]]; then
    require_engine
    log "connecting registry ${K8S_DEV_REGISTRY_CONTAINER} to kind's network"
    ce network connect kind "${K8S_DEV_REGISTRY_CONTAINER}" >/dev/null
  fi
  [[ "${PLAN_MIRRORS}" != write ]] || ce_helper up mirrors
  ce_helper up finish --cluster "${PLAN_CLUSTER}" --kubeconfig "${PLAN_KUBECONFIG}" --configmap "${PLAN_CONFIGMAP}"
  echo "Cluster: ${K8S_DEV_CLUSTER} (${K8S_DEV_CLUSTER_CONTEXT}, was ${PLAN_CLUSTER_WAS})"
  echo "Kubeconfig: ${K8S_DEV_CLUSTER_KUBECONFIG}"
  echo "Registry: push ${K8S_DEV_REGISTRY}, pull ${K8S_DEV_REGISTRY_PULL} (was ${PLAN_REGISTRY_WAS})"
  if [[ "${K8S_DEV_PROVIDER}" != k3s ]]; then
    echo "Gateway: ${K8S_DEV_BIND_ADDRESS}:${K8S_DEV_LB_PORT} -> NodePort ${K8S_DEV_NODEPORT}"
  fi
}

cmd_down() {
  local registry=""
  while (($#)); do
    case "$1" in
      --registry) registry=--registry ;;
      *) usage >&2; exit 2 ;;
    esac
    shift
  done
  if [[ "${K8S_DEV_REMOTE}" == 1 ]]; then
    log "remote mode: context ${K8S_DEV_CONTEXT} is not the kit's cluster; nothing deleted"
    return 0
  fi
  open_lock
  local plan
  plan="$(ce_helper down plan ${registry:+"${registry}"} --lock-fd 9 --lock-pid "$$")" || exit 1
  eval "${plan}"
  if [[ "${PLAN_CLUSTER}" == delete ]]; then
    log "deleting cluster ${K8S_DEV_CLUSTER}"
    case "${K8S_DEV_PROVIDER}" in
      k3d) kit_k3d cluster delete "${K8S_DEV_CLUSTER}" >&2 ;;
      kind)
        # kind edits the file it is given: its own, never yours.
        (umask 077 && mkdir -p "${K8S_DEV_KIND_KUBECONFIG%/*}")
        kind delete cluster --name "${K8S_DEV_CLUSTER}" --kubeconfig "${K8S_DEV_KIND_KUBECONFIG}" >&2
        rm -f "${K8S_DEV_KIND_KUBECONFIG}"
        ;;
    esac
  elif [[ "${K8S_DEV_PROVIDER}" == k3s ]]; then
    log "forgetting the host's k3s (it keeps running; ${K8S_DEV_CLUSTER_CONTEXT} leaves your kubeconfig)"
  fi
  ce_helper down finish
  case "${PLAN_REGISTRY}" in
    delete)
      log "deleting registry ${K8S_DEV_REGISTRY_CONTAINER} and its images"
      if [[ "${K8S_DEV_PROVIDER}" == k3d ]]; then
        kit_k3d registry delete "${K8S_DEV_REGISTRY_NAME}" >&2
      else
        require_engine
        ce rm --force --volumes "${K8S_DEV_REGISTRY_CONTAINER}" >/dev/null
      fi
      ;;
    keep) log "kept registry ${K8S_DEV_REGISTRY_CONTAINER} and its images (down --registry deletes it)" ;;
  esac
}

cmd_status() { ce_helper status "$@"; }

cmd_doctor() { ce_helper doctor "$@"; }

# --- workload ---------------------------------------------------------------------------------

# kubectl/helm/skaffold flags for the target cluster: the kit's cluster file, or in remote mode
# the user's kubeconfig with K8S_DEV_CONTEXT.
KUBE_CONTEXT=""
KUBE_FILE=""
KUBE_FLAGS=()
select_cluster() {
  if [[ "${K8S_DEV_REMOTE}" == 1 ]]; then
    KUBE_CONTEXT="${K8S_DEV_CONTEXT}"
    KUBE_FILE=""
    KUBE_FLAGS=(--context "${KUBE_CONTEXT}")
  else
    [[ -f "${K8S_DEV_CLUSTER_KUBECONFIG}" ]] \
      || die "no kubeconfig for cluster ${K8S_DEV_CLUSTER} at ${K8S_DEV_CLUSTER_KUBECONFIG}. Run: mise run k8s:dev:up"
    KUBE_CONTEXT="${K8S_DEV_CLUSTER_CONTEXT}"
    KUBE_FILE="${K8S_DEV_CLUSTER_KUBECONFIG}"
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
  local now ms
  now="$(now_ms)"
  ms=$((now - $2))
  log "$(printf '%-22s %d.%03ds' "$1" $((ms / 1000)) $((ms % 1000)))"
}

# Component settings into C_* (bash 3.2: no associative arrays).
component() {
  case "$1" in
    gateway)
      C_NAME=gateway C_PACKAGE="${K8S_DEV_GATEWAY_PACKAGE}" C_BIN="${K8S_DEV_GATEWAY_BIN}"
      C_IMAGE="${K8S_DEV_GATEWAY_IMAGE}" C_DOCKERFILE="${K8S_DEV_GATEWAY_DOCKERFILE}"
      C_BUILD_ARGS="${K8S_DEV_GATEWAY_BUILD_ARGS}" C_FEATURES="${K8S_DEV_GATEWAY_FEATURES}"
      C_TARGET="${K8S_DEV_GATEWAY_RUST_TARGET}" C_LINKAGE="${K8S_DEV_GATEWAY_LINKAGE}"
      C_DOCKERFILE_SETTING=K8S_DEV_GATEWAY_DOCKERFILE
      ;;
    supervisor)
      C_NAME=supervisor C_PACKAGE="${K8S_DEV_SUPERVISOR_PACKAGE}" C_BIN="${K8S_DEV_SUPERVISOR_BIN}"
      C_IMAGE="${K8S_DEV_SUPERVISOR_IMAGE}" C_DOCKERFILE="${K8S_DEV_SUPERVISOR_DOCKERFILE}"
      C_BUILD_ARGS="${K8S_DEV_SUPERVISOR_BUILD_ARGS}" C_FEATURES="${K8S_DEV_SUPERVISOR_FEATURES}"
      C_TARGET="${K8S_DEV_SUPERVISOR_RUST_TARGET}" C_LINKAGE="${K8S_DEV_SUPERVISOR_LINKAGE}"
      C_DOCKERFILE_SETTING=K8S_DEV_SUPERVISOR_DOCKERFILE
      ;;
    *) die "unknown component '$1'; expected gateway or supervisor" ;;
  esac
}

HOST_TRIPLE=""
# C_TRIPLE: the component's target triple, its setting, else the host's (Linux only: images need
# Linux binaries), asked of rustc once per task.
resolve_target() {
  if [[ -n "${C_TARGET}" ]]; then
    C_TRIPLE="${C_TARGET}"
    return
  fi
  if [[ -z "${HOST_TRIPLE}" ]]; then
    [[ "$(uname -s)" == Linux ]] \
      || die "images need Linux binaries: set K8S_DEV_RUST_TARGET (e.g. aarch64-unknown-linux-musl) and K8S_DEV_CARGO_BUILD=\"cargo zigbuild\""
    HOST_TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
    [[ -n "${HOST_TRIPLE}" ]] || die "rustc -vV named no host triple; set K8S_DEV_RUST_TARGET"
  fi
  C_TRIPLE="${HOST_TRIPLE}"
}

# BuildKit's TARGETARCH for a target triple or a machine name (uname -m).
buildkit_arch() { # triple or machine
  case "${1%%-*}" in
    x86_64 | amd64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    riscv64*) echo riscv64 ;;
    powerpc64le | ppc64le) echo ppc64le ;;
    s390x) echo s390x ;;
    *) die "no BuildKit architecture for target $1; set K8S_DEV_RUST_TARGET to an x86_64, aarch64, riscv64, powerpc64le or s390x Linux target" ;;
  esac
}

# Where cargo puts a target's binaries: zigbuild's glibc floor (`….2.28`) is not part of the
# directory, and the dev profile builds into debug/.
bin_dir() { # target
  local profile="${K8S_DEV_CARGO_PROFILE}"
  case "${profile}" in
    dev | test) profile=debug ;;
    bench) profile=release ;;
  esac
  echo "${CARGO_TARGET_DIR:-${PWD}/target}/${1%%.*}/${profile}"
}

# One cargo build for one target and linkage. Static glibc binaries get +crt-static (musl is
# static anyway), through the target's own RUSTFLAGS so build scripts and proc-macros are not
# affected; RUSTFLAGS, when set, would take precedence over it, so it goes there instead. A
# dynamic build gets nothing added (OpenShell's gateway links glibc for its distroless base).
cargo_build() { # target, linkage, cargo arguments...
  local target="$1" linkage="$2" var="RUSTFLAGS" rc=0 had old
  shift 2
  if [[ -z "${RUSTFLAGS:-}" ]]; then
    var="CARGO_TARGET_$(printf '%s' "${target%%.*}" | tr 'a-z.-' 'A-Z__')_RUSTFLAGS"
  fi
  had="${!var+1}" old="${!var:-}"
  if [[ "${linkage}" == static && "${target}" == *-linux-gnu* ]]; then
    export "${var}=${old:+${old} }-C target-feature=+crt-static"
  fi
  # shellcheck disable=SC2086 # a command with plain arguments (the helper's rule: no glob, no quote)
  ce_cargo ${K8S_DEV_CARGO_BUILD} --target "${target}" --profile "${K8S_DEV_CARGO_PROFILE}" "$@" >&2 || rc=$?
  if [[ -n "${had}" ]]; then export "${var}=${old}"; else unset "${var}"; fi
  ((rc == 0)) || die "building ${*} for ${target} failed (see above)"
}

# Host build of the components' binaries: one cargo call per target and linkage they share (the
# stand-in's two: one call), each package's features as PACKAGE/FEATURE. The path of each
# binary lands in BIN_gateway / BIN_supervisor.
build_binaries() { # component...
  # mise does not pin Rust (the project's own toolchain builds the images), so not `mise install`.
  command -v cargo >/dev/null 2>&1 || die "cargo not found. Install Rust (https://rustup.rs)"
  local todo=("$@") rest c target linkage args feature built
  while ((${#todo[@]})); do
    component "${todo[0]}"
    resolve_target
    target="${C_TRIPLE}" linkage="${C_LINKAGE}"
    args=() rest=() built=()
    for c in "${todo[@]}"; do
      component "${c}"
      resolve_target
      if [[ "${C_TRIPLE}" != "${target}" || "${C_LINKAGE}" != "${linkage}" ]]; then
        rest+=("${c}")
        continue
      fi
      args+=(-p "${C_PACKAGE}" --bin "${C_BIN}")
      for feature in ${C_FEATURES}; do args+=(--features "${C_PACKAGE}/${feature}"); done
      built+=("${c}")
    done
    cargo_build "${target}" "${linkage}" "${args[@]}"
    for c in "${built[@]}"; do
      component "${c}"
      printf -v "BIN_${c}" '%s' "$(bin_dir "${target}")/${C_BIN}"
      local bin="BIN_${c}"
      [[ -f "${!bin}" ]] \
        || die "cargo built no ${!bin}; if cargo's target directory is elsewhere (build.target-dir), set CARGO_TARGET_DIR to it"
    done
    todo=(${rest[@]+"${rest[@]}"})
  done
}

# Put the component's binary where its Dockerfile COPYs it from, as OpenShell's
# stage-prebuilt-binaries.sh does: K8S_DEV_IMAGE_STAGING_DIR inside the build context. A hard
# link costs nothing; cargo replaces the binary on rebuild, so it is linked again every time.
# C_ARCH: the binary's BuildKit architecture.
stage_binary() { # component
  component "$1"
  local bin="BIN_$1" dir
  resolve_target
  C_ARCH="$(buildkit_arch "${C_TRIPLE}")"
  [[ -d "${K8S_DEV_IMAGE_CONTEXT}" ]] \
    || die "build context ${K8S_DEV_IMAGE_CONTEXT} is not a directory; set K8S_DEV_IMAGE_CONTEXT to the repository root (where the Dockerfiles' COPY sources start)"
  dir="${K8S_DEV_IMAGE_CONTEXT}/${K8S_DEV_IMAGE_STAGING_DIR//\{arch\}/${C_ARCH}}"
  mkdir -p "${dir}"
  ln -f "${!bin}" "${dir}/${C_BIN}" 2>/dev/null || cp -p "${!bin}" "${dir}/${C_BIN}"
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1
}

# Publish one component's staged image with the given tags: the helper first, daemonless, with
# the engine-built prefix for a Dockerfile whose RUN steps come before the binary's COPY (the
# engine builds those once; without RUN steps the flag changes nothing); the engine when the
# helper says the Dockerfile needs one anyway (exit 4) or K8S_DEV_IMAGE_BUILDER=engine. The
# helper's error is one line naming the fix in settings; nothing is added to it.
publish() { # component, tag...
  component "$1"
  shift
  local report="${K8S_DEV_STATE_DIR}/publish-${C_IMAGE//\//_}.json" # image names may have a path
  local rc=0 tag arg build_args=() args=() host_arch
  [[ -f "${C_DOCKERFILE}" ]] \
    || die "Dockerfile ${C_DOCKERFILE} not found in ${PWD}; set ${C_DOCKERFILE_SETTING} to the ${C_NAME}'s Dockerfile"
  read -r -a build_args <<<"${C_BUILD_ARGS}"
  rm -f "${report}"
  if [[ "${K8S_DEV_IMAGE_BUILDER}" == helper ]]; then
    for tag in "$@"; do args+=(--tag "${tag}"); done
    for arg in ${build_args[@]+"${build_args[@]}"}; do args+=(--build-arg "${arg}"); done
    [[ -z "${K8S_DEV_REGISTRY_CERTS}" ]] || args+=(--certs-dir "${K8S_DEV_REGISTRY_CERTS}")
    host_arch="$(buildkit_arch "$(uname -m)")"
    [[ "${C_ARCH}" == "${host_arch}" ]] || args+=(--platform "linux/${C_ARCH}")
    ce_helper image publish --dockerfile "${C_DOCKERFILE}" --context "${K8S_DEV_IMAGE_CONTEXT}" \
      --engine-prefix --settings-of "${C_NAME}" "${args[@]}" \
      --compression "${K8S_DEV_IMAGE_COMPRESSION}" --json >"${report}" || rc=$?
    if ((rc == 0)); then return 0; fi
    ((rc == 4)) || exit 1
    log "falling back to the container engine for ${C_DOCKERFILE}"
  fi
  require_engine
  # The engine's legacy builder sets no platform ARGs; BuildKit's own values are the same.
  args=(--build-arg "TARGETARCH=${C_ARCH}" --build-arg TARGETOS=linux --build-arg "TARGETPLATFORM=linux/${C_ARCH}")
  for arg in ${build_args[@]+"${build_args[@]}"}; do args+=(--build-arg "${arg}"); done
  for tag in "$@"; do args+=(-t "${tag}"); done
  ce build -q -f "${C_DOCKERFILE}" "${args[@]}" "${K8S_DEV_IMAGE_CONTEXT}" >&2
  if [[ "${PUSH:-true}" == true ]]; then
    for tag in "$@"; do ce push -q "${tag}" >&2; done
  fi
}

cmd_sync() {
  local t0 t tag gw_tag sup_tag c bin
  t0="$(now_ms)"
  t="${t0}"
  for c in gateway supervisor; do
    component "${c}"
    [[ -f "${C_DOCKERFILE}" ]] \
      || die "Dockerfile ${C_DOCKERFILE} not found in ${PWD}; set ${C_DOCKERFILE_SETTING} to the ${C_NAME}'s Dockerfile"
  done
  build_binaries gateway supervisor
  phase_done "cargo build" "${t}"
  mkdir -p "${K8S_DEV_STATE_DIR}"
  for c in gateway supervisor; do
    t="$(now_ms)"
    stage_binary "${c}"
    bin="BIN_${c}"
    tag="dev-$(sha256_of "${!bin}" | cut -c1-12)"
    publish "${c}" "${K8S_DEV_REGISTRY}/${C_IMAGE}:dev" "${K8S_DEV_REGISTRY}/${C_IMAGE}:${tag}"
    phase_done "${c} image" "${t}"
    if [[ "${c}" == gateway ]]; then gw_tag="${tag}"; else sup_tag="${tag}"; fi
  done
  printf 'K8S_DEV_GATEWAY_TAG=%s\nK8S_DEV_SUPERVISOR_TAG=%s\n' "${gw_tag}" "${sup_tag}" >"${K8S_DEV_STATE_DIR}/images.env"
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
  component "${name}"
  build_binaries "${name}"
  stage_binary "${name}"
  if [[ "${PUSH_IMAGE:-false}" == true ]]; then
    publish "${name}" "${IMAGE}"
  else
    K8S_DEV_IMAGE_BUILDER=engine PUSH=false publish "${name}" "${IMAGE}"
  fi
}

# The release and sandbox namespaces (idempotent).
# The release's namespace, and the sandbox namespace as `bootstrap plan` says: marked as the
# release's, one the chart renders too is adopted by Helm instead of refused ("exists and cannot
# be imported"); a chart that does not render it leaves it alone. Sets PLAN_RELEASE and
# PLAN_RELEASE_STATUS for cmd_bootstrap.
ensure_namespaces() {
  local plan
  plan="$(ce_helper bootstrap plan "${KUBE_FLAGS[@]}")" || exit 1
  eval "${plan}"
  if [[ "${PLAN_NAMESPACE}" == create ]]; then
    # Idempotent: a watch or another bootstrap may create it first.
    kctl create namespace "${K8S_DEV_NAMESPACE}" --dry-run=client -o yaml | kctl apply -f - >/dev/null
  fi
  case "${PLAN_SANDBOX_NAMESPACE}" in
    create | adopt)
      if [[ "${PLAN_SANDBOX_NAMESPACE}" == create ]]; then
        kctl create namespace "${K8S_DEV_SANDBOX_NAMESPACE}" >/dev/null
      fi
      kctl label namespace "${K8S_DEV_SANDBOX_NAMESPACE}" --overwrite app.kubernetes.io/managed-by=Helm >/dev/null
      kctl annotate namespace "${K8S_DEV_SANDBOX_NAMESPACE}" --overwrite "meta.helm.sh/release-name=${K8S_DEV_RELEASE}" \
        "meta.helm.sh/release-namespace=${K8S_DEV_NAMESPACE}" >/dev/null
      ;;
  esac
}

# Apply K8S_DEV_CRDS (files, directories or URLs), then wait until every CRD they define is
# Established and every workload they run (the Agent Sandbox controller) has rolled out: the
# chart's own preflight is off in the dev values, so this is the check. Applied first and
# checked: a loop over `$(kubectl apply …)` would ignore kubectl failing and go on without them.
apply_crds() {
  [[ -n "${K8S_DEV_CRDS}" ]] || return 0
  local sources source applied kind name ns workload
  read -r -a sources <<<"${K8S_DEV_CRDS}"
  for source in "${sources[@]}"; do
    case "${source}" in
      http://* | https://* | HTTP://* | HTTPS://*) ;;
      *) [[ -e "${source}" ]] || die "K8S_DEV_CRDS: ${source} does not exist in ${PWD}; set K8S_DEV_CRDS to files, directories or http(s) URLs of the CRD manifests" ;;
    esac
    log "applying CRDs from ${source}"
    # A List for several objects, the object itself for one.
    applied="$(kctl apply -f "${source}" -o go-template='{{if .items}}{{range .items}}{{.kind}} {{.metadata.name}} {{with .metadata.namespace}}{{.}}{{end}}{{"\n"}}{{end}}{{else}}{{.kind}} {{.metadata.name}} {{with .metadata.namespace}}{{.}}{{end}}{{"\n"}}{{end}}')" \
      || die "applying the CRDs in ${source} failed (see above); fix them or K8S_DEV_CRDS"
    while read -r kind name ns; do
      workload=""
      case "${kind}" in
        CustomResourceDefinition) ce_helper wait crd "${name}" "${KUBE_FLAGS[@]}" --timeout "${K8S_DEV_TIMEOUT}" ;;
        Deployment) workload="deployment/${name}" ;;
        StatefulSet) workload="statefulset/${name}" ;;
        DaemonSet) workload="daemonset/${name}" ;;
      esac
      if [[ -n "${workload}" ]]; then
        ce_helper wait rollout "${workload}" -n "${ns}" "${KUBE_FLAGS[@]}" --timeout "${K8S_DEV_TIMEOUT}"
      fi
    done <<<"${applied}"
  done
}

# Remote mode: pods pull from a registry that may want a login. With one for it (docker login,
# podman login), the helper makes an image pull secret from it in the release and sandbox
# namespaces; PULL_SECRET is its name, else empty. The kit's own registry wants none.
PULL_SECRET=""
make_pull_secret() {
  [[ "${K8S_DEV_REMOTE}" == 1 ]] || return 0
  PULL_SECRET="$(ce_helper registry pull-secret --registry "${K8S_DEV_REGISTRY}" \
    --pull-registry "${K8S_DEV_REGISTRY_PULL}" --namespace "${K8S_DEV_NAMESPACE}" \
    --namespace "${K8S_DEV_SANDBOX_NAMESPACE}" --create-namespace --name "${K8S_DEV_PULL_SECRET}" \
    --context "${KUBE_CONTEXT}" --optional)" || exit 1
}

# What the chart takes from the settings, beside K8S_DEV_VALUES: the Service (a NodePort
# behind the load balancer, or ClusterIP on a shared cluster), the sandbox namespace and the
# pull secret. One file for helm (bootstrap) and Skaffold (watch), in the state directory.
KIT_VALUES=""
write_kit_values() {
  KIT_VALUES="${K8S_DEV_STATE_DIR}/values.yaml"
  mkdir -p "${K8S_DEV_STATE_DIR}"
  {
    echo "# Written by k8s-dev.sh (bootstrap, watch) from the settings in effect; installed after K8S_DEV_VALUES."
    printf 'service:\n  type: "%s"\n' "${K8S_DEV_SERVICE_TYPE}"
    if [[ "${K8S_DEV_SERVICE_TYPE}" == NodePort ]]; then
      printf '  nodePort: %s\n' "${K8S_DEV_NODEPORT}"
    else
      printf '  nodePort: null\n'
    fi
    printf 'server:\n  sandboxNamespace: "%s"\n' "${K8S_DEV_SANDBOX_NAMESPACE}"
    if [[ -n "${PULL_SECRET}" ]]; then
      printf '  sandboxImagePullSecrets:\n    - name: "%s"\n' "${PULL_SECRET}"
      printf 'imagePullSecrets:\n  - name: "%s"\n' "${PULL_SECRET}"
    fi
  } >"${KIT_VALUES}.tmp"
  mv -f "${KIT_VALUES}.tmp" "${KIT_VALUES}"
}

cmd_bootstrap() {
  require_tool kubectl
  require_tool helm
  select_cluster
  ce_helper wait apiserver "${KUBE_FLAGS[@]}" --timeout "${K8S_DEV_TIMEOUT}"
  ensure_namespaces
  apply_crds
  make_pull_secret
  write_kit_values
  if [[ "${K8S_DEV_SKIP_SYNC}" != 1 ]]; then
    cmd_sync >/dev/null
  fi
  # The gateway gets the content tag of the last sync, so a changed gateway rolls out; sandboxes
  # keep pulling the supervisor's :dev (pull policy Always in the dev values), so a sync alone
  # reaches every sandbox created after it.
  local gateway_tag=""
  if [[ -f "${K8S_DEV_STATE_DIR}/images.env" ]]; then
    gateway_tag="$(sed -n 's/^K8S_DEV_GATEWAY_TAG=//p' "${K8S_DEV_STATE_DIR}/images.env")"
  fi
  local helm_flags=(--kube-context "${KUBE_CONTEXT}")
  [[ -z "${KUBE_FILE}" ]] || helm_flags+=(--kubeconfig "${KUBE_FILE}")
  case "${PLAN_RELEASE}" in
    uninstall)
      log "release ${K8S_DEV_RELEASE} was left ${PLAN_RELEASE_STATUS} by an interrupted helm; uninstalling it"
      helm uninstall "${K8S_DEV_RELEASE}" "${helm_flags[@]}" --namespace "${K8S_DEV_NAMESPACE}" >&2
      ;;
    rollback)
      log "release ${K8S_DEV_RELEASE} was left ${PLAN_RELEASE_STATUS} by an interrupted helm; rolling back to its previous revision"
      helm rollback "${K8S_DEV_RELEASE}" "${helm_flags[@]}" --namespace "${K8S_DEV_NAMESPACE}" >&2
      ;;
  esac
  log "helm upgrade --install ${K8S_DEV_RELEASE} (${K8S_DEV_CHART}, ${K8S_DEV_VALUES}, ${KIT_VALUES})"
  helm upgrade --install "${K8S_DEV_RELEASE}" "${K8S_DEV_CHART}" "${helm_flags[@]}" \
    --namespace "${K8S_DEV_NAMESPACE}" --create-namespace \
    --values "${K8S_DEV_VALUES}" --values "${KIT_VALUES}" \
    --set "image.repository=${K8S_DEV_REGISTRY_PULL}/${K8S_DEV_GATEWAY_IMAGE}" \
    --set "image.tag=${gateway_tag:-dev}" \
    --set "supervisor.image.repository=${K8S_DEV_REGISTRY_PULL}/${K8S_DEV_SUPERVISOR_IMAGE}" \
    --set "supervisor.image.tag=dev" >&2
  # A StatefulSet's pod of a broken earlier bootstrap (never Ready) would hold this rollout
  # forever; the wait deletes it (the helper says which and why).
  ce_helper wait rollout "${K8S_DEV_ROLLOUT}" -n "${K8S_DEV_NAMESPACE}" "${KUBE_FLAGS[@]}" --timeout "${K8S_DEV_TIMEOUT}" \
    --delete-stuck-pods
  echo "Release: ${K8S_DEV_RELEASE} in ${K8S_DEV_NAMESPACE} (${K8S_DEV_ROLLOUT} rolled out)"
}

# The remote-mode kubeconfig copy of the running gateway, removed when this script ends.
GATEWAY_KUBECONFIG=""
remove_gateway_kubeconfig() { if [[ -n "${GATEWAY_KUBECONFIG}" ]]; then rm -f "${GATEWAY_KUBECONFIG}"; fi; }

# The KUBECONFIG the gateway command will really use. `mise run …` applies the repository's
# mise [env] over the task's environment (OpenShell's sets KUBECONFIG to a repo-local file), so
# for a mise command it is what `mise env` says; any other command inherits the task's.
effective_kubeconfig() { # command word
  if [[ "$1" != mise ]]; then
    echo "${KUBECONFIG}"
    return
  fi
  local line value
  line="$(mise env -s bash 2>/dev/null | sed -n 's/^export KUBECONFIG=//p' | tail -n 1)" || true
  value="${line}"
  if [[ "${line}" == \'*\' ]]; then
    value="${line:1:${#line}-2}"
    value="${value//\'\\\'\'/\'}"
  fi
  echo "${value:-${KUBECONFIG}}"
}

# Print the gateway's address once it accepts connections there; the caller kills this when
# the command ends first.
announce_gateway() { # address, port
  local probe="$1"
  [[ "${probe}" != 0.0.0.0 ]] || probe=127.0.0.1
  while ! (echo >"/dev/tcp/${probe}/$2") 2>/dev/null; do sleep 0.5; done
  echo "Gateway: http://${probe}:$2 (listening)"
}

cmd_gateway() {
  select_cluster
  ce_helper ports check "${K8S_DEV_GATEWAY_PORT}=K8S_DEV_GATEWAY_PORT"
  local words kubeconfig="${KUBE_FILE}" used current
  read -r -a words <<<"${K8S_DEV_GATEWAY_COMMAND}"
  command -v "${words[0]}" >/dev/null 2>&1 \
    || die "K8S_DEV_GATEWAY_COMMAND: ${words[0]} not found on PATH; install it or set K8S_DEV_GATEWAY_COMMAND to the command that starts your gateway (e.g. 'bash tasks/scripts/gateway.sh --driver kubernetes')"
  if [[ -z "${kubeconfig}" ]]; then
    # kube clients follow the current context: hand the gateway a one-context copy, created
    # fresh (mktemp: 0600, a new name) and removed on exit and Ctrl-C.
    mkdir -p "${K8S_DEV_STATE_DIR}"
    GATEWAY_KUBECONFIG="$(mktemp "${K8S_DEV_STATE_DIR}/remote-kubeconfig.XXXXXX")"
    trap remove_gateway_kubeconfig EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    kubectl config view --minify --flatten --context "${KUBE_CONTEXT}" >"${GATEWAY_KUBECONFIG}"
    kubeconfig="${GATEWAY_KUBECONFIG}"
    make_pull_secret
  fi
  export KUBECONFIG="${kubeconfig}"
  used="$(effective_kubeconfig "${words[0]}")"
  if [[ "${used}" != "${kubeconfig}" ]]; then
    current="$(KUBECONFIG="${used}" kubectl config current-context 2>/dev/null)" || current=""
    [[ "${current}" == "${KUBE_CONTEXT}" ]] \
      || die "gateway: '${K8S_DEV_GATEWAY_COMMAND}' runs with KUBECONFIG=${used} (the repository's mise [env] replaces the task's), whose current context is '${current:-none}', not ${KUBE_CONTEXT}; run: KUBECONFIG=${used} kubectl config use-context ${KUBE_CONTEXT}, or set K8S_DEV_GATEWAY_COMMAND to run the script itself (e.g. 'bash tasks/scripts/gateway.sh --driver kubernetes')"
  fi
  # The variables of OpenShell's runner (tasks/scripts/gateway.sh) and the stand-in's: the
  # command chooses the driver (--driver kubernetes), sandboxes run the supervisor sync pushed.
  unset OPENSHELL_DRIVERS
  export OPENSHELL_SERVER_PORT="${K8S_DEV_GATEWAY_PORT}"
  export OPENSHELL_BIND_ADDRESS="${K8S_DEV_BIND_ADDRESS}"
  export OPENSHELL_GATEWAY_NAME="${K8S_DEV_CLUSTER}"
  export OPENSHELL_SANDBOX_NAMESPACE="${K8S_DEV_SANDBOX_NAMESPACE}"
  export OPENSHELL_SANDBOX_IMAGE="${K8S_DEV_REGISTRY_PULL}/${K8S_DEV_SUPERVISOR_IMAGE}:dev"
  export OPENSHELL_SUPERVISOR_IMAGE="${OPENSHELL_SANDBOX_IMAGE}"
  export OPENSHELL_SANDBOX_IMAGE_PULL_POLICY=Always
  if [[ -n "${PULL_SECRET}" ]]; then export OPENSHELL_SANDBOX_IMAGE_PULL_SECRETS="${PULL_SECRET}"; fi
  log "gateway: ${K8S_DEV_GATEWAY_COMMAND} (port ${K8S_DEV_GATEWAY_PORT}, context ${KUBE_CONTEXT}, sandboxes in ${K8S_DEV_SANDBOX_NAMESPACE})"
  # The command stays in the foreground (Ctrl-C reaches it); a watcher prints the address.
  announce_gateway "${K8S_DEV_BIND_ADDRESS}" "${K8S_DEV_GATEWAY_PORT}" &
  local watcher=$! rc=0
  "${words[@]}" "$@" || rc=$?
  kill "${watcher}" 2>/dev/null || true
  wait "${watcher}" 2>/dev/null || true
  return "${rc}"
}

# A path as Skaffold, run from another directory, must get it: absolute.
absolute() { # path
  case "$1" in
    /*) echo "$1" ;;
    *) echo "${PWD}/$1" ;;
  esac
}

cmd_watch() {
  require_tool skaffold
  require_tool kubectl
  select_cluster
  ensure_namespaces
  apply_crds
  make_pull_secret
  write_kit_values
  local file dir flags registry registries
  file="$(absolute "${K8S_DEV_SKAFFOLD_FILE}")"
  [[ -f "${file}" ]] || die "Skaffold config ${file} not found; set K8S_DEV_SKAFFOLD_FILE (relative to the repository root)"
  # What the kit's skaffold.yaml reads through Skaffold's templates and its build command.
  export K8S_DEV_KIT_DIR K8S_DEV_KIT_VALUES="${KIT_VALUES}"
  K8S_DEV_CHART="$(absolute "${K8S_DEV_CHART}")" K8S_DEV_VALUES="$(absolute "${K8S_DEV_VALUES}")"
  flags=(--filename "${file}" --default-repo "${K8S_DEV_REGISTRY}" --kube-context "${KUBE_CONTEXT}")
  [[ -z "${KUBE_FILE}" ]] || flags+=(--kubeconfig "${KUBE_FILE}")
  # Skaffold reads the pushed digest back from the registry itself: plain HTTP only where asked.
  IFS=, read -r -a registries <<<"${K8S_DEV_INSECURE_REGISTRIES}"
  for registry in ${registries[@]+"${registries[@]}"}; do
    flags+=(--insecure-registry "${registry// /}")
  done
  if [[ -n "${K8S_DEV_SKAFFOLD_DIR}" ]]; then
    dir="$(absolute "${K8S_DEV_SKAFFOLD_DIR}")"
    [[ -d "${dir}" ]] || die "K8S_DEV_SKAFFOLD_DIR ${dir} is not a directory; set it to where ${K8S_DEV_SKAFFOLD_FILE}'s paths start"
    cd "${dir}"
  fi
  log "skaffold dev with ${file} in ${PWD} (Ctrl-C stops and removes what it deployed)"
  # exec: Ctrl-C reaches skaffold directly, which then uninstalls its release.
  exec skaffold dev "${flags[@]}" "$@"
}

main() {
  local verb="${1:-}"
  (($#)) && shift
  case "${verb}" in
    -h | --help | help) usage; return 0 ;;
    up | down | status | doctor | sync | bootstrap | gateway | watch | image) ;;
    *) usage >&2; exit 2 ;;
  esac
  need_helper
  load_settings
  "cmd_${verb}" "$@"
}

main "$@"
