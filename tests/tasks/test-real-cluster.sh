#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# The loop against a real Kubernetes control plane (tests/support/cluster.sh: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kwok marking the node and pods Ready)
# with the real tools (helm, skaffold, kubectl as pinned in mise.toml; tests/support/tools.sh
# builds them), in remote mode (K8S_DEV_CONTEXT), through real mise:
#   bootstrap          namespaces, CRDs from a file, helm install then upgrade, the StatefulSet's
#                      rollout wait; status --json sees the node; down deletes nothing
#   sandbox_namespace  a chart that renders the sandbox Namespace installs although bootstrap
#                      created that namespace first, or found it made by hand (Helm adopts it)
#   gateway            the stand-in's runner (`mise run gateway -- --driver kubernetes`, its
#                      --config TOML, --disable-tls) creates a sandbox pod through kube-rs, the pod
#                      becomes Ready, DELETE removes it
#   watch              skaffold dev: the custom builder publishes to the registry, skaffold's helm
#                      sequence installs the release, Ctrl-C uninstalls it
#   apiserver_killed   kube-apiserver killed during bootstrap's rollout wait: a bounded error
#                      naming what was awaited; the harness restarts it
#   pending_upgrade    a helm upgrade killed mid-way leaves the release pending-upgrade; the next
#                      bootstrap recovers it and completes the rollout
#   fixed_after_broken a bootstrap whose pod never gets Ready, then one with the fix: the
#                      StatefulSet's stuck pod is replaced and the rollout completes
# Each test uses its own namespace and image names. Prints PASS/FAIL/SKIP lines.
#
# Environment: K8S_DEV_TEST_KUBECONFIG, K8S_DEV_TEST_CONTEXT, K8S_DEV_CLUSTER_STATE (from
# `tests/support/cluster.sh up`), K8S_DEV_TEST_REGISTRY, K8S_DEV_TEST_DOCKER_HOST (from
# `tests/support/engines.sh up`); missing ones skip, and fail under K8S_DEV_TEST_NO_SKIP=1.
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0") [test-name...]   (default: all; see DEFAULT_TESTS)"
}

# The sandbox in remote mode against the harness, with the real tools first on PATH (the
# recording fakes taken off it); returns 1 after a skip line when something is missing.
real_sandbox() { # test name, [tool...] (default: helm kubectl)
  local name="$1" missing="" tool
  shift
  (($#)) || set -- helm kubectl
  [[ -n "${K8S_DEV_TEST_KUBECONFIG:-}" && -n "${K8S_DEV_TEST_CONTEXT:-}" ]] \
    || missing+=" K8S_DEV_TEST_KUBECONFIG/K8S_DEV_TEST_CONTEXT (eval \"\$(tests/support/cluster.sh up)\")"
  [[ -n "${K8S_DEV_TEST_REGISTRY:-}" && -n "${K8S_DEV_TEST_DOCKER_HOST:-}" ]] \
    || missing+=" K8S_DEV_TEST_REGISTRY/K8S_DEV_TEST_DOCKER_HOST (eval \"\$(tests/support/engines.sh up)\")"
  if [[ -n "${missing}" ]]; then
    skip "${name}: not set:${missing}"
    return 1
  fi
  # The tools cache lives under the caller's HOME, which the sandbox replaces (tools.sh here,
  # cluster.sh in apiserver_killed).
  export K8S_DEV_TOOLS_CACHE="${K8S_DEV_TOOLS_CACHE:-${HOME}/.cache/k8s-dev-tools}"
  sandbox_setup
  local path="" dir
  while read -r -d: dir; do
    [[ "${dir}" == "${ROOT}/tests/fakes" ]] || path+="${dir}:"
  done <<<"${PATH}:"
  export PATH="${path%:}"
  eval "$("${ROOT}/tests/support/tools.sh" env "$@" 2>/dev/null)"
  for tool in "$@"; do
    if ! command -v "${tool}" >/dev/null 2>&1; then
      skip "${name}: ${tool} not found; run: tests/support/tools.sh build ${tool}"
      return 1
    fi
  done
  # A copy: a test must not be able to damage the harness's kubeconfig.
  export KUBECONFIG="${SANDBOX}/kubeconfig"
  (umask 077 && cp "${K8S_DEV_TEST_KUBECONFIG}" "${KUBECONFIG}")
  export K8S_DEV_CONTEXT="${K8S_DEV_TEST_CONTEXT}"
  export K8S_DEV_REGISTRY="${K8S_DEV_TEST_REGISTRY}" K8S_DEV_REGISTRY_PULL="${K8S_DEV_TEST_REGISTRY}"
  export DOCKER_HOST="${K8S_DEV_TEST_DOCKER_HOST}"
  # The supervisor's OpenShell-shaped Dockerfile starts from busybox on Docker Hub: a local one.
  local base
  base="$(busybox_base "${K8S_DEV_TEST_REGISTRY}")" || { fail "${name}: publishing the busybox base"; return 1; }
  export K8S_DEV_SUPERVISOR_BUILD_ARGS="SUPERVISOR_BASE_IMAGE=${base}"
  export K8S_DEV_NAMESPACE="rt-$$-${RANDOM}"
  export K8S_DEV_SANDBOX_NAMESPACE="${K8S_DEV_NAMESPACE}"
  export K8S_DEV_GATEWAY_IMAGE="rt-$$-gateway" K8S_DEV_SUPERVISOR_IMAGE="rt-$$-supervisor"
  export K8S_DEV_STATE_DIR="${SANDBOX}/state"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
  export K8S_DEV_TIMEOUT=60s
  # The gateway image of the last sync is not needed where no container runs (kwok).
  export K8S_DEV_SKIP_SYNC=1
  trap real_cleanup EXIT
}

# Namespaces of the test (and what is in them) go, before the next test: node ports are
# cluster-wide, and the dev values fix one. Then the sandbox.
real_cleanup() {
  local ns
  for ns in "${K8S_DEV_NAMESPACE:-}" "${K8S_DEV_SANDBOX_NAMESPACE:-}"; do
    [[ -n "${ns}" ]] || continue
    kubectl --context "${K8S_DEV_CONTEXT}" delete namespace "${ns}" --ignore-not-found --timeout=60s >/dev/null 2>&1 || true
  done
  sandbox_cleanup
}

kc() { kubectl --context "${K8S_DEV_CONTEXT}" "$@"; }

# A field of `helm status -o json` (a jq-like Python expression over `r`), or "absent".
release_field() { # expression, [namespace]
  helm --kube-context "${K8S_DEV_CONTEXT}" status "${K8S_DEV_RELEASE:-openshell}" -n "${2:-${K8S_DEV_NAMESPACE}}" -o json 2>/dev/null \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" 2>/dev/null || echo absent
}

# The dev values with extra YAML merged over it, as a values file for K8S_DEV_VALUES.
values_with() { # extra yaml
  local file="${SANDBOX}/values-${RANDOM}.yaml"
  python3 - "${ROOT}/deploy/values/dev.yaml" "$1" >"${file}" <<'PY'
import sys, yaml
def merge(dst, src):
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            merge(dst[k], v)
        else:
            dst[k] = v
    return dst
print(yaml.safe_dump(merge(yaml.safe_load(open(sys.argv[1])), yaml.safe_load(sys.argv[2]))))
PY
  echo "${file}"
}

# Pods of the chart pinned to a node that does not exist: the rollout never completes.
UNSCHEDULABLE='{nodeSelector: {k8s-dev.test/never: "true"}}'

test_bootstrap() {
  real_sandbox bootstrap || return 0
  local crd_group="rt$$.k8s-dev.test"
  cat >"${SANDBOX}/crds.yaml" <<CRD
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.${crd_group}
spec:
  group: ${crd_group}
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
CRD
  export K8S_DEV_CRDS="${SANDBOX}/crds.yaml"
  unset K8S_DEV_SKIP_SYNC
  run_task k8s:dev:bootstrap
  assert_ok "bootstrap against the real API server with real helm"
  assert_eq "deployed 1" "$(release_field 'r["info"]["status"], r["version"]' | tr -d "(),'")" \
    "helm installed the release (revision 1)"
  assert_eq "True" "$(kc get crd "widgets.${crd_group}" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" \
    "the CRD from K8S_DEV_CRDS is established"
  assert_eq "1" "$(kc get statefulset openshell -n "${K8S_DEV_NAMESPACE}" -o jsonpath='{.status.readyReplicas}')" \
    "bootstrap returned after the rollout: the StatefulSet has its ready replica"
  local tag
  # shellcheck disable=SC1091 # written by sync
  tag="$(source "${K8S_DEV_STATE_DIR}/images.env" && echo "${K8S_DEV_GATEWAY_TAG}")"
  assert_eq "${K8S_DEV_REGISTRY_PULL}/${K8S_DEV_GATEWAY_IMAGE}:${tag}" \
    "$(kc get statefulset openshell -n "${K8S_DEV_NAMESPACE}" -o jsonpath='{.spec.template.spec.containers[0].image}')" \
    "the StatefulSet runs the gateway image sync just published"
  assert_contains "$(curl -fsS "http://${K8S_DEV_TEST_REGISTRY}/v2/${K8S_DEV_GATEWAY_IMAGE}/tags/list")" "\"${tag}\"" \
    "that image is in the registry"

  run_task k8s:dev:bootstrap
  assert_ok "a second bootstrap upgrades"
  assert_contains "${ERR}" "has been upgraded" "real helm reports the upgrade"
  assert_eq "deployed 2" "$(release_field 'r["info"]["status"], r["version"]' | tr -d "(),'")" "the release is at revision 2"

  run_task k8s:dev:status --json
  assert_ok "status --json in remote mode"
  # The harness's kwok node; a real node (tests/support/node.sh) may be listed too.
  assert_contains "$(python3 -c '
import json, sys
s = json.loads(sys.argv[1])
print(s["mode"], s["cluster"]["context"], s["cluster"]["state"], s["registry"]["push"],
      " ".join("%s:%s" % (n["name"], n["ready"]) for n in s["nodes"]))' "${OUT}" 2>&1)" \
    "remote ${K8S_DEV_CONTEXT} reachable ${K8S_DEV_REGISTRY} " \
    "status --json reports remote mode, the reachable context and the registry"
  assert_contains "${OUT}" '{"name":"kwok-node-0","ready":true}' "status --json lists the harness node Ready"

  run_task k8s:dev:down
  assert_ok "down in remote mode"
  assert_contains "${ERR}" "nothing deleted" "down says it deletes nothing in remote mode"
  assert_eq "deployed 2" "$(release_field 'r["info"]["status"], r["version"]' | tr -d "(),'")" "the release survives down"
  kc delete crd "widgets.${crd_group}" --wait=false >/dev/null
}

# The stand-in chart as an adopter's might be: one that renders the sandbox Namespace itself.
chart_rendering_the_sandbox_namespace() {
  local chart="${SANDBOX}/chart"
  cp -r "${ROOT}/deploy/helm/openshell" "${chart}"
  cat >"${chart}/templates/sandbox-namespace.yaml" <<'YAML'
{{- $ns := include "openshell.sandboxNamespace" . }}
{{- if ne $ns .Release.Namespace }}
apiVersion: v1
kind: Namespace
metadata:
  name: {{ $ns }}
{{- end }}
YAML
  echo "${chart}"
}

sandbox_owner() { # namespace
  kc get namespace "$1" -o jsonpath='{.metadata.labels.app\.kubernetes\.io/managed-by} {.metadata.annotations.meta\.helm\.sh/release-name}'
}

test_sandbox_namespace() {
  real_sandbox sandbox_namespace || return 0
  K8S_DEV_CHART="$(chart_rendering_the_sandbox_namespace)"
  export K8S_DEV_CHART K8S_DEV_SANDBOX_NAMESPACE="${K8S_DEV_NAMESPACE}-sandboxes"
  K8S_DEV_VALUES="$(values_with "server: {sandboxNamespace: ${K8S_DEV_SANDBOX_NAMESPACE}}")"
  export K8S_DEV_VALUES
  run_task k8s:dev:bootstrap
  assert_ok "bootstrap with a chart that renders the sandbox Namespace bootstrap creates"
  assert_not_contains "${ERR}" "cannot be imported" "helm does not refuse the namespace"
  assert_eq "Helm openshell" "$(sandbox_owner "${K8S_DEV_SANDBOX_NAMESPACE}")" "the release owns the sandbox namespace"
  run_task k8s:dev:bootstrap
  assert_ok "bootstrap again (upgrade) with the owned namespace"

  # A sandbox namespace made by hand before the first bootstrap: adopted the same way.
  helm --kube-context "${K8S_DEV_CONTEXT}" uninstall openshell -n "${K8S_DEV_NAMESPACE}" >/dev/null
  export K8S_DEV_SANDBOX_NAMESPACE="${K8S_DEV_NAMESPACE}-by-hand"
  K8S_DEV_VALUES="$(values_with "server: {sandboxNamespace: ${K8S_DEV_SANDBOX_NAMESPACE}}")"
  kc create namespace "${K8S_DEV_SANDBOX_NAMESPACE}" >/dev/null
  run_task k8s:dev:bootstrap
  assert_ok "bootstrap with a chart that renders a sandbox Namespace made by hand"
  assert_eq "Helm openshell" "$(sandbox_owner "${K8S_DEV_SANDBOX_NAMESPACE}")" "the release adopted it"
}

test_gateway() {
  real_sandbox gateway || return 0
  kc create namespace "${K8S_DEV_NAMESPACE}" >/dev/null
  local port log="${SANDBOX}/gateway.log" pid body="" i
  local supervisor="${K8S_DEV_REGISTRY_PULL}/${K8S_DEV_SUPERVISOR_IMAGE}:dev" image="${K8S_DEV_REGISTRY_PULL}/rt-$$-sandbox:dev"
  port="$(free_port)"
  # The stand-in's runner, as an OpenShell developer runs OpenShell's, against the sandbox's copy
  # of the harness kubeconfig (its current context is the harness).
  start_background gateway "${ROOT}" "${log}" env OPENSHELL_SERVER_PORT="${port}" \
    OPENSHELL_SANDBOX_NAMESPACE="${K8S_DEV_NAMESPACE}" OPENSHELL_SANDBOX_IMAGE="${image}" \
    OPENSHELL_SUPERVISOR_IMAGE="${supervisor}" OPENSHELL_GATEWAY_STATE_DIR="${SANDBOX}/gateway-state" \
    mise run -q gateway -- --driver kubernetes
  pid="${BG_PID}"
  for ((i = 0; i < 1200; i++)); do
    curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1 && break
    kill -0 "${pid}" 2>/dev/null || break
    sleep 0.5
  done
  if ! curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1; then
    fail "the gateway became ready against the real API server: $(tail -n 20 "${log}")"
    kill -TERM -- "-${pid}" 2>/dev/null || true
    return 0
  fi
  pass "the runner's gateway on the host is ready (plaintext; it lists pods through kube-rs)"
  assert_mode "${SANDBOX}/gateway-state/gateway.toml" 600 "the runner's gateway config is private"
  body="$(curl -fsS -X POST -d '{"name":"rt-sandbox"}' "http://127.0.0.1:${port}/sandboxes")" || true
  assert_contains "${body}" '"name":"rt-sandbox"' "POST /sandboxes creates the sandbox"
  for ((i = 0; i < 100; i++)); do
    body="$(curl -fsS "http://127.0.0.1:${port}/sandboxes/rt-sandbox" 2>/dev/null)" || true
    [[ "${body}" == *'"ready":true'* ]] && break
    sleep 0.3
  done
  assert_contains "${body}" '"ready":true' "the sandbox pod becomes Ready (scheduled, kwok runs it)"
  assert_eq "${supervisor} ${image}" \
    "$(kc get pod rt-sandbox -n "${K8S_DEV_NAMESPACE}" -o jsonpath='{.spec.initContainers[0].image} {.spec.containers[0].image}')" \
    "the pod sideloads the supervisor image (init container) into the sandbox image the config names"
  curl -fsS -X DELETE "http://127.0.0.1:${port}/sandboxes/rt-sandbox" >/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kc get pod rt-sandbox -n "${K8S_DEV_NAMESPACE}" >/dev/null 2>&1 || break
    sleep 0.3
  done
  assert_eq "" "$(kc get pod rt-sandbox -n "${K8S_DEV_NAMESPACE}" -o name 2>/dev/null)" "DELETE /sandboxes/rt-sandbox removes the pod"
  kill -TERM -- "-${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
}

test_watch() {
  real_sandbox watch helm kubectl skaffold || return 0
  # skaffold.yaml's release fields are templates the real Skaffold expands from the
  # environment: the release goes into this test's K8S_DEV_NAMESPACE.
  local ns="${K8S_DEV_NAMESPACE}" log="${SANDBOX}/watch.log" pid
  # Otherwise the first run in a fresh HOME turns on skaffold's usage metrics (sent to Google).
  skaffold config set --global collect-metrics false >/dev/null
  start_background watch "${ROOT}" "${log}" mise run -q k8s:dev:watch
  pid="${BG_PID}"
  await_output "${log}" "Watching for changes" "${pid}" 900 || true
  assert_contains "$(cat "${log}")" "Watching for changes" "watch: real skaffold built, deployed and saw the rollout stabilise"
  local image
  image="$(kc get statefulset openshell -n "${ns}" -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null)"
  assert_contains "${image}" "${K8S_DEV_REGISTRY}/openshell-gateway:" "watch: the StatefulSet runs the image skaffold built into the registry"
  assert_contains "${image}" "@sha256:" "watch: pinned by the digest the custom builder pushed"
  assert_eq "deployed" "$(release_field 'r["info"]["status"]' "${ns}")" "watch: skaffold installed the release through real helm"
  assert_contains "$(cat "${log}")" "Helm release openshell not installed. Installing..." \
    "watch: skaffold found no release (helm get all failed) and installed it"
  assert_contains "$(cat "${log}")" "Deployments stabilized" "watch: skaffold's status check saw the Deployment ready"
  assert_ctrl_c_ends "${pid}" 120 "${log}" watch
  assert_contains "$(cat "${log}")" "Cleaning up" "watch: skaffold cleans up on Ctrl-C"
  assert_contains "$(cat "${log}")" 'release "openshell" uninstalled' "watch: through helm delete"
  assert_eq "absent" "$(release_field 'r["info"]["status"]' "${ns}")" "watch: the release is uninstalled"
}

test_apiserver_killed() {
  real_sandbox apiserver_killed || return 0
  if [[ -z "${K8S_DEV_CLUSTER_STATE:-}" || ! -s "${K8S_DEV_CLUSTER_STATE}/kube-apiserver.pid" ]]; then
    skip "apiserver_killed: K8S_DEV_CLUSTER_STATE does not name the harness state (tests/support/cluster.sh env)"
    return 0
  fi
  K8S_DEV_VALUES="$(values_with "${UNSCHEDULABLE}")"
  export K8S_DEV_VALUES K8S_DEV_TIMEOUT=20s
  local err="${SANDBOX}/bootstrap.err" pid start rc=0
  start=${SECONDS}
  (cd "${ROOT}" && exec mise run -q k8s:dev:bootstrap) >"${SANDBOX}/bootstrap.out" 2>"${err}" &
  pid=$!
  if await_line "${err}" "waiting up to 20s for rollout of statefulset/openshell" 120; then
    kill -KILL "$(cat "${K8S_DEV_CLUSTER_STATE}/kube-apiserver.pid")"
    pass "bootstrap reached its rollout wait; kube-apiserver killed"
  else
    fail "bootstrap never reached its rollout wait: $(tail -n 5 "${err}")"
  fi
  wait "${pid}" || rc=$?
  assert_eq 1 "$((rc != 0))" "bootstrap fails when the API server is gone (exit ${rc})"
  assert_eq 1 "$((SECONDS - start <= 20 + 60))" "within the wait's limit plus start-up ($((SECONDS - start)) s)"
  local error
  error="$(grep '^error: ' "${err}" | tail -n 1)"
  assert_contains "${error}" "timed out after 20s waiting for rollout of statefulset/openshell in ${K8S_DEV_NAMESPACE}" \
    "the error names what was awaited"
  assert_contains "${error}" "refused" "and why it never came (the API server refused)"
  eval "$("${ROOT}/tests/support/cluster.sh" up 2>/dev/null)" || true
  assert_eq ok "$(kc get --raw /readyz 2>&1)" "the harness restarts the killed API server"
}

test_pending_upgrade() {
  real_sandbox pending_upgrade || return 0
  run_task k8s:dev:bootstrap
  assert_ok "bootstrap installs the release"
  # A real interrupted helm: it records the upgrade as pending, applies, waits for pods that
  # never schedule, and dies there.
  local values log="${SANDBOX}/helm.log" pid
  values="$(values_with "${UNSCHEDULABLE}")"
  helm --kube-context "${K8S_DEV_CONTEXT}" upgrade openshell "${ROOT}/deploy/helm/openshell" -n "${K8S_DEV_NAMESPACE}" \
    -f "${values}" --wait --timeout 5m >"${log}" 2>&1 &
  pid=$!
  local i
  for ((i = 0; i < 300; i++)); do
    [[ "$(release_field 'r["info"]["status"]')" == pending-upgrade ]] && break
    sleep 0.2
  done
  kill -KILL "${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  assert_eq "pending-upgrade 2" "$(release_field 'r["info"]["status"], r["version"]' | tr -d "(),'")" \
    "a killed helm upgrade leaves revision 2 pending-upgrade"
  run_task k8s:dev:bootstrap
  assert_ok "the next bootstrap recovers the release"
  assert_contains "${ERR}" "pending-upgrade" "bootstrap says what it recovered from"
  assert_eq "deployed" "$(release_field 'r["info"]["status"]')" "the release is deployed again"
}

test_fixed_after_broken() {
  real_sandbox fixed_after_broken || return 0
  K8S_DEV_VALUES="$(values_with "${UNSCHEDULABLE}")" K8S_DEV_TIMEOUT=10s run_task k8s:dev:bootstrap
  assert_eq 3 "${RC}" "a bootstrap whose pod never schedules times out (exit 3)"
  run_task k8s:dev:bootstrap
  assert_ok "the next bootstrap, with the fix, completes the StatefulSet's rollout"
  assert_contains "${ERR}" "pod openshell-0 is not Ready and of an older revision" "it says which pod held the rollout and why"
  assert_eq "1" "$(kc get statefulset openshell -n "${K8S_DEV_NAMESPACE}" -o jsonpath='{.status.readyReplicas}')" \
    "the StatefulSet has its ready replica"
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(bootstrap sandbox_namespace gateway watch apiserver_killed pending_upgrade fixed_after_broken)
  run_tests "$@"
}

main "$@"
