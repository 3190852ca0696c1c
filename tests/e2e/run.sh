#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# The real-cluster suite: the whole loop on a real k3d cluster with Docker or Podman, which CI
# cannot run (no k3d, no images from Docker Hub there). Steps, each a PASS/FAIL line:
#   1. up                 cluster + registry, 1 server + K8S_DEV_AGENTS agents Ready
#   2. bootstrap          chart installed with synced images, rollout done, gateway answers on the
#                         load balancer (127.0.0.1:K8S_DEV_LB_PORT)
#   3. sandbox            POST /sandboxes through the in-cluster gateway, poll until ready, its
#                         supervisor logs the build that was synced
#   4. supervisor change  a rebuilt supervisor (new SOURCE_DATE_EPOCH) synced, bootstrap
#                         (K8S_DEV_SKIP_SYNC=1) rolls it out, a new sandbox runs the new build
#   5. watch              `mise run k8s:dev:watch` until skaffold has deployed, Ctrl-C, and the
#                         release it deployed is gone
#   6. down               cluster deleted, registry and its images kept, context removed
#   7. up again           the kept registry is reused, the synced image is still in it
# Finally `down --registry` (unless --keep). Runs only with K8S_DEV_E2E=1; without it, or without
# k3d, it prints why it skips and exits 0.
#
# Needs: k3d, kubectl, helm, skaffold (mise install), docker or podman, cargo, curl, python3.
# It uses its own cluster, registry, ports and kubeconfig file (KUBECONFIG), so it does not touch
# the developer's own cluster; the cluster kubeconfig goes to ~/.kube/k3d-<cluster>.yaml.
#
# Environment:
#   K8S_DEV_E2E=1             run the suite (otherwise skip)
#   K8S_DEV_E2E_CLUSTER       cluster name (k8s-dev-e2e)
#   K8S_DEV_E2E_API_PORT      API host port (16550)
#   K8S_DEV_E2E_LB_PORT       load balancer host port (18080)
#   K8S_DEV_E2E_REGISTRY_PORT registry host port (15000)
#   K8S_DEV_E2E_TIMEOUT       limit of each wait of this script, seconds (300)
#   K8S_DEV_ENGINE, DOCKER_HOST  as for the tasks
#
# `check && pass … || fail …` is an if-then-else here: pass always succeeds.
# shellcheck disable=SC2015
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER="${K8S_DEV_E2E_CLUSTER:-k8s-dev-e2e}"
TIMEOUT="${K8S_DEV_E2E_TIMEOUT:-300}"
KEEP=0
PASSES=0
FAILURES=0

usage() {
  cat <<USAGE
Usage: K8S_DEV_E2E=1 $(basename "$0") [--keep]

Runs the k8s-dev loop end to end on a real k3d cluster (up, bootstrap, a sandbox through the
gateway, a supervisor change, one watch iteration, down, up again), then deletes the cluster and
registry it made (--keep leaves them). Prints PASS/FAIL lines and 'N passed, N failed'; exits 1
on any failure. Skips (exit 0) without K8S_DEV_E2E=1 or without k3d.

Environment (defaults in parentheses):
  K8S_DEV_E2E=1             run the suite
  K8S_DEV_E2E_CLUSTER       cluster name (k8s-dev-e2e)
  K8S_DEV_E2E_API_PORT      API host port (16550)
  K8S_DEV_E2E_LB_PORT       load balancer host port (18080)
  K8S_DEV_E2E_REGISTRY_PORT registry host port (15000)
  K8S_DEV_E2E_TIMEOUT       limit of each wait, seconds (300)
  K8S_DEV_ENGINE, DOCKER_HOST  engine selection, as for the tasks
USAGE
}

pass() { PASSES=$((PASSES + 1)); echo "PASS: $*"; }
fail() { FAILURES=$((FAILURES + 1)); echo "FAIL: $*"; }
log() { echo "[e2e] $*" >&2; }
skip_suite() { echo "SKIP: e2e: $*"; exit 0; }

# The suite's own settings, exported for mise and the task script: nothing shared with the
# developer's cluster (openshell-dev on 6550/8080/5000).
configure() {
  export K8S_DEV_CLUSTER="${CLUSTER}"
  export K8S_DEV_API_PORT="${K8S_DEV_E2E_API_PORT:-16550}"
  export K8S_DEV_LB_PORT="${K8S_DEV_E2E_LB_PORT:-18080}"
  export K8S_DEV_REGISTRY_PORT="${K8S_DEV_E2E_REGISTRY_PORT:-15000}"
  export K8S_DEV_REGISTRY_NAME="${CLUSTER}-registry"
  export K8S_DEV_REGISTRY="localhost:${K8S_DEV_REGISTRY_PORT}"
  export K8S_DEV_REGISTRY_PULL="${K8S_DEV_REGISTRY_NAME}:5000"
  export K8S_DEV_NETWORK="${CLUSTER}"
  export K8S_DEV_AGENTS="${K8S_DEV_AGENTS:-1}"
  unset K8S_DEV_CONTEXT
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/k8s-dev-e2e.XXXXXX")"
  export KUBECONFIG="${WORK}/kubeconfig"
  # sync's state (images.env) and binaries stay in the workspace target dir, as for a developer.
  STATE="${CARGO_TARGET_DIR:-${ROOT}/target}/k8s-dev"
  CONTEXT="k3d-${CLUSTER}"
  NS="${K8S_DEV_NAMESPACE:-openshell}"
  SANDBOX_NS="${K8S_DEV_SANDBOX_NAMESPACE:-openshell}"
  GATEWAY="http://127.0.0.1:${K8S_DEV_LB_PORT}"
}

kctl() { kubectl --kubeconfig "${HOME}/.kube/k3d-${CLUSTER}.yaml" --context "${CONTEXT}" "$@"; }

# mise run TASK, output to WORK/<step>.log (shown on failure); sets RC.
task() { # step, task, args...
  local step="$1"
  shift
  RC=0
  (cd "${ROOT}" && mise run -q "$@") >"${WORK}/${step}.log" 2>&1 || RC=$?
  if [[ "${RC}" != 0 ]]; then
    echo "--- ${step} output (exit ${RC}):"
    tail -n 40 "${WORK}/${step}.log"
  fi
}

# Retry COMMAND every 2 s until it succeeds or TIMEOUT seconds pass; 1 on timeout.
eventually() { # command...
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 2
  done
}

http_ok() { curl -fsS --max-time 5 "$1" >/dev/null; }

sandbox_ready() { # name
  curl -fsS --max-time 5 "${GATEWAY}/sandboxes/$1" \
    | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("ready") else 1)'
}

# The version line the supervisor of sandbox NAME logged first.
sandbox_build() { # name
  kctl logs -n "${SANDBOX_NS}" "pod/$1" -c sandbox 2>/dev/null | head -n1
}

# The build line of the supervisor binary sync last published.
built_supervisor() {
  local target
  target="$(rustc -vV | sed -n 's/^host: //p')"
  "${CARGO_TARGET_DIR:-${ROOT}/target}/${target}/debug/${K8S_DEV_SUPERVISOR_BIN:-openshell-sandbox}" --version
}

create_sandbox() { # name -> PASS/FAIL lines
  local name="$1" code
  code="$(curl -sS -o "${WORK}/create-${name}.json" -w '%{http_code}' --max-time 30 \
    -X POST -H 'Content-Type: application/json' -d "{\"name\": \"${name}\"}" "${GATEWAY}/sandboxes")" || code=000
  if [[ "${code}" == 201 ]]; then pass "POST /sandboxes created ${name}"; else fail "POST /sandboxes ${name}: HTTP ${code} $(cat "${WORK}/create-${name}.json" 2>/dev/null)"; fi
  if eventually sandbox_ready "${name}"; then
    pass "sandbox ${name} became ready (GET /sandboxes/${name})"
  else
    fail "sandbox ${name} not ready after ${TIMEOUT}s: $(curl -sS "${GATEWAY}/sandboxes/${name}")"
  fi
}

step_up() {
  task up k8s:dev:up
  [[ "${RC}" == 0 ]] && pass "up" || fail "up exited ${RC}"
  local ready
  ready="$(kctl get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True || true)"
  [[ "${ready}" == $((1 + K8S_DEV_AGENTS)) ]] && pass "$((1 + K8S_DEV_AGENTS)) nodes Ready" \
    || fail "want $((1 + K8S_DEV_AGENTS)) Ready nodes, have ${ready}"
  [[ "$(kubectl config current-context)" == "${CONTEXT}" ]] && pass "KUBECONFIG's current context is ${CONTEXT}" \
    || fail "current context is $(kubectl config current-context)"
  http_ok "http://${K8S_DEV_REGISTRY}/v2/" && pass "registry answers on ${K8S_DEV_REGISTRY}" || fail "registry ${K8S_DEV_REGISTRY} does not answer"
}

step_bootstrap() {
  task bootstrap k8s:dev:bootstrap
  [[ "${RC}" == 0 ]] && pass "bootstrap" || fail "bootstrap exited ${RC}"
  if eventually http_ok "${GATEWAY}/version"; then
    pass "the in-cluster gateway answers on the load balancer (${GATEWAY}/version)"
  else
    fail "no gateway on ${GATEWAY} after ${TIMEOUT}s"
  fi
}

step_sandbox() {
  create_sandbox e2e-first
  FIRST_BUILD="$(sandbox_build e2e-first)"
  [[ -n "${FIRST_BUILD}" && "${FIRST_BUILD}" == "$(built_supervisor)" ]] \
    && pass "sandbox e2e-first runs the synced supervisor (${FIRST_BUILD})" \
    || fail "sandbox e2e-first logs [${FIRST_BUILD}], the synced build is [$(built_supervisor)]"
}

step_supervisor_change() {
  local old_tag new_tag
  old_tag="$(sed -n 's/^K8S_DEV_SUPERVISOR_TAG=//p' "${STATE}/images.env")"
  # A new build time is a new binary (build.rs reruns on SOURCE_DATE_EPOCH): a real change.
  SOURCE_DATE_EPOCH="$(date +%s)" task sync k8s:dev:sync
  [[ "${RC}" == 0 ]] && pass "sync of a changed supervisor" || fail "sync exited ${RC}"
  new_tag="$(sed -n 's/^K8S_DEV_SUPERVISOR_TAG=//p' "${STATE}/images.env")"
  [[ -n "${new_tag}" && "${new_tag}" != "${old_tag}" ]] && pass "sync published a new content tag (${old_tag} -> ${new_tag})" \
    || fail "sync left the supervisor tag at ${new_tag}"
  http_ok "http://${K8S_DEV_REGISTRY}/v2/${K8S_DEV_SUPERVISOR_IMAGE:-openshell-supervisor}/manifests/${new_tag}" \
    && pass "the registry serves ${new_tag}" || fail "the registry does not serve ${new_tag}"
  # No bootstrap: sandboxes pull the supervisor's :dev with pull policy Always, so the sync
  # alone must reach every sandbox created after it.
  create_sandbox e2e-second
  local build
  build="$(sandbox_build e2e-second)"
  [[ "${build}" == "$(built_supervisor)" && "${build}" != "${FIRST_BUILD}" ]] \
    && pass "the new sandbox runs the new supervisor (${build})" \
    || fail "new sandbox logs [${build}]; first was [${FIRST_BUILD}], built is [$(built_supervisor)]"
  curl -fsS -X DELETE --max-time 30 "${GATEWAY}/sandboxes/e2e-first" >/dev/null || true
  curl -fsS -X DELETE --max-time 30 "${GATEWAY}/sandboxes/e2e-second" >/dev/null || true
}

release_deployed() { helm --kubeconfig "${HOME}/.kube/k3d-${CLUSTER}.yaml" --kube-context "${CONTEXT}" status "${K8S_DEV_RELEASE:-openshell}" -n "${NS}"; }

step_watch() {
  # As a terminal runs it: its own process group, so Ctrl-C reaches mise, the script and skaffold.
  (cd "${ROOT}" && exec setsid mise run -q k8s:dev:watch) >"${WORK}/watch.log" 2>&1 &
  local pgid=$! i
  if eventually grep -q "Watching for changes" "${WORK}/watch.log"; then
    pass "watch: skaffold built, pushed and deployed, and watches"
  else
    fail "watch did not reach 'Watching for changes' in ${TIMEOUT}s"
    tail -n 40 "${WORK}/watch.log"
  fi
  kctl rollout status "${K8S_DEV_ROLLOUT:-statefulset/openshell}" -n "${NS}" --timeout="${TIMEOUT}s" >/dev/null \
    && pass "watch: the rollout completed" || fail "watch: rollout not done"
  kill -INT -- "-${pgid}" 2>/dev/null || true
  for ((i = 0; i < TIMEOUT; i++)); do kill -0 "${pgid}" 2>/dev/null || break; sleep 1; done
  if kill -0 "${pgid}" 2>/dev/null; then
    fail "watch still running ${TIMEOUT}s after Ctrl-C"
    kill -KILL -- "-${pgid}" 2>/dev/null || true
  else
    pass "watch stopped on Ctrl-C"
  fi
  wait "${pgid}" 2>/dev/null || true
  grep -q "Cleaning up" "${WORK}/watch.log" && pass "watch: skaffold cleaned up" || fail "watch: no 'Cleaning up' in its output"
  if release_deployed >/dev/null 2>&1; then fail "watch: release ${K8S_DEV_RELEASE:-openshell} still installed after Ctrl-C"; else pass "watch: the release it deployed is gone"; fi
  [[ -z "$(pgrep -g "${pgid}" || true)" ]] && pass "watch: no process left" || fail "watch: processes left: $(pgrep -a -g "${pgid}")"
}

step_down() {
  task down k8s:dev:down
  [[ "${RC}" == 0 ]] && pass "down" || fail "down exited ${RC}"
  if k3d cluster list "${CLUSTER}" >/dev/null 2>&1; then fail "cluster ${CLUSTER} still exists"; else pass "cluster deleted"; fi
  k3d registry list "${K8S_DEV_REGISTRY_NAME}" -o json | grep -q '"Running":true' \
    && pass "registry kept running" || fail "registry not running after down"
  if kubectl config get-contexts "${CONTEXT}" >/dev/null 2>&1; then fail "context ${CONTEXT} left in KUBECONFIG"; else pass "context removed"; fi
}

step_up_again() {
  local tag
  tag="$(sed -n 's/^K8S_DEV_SUPERVISOR_TAG=//p' "${STATE}/images.env")"
  task up2 k8s:dev:up
  [[ "${RC}" == 0 ]] && pass "up again" || fail "up again exited ${RC}"
  grep -q "Registry: .*(was running)" "${WORK}/up2.log" && pass "up again reused the registry" \
    || fail "up again did not reuse the registry: $(grep Registry: "${WORK}/up2.log")"
  http_ok "http://${K8S_DEV_REGISTRY}/v2/${K8S_DEV_SUPERVISOR_IMAGE:-openshell-supervisor}/manifests/${tag}" \
    && pass "the synced image ${tag} is still in the registry" || fail "image ${tag} lost"
}

cleanup() {
  if ((KEEP)); then
    log "kept cluster ${CLUSTER} and registry ${K8S_DEV_REGISTRY_NAME} (--keep); KUBECONFIG=${KUBECONFIG}"
    return
  fi
  if (cd "${ROOT}" && mise run -q k8s:dev:down --registry) >"${WORK}/cleanup.log" 2>&1; then
    # k3d never deletes a network it did not create; up created this one.
    CONTAINER_ENGINE_QUIET=1 bash -c 'source "$1/tasks/scripts/container-engine.sh" && ce network rm "$2"' _ \
      "${ROOT}" "${K8S_DEV_NETWORK}" >/dev/null 2>&1 || true
    rm -rf "${WORK}"
  else
    log "cleanup failed: see ${WORK}/cleanup.log"
  fi
}

main() {
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --keep) KEEP=1 ;;
      *) usage >&2; exit 2 ;;
    esac
    shift
  done
  [[ "${K8S_DEV_E2E:-}" == 1 ]] || skip_suite "set K8S_DEV_E2E=1 to run the real-cluster suite (it creates a k3d cluster)"
  command -v k3d >/dev/null 2>&1 || skip_suite "k3d not found (mise install); this suite needs a real k3d cluster"
  local tool
  for tool in kubectl helm skaffold cargo curl python3 mise; do
    command -v "${tool}" >/dev/null 2>&1 || { echo "error: ${tool} not found; the e2e suite needs it (mise install)" >&2; exit 1; }
  done
  configure
  trap cleanup EXIT
  log "cluster ${CLUSTER}, API :${K8S_DEV_API_PORT}, load balancer :${K8S_DEV_LB_PORT}, registry :${K8S_DEV_REGISTRY_PORT}; logs in ${WORK}"
  step_up
  step_bootstrap
  step_sandbox
  step_supervisor_change
  step_watch
  step_down
  step_up_again
  echo "${PASSES} passed, ${FAILURES} failed"
  ((FAILURES == 0))
}

main "$@"
