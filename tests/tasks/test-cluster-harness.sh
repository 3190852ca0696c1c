#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Tests of the control-plane harness itself (tests/support/cluster.sh), each with a private
# state directory and ports next to the harness the other suites use:
#   missing_binary  a component without its binary fails at once, naming it and the build
#                   command, with nothing started
#   port_taken      the API server's port held by another program: fails naming the component
#                   and the port, nothing left running
#   up_down         up gives a Ready node, a working kubeconfig and a default StorageClass whose
#                   claims bind; down leaves no process and no listening port; a second down is
#                   a no-op
#   restart_one     a killed component comes back alone on `up`, with its ports
#   port_taken_before_check
#                   kwok's port taken by another program after `up` picked it, before `up`
#                   checks its ports: kwok gets a new one
# Prints PASS/FAIL/SKIP lines.
#
# Environment: the binaries in tests/support/tools.sh's cache or on PATH (missing ones skip; a
# skip fails under K8S_DEV_TEST_NO_SKIP=1).
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

HARNESS="${ROOT}/tests/support/cluster.sh"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

usage() {
  echo "Usage: $(basename "$0") [test-name...]   (default: all; see DEFAULT_TESTS)"
}

# The tools cache and PATH as the harness searches them.
binaries_present() {
  local tool
  for tool in etcd kubernetes kwok; do
    "${ROOT}/tests/support/tools.sh" path "${tool}" >/dev/null 2>&1 && continue
    case "${tool}" in kubernetes) command -v kube-apiserver ;; *) command -v "${tool}" ;; esac >/dev/null 2>&1 || return 1
  done
}

harness_sandbox() { # test name
  if ! binaries_present; then
    skip "$1: control-plane binaries not built; run: tests/support/tools.sh build etcd kubernetes kwok"
    return 1
  fi
  # The tools cache lives under the caller's HOME, which the sandbox replaces.
  export K8S_DEV_TOOLS_CACHE="${K8S_DEV_TOOLS_CACHE:-${HOME}/.cache/k8s-dev-tools}"
  sandbox_setup
  export K8S_DEV_CLUSTER_STATE="${SANDBOX}/cluster"
  unset K8S_DEV_CLUSTER_API_PORT
  trap harness_cleanup EXIT
}

harness_cleanup() {
  "${HARNESS}" down >/dev/null 2>&1 || true
  sandbox_cleanup
}

run_harness() { # args...
  RC=0
  "${HARNESS}" "$@" >"${SANDBOX}/harness.out" 2>"${SANDBOX}/harness.err" || RC=$?
  OUT="$(cat "${SANDBOX}/harness.out")"
  ERR="$(cat "${SANDBOX}/harness.err")"
}

# PIDs in the harness's PID files that still run.
live_pids() {
  local f
  for f in "${K8S_DEV_CLUSTER_STATE}"/*.pid; do
    [[ -s "${f}" ]] && kill -0 "$(cat "${f}")" 2>/dev/null && cat "${f}"
  done
  return 0
}

test_missing_binary() {
  harness_sandbox missing_binary || return 0
  local dir path="" b
  while read -r -d: dir; do
    for b in "${BINARIES[@]}"; do [[ -x "${dir}/${b}" ]] && continue 2; done
    path+="${dir}:"
  done <<<"${PATH}:"
  local start=${SECONDS}
  PATH="${path%:}" K8S_DEV_TOOLS_CACHE="${SANDBOX}/empty-cache" run_harness up
  assert_eq 1 "${RC}" "up without etcd fails"
  assert_contains "${ERR}" "error: etcd: not found" "the error names the component"
  assert_contains "${ERR}" "tests/support/tools.sh build etcd" "and the command that builds it"
  assert_eq 1 "$((SECONDS - start < 5))" "at once ($((SECONDS - start)) s)"
  assert_eq "" "$(live_pids)" "nothing was started"
}

test_port_taken() {
  harness_sandbox port_taken || return 0
  local port
  port="$(free_port)"
  hold_port "${port}"
  K8S_DEV_CLUSTER_API_PORT="${port}" run_harness up
  assert_eq 1 "${RC}" "up with the API server's port taken fails"
  assert_contains "${ERR}" "kube-apiserver: 127.0.0.1:${port} is already in use" "the error names the component and the port"
  assert_eq "" "$(live_pids)" "nothing is left running"
  release_port "${port}"
}

test_up_down() {
  harness_sandbox up_down || return 0
  run_harness up
  assert_ok "up starts the control plane"
  local kubeconfig context pids
  kubeconfig="$(sed -n 's/^export K8S_DEV_TEST_KUBECONFIG=//p' <<<"${OUT}")"
  context="$(sed -n 's/^export K8S_DEV_TEST_CONTEXT=//p' <<<"${OUT}")"
  assert_mode "${kubeconfig}" 600 "the admin kubeconfig is private"
  assert_eq "kwok-node-0 True" \
    "$(kubectl --kubeconfig "${kubeconfig}" --context "${context}" get nodes -o jsonpath='{.items[0].metadata.name} {.items[0].status.conditions[?(@.type=="Ready")].status}')" \
    "the admin kubeconfig reaches the API server; kwok's node is Ready"
  assert_eq "v1.34" "$(kubectl --kubeconfig "${kubeconfig}" version -o json 2>/dev/null | python3 -c 'import json,sys; v=json.load(sys.stdin)["serverVersion"]["gitVersion"]; print(v[:5])')" \
    "the API server reports its stamped version"
  # A claim of the default class binds, as on k3s: the chart's StatefulSet claims one.
  kubectl --kubeconfig "${kubeconfig}" --context "${context}" apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: harness-claim, namespace: default}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
YAML
  local i phase=""
  for ((i = 0; i < 100; i++)); do
    phase="$(kubectl --kubeconfig "${kubeconfig}" --context "${context}" get pvc harness-claim -n default -o jsonpath='{.status.phase}')"
    [[ "${phase}" == Bound ]] && break
    sleep 0.2
  done
  assert_eq Bound "${phase}" "a claim of the default StorageClass is bound"
  kubectl --kubeconfig "${kubeconfig}" --context "${context}" delete pvc harness-claim -n default --wait=false >/dev/null
  assert_eq 5 "$(grep -c ': running' <<<"$("${HARNESS}" status)")" "status: all five components run"
  pids="$(live_pids | tr '\n' ' ')"
  local ports
  ports="$(sed -n 's/^[A-Z_]*_PORT=//p' "${K8S_DEV_CLUSTER_STATE}/ports.env" | tr '\n' ' ')"
  assert_eq 6 "$(wc -w <<<"${ports}")" "the state records the six ports"
  run_harness down
  assert_ok "down"
  local pid left="" port listening=""
  # A zombie (exited, not yet reaped by init) runs nothing.
  for pid in ${pids}; do [[ "$(ps -o stat= -p "${pid}" 2>/dev/null)" =~ ^[^Z] ]] && left+=" ${pid}"; done
  assert_eq "" "${left}" "down leaves no process"
  for port in ${ports}; do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.5)' "${port}" 2>/dev/null && listening+=" ${port}"
  done
  assert_eq "" "${listening}" "down leaves no listening port"
  run_harness down
  assert_ok "a second down is a no-op"
}

test_restart_one() {
  harness_sandbox restart_one || return 0
  run_harness up
  assert_ok "up"
  local etcd_pid old_pid api_port
  etcd_pid="$(cat "${K8S_DEV_CLUSTER_STATE}/etcd.pid")"
  old_pid="$(cat "${K8S_DEV_CLUSTER_STATE}/kube-controller-manager.pid")"
  api_port="$(sed -n 's/^API_PORT=//p' "${K8S_DEV_CLUSTER_STATE}/ports.env")"
  kill -KILL "${old_pid}"
  local i
  for ((i = 0; i < 50; i++)); do
    [[ "$(ps -o stat= -p "${old_pid}" 2>/dev/null)" == "" || "$(ps -o stat= -p "${old_pid}")" == Z* ]] && break
    sleep 0.1
  done
  run_harness up
  assert_ok "up after kube-controller-manager was killed"
  assert_contains "${ERR}" "kube-controller-manager ready" "it starts the killed component"
  assert_not_contains "${ERR}" "etcd ready" "and leaves the running ones alone"
  assert_eq "${etcd_pid} ${api_port}" "$(cat "${K8S_DEV_CLUSTER_STATE}/etcd.pid") $(sed -n 's/^API_PORT=//p' "${K8S_DEV_CLUSTER_STATE}/ports.env")" \
    "same etcd, same API server port"
}

# Another program binds kwok's port once FILE of the state exists (ports.env: before up checks
# its ports), as a test of another engineer may on a busy machine.
port_taken_after() { # test name, file
  harness_sandbox "$1" || return 0
  python3 - "${K8S_DEV_CLUSTER_STATE}" "$2" >"${SANDBOX}/taker.log" 2>&1 <<'PY' &
import os, socket, sys, time
state, trigger = sys.argv[1:]
for _ in range(1200):
    try:
        if os.path.exists(os.path.join(state, trigger)):
            port = int(dict(l.split("=", 1) for l in open(os.path.join(state, "ports.env")).read().split())["KWOK_PORT"])
            break
    except (OSError, KeyError, ValueError):
        pass
    time.sleep(0.02)
s = socket.socket()
s.bind(("127.0.0.1", port))
s.listen()
print(port, flush=True)
time.sleep(120)
PY
  echo $! >"${SANDBOX}/taker.pid"
  run_harness up
  assert_ok "up, though kwok's port was taken after it was picked (once ${2} existed)"
  local taken
  taken="$(cat "${SANDBOX}/taker.log")"
  assert_contains "${ERR}" "kwok: a port was taken since it was picked" "up says why kwok moved"
  assert_eq 1 "$(($(sed -n 's/^KWOK_PORT=//p' "${K8S_DEV_CLUSTER_STATE}/ports.env") != taken))" \
    "kwok runs on another port than the taken ${taken}, and the state records it"
  kill "$(cat "${SANDBOX}/taker.pid")" 2>/dev/null || true
}

test_port_taken_before_check() { port_taken_after port_taken_before_check ports.env; }

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(missing_binary port_taken up_down restart_one port_taken_before_check)
  run_tests "$@"
}

main "$@"
