#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# The kit's own cluster lifecycle with the real k3d 5.9.0 on Podman: k3d creates the registry
# and the cluster from deploy/k3d/cluster.yaml for real (networks, containers, port mappings,
# registries.yaml in the nodes, the kubeconfig), with local images standing in for the ones it
# would pull (tests/support/k3d-standins.sh: the "k3s" image runs no Kubernetes; its load
# balancer passes the API port on to the real control plane of tests/support/cluster.sh, which
# the kit's waits then reach). Through real mise:
#   lifecycle     up (registry, cluster, kubeconfig, waits), a no-op second up, status --json,
#                 down keeping the registry, up again reusing it, down --registry
#   bind_address  K8S_DEV_BIND_ADDRESS=127.0.0.2: the kubeconfig points where the API port is
#                 bound
#   cold_pull     a k3s image that takes longer to pull than K8S_DEV_TIMEOUT: up pulls it before
#                 k3d's timeout starts
#   user_kubeconfig  k3d never writes the user's kubeconfig: not on create with a config that
#                 asks it to (updateDefaultKubeconfig, switchCurrentContext), not on delete (which
#                 always would); the file is byte-identical, same inode, after down
# Prints PASS/FAIL/SKIP lines.
#
# Environment: K8S_DEV_TEST_PODMAN_HOST, CONTAINERS_CONF, CONTAINERS_STORAGE_CONF,
# CONTAINERS_REGISTRIES_CONF (tests/support/engines.sh up); K8S_DEV_TEST_KUBECONFIG
# (tests/support/cluster.sh up); k3d built by tests/support/tools.sh. Missing ones skip, and
# fail under K8S_DEV_TEST_NO_SKIP=1.
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"
# shellcheck source=SCRIPTDIR/../support/real-k3d.sh
source "${ROOT}/tests/support/real-k3d.sh"

usage() {
  echo "Usage: $(basename "$0") [test-name...]   (default: all; see DEFAULT_TESTS)"
}

# k3d's labels of one container, or "absent".
label() { # container, label
  pm inspect "$1" --format "{{index .Config.Labels \"$2\"}}" 2>/dev/null || echo absent
}

kubeconfig_server() {
  kubectl --kubeconfig "${HOME}/.kube/k3d-${K8S_DEV_CLUSTER}.yaml" config view -o jsonpath='{.clusters[0].cluster.server}'
}

test_lifecycle() {
  k3d_sandbox lifecycle || return 0
  local name="${K8S_DEV_CLUSTER}" registry="k3d-${K8S_DEV_REGISTRY_NAME}"
  run_task k8s:dev:up
  assert_ok "up with the real k3d on Podman"
  assert_contains "${OUT}" "Cluster: ${name} (k3d-${name}, was missing)" "up created the cluster"
  assert_contains "${ERR}" "Cluster '${name}' created successfully!" "k3d created it from deploy/k3d/cluster.yaml"
  assert_eq "running running running" \
    "$(pm inspect "${registry}" "k3d-${name}-server-0" "k3d-${name}-serverlb" --format '{{.State.Status}}' | paste -sd' ' -)" \
    "the registry, the server and the load balancer run"
  assert_eq "${K8S_DEV_NETWORK} ${K8S_DEV_NETWORK}" \
    "$(label "k3d-${name}-server-0" k3d.cluster.network) $(k3d registry list -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Networks"][0])')" \
    "cluster and registry share the kit's network"
  local registries
  registries="$(k3d registry list -o json | python3 -c 'import json,sys; print(" ".join(n["name"] for n in json.load(sys.stdin)))')"
  assert_contains " ${registries} " " ${registry} " "k3d lists the kit's registry"
  assert_not_contains "${registries}" "k3d-${name}-registry" \
    "registries.use created no registry of its own (k3d 5.9.0, k3d-io/k3d#1646)"
  # Derived settings, as the tasks see them (the sandbox exports only the independent ones).
  local mirrors push
  push="$(setting K8S_DEV_REGISTRY)"
  mirrors="$(pm exec "k3d-${name}-server-0" cat /etc/rancher/k3s/registries.yaml)"
  assert_contains "${mirrors}" "$(setting K8S_DEV_REGISTRY_PULL):" "the nodes' registries.yaml mirrors the in-cluster pull name"
  assert_contains "${mirrors}" "${push}:" "and the host's push name"
  assert_contains "${mirrors}" "http://${registry}:5000" "both to the registry container"
  assert_eq "https://127.0.0.1:${K8S_DEV_API_PORT}" "$(kubeconfig_server)" "the cluster kubeconfig points at the API port"
  assert_mode "${HOME}/.kube/k3d-${name}.yaml" 600 "the cluster kubeconfig is private"
  assert_contains "$(curl -fsS "http://${push}/v2/" 2>&1 && echo reachable)" reachable \
    "the registry k3d created answers on ${push}"

  # From here k3d's calls are logged: a no-op up decides on the engine's list of k3d's
  # containers (their k3d labels) alone, and asks k3d only when a part does not run.
  local calls="${SANDBOX}/k3d-calls.log"
  mkdir -p "${SANDBOX}/bin"
  logging_wrapper "${SANDBOX}/bin/k3d" "${calls}" "$(command -v k3d)"
  export PATH="${SANDBOX}/bin:${PATH}"
  : >"${calls}"
  run_task k8s:dev:up
  assert_ok "a second up"
  assert_contains "${OUT}" "(k3d-${name}, was running)" "a second up finds the cluster running"
  assert_eq "" "$(cat "${calls}")" "the no-op up did not run k3d: the engine's list of its labelled containers says all runs"

  run_task k8s:dev:status --json
  assert_ok "status --json"
  assert_eq "running running" "$(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(s["cluster"]["state"], s["registry"]["state"])' "${OUT}" 2>&1)" \
    "status reads cluster and registry state from k3d's containers"

  pm stop -t 0 "k3d-${name}-serverlb" >/dev/null
  : >"${calls}"
  run_task k8s:dev:up
  assert_ok "up with the load balancer stopped behind k3d's back"
  assert_contains "$(cat "${calls}")" "node list -o json" "a part not running: up asks k3d for its view"
  assert_contains "$(cat "${calls}")" "cluster start ${name}" "and starts the cluster through k3d"
  assert_eq running "$(pm inspect "k3d-${name}-serverlb" --format '{{.State.Status}}')" "the load balancer runs again"

  run_task k8s:dev:down
  assert_ok "down"
  assert_eq "absent running" "$(pm inspect "k3d-${name}-server-0" --format '{{.State.Status}}' 2>/dev/null || echo absent) $(pm inspect "${registry}" --format '{{.State.Status}}')" \
    "down deleted the cluster and kept the registry"

  run_task k8s:dev:up
  assert_ok "up after down"
  assert_contains "${OUT}" "was missing)" "the cluster is created again"
  assert_contains "${OUT}" "(was running)" "the kept registry is reused"

  run_task k8s:dev:down --registry
  assert_ok "down --registry"
  assert_eq "absent" "$(pm inspect "${registry}" --format '{{.State.Status}}' 2>/dev/null || echo absent)" "down --registry deleted the registry"
}

test_bind_address() {
  k3d_sandbox bind_address || return 0
  export K8S_DEV_BIND_ADDRESS=127.0.0.2 K8S_DEV_REGISTRY="127.0.0.2:${K8S_DEV_REGISTRY_PORT}"
  run_task k8s:dev:up
  assert_eq "127.0.0.2:${K8S_DEV_API_PORT}" "$(pm port "k3d-${K8S_DEV_CLUSTER}-serverlb" 6443 2>/dev/null)" \
    "k3d binds the API port on K8S_DEV_BIND_ADDRESS"
  assert_eq "https://127.0.0.2:${K8S_DEV_API_PORT}" "$(kubeconfig_server)" "the kubeconfig points at that address"
  assert_ok "up with K8S_DEV_BIND_ADDRESS=127.0.0.2 reaches the API server"
}

test_cold_pull() {
  k3d_sandbox cold_pull || return 0
  # A registry slow enough that pulling the k3s image outlasts K8S_DEV_TIMEOUT (20 s): each of
  # the pull's connections waits 8 s (a pull makes at least four). Podman speaks plain HTTP only to registries its configuration calls insecure, so
  # this test runs a Podman service of its own on the same storage with one more such entry.
  local slow_port
  forward 127.0.0.1 "${K8S_DEV_TEST_REGISTRY:-127.0.0.1:5000}" "${SANDBOX}/slow" --delay 8 || return 0
  slow_port="$(cat "${SANDBOX}/slow.port")"
  { cat "${CONTAINERS_REGISTRIES_CONF}"; printf '\n[[registry]]\nlocation = "127.0.0.1:%s"\ninsecure = true\n' "${slow_port}"; } \
    >"${SANDBOX}/registries.conf"
  CONTAINERS_REGISTRIES_CONF="${SANDBOX}/registries.conf" setsid podman system service --time=0 \
    "unix://${SANDBOX}/podman.sock" >"${SANDBOX}/podman.log" 2>&1 </dev/null &
  echo $! >"${SANDBOX}/podman.pid"
  local i
  for ((i = 0; i < 100; i++)); do
    curl -fsS --unix-socket "${SANDBOX}/podman.sock" http://d/_ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  local image="127.0.0.1:${slow_port}/k8s-dev-standin-k3s:${STANDIN_TAG}"
  pm tag "${K8S_DEV_K3S_IMAGE}" "${K8S_DEV_TEST_REGISTRY}/k8s-dev-standin-k3s:${STANDIN_TAG}"
  pm push -q "${K8S_DEV_TEST_REGISTRY}/k8s-dev-standin-k3s:${STANDIN_TAG}" >/dev/null
  pm rmi "${K8S_DEV_TEST_REGISTRY}/k8s-dev-standin-k3s:${STANDIN_TAG}" >/dev/null
  export DOCKER_HOST="unix://${SANDBOX}/podman.sock" K8S_DEV_K3S_IMAGE="${image}" K8S_DEV_TIMEOUT=20s
  local start=${SECONDS}
  run_task k8s:dev:up
  assert_ok "up with a k3s image that takes longer to pull than K8S_DEV_TIMEOUT (20s)"
  assert_not_contains "${ERR}" "deadline exceeded" "k3d's timeout did not run out during the pull"
  assert_contains "${ERR}" "pulling ${image}" "up pulled the image before k3d"
  assert_eq 1 "$((SECONDS - start >= 24))" "the pull really was slow ($((SECONDS - start)) s with it)"
  run_task k8s:dev:down --registry
  pm rmi -f "${image}" >/dev/null 2>&1 || true
}

test_user_kubeconfig() {
  k3d_sandbox user_kubeconfig || return 0
  local user="${SANDBOX}/kube/config" original="${SANDBOX}/kube-original" config="${SANDBOX}/cluster.yaml"
  mkdir -p "${SANDBOX}/kube"
  # A user's file as kubectl would not write it: a comment, flow style, its own key order.
  cat >"${original}" <<'YAML'
# my clusters; keep this comment
kind: Config
apiVersion: v1
current-context: other
contexts:
- {name: other, context: {cluster: other, user: other}}
clusters:
- {name: other, cluster: {server: "https://10.0.0.1:6443"}}
users:
- {name: other, user: {token: not-a-secret}}
YAML
  (umask 077 && cp "${original}" "${user}")
  export KUBECONFIG="${user}" K8S_DEV_SWITCH_CONTEXT=0
  # An adopter's config that asks k3d to write the default kubeconfig and switch to it.
  sed -e 's/updateDefaultKubeconfig: false/updateDefaultKubeconfig: true/' \
    -e 's/switchCurrentContext: false/switchCurrentContext: true/' "${ROOT}/deploy/k3d/cluster.yaml" >"${config}"
  export K8S_DEV_K3D_CONFIG="${config}"
  run_task k8s:dev:up
  assert_ok "up with a k3d config that sets updateDefaultKubeconfig and switchCurrentContext"
  assert_eq "other" "$(kubectl config current-context)" \
    "k3d did not switch the user's context (K8S_DEV_SWITCH_CONTEXT=0; the helper merged without switching)"
  assert_contains "$(kubectl config get-contexts -o name)" "k3d-${K8S_DEV_CLUSTER}" "the helper merged the cluster's context"

  # The user's file without the cluster (as if they had removed it), then down: the helper has
  # nothing to remove there, and k3d's delete must not rewrite it.
  cp "${original}" "${user}"
  local before after
  before="$(stat -c '%i %a' "${user}") $(sha256sum <"${user}")"
  run_task k8s:dev:down
  assert_ok "down"
  assert_contains "${ERR}" "Successfully deleted cluster" "k3d deleted the cluster"
  after="$(stat -c '%i %a' "${user}") $(sha256sum <"${user}")"
  assert_eq "${before}" "${after}" "the user's kubeconfig is byte-identical after down (same inode, mode and content)"
  assert_eq "" "$(find "${SANDBOX}/kube" -name 'config.k3d_*' -o -name '*.lock')" "no temporary or lock file of k3d left beside it"
  assert_eq "" "$(find "${TMPDIR}" -maxdepth 1 -name 'k8s-dev-k3d.*')" "k3d's own kubeconfig went when the task ended"
  run_task k8s:dev:down --registry
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(lifecycle bind_address cold_pull user_kubeconfig)
  run_tests "$@"
}

main "$@"
