#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Security defaults of the cluster tasks, through real mise, the real helper, the recording fake
# k3d (a real registry process) and the real Docker engine:
#   loopback_by_default  every host port in the k3d config k3d receives and the registry are on
#                        127.0.0.1, and that is where the registry really listens
#   exposed_on_request   K8S_DEV_BIND_ADDRESS=0.0.0.0 moves all of them (config and
#                        `k3d registry create --port`); the kubeconfig still dials loopback
#   private_files        ~/.kube 0700 and every kubeconfig 0600, even under umask 000 and
#                        over a world-readable file of the user's
#   no_secrets           no token, client key or certificate in the output of up, status,
#                        status --json, doctor, doctor --json or down
# Prints PASS/FAIL/SKIP lines.
#
# Environment: K8S_DEV_TEST_DOCKER_HOST (engine socket; unset skips), K8S_DEV_TEST_NO_SKIP=1.
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0") [test-name...]   (default: all; see main for names)"
}

# The fake k3d's kubeconfig markers (and what they decode to), and the user's own token.
SECRETS=(RkFLRS1DRVJULURBVEE= RkFLRS1TRUNSRVQtS0VZ FAKE-CERT-DATA FAKE-SECRET-KEY user-token-0123456789)

config_ports() { # -> "API-hostIP API-host LB-port-spec..." of the config k3d received
  python3 -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1])); print(d["kubeAPI"]["hostIP"], d["kubeAPI"]["host"], *[p["port"] for p in d["ports"]])' \
    "${K8S_DEV_FAKE_STATE}/configs/${K8S_DEV_CLUSTER}.yaml"
}

listening_on() { # port -> local addresses listening on it (ss shows the wildcard as *)
  ss -Hltn "sport = :$1" | awk '{print $4}' | sed 's/^\*:/0.0.0.0:/' | sort -u | paste -sd' ' -
}

test_loopback_by_default() {
  engine_sandbox "loopback by default" || return 0
  run_task k8s:dev:up
  assert_ok "up"
  assert_eq "127.0.0.1 127.0.0.1 127.0.0.1:${K8S_DEV_LB_PORT}:30051" "$(config_ports)" \
    "the k3d config binds the API and the load balancer to 127.0.0.1"
  assert_eq "registry create ${K8S_DEV_REGISTRY_NAME} --port 127.0.0.1:${K8S_DEV_REGISTRY_PORT} --default-network ${K8S_DEV_NETWORK}" \
    "$(calls k3d 'c["argv"][:2] == ["registry", "create"]')" "the registry is created on 127.0.0.1"
  assert_eq "127.0.0.1:${K8S_DEV_REGISTRY_PORT}" "$(listening_on "${K8S_DEV_REGISTRY_PORT}")" "the registry listens on loopback only"
}

test_exposed_on_request() {
  engine_sandbox "exposed on request" || return 0
  export K8S_DEV_BIND_ADDRESS=0.0.0.0
  run_task k8s:dev:up
  assert_ok "up with K8S_DEV_BIND_ADDRESS=0.0.0.0"
  assert_eq "0.0.0.0 127.0.0.1 0.0.0.0:${K8S_DEV_LB_PORT}:30051" "$(config_ports)" \
    "0.0.0.0: the config exposes the API and the load balancer; the kubeconfig still dials loopback"
  assert_eq "registry create ${K8S_DEV_REGISTRY_NAME} --port 0.0.0.0:${K8S_DEV_REGISTRY_PORT} --default-network ${K8S_DEV_NETWORK}" \
    "$(calls k3d 'c["argv"][:2] == ["registry", "create"]')" "0.0.0.0: the registry is created on every address"
  assert_eq "0.0.0.0:${K8S_DEV_REGISTRY_PORT}" "$(listening_on "${K8S_DEV_REGISTRY_PORT}")" "0.0.0.0: the registry listens on every address"
  assert_contains "$(python3 -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["clusters"][0]["cluster"]["server"])' "${HOME}/.kube/k3d-${K8S_DEV_CLUSTER}.yaml")" \
    "http://127.0.0.1:" "0.0.0.0: the kubeconfig's server is loopback"
}

test_private_files() {
  engine_sandbox "private files" || return 0
  local name="${K8S_DEV_CLUSTER}"
  (umask 000 && run_task k8s:dev:up && echo "${RC}" >"${SANDBOX}/rc")
  assert_eq 0 "$(cat "${SANDBOX}/rc")" "up under umask 000"
  assert_mode "${HOME}/.kube" 700 "the .kube directory is created 0700 under umask 000"
  assert_mode "${HOME}/.kube/config" 600 "the default kubeconfig is created 0600 under umask 000"
  assert_mode "${HOME}/.kube/k3d-${name}.yaml" 600 "the cluster kubeconfig is 0600 under umask 000"
  local f
  # Files only: kubectl keeps its discovery cache (no credentials) in ~/.kube/cache.
  for f in "${HOME}"/.kube/* "${HOME}"/.kube/.[!.]*; do
    [[ -f "${f}" ]] || continue
    assert_mode "${f}" 600 "${f##*/} in ~/.kube is 0600"
  done

  # The user's own kubeconfig, world-readable: the rewrite makes it (and its backup) private.
  chmod 644 "${HOME}/.kube/config"
  run_task k8s:dev:down
  assert_ok "down over a world-readable kubeconfig"
  assert_mode "${HOME}/.kube/config" 600 "down leaves the rewritten kubeconfig 0600"
  assert_mode "${HOME}/.kube/config.bak" 600 "and its backup 0600"
}

seed_user_kubeconfig() {
  mkdir -p "${HOME}/.kube"
  chmod 700 "${HOME}/.kube"
  cat >"${HOME}/.kube/config" <<'KC'
apiVersion: v1
kind: Config
clusters:
- name: work
  cluster: {server: "https://work.example:6443", certificate-authority-data: RkFLRS1DRVJULURBVEE=}
contexts:
- name: work
  context: {cluster: work, user: me}
current-context: work
users:
- name: me
  user: {token: user-token-0123456789}
KC
  chmod 600 "${HOME}/.kube/config"
}

assert_no_secrets() { # what, text
  local secret leaked=()
  for secret in "${SECRETS[@]}"; do
    [[ "$2" != *"${secret}"* ]] || leaked+=("${secret}")
  done
  assert_eq "" "${leaked[*]}" "$1: no token, key or certificate in the output"
}

test_no_secrets() {
  engine_sandbox "no secrets" || return 0
  seed_user_kubeconfig
  run_task k8s:dev:up
  assert_ok "up"
  # The secrets are there to leak: the cluster's credentials and the user's token.
  assert_contains "$(cat "${HOME}/.kube/config")" "RkFLRS1TRUNSRVQtS0VZ" "the merged kubeconfig holds the cluster's client key"
  assert_contains "$(cat "${HOME}/.kube/config")" "user-token-0123456789" "and the user's token"
  assert_no_secrets "up" "${OUT}${ERR}"
  local args
  for args in "status" "status --json" "doctor" "doctor --json"; do
    # shellcheck disable=SC2086 # args are words
    run_task k8s:dev:${args}
    if [[ "${args}" == doctor* && "${RC}" == 1 ]]; then
      echo "info: ${args} reported failed checks (fine here; only its output is judged)"
    elif [[ "${RC}" != 0 ]]; then
      fail "${args}: exit ${RC}: ${ERR}"
    fi
    [[ -n "${OUT}" ]] || fail "${args}: printed nothing"
    assert_no_secrets "${args}" "${OUT}${ERR}"
  done
  # Readiness waits print the last probe reason, which may quote kubectl: still no secrets.
  run_task k8s:dev:down
  assert_ok "down"
  assert_no_secrets "down" "${OUT}${ERR}"
  assert_contains "$(cat "${HOME}/.kube/config")" "user-token-0123456789" "down keeps the user's own entry"
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(loopback_by_default exposed_on_request private_files no_secrets)
  run_tests "$@"
}

main "$@"
