#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Tests of the cluster lifecycle tasks (k8s:dev:up/down/status, remote mode, bad input) through
# real mise, the real helper and kubectl, a recording fake k3d backed by a real registry and the
# fake Kubernetes API, and the real Docker and Podman engines. Prints PASS/FAIL/SKIP lines.
#
# Environment: K8S_DEV_TEST_DOCKER_HOST, K8S_DEV_TEST_PODMAN_HOST (engine sockets; a missing
# one skips its lifecycle test), K8S_DEV_TEST_NO_SKIP=1 (a skip fails).
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0") [test-name...]   (default: all; see main for names)"
}

yaml_get() { # file, python expression over `d`
  python3 -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

test_lifecycle() { # engine
  local engine="$1" host
  host="$(engine_host "${engine}")"
  if [[ -z "${host}" ]]; then
    skip "lifecycle on ${engine}: no ${engine} socket (K8S_DEV_TEST_$(echo "${engine}" | tr "[:lower:]" "[:upper:]")_HOST)"
    return 0
  fi
  sandbox_setup
  export DOCKER_HOST="${host}"
  seed_user_kubeconfig
  local name="${K8S_DEV_CLUSTER}" ctx="k3d-${K8S_DEV_CLUSTER}"

  run_task k8s:dev:up
  assert_ok "${engine}: first up succeeds"
  assert_eq "registry create ${K8S_DEV_REGISTRY_NAME} --port 127.0.0.1:${K8S_DEV_REGISTRY_PORT} --default-network ${K8S_DEV_NETWORK}|cluster create --config ${ROOT}/deploy/k3d/cluster.yaml" \
    "$(calls k3d 'c["argv"][1] in ("create", "start")' | paste -sd'|' -)" \
    "${engine}: first up creates the registry, then the cluster from the k3d config"
  assert_eq "${host}" "$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]["env"]["DOCKER_HOST"])' "${K8S_DEV_FAKE_STATE}/calls.jsonl")" \
    "${engine}: k3d runs with DOCKER_HOST of the detected engine"
  local config="${K8S_DEV_FAKE_STATE}/configs/${name}.yaml"
  assert_schema_valid k3d-v1alpha5.schema.json "${config}" "${engine}: the k3d config k3d received validates against the k3d v1alpha5 schema"
  assert_eq "127.0.0.1 ${K8S_DEV_API_PORT} 1 127.0.0.1:${K8S_DEV_LB_PORT}:30051 k3d-${K8S_DEV_REGISTRY_NAME}:5000" \
    "$(yaml_get "${config}" '" ".join(map(str, [d["kubeAPI"]["hostIP"], d["kubeAPI"]["hostPort"], d["agents"]] + [p["port"] for p in d["ports"]] + d["registries"]["use"]))')" \
    "${engine}: config binds API and load balancer to 127.0.0.1 and uses the registry"
  assert_contains "$(yaml_get "${config}" 'd["registries"]["config"]')" "\"localhost:${K8S_DEV_REGISTRY_PORT}\"" \
    "${engine}: config mirrors the host's push name into the cluster"
  if docker network inspect "${K8S_DEV_NETWORK}" >/dev/null 2>&1; then
    pass "${engine}: up created the shared network on the engine"
  else
    fail "${engine}: network ${K8S_DEV_NETWORK} missing on the engine"
  fi
  assert_mode "${HOME}/.kube/k3d-${name}.yaml" 600 "${engine}: cluster kubeconfig is 0600"
  assert_mode "${HOME}/.kube/config" 600 "${engine}: default kubeconfig stays 0600"
  assert_eq "$(printf 'other\n%s' "${ctx}")" "$(kubeconfig_contexts "${HOME}/.kube/config")" \
    "${engine}: up merged the cluster and kept the user's context"
  assert_eq "${ctx}" "$(kubectl config current-context)" "${engine}: up switched to the cluster's context"
  assert_contains "$(kubectl --kubeconfig "${HOME}/.kube/k3d-${name}.yaml" get configmap -n kube-public local-registry-hosting -o jsonpath='{.data.localRegistryHosting\.v1}')" \
    "host: \"localhost:${K8S_DEV_REGISTRY_PORT}\"" "${engine}: KEP-1755 local-registry-hosting ConfigMap published"
  assert_not_contains "${OUT}${ERR}" "RkFLRS1TRUNSRVQtS0VZ" "${engine}: up prints no client key"

  local before after start
  before="$(calls k3d 'c["argv"][1] in ("create", "start", "delete")' | wc -l)"
  start="$(date +%s%N)"
  run_task k8s:dev:up
  after="$(calls k3d 'c["argv"][1] in ("create", "start", "delete")' | wc -l)"
  assert_ok "${engine}: second up succeeds"
  assert_eq "${before}" "${after}" "${engine}: second up creates, starts and deletes nothing"
  assert_eq "none none none none k3d running True running" \
    "$("${K8S_DEV_HELPER}" up plan --json | python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["plan"]; o=d["observed"]; print(p["network"], p["registry"], p["cluster"], p["kubeconfig"], o["provider"], o["cluster"]["state"], o["cluster"]["holds_ports"], o["registry"]["state"])')" \
    "${engine}: up plan --json of a running kit: nothing to do, cluster (its load balancer holding the ports) and registry running"
  echo "info: ${engine}: no-op up took $((($(date +%s%N) - start) / 1000000)) ms (measured, not asserted)"

  k3d cluster stop "${name}" >/dev/null
  run_task k8s:dev:up
  assert_ok "${engine}: up after a stop succeeds"
  assert_eq "cluster start ${name}" "$(calls k3d 'c["argv"][:2] == ["cluster", "start"]')" "${engine}: up after a stop starts the cluster"
  assert_contains "${OUT}" "was stopped" "${engine}: up after a stop says the cluster was stopped"

  # A stopped load balancer is a stopped cluster: nothing reaches the API or the gateway.
  # LOG_COLORS=false: node stop's lines are recorded only in k3d's plain format.
  LOG_COLORS=false k3d node stop "k3d-${name}-serverlb" >/dev/null
  run_task k8s:dev:up
  assert_ok "${engine}: up with the load balancer stopped succeeds"
  assert_eq 2 "$(calls k3d 'c["argv"][:2] == ["cluster", "start"]' | wc -l)" "${engine}: up starts a cluster whose load balancer is stopped"
  assert_contains "${OUT}" "was partial" "${engine}: up says the cluster was partly running"

  run_task k8s:dev:status --json
  assert_ok "${engine}: status --json succeeds"
  assert_eq "running running ${engine}" \
    "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["cluster"]["state"], d["registry"]["state"], d["engine"]["engine"])' "${OUT}" 2>&1)" \
    "${engine}: status --json reports cluster, registry and engine"
  assert_not_contains "${OUT}" "RkFLRS1" "${engine}: status --json shows no credentials"
  if [[ "${engine}" == podman ]]; then
    # No DOCKER_HOST: status must find the engine itself (rootless Podman's place) and hand it
    # to k3d, which would otherwise try /var/run/docker.sock.
    mkdir -p "${XDG_RUNTIME_DIR}/podman"
    ln -s "${host#unix://}" "${XDG_RUNTIME_DIR}/podman/podman.sock"
    (unset DOCKER_HOST && run_task k8s:dev:status --json && echo "${OUT}" >"${SANDBOX}/status.json")
    assert_eq "running node list -o json unix://${XDG_RUNTIME_DIR}/podman/podman.sock" \
      "$(python3 -c 'import json,sys; c=[json.loads(l) for l in open(sys.argv[1])][-1]; d=json.load(open(sys.argv[2])); print(d["cluster"]["state"], " ".join(c["argv"]), c["env"]["DOCKER_HOST"])' \
        "${K8S_DEV_FAKE_STATE}/calls.jsonl" "${SANDBOX}/status.json")" \
      "${engine}: status finds the engine and reads k3d with its DOCKER_HOST"
    rm -f "${XDG_RUNTIME_DIR}/podman/podman.sock"
  fi

  run_task k8s:dev:down
  assert_ok "${engine}: down succeeds"
  assert_eq "cluster delete ${name}" "$(calls k3d 'c["argv"][1] == "delete"')" "${engine}: down deletes the cluster only"
  # Read as JSON: k3d prints it compact ("Running":true), and spacing is no contract.
  assert_eq True "$(k3d registry list "${K8S_DEV_REGISTRY_NAME}" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["State"]["Running"])')" \
    "${engine}: down keeps the registry running"
  assert_eq "other" "$(kubeconfig_contexts "${HOME}/.kube/config")" "${engine}: down removed the cluster's context and kept the user's"
  if [[ ! -e "${HOME}/.kube/k3d-${name}.yaml" ]]; then pass "${engine}: down removed the cluster kubeconfig"; else fail "${engine}: cluster kubeconfig left behind"; fi

  run_task k8s:dev:down --registry
  assert_ok "${engine}: down --registry succeeds"
  assert_eq "registry delete ${K8S_DEV_REGISTRY_NAME}" "$(calls k3d 'c["argv"][:2] == ["registry", "delete"]')" "${engine}: down --registry deletes the registry"
  run_task k8s:dev:down
  assert_ok "${engine}: down is idempotent"
}

# KUBECONFIG naming several files: up merges where `kubectl config` would write (a new context
# into the first file that exists, not into the first entry), a second up sees it there, status
# names every file, and down removes the context from the file that holds it.
test_several_kubeconfig_files() {
  sandbox_setup
  use_docker "several kubeconfig files" || return 0
  seed_user_kubeconfig
  local first="${SANDBOX}/first.yaml" user="${HOME}/.kube/config" ctx="k3d-${K8S_DEV_CLUSTER}"
  export KUBECONFIG="${first}:${user}"
  run_task k8s:dev:up
  assert_ok "up with KUBECONFIG naming two files"
  if [[ ! -e "${first}" ]]; then pass "up created no file for the missing first entry"; else fail "up created ${first}"; fi
  assert_eq "$(printf 'other\n%s' "${ctx}")" "$(kubeconfig_contexts "${user}")" \
    "up merged the cluster into the file that exists and kept the user's context"
  assert_eq "${ctx}" "$(kubectl config current-context)" "kubectl sees the cluster's context as current"
  assert_eq "none" "$("${K8S_DEV_HELPER}" up plan --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["plan"]["kubeconfig"])')" \
    "a second up finds the cluster in the second file: no kubeconfig step"
  run_task k8s:dev:status
  assert_contains "${OUT}" "Kubeconfig files: ${KUBECONFIG} (new entries go to ${user}; has the context in ${user}" \
    "status names both files and where the context is"
  run_task k8s:dev:down --registry
  assert_ok "down with KUBECONFIG naming two files"
  assert_eq "other" "$(kubeconfig_contexts "${user}")" "down removed the cluster's context from the file that held it"
  if [[ ! -e "${first}" ]]; then pass "down created no file either"; else fail "down created ${first}"; fi
}

test_bad_name() {
  sandbox_setup
  local name
  for name in Upper_Case a_b "$(printf 'x%.0s' $(seq 33))"; do
    K8S_DEV_CLUSTER="${name}" run_task k8s:dev:up
    assert_eq 1 "${RC}" "bad name ${name}: up exits 1"
    assert_contains "${ERR}" "set K8S_DEV_CLUSTER" "bad name ${name}: the error names the setting"
  done
  assert_eq "" "$(calls k3d)" "bad names: no k3d call at all"
}

test_bad_ports() {
  local host
  host="$(engine_host docker)"
  [[ -n "${host}" ]] || host="$(engine_host podman)"
  if [[ -z "${host}" ]]; then skip "busy port: no engine socket"; return 0; fi
  sandbox_setup
  export DOCKER_HOST="${host}"
  hold_port "${K8S_DEV_API_PORT}"
  run_task k8s:dev:up
  assert_eq 1 "${RC}" "busy API port: up exits 1"
  assert_contains "${ERR}" "port ${K8S_DEV_API_PORT} on 127.0.0.1 is in use by another program; stop it or set K8S_DEV_API_PORT" \
    "busy API port: one line naming the port and the setting"
  assert_eq "" "$(calls k3d 'c["argv"][1] in ("create", "start")')" "busy API port: nothing created or started"
  K8S_DEV_LB_PORT=80 run_task k8s:dev:up
  assert_eq 1 "${RC}" "privileged port: up exits 1"
  assert_contains "${ERR}" "port 80 is privileged; set K8S_DEV_LB_PORT" "privileged port: the error names the setting"
  K8S_DEV_REGISTRY_PORT="${K8S_DEV_API_PORT}" run_task k8s:dev:up
  assert_contains "${ERR}" "wanted by both K8S_DEV_REGISTRY_PORT and K8S_DEV_API_PORT" "clashing ports: named"
}

test_remote_mode() {
  sandbox_setup
  python3 "${ROOT}/tests/support/fake-kube-api.py" --port 0 --kubeconfig-out "${SANDBOX}/shared.yaml" \
    --name shared --pid-file "${SANDBOX}/api.pid" >"${SANDBOX}/api.out" 2>&1 &

  local i
  for ((i = 0; i < 50; i++)); do [[ -s "${SANDBOX}/api.pid" ]] && break; sleep 0.1; done
  export KUBECONFIG="${SANDBOX}/shared.yaml"
  K8S_DEV_CONTEXT=shared K8S_DEV_REGISTRY=registry.example:5000 K8S_DEV_REGISTRY_PULL=registry.example:5000 \
    run_task k8s:dev:up
  assert_ok "remote mode: up succeeds against an existing context"
  assert_contains "${OUT}" "Context: shared" "remote mode: up reports the context"
  K8S_DEV_CONTEXT=shared run_task k8s:dev:sync
  assert_eq 1 "${RC}" "remote mode: a task without the registry settings fails"
  assert_contains "${ERR}" "set K8S_DEV_REGISTRY (push name) and K8S_DEV_REGISTRY_PULL" \
    "remote mode: no registry is derived from this machine's for the shared cluster"
  export K8S_DEV_REGISTRY=registry.example:5000 K8S_DEV_REGISTRY_PULL=registry.example:5000
  K8S_DEV_CONTEXT=shared run_task k8s:dev:down
  assert_ok "remote mode: down succeeds"
  assert_contains "${ERR}" "nothing deleted" "remote mode: down says it deleted nothing"
  K8S_DEV_CONTEXT=missing run_task k8s:dev:up
  assert_eq 1 "${RC}" "remote mode: an unknown context fails"
  assert_contains "${ERR}" "unset K8S_DEV_CONTEXT" "remote mode: the error names the fix"
  assert_eq "" "$(calls k3d)" "remote mode: no k3d call at all"
}

# The first task of a fresh clone builds the helper for minutes: it must say so up front, show
# cargo's progress on a terminal (not in logs), and say nothing once the build is current.
test_helper_first_build() {
  sandbox_setup
  export CARGO_TARGET_DIR="${SANDBOX}/target"
  mkdir -p "${SANDBOX}/bin"
  cat >"${SANDBOX}/bin/cargo" <<'SH'
#!/usr/bin/env bash
# Records the build's arguments and "builds" the release helper.
echo "$*" >>"${K8S_DEV_FAKE_STATE}/cargo.args"
mkdir -p "${CARGO_TARGET_DIR}/release"
printf '#!/bin/sh\n' >"${CARGO_TARGET_DIR}/release/k8s-dev-helper"
chmod +x "${CARGO_TARGET_DIR}/release/k8s-dev-helper"
SH
  chmod +x "${SANDBOX}/bin/cargo"
  mkdir -p "${K8S_DEV_FAKE_STATE}"
  local find='source tasks/scripts/helper.sh && require_helper'
  first() { (cd "${ROOT}" && env -u K8S_DEV_HELPER PATH="${SANDBOX}/bin:${PATH}" bash -c "${find}") 2>&1; }
  local out
  out="$(first)"
  assert_contains "${out}" "building k8s-dev-helper (release)" "first run: says it builds the helper"
  assert_contains "${out}" "this is the first run here; it takes a few minutes" "first run: says why and for how long"
  assert_contains "$(cat "${K8S_DEV_FAKE_STATE}/cargo.args")" "build --quiet --release" "first run, not a terminal: cargo is quiet"
  assert_eq "" "$(first)" "a later run with the build current says nothing"
  assert_eq 1 "$(wc -l <"${K8S_DEV_FAKE_STATE}/cargo.args")" "a later run with the build current builds nothing"
  touch -d '2000-01-01' "${CARGO_TARGET_DIR}/release/k8s-dev-helper"
  : >"${K8S_DEV_FAKE_STATE}/cargo.args"
  out="$(cd "${ROOT}" && env -u K8S_DEV_HELPER PATH="${SANDBOX}/bin:${PATH}" \
    script -qec "bash -c '${find}'" /dev/null 2>&1)"
  assert_contains "${out}" "its sources changed since the last build" "a stale build: says why it rebuilds"
  assert_eq "build --release --manifest-path ${ROOT}/Cargo.toml -p k8s-dev-helper" "$(cat "${K8S_DEV_FAKE_STATE}/cargo.args")" \
    "on a terminal: cargo shows its progress"
}

# The adopter's RUSTC_WRAPPER (OpenShell's mise [env]: sccache) when the tasks build the helper:
# used when it runs; dropped, saying so once, when it does not; a wrapper named only by a cargo
# config is dropped after cargo's own "never executed" error. The stub behaves as cargo does.
test_helper_build_under_rustc_wrapper() {
  sandbox_setup
  export CARGO_TARGET_DIR="${SANDBOX}/target"
  mkdir -p "${SANDBOX}/bin" "${SANDBOX}/wrappers"
  cat >"${SANDBOX}/bin/cargo" <<'SH'
#!/usr/bin/env bash
# cargo's wrapper rule: RUSTC_WRAPPER, when set (set and empty: none, over the config's too),
# else the config's build.rustc-wrapper (FAKE_CONFIG_WRAPPER here); a wrapper that cannot run
# fails before anything compiles.
if [[ -n "${RUSTC_WRAPPER+set}" ]]; then wrapper="${RUSTC_WRAPPER}"; else wrapper="${FAKE_CONFIG_WRAPPER:-}"; fi
echo "wrapper=${wrapper}" >>"${K8S_DEV_FAKE_STATE}/cargo.calls"
if [[ -n "${wrapper}" ]] && ! command -v "${wrapper}" >/dev/null 2>&1; then
  echo "error: could not execute process \`${wrapper} /toolchain/bin/rustc -vV\` (never executed)" >&2
  exit 101
fi
mkdir -p "${CARGO_TARGET_DIR}/release"
printf '#!/bin/sh\n' >"${CARGO_TARGET_DIR}/release/k8s-dev-helper"
chmod +x "${CARGO_TARGET_DIR}/release/k8s-dev-helper"
SH
  printf '#!/bin/sh\nexec "$@"\n' >"${SANDBOX}/wrappers/sccache"
  chmod +x "${SANDBOX}/bin/cargo" "${SANDBOX}/wrappers/sccache"
  mkdir -p "${K8S_DEV_FAKE_STATE}"
  local find='source tasks/scripts/helper.sh && require_helper' out
  build() { # env assignments...
    rm -rf "${CARGO_TARGET_DIR}" "${K8S_DEV_FAKE_STATE}/cargo.calls"
    (cd "${ROOT}" && env -u K8S_DEV_HELPER -u RUSTC_WRAPPER -u CARGO_BUILD_RUSTC_WRAPPER \
      PATH="${SANDBOX}/bin:${PATH}" "$@" bash -c "${find}") 2>&1
  }
  out="$(build RUSTC_WRAPPER=sccache)"
  assert_eq 1 "$(grep -c 'RUSTC_WRAPPER=sccache is not installed; building without it (install it to cache builds)' <<<"${out}")" \
    "a RUSTC_WRAPPER that is not installed: said once"
  assert_eq "wrapper=" "$(cat "${K8S_DEV_FAKE_STATE}/cargo.calls")" "and the helper is built without it"
  if [[ -x "${CARGO_TARGET_DIR}/release/k8s-dev-helper" ]]; then pass "the helper was built"; else fail "no helper built: ${out}"; fi

  out="$(build PATH="${SANDBOX}/wrappers:${SANDBOX}/bin:${PATH}" RUSTC_WRAPPER=sccache)"
  assert_not_contains "${out}" "RUSTC_WRAPPER" "a RUSTC_WRAPPER that runs: nothing said"
  assert_eq "wrapper=sccache" "$(cat "${K8S_DEV_FAKE_STATE}/cargo.calls")" "and cargo builds through it"

  out="$(build CARGO_BUILD_RUSTC_WRAPPER=sccache)"
  assert_contains "${out}" "CARGO_BUILD_RUSTC_WRAPPER=sccache is not installed" "CARGO_BUILD_RUSTC_WRAPPER counts too"

  out="$(build FAKE_CONFIG_WRAPPER=nope)"
  assert_eq 1 "$(grep -c 'build.rustc-wrapper=nope is not installed; building without it' <<<"${out}")" \
    "a cargo config's wrapper that cannot run: cargo's error spotted, said once"
  assert_eq "$(printf 'wrapper=nope\nwrapper=')" "$(cat "${K8S_DEV_FAKE_STATE}/cargo.calls")" "and built again without it"
  if [[ -x "${CARGO_TARGET_DIR}/release/k8s-dev-helper" ]]; then pass "the helper was built on the retry"; else fail "no helper built: ${out}"; fi
}

test_task_list() {
  sandbox_setup
  local listing task
  listing="$(cd "${ROOT}" && mise tasks 2>&1)"
  for task in up down status doctor sync bootstrap gateway watch; do
    if grep -Eq "^k8s:dev:${task} +[A-Z][a-z]+ .{20,}" <<<"${listing}"; then
      pass "mise tasks lists k8s:dev:${task} with a description"
    else
      fail "k8s:dev:${task} missing or undescribed in: ${listing}"
    fi
  done
}

# A loop over `$(…)` (or `local x=$(…)`) runs on when the command fails: every task script
# checks each substitution instead (the CRD loop of bootstrap once installed a chart without its
# CRDs and exited 0).
test_no_unchecked_substitutions() {
  local found
  found="$(grep -nE 'for [a-z_]+ in \$\(|local [a-z_]+="?\$\(' "${ROOT}"/tasks/scripts/*.sh || true)"
  assert_eq "" "${found}" "no for-in-\$(…) loop or local x=\$(…) in tasks/scripts"
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(task_list no_unchecked_substitutions helper_first_build helper_build_under_rustc_wrapper bad_name bad_ports remote_mode several_kubeconfig_files "lifecycle docker" "lifecycle podman")
  run_tests "$@"
}

main "$@"
