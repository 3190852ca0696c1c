#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# A sandbox for the real k3d on Podman, sourced after tests/tasks/testing.sh by
# tests/tasks/test-real-k3d.sh and bench/tasks.sh: k3d_sandbox NAME puts the real k3d and kubectl
# first on PATH (the fakes off it), builds the stand-in images of tests/support/k3d-standins.sh
# (a "k3s" whose load balancer forwards to the control plane of tests/support/cluster.sh) and
# exports what makes k3d and the kit use them; k3d_cleanup removes whatever k3d and the sandbox
# made. Needs K8S_DEV_TEST_PODMAN_HOST and K8S_DEV_TEST_KUBECONFIG; without them, or without the
# real k3d, busybox or docker-registry, k3d_sandbox skips (testing.sh's skip) and returns 1.

# Podman CLI on the engine under test.
pm() { podman --url "${DOCKER_HOST}" "$@"; }

k3d_sandbox() { # test name
  local missing=""
  [[ -n "${K8S_DEV_TEST_PODMAN_HOST:-}" ]] || missing+=" K8S_DEV_TEST_PODMAN_HOST (eval \"\$(tests/support/engines.sh up)\")"
  [[ -n "${K8S_DEV_TEST_KUBECONFIG:-}" ]] || missing+=" K8S_DEV_TEST_KUBECONFIG (eval \"\$(tests/support/cluster.sh up)\")"
  if [[ -n "${missing}" ]]; then
    skip "$1: not set:${missing}"
    return 1
  fi
  local tool
  for tool in busybox docker-registry; do
    if ! command -v "${tool}" >/dev/null 2>&1; then
      skip "$1: ${tool} not found; apt-get install busybox-static docker-registry"
      return 1
    fi
  done
  export K8S_DEV_TOOLS_CACHE="${K8S_DEV_TOOLS_CACHE:-${HOME}/.cache/k8s-dev-tools}"
  sandbox_setup
  trap k3d_cleanup EXIT
  local path="" dir
  while read -r -d: dir; do
    [[ "${dir}" == "${ROOT}/tests/fakes" ]] || path+="${dir}:"
  done <<<"${PATH}:"
  export PATH="${path%:}"
  eval "$("${ROOT}/tests/support/tools.sh" env k3d kubectl 2>/dev/null)"
  if [[ "$(k3d version 2>/dev/null)" != *"k3d version v5"* ]]; then
    skip "$1: the real k3d is not built; run: tests/support/tools.sh build k3d"
    return 1
  fi
  export DOCKER_HOST="${K8S_DEV_TEST_PODMAN_HOST}" K8S_DEV_ENGINE=podman
  # The harness has one node: a server and no agents.
  export K8S_DEV_AGENTS=0 K8S_DEV_TIMEOUT=60s
  STANDIN_TAG="t$$"
  # The cluster network first: the load balancer forwards to the control plane through its
  # gateway, where the forwarder listens (the API server listens on the host's loopback only).
  # Netavark brings the network's bridge up with its first container: the keeper.
  pm network create "${K8S_DEV_NETWORK}" >/dev/null
  local gateway api port
  gateway="$(pm network inspect "${K8S_DEV_NETWORK}" --format '{{range .Subnets}}{{.Gateway}}{{end}}')"
  api="$(kubectl --kubeconfig "${K8S_DEV_TEST_KUBECONFIG}" config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
  api="${api#https://}"
  port="$(free_port)"
  "${ROOT}/tests/support/k3d-standins.sh" registry "${DOCKER_HOST}"
  eval "$("${ROOT}/tests/support/k3d-standins.sh" cluster "${DOCKER_HOST}" "${K8S_DEV_TEST_KUBECONFIG}" \
    "${gateway}:${port}" "${STANDIN_TAG}")"
  pm run -d --name "k8s-dev-keeper-${STANDIN_TAG}" --network "${K8S_DEV_NETWORK}" "${K3D_IMAGE_TOOLS}" >/dev/null
  forward "${gateway}" "${api}" "${SANDBOX}/api-forward" --port "${port}" || return 1
}

# tcp-forward.py under the sandbox: NAME.pid and NAME.port; returns once it listens.
forward() { # listen host, target host:port, name, [forwarder flags...]
  local name="$3" i
  python3 "${ROOT}/tests/support/tcp-forward.py" "$1" "$2" --port-file "${name}.port" "${@:4}" >"${name}.log" 2>&1 &
  echo $! >"${name}.pid"
  for ((i = 0; i < 50; i++)); do
    [[ -s "${name}.port" ]] && return 0
    sleep 0.1
  done
  fail "the forwarder to $2 did not start: $(cat "${name}.log")"
  return 1
}

# What k3d and the test made goes, whatever the test left: cluster, registry, network, images.
k3d_cleanup() {
  if [[ -n "${SANDBOX:-}" ]]; then
    k3d cluster delete "${K8S_DEV_CLUSTER}" >/dev/null 2>&1 || true
    k3d registry delete "${K8S_DEV_REGISTRY_NAME}" >/dev/null 2>&1 || true
    pm rm -f -t 0 "k8s-dev-keeper-${STANDIN_TAG:-none}" >/dev/null 2>&1 || true
    pm network rm -f "${K8S_DEV_NETWORK}" >/dev/null 2>&1 || true
    pm rmi -f "localhost/k8s-dev-standin-k3s:${STANDIN_TAG:-none}" "localhost/k8s-dev-standin-proxy:${STANDIN_TAG:-none}" \
      "localhost/k8s-dev-standin-tools:${STANDIN_TAG:-none}" >/dev/null 2>&1 || true
  fi
  sandbox_cleanup
}

