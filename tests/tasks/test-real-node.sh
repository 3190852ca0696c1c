#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# The images the kit publishes, pulled and run by a real node (tests/support/node.sh: kubelet,
# containerd 2, runc, CNI bridge) of the real control plane: `sync` publishes the gateway image
# three ways, a pod runs each on the node and answers /version at its pod address:
#   helper, zstd layers (the default)   helper, gzip layers   Podman build + push (engine)
# and (service_answers) a pod of the gateway image behind a ClusterIP and a NodePort Service
# answers /version from this host through the node's kube-proxy (iptables).
# Prints PASS/FAIL/SKIP lines.
#
# Environment: K8S_DEV_TEST_NODE, K8S_DEV_TEST_NODE_TAINT, K8S_DEV_TEST_NODE_PROXY,
# K8S_DEV_NODE_STATE (tests/support/node.sh up),
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

# The node's environment, else a skip line naming what is missing and 1.
node_env() { # test name
  local missing=""
  [[ -n "${K8S_DEV_TEST_NODE:-}" ]] || missing+=" K8S_DEV_TEST_NODE (eval \"\$(tests/support/node.sh up)\")"
  [[ -n "${K8S_DEV_TEST_KUBECONFIG:-}" ]] || missing+=" K8S_DEV_TEST_KUBECONFIG (cluster.sh up)"
  [[ -n "${K8S_DEV_TEST_REGISTRY:-}" && -n "${K8S_DEV_TEST_PODMAN_HOST:-}" ]] || missing+=" K8S_DEV_TEST_REGISTRY/K8S_DEV_TEST_PODMAN_HOST (engines.sh up)"
  if [[ -n "${missing}" ]]; then
    skip "$1: not set:${missing}"
    return 1
  fi
}

# A sandbox whose syncs publish to the engines' registry, and a namespace NS for the test's pods.
# The supervisor's Dockerfile has RUN steps: an engine (Podman) builds them, from a base it can
# pull (this machine reaches no public registry). Returns 1 after a fail line.
node_sandbox() { # namespace
  sandbox_setup
  NS="$1"
  kc create namespace "${NS}" >/dev/null
  export K8S_DEV_REGISTRY="${K8S_DEV_TEST_REGISTRY}" K8S_DEV_STATE_DIR="${SANDBOX}/state"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
  export DOCKER_HOST="${K8S_DEV_TEST_PODMAN_HOST}"
  local base
  base="$(busybox_base "${K8S_DEV_TEST_REGISTRY}")" || { fail "publishing the busybox base"; return 1; }
  export K8S_DEV_SUPERVISOR_BUILD_ARGS="SUPERVISOR_BASE_IMAGE=${base}"
}

test_kit_images_run() {
  node_env kit_images_run || return 0
  node_sandbox "rn-$$" || return 0
  local variant image body
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

# A GET through a Service address, retried while kube-proxy syncs its rules; the body or the
# last error.
get_version() { # host:port
  local body="" i
  for ((i = 0; i < 60; i++)); do
    body="$(curl -fsS -m 2 "http://$1/version" 2>&1)" && break
    sleep 0.5
  done
  echo "${body}"
}

# What a failed Service check needs to be understood: the endpoints, kube-proxy's last words.
service_state() { # body
  [[ "$1" != *'"name":"openshell-gateway"'* ]] || return 0
  printf ' [endpoints: %s; kube-proxy: %s]' \
    "$(kc get endpointslices -n "${NS}" -o jsonpath='{range .items[*]}{.metadata.name}={.endpoints[*].addresses} ready={.endpoints[*].conditions.ready} {end}' 2>&1)" \
    "$(tail -n 2 "${K8S_DEV_NODE_STATE:-/nonexistent}/kube-proxy.log" 2>&1 | tr '\n' ' ')"
}

test_service_answers() {
  node_env service_answers || return 0
  if [[ -z "${K8S_DEV_TEST_NODE_PROXY:-}" ]]; then
    skip "service_answers: the node runs no kube-proxy: $(cat "${K8S_DEV_NODE_STATE:-/nonexistent}/kube-proxy.reason" 2>/dev/null || echo "K8S_DEV_TEST_NODE_PROXY not set (tests/support/node.sh up)")"
    return 0
  fi
  node_sandbox "rs-$$" || return 0
  local image="rs-$$-gateway" body cluster_ip node_port
  K8S_DEV_GATEWAY_IMAGE="${image}" run_task k8s:dev:sync
  assert_ok "sync publishes the gateway image"
  body="$(run_on_node gw "${K8S_DEV_TEST_REGISTRY}/${image}:dev")"
  assert_contains "${body}" '"name":"openshell-gateway"' "the gateway pod runs on the real node"
  kc label pod gw -n "${NS}" app=rs-gw >/dev/null
  kc apply -f - >/dev/null <<SVC
apiVersion: v1
kind: Service
metadata: {name: gw, namespace: ${NS}}
spec:
  selector: {app: rs-gw}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: gw-np, namespace: ${NS}}
spec:
  type: NodePort
  selector: {app: rs-gw}
  ports: [{port: 8080, targetPort: 8080}]
SVC
  cluster_ip="$(kc get service gw -n "${NS}" -o jsonpath='{.spec.clusterIP}')"
  node_port="$(kc get service gw-np -n "${NS}" -o jsonpath='{.spec.ports[0].nodePort}')"
  body="$(get_version "${cluster_ip}:80")"
  assert_contains "${body}" '"name":"openshell-gateway"' \
    "the ClusterIP Service ${cluster_ip}:80 answers from the host (kube-proxy DNATs to the pod)$(service_state "${body}")"
  body="$(get_version "127.0.0.1:${node_port}")"
  assert_contains "${body}" '"name":"openshell-gateway"' \
    "the NodePort Service answers on 127.0.0.1:${node_port}$(service_state "${body}")"
  assert_contains "$(kc logs gw -n "${NS}" 2>&1)" "listening: api http://0.0.0.0:8080" \
    "kubectl logs reaches the kubelet (the API server dials the node's address)"
  # A second node on this host (another kubelet) must not kill this one's containers.
  assert_eq 0 "$(kc get pod gw -n "${NS}" -o jsonpath='{.status.containerStatuses[0].restartCount}')" \
    "the gateway container was never restarted"
  kc delete namespace "${NS}" --timeout=120s >/dev/null 2>&1 || true
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(kit_images_run service_answers)
  run_tests "$@"
}

main "$@"
