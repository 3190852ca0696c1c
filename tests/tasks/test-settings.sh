#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Derived settings reach every consumer. The sandbox sets only independent settings (cluster
# name, registry name and port, private to the test) and never a derived one, as a user who sets
# K8S_DEV_REGISTRY_PORT=5001 because AirPlay holds 5000; each test changes one independent
# setting and checks everything that uses what derives from it:
#   registry_port   push name localhost:<port>: registry create, the k3d mirror, the KEP-1755
#                   ConfigMap, up's registry wait, sync's pushes, Skaffold's --default-repo
#   registry_name   pull name <name>:5000: registry create and use, the mirror, the ConfigMap,
#                   the chart's image repositories, the gateway's sandbox image
#   cluster_name    context k3d-<cluster> and ~/.kube/k3d-<cluster>.yaml: the k3d config, both
#                   kubeconfigs, up's waits, helm and Skaffold, status
#   provider        K8S_DEV_PROVIDER=kind: context kind-<cluster>, ~/.kube/kind-<cluster>.yaml and
#                   the registry container <name>: the kind config, both kubeconfigs, the
#                   ConfigMap, helm and Skaffold, status (the fake kind's nodes on Docker)
# Real mise, helper, kubectl and Docker engine; the recording fake k3d and helm, and stubs of
# skaffold and cargo that only record. Prints PASS/FAIL/SKIP lines.
#
# Environment: K8S_DEV_TEST_DOCKER_HOST (engine socket; unset skips), K8S_DEV_TEST_NO_SKIP=1.
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0") [test-name...]   (default: all; see main for names)"
}

# engine_sandbox plus recording stubs of skaffold, cargo and the gateway command first on PATH.
stub_sandbox() { # what
  engine_sandbox "$1" || return 1
  export CARGO_TARGET_DIR="${SANDBOX}/target"
  cat >"${SANDBOX}/bin/skaffold" <<'SH'
#!/usr/bin/env bash
# Records `skaffold dev`'s arguments; deploys nothing.
printf '%s\n' "$*" >>"${K8S_DEV_FAKE_STATE}/skaffold.argv"
SH
  # `cargo build --target T -p PKG…` that "builds" each package's binary (named as the settings
  # the task exported say: the gateway's package and binary names differ); `cargo run` records
  # the gateway's environment.
  cat >"${SANDBOX}/bin/cargo" <<'SH'
#!/usr/bin/env bash
case "$1" in
  build)
    shift
    target="" pkgs=()
    while (($#)); do
      case "$1" in --target) target="$2"; shift ;; -p) pkgs+=("$2"); shift ;; esac
      shift
    done
    mkdir -p "${CARGO_TARGET_DIR}/${target}/debug"
    for pkg in "${pkgs[@]}"; do
      case "${pkg}" in
        "${K8S_DEV_GATEWAY_PACKAGE}") bin="${K8S_DEV_GATEWAY_BIN}" ;;
        "${K8S_DEV_SUPERVISOR_PACKAGE}") bin="${K8S_DEV_SUPERVISOR_BIN}" ;;
        *) bin="${pkg}" ;;
      esac
      printf 'binary of %s\n' "${pkg}" >"${CARGO_TARGET_DIR}/${target}/debug/${bin}"
    done
    ;;
esac
SH
  cat >"${SANDBOX}/bin/record-gateway" <<'SH'
#!/usr/bin/env bash
# Records the gateway command's environment (K8S_DEV_GATEWAY_COMMAND).
env | grep -E '^(KUBECONFIG|OPENSHELL_[A-Z_]+)=' | sort >"${K8S_DEV_FAKE_STATE}/gateway.env"
SH
  chmod +x "${SANDBOX}/bin/skaffold" "${SANDBOX}/bin/cargo" "${SANDBOX}/bin/record-gateway"
  export K8S_DEV_GATEWAY_COMMAND=record-gateway
  # sync stages the binaries here, not in this repository's deploy/docker/.build.
  export K8S_DEV_IMAGE_CONTEXT="${SANDBOX}/context"
  mkdir -p "${K8S_DEV_IMAGE_CONTEXT}"
}

config_get() { # python expression over the k3d config `d` k3d received
  python3 -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
    "${K8S_DEV_FAKE_STATE}/configs/${K8S_DEV_CLUSTER}.yaml" "$1"
}

configmap() { # key of localRegistryHosting.v1
  kubectl --kubeconfig "${HOME}/.kube/k3d-${K8S_DEV_CLUSTER}.yaml" get configmap -n kube-public local-registry-hosting \
    -o jsonpath='{.data.localRegistryHosting\.v1}' | sed -n "s/^$1: //p"
}

test_registry_port() {
  stub_sandbox "derived from the registry port" || return 0
  K8S_DEV_REGISTRY_PORT="$(free_port)"
  local port="${K8S_DEV_REGISTRY_PORT}" push="localhost:${K8S_DEV_REGISTRY_PORT}"
  run_task k8s:dev:up
  assert_ok "up with only K8S_DEV_REGISTRY_PORT set"
  assert_eq "registry create ${K8S_DEV_REGISTRY_NAME} --port 127.0.0.1:${port} --default-network ${K8S_DEV_NETWORK}" \
    "$(calls k3d 'c["argv"][:2] == ["registry", "create"]')" "the registry is created on the port"
  assert_eq "True" "$(config_get "'${push}' in __import__('yaml').safe_load(d['registries']['config'])['mirrors']")" \
    "the k3d config mirrors the derived push name ${push}"
  assert_eq "\"${push}\"" "$(configmap host)" "the KEP-1755 ConfigMap names the derived push name"
  assert_contains "${ERR}" "ready: registry ${push}," "up waited for the registry at the derived push name"
  assert_contains "${OUT}" "Registry: push ${push}," "up reports the derived push name"

  # The supervisor's base, offline: a busybox in the registry itself.
  local base
  base="$(busybox_base "localhost:${port}")" || fail "publishing the busybox base"
  K8S_DEV_SUPERVISOR_BUILD_ARGS="SUPERVISOR_BASE_IMAGE=${base}" K8S_DEV_CARGO_BUILD="cargo build" run_task k8s:dev:sync
  assert_ok "sync with only K8S_DEV_REGISTRY_PORT set"
  assert_contains "$(curl -fsS "http://127.0.0.1:${port}/v2/openshell-gateway/tags/list")" '"dev"' \
    "sync pushed the gateway to the registry on the port"
  assert_contains "${OUT}" "Gateway: ${push}/openshell-gateway:" "sync names the derived push name"
  if [[ -f "${CARGO_TARGET_DIR}/k8s-dev/images.env" ]]; then
    pass "sync's state went to the state directory derived from CARGO_TARGET_DIR"
  else
    fail "no images.env under ${CARGO_TARGET_DIR}/k8s-dev"
  fi

  run_task k8s:dev:watch
  assert_ok "watch with only K8S_DEV_REGISTRY_PORT set"
  assert_contains "$(cat "${K8S_DEV_FAKE_STATE}/skaffold.argv")" "--default-repo ${push} " "Skaffold's default repo is the derived push name"
}

test_registry_name() {
  stub_sandbox "derived from the registry name" || return 0
  export K8S_DEV_REGISTRY_NAME="named-$$"
  local pull="named-$$:5000"
  run_task k8s:dev:up
  assert_ok "up with only K8S_DEV_REGISTRY_NAME set"
  assert_contains "$(calls k3d 'c["argv"][:2] == ["registry", "create"]')" "registry create named-$$ " "the registry is created with the name"
  assert_eq "k3d-named-$$:5000" "$(config_get 'd["registries"]["use"][0]')" "the cluster uses the registry's container"
  assert_eq "True" "$(config_get "'${pull}' in __import__('yaml').safe_load(d['registries']['config'])['mirrors']")" \
    "the k3d config mirrors the derived pull name ${pull}"
  assert_eq "\"${pull}\"" "$(configmap hostFromContainerRuntime)" "the ConfigMap names the derived pull name"
  assert_eq "\"k3d-named-$$:5000\"" "$(configmap hostFromClusterNetwork)" "the ConfigMap names the registry's container"

  K8S_DEV_SKIP_SYNC=1 run_task k8s:dev:bootstrap
  assert_ok "bootstrap with only K8S_DEV_REGISTRY_NAME set"
  local upgrade
  upgrade="$(calls helm 'c["argv"][0] == "upgrade"' | tail -n1)"
  assert_contains "${upgrade}" "--set image.repository=${pull}/openshell-gateway " "the chart pulls the gateway by the derived pull name"
  assert_contains "${upgrade}" "--set supervisor.image.repository=${pull}/openshell-supervisor " "and the supervisor"

  K8S_DEV_GATEWAY_PORT="$(free_port)" run_task k8s:dev:gateway
  assert_ok "gateway with only K8S_DEV_REGISTRY_NAME set"
  assert_contains "$(cat "${K8S_DEV_FAKE_STATE}/gateway.env")" "OPENSHELL_SANDBOX_IMAGE=${pull}/openshell-supervisor:dev" \
    "the gateway's sandboxes pull by the derived pull name"
}

test_cluster_name() {
  stub_sandbox "derived from the cluster name" || return 0
  export K8S_DEV_CLUSTER="named-$$"
  local ctx="k3d-named-$$" kc="${HOME}/.kube/k3d-named-$$.yaml"
  run_task k8s:dev:up
  assert_ok "up with only K8S_DEV_CLUSTER set"
  assert_eq "named-$$" "$(config_get 'd["metadata"]["name"]')" "the k3d config names the cluster"
  assert_mode "${kc}" 600 "the cluster's kubeconfig is ~/.kube/k3d-<cluster>.yaml"
  assert_eq "${ctx}" "$(kubectl --kubeconfig "${kc}" config current-context)" "its context is k3d-<cluster>"
  assert_eq "${ctx}" "$(kubectl config current-context)" "the default kubeconfig switched to k3d-<cluster>"
  assert_contains "${ERR}" "nodes of ${ctx}" "up waited for the nodes through k3d-<cluster>"

  K8S_DEV_SKIP_SYNC=1 run_task k8s:dev:bootstrap
  assert_ok "bootstrap with only K8S_DEV_CLUSTER set"
  assert_contains "$(calls helm 'c["argv"][0] == "upgrade"' | tail -n1)" "--kube-context ${ctx} --kubeconfig ${kc} " \
    "helm gets the derived context and kubeconfig"
  run_task k8s:dev:watch
  assert_ok "watch with only K8S_DEV_CLUSTER set"
  assert_contains "$(cat "${K8S_DEV_FAKE_STATE}/skaffold.argv")" "--kube-context ${ctx} --kubeconfig ${kc}" \
    "Skaffold gets the derived context and kubeconfig"
  run_task k8s:dev:status --json
  assert_eq "${ctx} ${kc}" "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["cluster"]["context"], d["kubeconfig"]["file"])' "${OUT}")" \
    "status reports the derived context and kubeconfig"
  run_task k8s:dev:down
  assert_ok "down with only K8S_DEV_CLUSTER set"
  if [[ ! -e "${kc}" ]]; then pass "down removed ~/.kube/k3d-<cluster>.yaml"; else fail "${kc} left behind"; fi
}

test_provider() {
  stub_sandbox "derived from the provider" || return 0
  use_kind docker || return 0
  local ctx="kind-${K8S_DEV_CLUSTER}" kc="${HOME}/.kube/kind-${K8S_DEV_CLUSTER}.yaml"
  run_task k8s:dev:up
  assert_ok "up with K8S_DEV_PROVIDER=kind"
  assert_eq "${K8S_DEV_CLUSTER}" "$(python3 -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["name"])' "${K8S_DEV_FAKE_STATE}/kind/configs/${K8S_DEV_CLUSTER}.yaml")" \
    "the kind config names the cluster"
  assert_mode "${kc}" 600 "the cluster's kubeconfig is ~/.kube/kind-<cluster>.yaml"
  assert_eq "${ctx}" "$(kubectl --kubeconfig "${kc}" config current-context)" "its context is kind's kind-<cluster>"
  assert_eq "${ctx}" "$(kubectl config current-context)" "the default kubeconfig switched to kind-<cluster>"
  assert_contains "${ERR}" "nodes of ${ctx}" "up waited for the nodes through kind-<cluster>"
  assert_contains "$(kubectl --kubeconfig "${kc}" get configmap -n kube-public local-registry-hosting -o jsonpath='{.data.localRegistryHosting\.v1}')" \
    "hostFromClusterNetwork: \"${K8S_DEV_REGISTRY_NAME}:5000\"" "the ConfigMap names the registry container as kind's network has it"

  K8S_DEV_SKIP_SYNC=1 run_task k8s:dev:bootstrap
  assert_ok "bootstrap on kind"
  assert_contains "$(calls helm 'c["argv"][0] == "upgrade"' | tail -n1)" "--kube-context ${ctx} --kubeconfig ${kc} " \
    "helm gets kind's context and kubeconfig"
  run_task k8s:dev:watch
  assert_ok "watch on kind"
  assert_contains "$(cat "${K8S_DEV_FAKE_STATE}/skaffold.argv")" "--kube-context ${ctx} --kubeconfig ${kc}" \
    "Skaffold gets kind's context and kubeconfig"
  run_task k8s:dev:status --json
  assert_eq "kind ${ctx} ${kc} ${K8S_DEV_REGISTRY_NAME}" \
    "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["provider"], d["cluster"]["context"], d["kubeconfig"]["file"], d["registry"]["container"])' "${OUT}")" \
    "status reports the provider, kind's context and kubeconfig, and the registry container"
  run_task k8s:dev:down --registry
  assert_ok "down on kind"
  if [[ ! -e "${kc}" ]]; then pass "down removed ~/.kube/kind-<cluster>.yaml"; else fail "${kc} left behind"; fi
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(registry_port registry_name cluster_name provider)
  run_tests "$@"
}

main "$@"
