#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# The images the kit publishes, pulled and run by a real node (tests/support/node.sh: kubelet,
# containerd 2, runc, CNI bridge) of the real control plane: `sync` publishes the gateway image
# three ways, a pod runs each on the node and answers /version at its pod address:
#   helper, zstd layers (the default)   helper, gzip layers   Podman build + push (engine)
# Prints PASS/FAIL/SKIP lines.
#
# Environment: K8S_DEV_TEST_NODE, K8S_DEV_TEST_NODE_TAINT (tests/support/node.sh up),
# K8S_DEV_TEST_KUBECONFIG (cluster.sh up), K8S_DEV_TEST_REGISTRY, K8S_DEV_TEST_PODMAN_HOST
# (engines.sh up); missing ones skip, and fail under K8S_DEV_TEST_NO_SKIP=1.
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0") [test-name...]   (default: all; see DEFAULT_TESTS)"
}

kc() { kubectl --kubeconfig "${K8S_DEV_TEST_KUBECONFIG}" "$@"; }

# A pod of IMAGE on the real node; prints its /version body, or the reason it did not answer.
run_on_node() { # pod name, image
  local taint_key="${K8S_DEV_TEST_NODE_TAINT%%=*}" ip="" body="" i
  kc apply -f - >/dev/null <<POD
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: ${NS}}
spec:
  nodeName: ${K8S_DEV_TEST_NODE}
  tolerations: [{key: ${taint_key}, operator: Exists}]
  containers:
    - name: gateway
      image: $2
      # OpenShell's gateway interface: plaintext only when told so.
      args: ["--bind-address", "0.0.0.0", "--port", "8080", "--health-port", "8081", "--disable-tls"]
POD
  if ! kc wait --for=condition=Ready "pod/$1" -n "${NS}" --timeout=120s >/dev/null 2>&1; then
    kc get pod "$1" -n "${NS}" -o jsonpath='{.status.containerStatuses[0].state}' 2>&1
    return 0
  fi
  ip="$(kc get pod "$1" -n "${NS}" -o jsonpath='{.status.podIP}')"
  for ((i = 0; i < 50; i++)); do
    body="$(curl -fsS -m 2 "http://${ip}:8080/version" 2>/dev/null)" && break
    sleep 0.2
  done
  echo "${body}"
}

test_kit_images_run() {
  local missing=""
  [[ -n "${K8S_DEV_TEST_NODE:-}" ]] || missing+=" K8S_DEV_TEST_NODE (eval \"\$(tests/support/node.sh up)\")"
  [[ -n "${K8S_DEV_TEST_KUBECONFIG:-}" ]] || missing+=" K8S_DEV_TEST_KUBECONFIG (cluster.sh up)"
  [[ -n "${K8S_DEV_TEST_REGISTRY:-}" && -n "${K8S_DEV_TEST_PODMAN_HOST:-}" ]] || missing+=" K8S_DEV_TEST_REGISTRY/K8S_DEV_TEST_PODMAN_HOST (engines.sh up)"
  if [[ -n "${missing}" ]]; then
    skip "kit_images_run: not set:${missing}"
    return 0
  fi
  sandbox_setup
  NS="rn-$$"
  kc create namespace "${NS}" >/dev/null
  export K8S_DEV_REGISTRY="${K8S_DEV_TEST_REGISTRY}" K8S_DEV_STATE_DIR="${SANDBOX}/state"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
  local variant image body base
  # The supervisor's Dockerfile has RUN steps, which need an engine and a base it can pull.
  export DOCKER_HOST="${K8S_DEV_TEST_PODMAN_HOST}"
  base="$(busybox_base "${K8S_DEV_TEST_REGISTRY}")" || { fail "publishing the busybox base"; return 0; }
  export K8S_DEV_SUPERVISOR_BUILD_ARGS="SUPERVISOR_BASE_IMAGE=${base}"
  for variant in zstd gzip podman; do
    image="rn-$$-${variant}"
    case "${variant}" in
      podman) K8S_DEV_IMAGE_BUILDER=engine K8S_DEV_GATEWAY_IMAGE="${image}" run_task k8s:dev:sync ;;
      *) K8S_DEV_IMAGE_COMPRESSION="${variant}" K8S_DEV_GATEWAY_IMAGE="${image}" run_task k8s:dev:sync ;;
    esac
    assert_ok "sync publishes the gateway image (${variant})"
    body="$(run_on_node "gw-${variant}" "${K8S_DEV_TEST_REGISTRY}/${image}:dev")"
    assert_contains "${body}" '"name":"openshell-gateway"' \
      "the ${variant} gateway image is pulled by containerd, runs on the real node and answers /version"
  done
  kc delete namespace "${NS}" --timeout=120s >/dev/null 2>&1 || true
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(kit_images_run)
  run_tests "$@"
}

main "$@"
