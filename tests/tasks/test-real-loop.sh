#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# The inner loop for real, on the real node of tests/support/node.sh (kubelet, containerd 2,
# runc, CNI bridge, kube-proxy) of the real control plane (tests/support/cluster.sh), in remote
# mode (K8S_DEV_CONTEXT) through real mise, helm and kubectl:
#   node_loop  bootstrap publishes the stand-in's images and installs the chart with the gateway
#              pinned to the real node (a values file of this test: nodeSelector and toleration;
#              the chart's defaults stay as they are); its pod pulls from the registry, gets
#              Ready (its /readyz lists pods through the `kubernetes` Service) and answers
#              /version on its NodePort from this host; a sandbox created through that API runs
#              on the real node (supervisor sideloaded by its init container). Then a one-line change of the version
#              string, `sync` (publish) and `bootstrap` with K8S_DEV_SKIP_SYNC=1 (roll out what
#              sync published) replace the pod, and the NodePort serves the new version. Prints
#              the seconds of each step and of edit -> serving.
#   node_watch `mise run k8s:dev:watch` (real Skaffold and helm) deploys the gateway onto the real
#              node, answering /version on its NodePort; a one-line change of the version string
#              rolls out a pod serving the new version (the seconds of edit -> serving are
#              printed); Ctrl-C ends Skaffold, which uninstalls the release.
#   containerd_restart
#              the node's containerd restarted (node.sh restart-containerd, by PID) while
#              bootstrap rolls out a new gateway, when the new pod's sandbox is being made: the
#              rollout completes and the NodePort serves the new version, or bootstrap fails
#              within K8S_DEV_TIMEOUT naming the workload it waited for and a second bootstrap
#              completes it. Which of the two happened is printed.
#   pull_fault the registry the node pulls from (a forwarder to the engines' registry) killed
#              while containerd pulls the gateway image: bootstrap fails, and `status` (text and
#              --json) shows the pod's ErrImagePull/ImagePullBackOff reason naming the registry.
# The change is made in a copy of the workspace (never in this tree), built into its own
# target directory (K8S_DEV_TEST_LOOP_TARGET_DIR), so the tree's binaries stay as they are; a
# new one is seeded with a copy of the tree's build of the same target (seed_loop_target), so
# the dependencies are not built twice.
# Prints PASS/FAIL/SKIP lines.
#
# Environment: K8S_DEV_TEST_NODE, K8S_DEV_TEST_NODE_TAINT, K8S_DEV_TEST_NODE_PROXY,
# K8S_DEV_NODE_STATE (tests/support/node.sh up), K8S_DEV_TEST_KUBECONFIG, K8S_DEV_TEST_CONTEXT
# (cluster.sh up), K8S_DEV_TEST_REGISTRY, K8S_DEV_TEST_PODMAN_HOST (engines.sh up); missing
# ones skip, and fail under K8S_DEV_TEST_NO_SKIP=1.
#   K8S_DEV_TEST_LOOP_TARGET_DIR  cargo target directory of the copy (default:
#                                 $CARGO_TARGET_DIR, else <repo>/target, + /k8s-dev-real-loop)
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0") [test-name...]   (default: all; see DEFAULT_TESTS)"
}

# The line of the stand-in's version that the test changes, and what it becomes.
VERSION_FILE=example/gateway/src/version.rs
VERSION_LINE='    version: env!("CARGO_PKG_VERSION"),'

kc() { kubectl --context "${K8S_DEV_CONTEXT}" "$@"; }

# The real node and control plane, else a skip line naming what is missing and 1.
loop_env() { # test name
  local missing=""
  [[ -n "${K8S_DEV_TEST_NODE:-}" ]] || missing+=" K8S_DEV_TEST_NODE (eval \"\$(tests/support/node.sh up)\")"
  [[ -n "${K8S_DEV_TEST_KUBECONFIG:-}" && -n "${K8S_DEV_TEST_CONTEXT:-}" ]] \
    || missing+=" K8S_DEV_TEST_KUBECONFIG/K8S_DEV_TEST_CONTEXT (eval \"\$(tests/support/cluster.sh up)\")"
  [[ -n "${K8S_DEV_TEST_REGISTRY:-}" && -n "${K8S_DEV_TEST_PODMAN_HOST:-}" ]] \
    || missing+=" K8S_DEV_TEST_REGISTRY/K8S_DEV_TEST_PODMAN_HOST (eval \"\$(tests/support/engines.sh up)\")"
  if [[ -n "${missing}" ]]; then
    skip "$1: not set:${missing}"
    return 1
  fi
  if [[ -z "${K8S_DEV_TEST_NODE_PROXY:-}" ]]; then
    skip "$1: the node runs no kube-proxy, so no NodePort answers: $(cat "${K8S_DEV_NODE_STATE:-/nonexistent}/kube-proxy.reason" 2>/dev/null || echo "K8S_DEV_TEST_NODE_PROXY not set (tests/support/node.sh up)")"
    return 1
  fi
}

# The sandbox in remote mode against the harness, real helm and kubectl first on PATH (the
# recording fakes taken off it), the tasks run from a copy of the workspace.
loop_sandbox() {
  export K8S_DEV_TOOLS_CACHE="${K8S_DEV_TOOLS_CACHE:-${HOME}/.cache/k8s-dev-tools}"
  local target="${K8S_DEV_TEST_LOOP_TARGET_DIR:-${CARGO_TARGET_DIR:-${ROOT}/target}/k8s-dev-real-loop}"
  seed_loop_target "${CARGO_TARGET_DIR:-${ROOT}/target}" "${target}"
  sandbox_setup
  local path="" dir tool
  while read -r -d: dir; do
    [[ "${dir}" == "${ROOT}/tests/fakes" ]] || path+="${dir}:"
  done <<<"${PATH}:"
  export PATH="${path%:}"
  eval "$("${ROOT}/tests/support/tools.sh" env helm kubectl 2>/dev/null)"
  for tool in helm kubectl; do
    command -v "${tool}" >/dev/null 2>&1 || { fail "node_loop: ${tool} not found; run: tests/support/tools.sh build ${tool}"; return 1; }
  done
  TASK_DIR="${SANDBOX}/ws"
  mkdir -p "${TASK_DIR}"
  tar -C "${ROOT}" --exclude=./target --exclude=./.git --exclude=./.cache -cf - . | tar -C "${TASK_DIR}" -xf -
  # The copy keeps the tree's mtimes, and the target directory last built this file changed
  # (the previous run): newer than that build, cargo rebuilds it instead of reusing that binary.
  touch "${TASK_DIR}/${VERSION_FILE}"
  export MISE_TRUSTED_CONFIG_PATHS="${ROOT}:${TASK_DIR}" CARGO_TARGET_DIR="${target}"
  export KUBECONFIG="${SANDBOX}/kubeconfig"
  (umask 077 && cp "${K8S_DEV_TEST_KUBECONFIG}" "${KUBECONFIG}")
  export K8S_DEV_CONTEXT="${K8S_DEV_TEST_CONTEXT}"
  export K8S_DEV_REGISTRY="${K8S_DEV_TEST_REGISTRY}" K8S_DEV_REGISTRY_PULL="${K8S_DEV_TEST_REGISTRY}"
  export K8S_DEV_NAMESPACE="rl-$$-${RANDOM}"
  export K8S_DEV_SANDBOX_NAMESPACE="${K8S_DEV_NAMESPACE}"
  export K8S_DEV_GATEWAY_IMAGE="rl-$$-gateway" K8S_DEV_SUPERVISOR_IMAGE="rl-$$-supervisor"
  export K8S_DEV_STATE_DIR="${SANDBOX}/state"
  # Cold: the first build of the copy's target directory, the first pull of the images.
  export K8S_DEV_TIMEOUT=300s
  # The supervisor's Dockerfile has RUN steps: an engine builds them, from a base it can pull.
  export DOCKER_HOST="${K8S_DEV_TEST_PODMAN_HOST}"
  local base
  base="$(busybox_base "${K8S_DEV_TEST_REGISTRY}")" || { fail "node_loop: publishing the busybox base"; return 1; }
  export K8S_DEV_SUPERVISOR_BUILD_ARGS="SUPERVISOR_BASE_IMAGE=${base}"
  # A node port of this test's own: node ports are cluster-wide.
  export K8S_DEV_SERVICE_TYPE=NodePort K8S_DEV_NODEPORT=$((30000 + RANDOM % 2768))
  trap loop_cleanup EXIT
}

# The copy's target directory, on its first use, starts as a copy of what the tree's target
# directory holds for the same build: sync's static build for the host triple (which the example
# image and bootstrap tests make in the tree) and the host side (build scripts, proc macros).
# cargo then reuses the dependencies and builds only the copy's own crates, whose other path
# gives them other artifact names. Copied, not linked: nothing cargo does in the copy's target
# directory can change the tree's binaries. Without such a build in the tree, nothing is seeded.
seed_loop_target() { # tree target dir, loop target dir
  local tree="$1" target="$2" triple dir part
  [[ ! -e "${target}" ]] || return 0
  triple="$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')"
  [[ -n "${triple}" && -d "${tree}/${triple}/debug/deps" && -d "${tree}/debug/deps" ]] || return 0
  rm -rf "${target}.seed"
  for dir in "${triple}/debug" debug; do
    for part in deps build .fingerprint; do
      [[ -d "${tree}/${dir}/${part}" ]] || continue
      mkdir -p "${target}.seed/${dir}"
      cp -a "${tree}/${dir}/${part}" "${target}.seed/${dir}/" || { rm -rf "${target}.seed"; return 0; }
    done
  done
  mv "${target}.seed" "${target}"
  echo "seeded ${target} from ${tree} (${triple}/debug and debug: deps, build, .fingerprint)"
}

loop_cleanup() {
  [[ -z "${K8S_DEV_NAMESPACE:-}" ]] \
    || kc delete namespace "${K8S_DEV_NAMESPACE}" --ignore-not-found --timeout=120s >/dev/null 2>&1 || true
  sandbox_cleanup
}

# The dev values, plus the gateway pinned to the real node (tainted so that only pods asking
# for it run there).
node_values() {
  local file="${SANDBOX}/values-node.yaml"
  {
    cat "${ROOT}/deploy/values/dev.yaml"
    printf 'nodeSelector:\n  kubernetes.io/hostname: "%s"\n' "${K8S_DEV_TEST_NODE}"
    printf 'tolerations:\n  - {key: "%s", operator: Exists, effect: NoSchedule}\n' "${K8S_DEV_TEST_NODE_TAINT%%=*}"
  } >"${file}"
  echo "${file}"
}

# The gateway's /version on its NodePort, once it reports VERSION (bounded), else the last answer.
await_version() { # version, seconds
  local body="" deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    body="$(curl -fsS -m 2 "http://127.0.0.1:${K8S_DEV_NODEPORT}/version" 2>&1)" || true
    [[ "${body}" == *"\"version\":\"$1\""* ]] && break
    sleep 0.2
  done
  echo "${body}"
}

# The one-line change: the stand-in's version string, in the copy; 1 after a fail line when the
# line is not there.
change_version() { # version
  sed -i "s|^${VERSION_LINE}\$|    version: \"$1\",|" "${TASK_DIR}/${VERSION_FILE}"
  grep -qF "version: \"$1\"," "${TASK_DIR}/${VERSION_FILE}" && return 0
  fail "no line '${VERSION_LINE}' in ${VERSION_FILE} to change; update VERSION_LINE in $0"
  return 1
}

gateway_pod() { # field (jsonpath)
  kc get pod openshell-0 -n "${K8S_DEV_NAMESPACE}" -o jsonpath="$1" 2>/dev/null
}

# Where a pod that did not come up stands: its phase, conditions and container states.
pod_state() {
  echo " [pod: $(gateway_pod '{.spec.nodeName} {.status.phase} {.status.containerStatuses[0].state} {.status.containerStatuses[0].lastState}')]"
}

now_ms() { date +%s%3N; }
seconds_since() { # start ms
  local ms=$(($(now_ms) - $1))
  printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}

test_node_loop() {
  loop_env node_loop || return 0
  loop_sandbox || return 0
  local version new_version body t0 t uid image
  # The workspace's version, which the stand-in's crates inherit.
  version="$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\([^"]*\)"/\1/p' "${TASK_DIR}/Cargo.toml")"
  K8S_DEV_VALUES="$(node_values)"
  export K8S_DEV_VALUES

  t0="$(now_ms)"
  run_task k8s:dev:bootstrap
  assert_ok "bootstrap (sync, helm install, rollout wait) with the gateway on the real node"
  echo "timing: first bootstrap $(seconds_since "${t0}") s (cargo build of the copy included)"
  assert_eq "${K8S_DEV_TEST_NODE} True" "$(gateway_pod '{.spec.nodeName} {.status.conditions[?(@.type=="Ready")].status}')" \
    "the gateway pod runs on the real node and is Ready (its /readyz reaches the API server)$(pod_state)"
  image="$(gateway_pod '{.status.containerStatuses[0].imageID}')"
  assert_contains "${image}" "${K8S_DEV_TEST_REGISTRY}/${K8S_DEV_GATEWAY_IMAGE}@sha256:" \
    "containerd pulled the gateway image from the registry"
  body="$(await_version "${version}" 30)"
  assert_contains "${body}" "\"name\":\"openshell-gateway\",\"version\":\"${version}\"" \
    "the gateway answers /version on NodePort ${K8S_DEV_NODEPORT} from this host"
  uid="$(gateway_pod '{.metadata.uid}')"
  node_sandbox

  # The one-line change a developer makes, in the copy.
  new_version="${version}-loop-$$"
  t0="$(now_ms)"
  change_version "${new_version}" || return 0
  t="$(now_ms)"
  run_task k8s:dev:sync
  assert_ok "sync publishes the changed gateway"
  echo "timing: sync $(seconds_since "${t}") s"
  t="$(now_ms)"
  K8S_DEV_SKIP_SYNC=1 run_task k8s:dev:bootstrap
  assert_ok "bootstrap rolls out what sync published"
  echo "timing: rollout (bootstrap, K8S_DEV_SKIP_SYNC=1) $(seconds_since "${t}") s"
  t="$(now_ms)"
  body="$(await_version "${new_version}" 60)"
  assert_contains "${body}" "\"version\":\"${new_version}\"" "the NodePort serves the new version"
  echo "timing: rollout -> NodePort serving $(seconds_since "${t}") s; edit -> serving $(seconds_since "${t0}") s"
  assert_eq "1" "$([[ -n "${uid}" && "$(gateway_pod '{.metadata.uid}')" != "${uid}" ]] && echo 1 || echo 0)" \
    "a new gateway pod serves it$(pod_state)"
}

# A sandbox through the in-cluster gateway's API on its NodePort, placed on the real node with
# OpenShell's per-sandbox driver config (node selector, toleration of the node's taint): the
# supervisor image's init container installs the supervisor into the shared volume, and the
# sandbox container (the same image: the chart's default) runs it. Deleted through the API.
node_sandbox() {
  local api="http://127.0.0.1:${K8S_DEV_NODEPORT}" ns="${K8S_DEV_SANDBOX_NAMESPACE}" request body i
  request="$(printf '{"name":"rl-sandbox","driver_config":{"kubernetes":{"pod":{"node_selector":{"kubernetes.io/hostname":"%s"},"tolerations":[{"key":"%s","operator":"Exists","effect":"NoSchedule"}]}}}}' \
    "${K8S_DEV_TEST_NODE}" "${K8S_DEV_TEST_NODE_TAINT%%=*}")"
  body="$(curl -fsS -m 10 -X POST -d "${request}" "${api}/sandboxes" 2>&1)" || true
  assert_contains "${body}" '"name":"rl-sandbox"' "POST /sandboxes on the NodePort: the in-cluster gateway creates a sandbox"
  for ((i = 0; i < 300; i++)); do
    body="$(curl -fsS -m 2 "${api}/sandboxes/rl-sandbox" 2>/dev/null)" || true
    [[ "${body}" == *'"ready":true'* ]] && break
    sleep 0.2
  done
  assert_contains "${body}" '"ready":true' "the sandbox is Ready [$(kc get pod rl-sandbox -n "${ns}" -o jsonpath='{.status.phase} {.status.initContainerStatuses[0].state} {.status.containerStatuses[0].state}' 2>&1)]"
  assert_eq "${K8S_DEV_TEST_NODE} 0" \
    "$(kc get pod rl-sandbox -n "${ns}" -o jsonpath='{.spec.nodeName} {.status.initContainerStatuses[0].state.terminated.exitCode}')" \
    "its pod runs on the real node, after the supervisor's install step exited 0"
  assert_contains "$(kc get pod rl-sandbox -n "${ns}" -o jsonpath='{.status.initContainerStatuses[0].imageID}')" \
    "${K8S_DEV_TEST_REGISTRY}/${K8S_DEV_SUPERVISOR_IMAGE}@sha256:" "containerd pulled the supervisor image from the registry"
  assert_contains "$(kc logs rl-sandbox -n "${ns}" -c install-supervisor 2>&1)" "installed /opt/openshell/bin/openshell-sandbox" \
    "the init container sideloaded the supervisor"
  assert_contains "$(kc logs rl-sandbox -n "${ns}" -c sandbox 2>&1)" "openshell-sandbox " \
    "the sandbox container runs the installed supervisor (its version line)"
  curl -fsS -m 10 -X DELETE "${api}/sandboxes/rl-sandbox" >/dev/null 2>&1 || true
  for ((i = 0; i < 150; i++)); do
    kc get pod rl-sandbox -n "${ns}" >/dev/null 2>&1 || break
    sleep 0.2
  done
  assert_eq "" "$(kc get pod rl-sandbox -n "${ns}" -o name 2>/dev/null)" "DELETE /sandboxes/rl-sandbox removes its pod from the node"
}

test_node_watch() {
  loop_env node_watch || return 0
  loop_sandbox || return 0
  eval "$("${ROOT}/tests/support/tools.sh" env skaffold 2>/dev/null)"
  command -v skaffold >/dev/null 2>&1 || { fail "node_watch: skaffold not found; run: tests/support/tools.sh build skaffold"; return 0; }
  # Otherwise the first run in a fresh HOME turns on skaffold's usage metrics (sent to Google).
  skaffold config set --global collect-metrics false >/dev/null
  local version new_version log="${SANDBOX}/watch.log" watch body t0
  version="$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\([^"]*\)"/\1/p' "${TASK_DIR}/Cargo.toml")"
  K8S_DEV_VALUES="$(node_values)"
  export K8S_DEV_VALUES
  start_background watch "${TASK_DIR}" "${log}" mise run -q k8s:dev:watch
  watch="${BG_PID}"
  await_output "${log}" "Watching for changes" "${watch}" 600 || true
  assert_contains "$(cat "${log}")" "Watching for changes" "watch: skaffold built, deployed and saw the rollout stabilise"
  assert_eq "${K8S_DEV_TEST_NODE} True" "$(gateway_pod '{.spec.nodeName} {.status.conditions[?(@.type=="Ready")].status}')" \
    "watch: the gateway pod runs on the real node and is Ready$(pod_state)"
  body="$(await_version "${version}" 60)"
  assert_contains "${body}" "\"version\":\"${version}\"" "watch: the gateway answers /version on NodePort ${K8S_DEV_NODEPORT}"
  new_version="${version}-watch-$$"
  t0="$(now_ms)"
  change_version "${new_version}" || return 0
  body="$(await_version "${new_version}" 180)"
  assert_contains "${body}" "\"version\":\"${new_version}\"" "watch: a one-line change rolls out a pod serving the new version$(pod_state)"
  echo "timing: watch edit -> serving $(seconds_since "${t0}") s"
  assert_ctrl_c_ends "${watch}" 120 "${log}" watch
  assert_contains "$(cat "${log}")" 'release "openshell" uninstalled' "watch: skaffold uninstalls the release on Ctrl-C"
  assert_eq "" "$(kc get statefulset openshell -n "${K8S_DEV_NAMESPACE}" --ignore-not-found -o name 2>&1)" \
    "watch: the gateway's StatefulSet is gone"
}

test_containerd_restart() {
  loop_env containerd_restart || return 0
  loop_sandbox || return 0
  if [[ -z "${K8S_DEV_NODE_STATE:-}" || ! -f "${K8S_DEV_NODE_STATE}/containerd.pid" ]]; then
    skip "containerd_restart: K8S_DEV_NODE_STATE does not name the node's state (tests/support/node.sh env)"
    return 0
  fi
  local version="restart-$$" log="${K8S_DEV_NODE_STATE}/containerd.log" offset bootstrap rc=0 t0 i body
  K8S_DEV_VALUES="$(node_values)"
  export K8S_DEV_VALUES
  run_task k8s:dev:bootstrap
  assert_ok "bootstrap before the fault"
  change_version "${version}" || return 0
  run_task k8s:dev:sync
  assert_ok "sync publishes the changed gateway"
  offset="$(stat -c %s "${log}")"
  t0="${SECONDS}"
  start_background bootstrap "${TASK_DIR}" "${SANDBOX}/bootstrap.log" env K8S_DEV_SKIP_SYNC=1 K8S_DEV_TIMEOUT=60s \
    mise run -q k8s:dev:bootstrap
  bootstrap="${BG_PID}"
  # Mid-rollout: the old pod is gone and the kubelet is making the new one's sandbox.
  for ((i = 0; i < 600; i++)); do
    tail -c "+$((offset + 1))" "${log}" | grep -q 'RunPodSandbox for' && break
    sleep 0.1
  done
  if "${ROOT}/tests/support/node.sh" restart-containerd >"${SANDBOX}/restart.log" 2>&1; then
    pass "containerd restarted mid-rollout ($((SECONDS - t0)) s after bootstrap began, at the new pod's RunPodSandbox)"
  else
    fail "node.sh restart-containerd: $(tail -n 5 "${SANDBOX}/restart.log")"
  fi
  wait "${bootstrap}" || rc=$?
  assert_eq 1 "$(((SECONDS - t0) <= 60 + 30))" "bootstrap ends within its timeout (60 s) and a margin ($((SECONDS - t0)) s, exit ${rc})"
  if ((rc == 0)); then
    echo "outcome: the rollout completed through the restart"
  else
    echo "outcome: bootstrap failed (exit ${rc}): $(tail -n 1 "${SANDBOX}/bootstrap.log")"
    assert_contains "$(cat "${SANDBOX}/bootstrap.log")" "waiting for ${K8S_DEV_ROLLOUT:-statefulset/openshell}" \
      "bootstrap's error names the workload it waited for"
    K8S_DEV_SKIP_SYNC=1 run_task k8s:dev:bootstrap
    assert_ok "a second bootstrap completes the rollout after the restart"
  fi
  body="$(await_version "${version}" 60)"
  assert_contains "${body}" "\"version\":\"${version}\"" "the NodePort serves the new version after the restart$(pod_state)"
}

# Whether something holds a TCP connection to 127.0.0.1:PORT (containerd pulling through it).
connected_to() { # port
  ss -Htn state established "( dport = :$1 )" 2>/dev/null | grep -q .
}

test_pull_fault() {
  loop_env pull_fault || return 0
  loop_sandbox || return 0
  if [[ -z "${K8S_DEV_NODE_STATE:-}" || ! -d "${K8S_DEV_NODE_STATE}/certs.d" ]]; then
    skip "pull_fault: K8S_DEV_NODE_STATE does not name the node's state (tests/support/node.sh env)"
    return 0
  fi
  # The registry the node pulls from, killable without harming the engines' registry: a
  # forwarder to it whose connections wait 2 s, so the kill lands while containerd pulls.
  local log="${SANDBOX}/forward.log" fwd port pull certs bootstrap i rc=0
  start_background forward "${ROOT}" "${log}" python3 "${ROOT}/tests/support/tcp-forward.py" 127.0.0.1 \
    "${K8S_DEV_TEST_REGISTRY}" --delay 2 --port-file "${SANDBOX}/forward.port"
  fwd="${BG_PID}"
  await_line "${log}" "^listening on" 10 || { fail "pull_fault: the forwarder did not start: $(cat "${log}")"; return 0; }
  port="$(cat "${SANDBOX}/forward.port")"
  pull="127.0.0.1:${port}"
  # containerd reads the hosts of a registry at each pull: plain HTTP, as for the real one.
  certs="${K8S_DEV_NODE_STATE}/certs.d/${pull}"
  mkdir -p "${certs}"
  printf 'server = "http://%s"\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' "${pull}" "${pull}" >"${certs}/hosts.toml"
  # A gateway binary of this run's own, so its layer is not in containerd's store yet: the pull
  # fetches blobs through the forwarder, not a manifest alone.
  change_version "fault-$$" || return 0
  K8S_DEV_VALUES="$(node_values)"
  export K8S_DEV_VALUES K8S_DEV_REGISTRY_PULL="${pull}" K8S_DEV_TIMEOUT=60s
  start_background bootstrap "${TASK_DIR}" "${SANDBOX}/bootstrap.log" mise run -q k8s:dev:bootstrap
  bootstrap="${BG_PID}"
  # The pod pulls once it is scheduled (its volume bound first), which on a busy machine can come
  # after bootstrap gave up waiting: the pod stays, and its kubelet pulls all the same.
  for ((i = 0; i < 1800; i++)); do
    connected_to "${port}" && break
    sleep 0.1
  done
  if connected_to "${port}"; then
    pass "the node pulls the gateway image through the registry at ${pull}"
  else
    fail "the node never pulled through ${pull} within 180 s: $(tail -n 5 "${SANDBOX}/bootstrap.log")$(pod_state)"
  fi
  kill -TERM -- "-${fwd}" 2>/dev/null || true
  wait "${bootstrap}" || rc=$?
  assert_eq 1 "$((rc != 0))" "bootstrap fails when the registry is gone mid-pull (exit ${rc})"
  # The kubelet reports the failed pull when containerd gives up on it: a few seconds.
  local reason=""
  for ((i = 0; i < 60; i++)); do
    run_task k8s:dev:status --json
    reason="$(python3 -c '
import json, sys
pods = [p for p in json.loads(sys.argv[1])["pods"] if p["name"] == "openshell-0"]
print(pods[0]["reason"] if pods else "no pod openshell-0")' "${OUT}" 2>&1)"
    [[ "${reason}" != *ImagePull* ]] || break
    sleep 1
  done
  assert_ok "status --json"
  reason+="$(pod_state)"
  assert_contains "${reason}" "${pull}" "status --json names the registry the pull failed at: ${reason}"
  if [[ "${reason}" == ErrImagePull:* || "${reason}" == ImagePullBackOff:* ]]; then
    pass "status --json gives the pod's image pull reason"
  else
    fail "status --json gives the pod's image pull reason: want ErrImagePull or ImagePullBackOff, got [${reason}]"
  fi
  run_task k8s:dev:status
  assert_contains "${OUT}" "Pod: ${K8S_DEV_NAMESPACE}/openshell-0 Pending (" "status shows the pod waiting, and why$(pod_state)"
  rm -rf "${certs}"
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(node_loop node_watch containerd_restart pull_fault)
  run_tests "$@"
}

main "$@"
