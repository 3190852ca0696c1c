#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Regenerate the recordings the fakes in tests/fakes replay: what the real k3d, helm and
# skaffold print (stdout, stderr, exit code) for the calls the tasks make, captured from the
# binaries tests/support/tools.sh builds, one JSON file per case under
# tests/data/recorded/<tool>/<case>.json:
#   {"argv": [...], "env": {...}, "vars": {...}, "exit": N, "stdout": "...", "stderr": "..."}
# `vars` are the values of this run (names, ports, times, ids) the fakes substitute with theirs.
# See README.md next to this file for how each case is made and what is derived.
#
# Needs: k3d, helm and skaffold in the tools cache (tests/support/tools.sh build k3d helm
# skaffold); the Podman engine of tests/support/engines.sh (K8S_DEV_TEST_PODMAN_HOST; k3d's
# containers are privileged, which dockerd cannot start without CAP_SYS_RESOURCE) with the
# registry:2 stand-in of tests/support/k3d-standins.sh (built here); the control
# plane of tests/support/cluster.sh (K8S_DEV_TEST_KUBECONFIG, K8S_DEV_TEST_CONTEXT) and the
# registry of engines.sh (K8S_DEV_TEST_REGISTRY) for helm and skaffold; podman, python3, cargo.
#
# Usage: tests/data/recorded/record.sh [k3d|helm|skaffold...]   (default: all)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../../.." && pwd)"

usage() {
  sed -n '3,18p' "$0" | sed 's/^# \{0,1\}//'
}

die() { echo "error: $*" >&2; exit 1; }
log() { echo "[record] $*" >&2; }

# Run a command, store its argv, the environment named in REC_ENV, REC_VARS, exit code,
# stdout and stderr as <tool>/<case>.json.
record() { # tool/case, command...
  local out="${HERE}/$1.json" tmp rc=0
  shift
  tmp="$(mktemp -d)"
  "$@" >"${tmp}/stdout" 2>"${tmp}/stderr" || rc=$?
  mkdir -p "$(dirname "${out}")"
  python3 - "${out}" "${tmp}" "${rc}" "${REC_ENV:-}" "${REC_VARS:-}" "$@" <<'PY'
import json, os, sys
out, tmp, rc, env_names, var_pairs, argv = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6:]
argv = [os.path.basename(argv[0])] + argv[1:]
env = {k: os.environ.get(k) for k in env_names.split() if k}
variables = dict(p.split("=", 1) for p in var_pairs.split() if p)
redact = os.environ.get("REC_REDACT")
def read(name):
    text = open(os.path.join(tmp, name), errors="replace").read()
    return text.replace(redact, "REDACTED") if redact else text
case = {"argv": argv, "env": env, "vars": variables, "exit": rc, "stdout": read("stdout"), "stderr": read("stderr")}
with open(out, "w") as f:
    json.dump(case, f, indent=1, sort_keys=False)
    f.write("\n")
PY
  rm -rf "${tmp}"
  log "$(basename "$(dirname "${out}")")/$(basename "${out}"): exit ${rc}"
}

tool_path() { # tool
  local dir
  dir="$("${ROOT}/tests/support/tools.sh" path "$1")" || die "$1 is not built; run: tests/support/tools.sh build $1"
  echo "${dir}/$1"
}

record_k3d() {
  [[ -n "${K8S_DEV_TEST_PODMAN_HOST:-}" ]] || die "K8S_DEV_TEST_PODMAN_HOST is not set; eval \"\$(tests/support/engines.sh up)\""
  local k3d name=rec-registry net=k3d-rec-net port cluster=rec-cluster
  k3d="$(tool_path k3d)"
  export DOCKER_HOST="${K8S_DEV_TEST_PODMAN_HOST}"
  # `k3d cluster delete` rewrites the default kubeconfig (KUBECONFIG, else ~/.kube/config)
  # whatever the cluster's config says: give it an empty one of its own.
  K3D_KUBECONFIG_DIR="$(mktemp -d)"
  export KUBECONFIG="${K3D_KUBECONFIG_DIR}/kubeconfig"
  : >"${KUBECONFIG}"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  "${ROOT}/tests/support/k3d-standins.sh" registry "${DOCKER_HOST}"
  podman --url "${DOCKER_HOST}" network create "${net}" >/dev/null
  trap 'k3d_cleanup' EXIT
  export REC_ENV="LOG_COLORS" REC_VARS="NAME=${name} PORT=${port} NETWORK=${net} MISSING_NETWORK=${net}-missing CLUSTER=${cluster}"
  local colors
  for colors in false true; do
    export LOG_COLORS="${colors}"
    local suffix="" # LOG_COLORS=true prints what an unset LOG_COLORS prints: colours, even into a pipe
    [[ "${colors}" == false ]] || suffix="-colors"
    record "k3d/version${suffix}" "${k3d}" version
    record "k3d/registry-list-none${suffix}" "${k3d}" registry list -o json
    record "k3d/node-list-none${suffix}" "${k3d}" node list -o json
    record "k3d/registry-create${suffix}" "${k3d}" registry create "${name}" --port "127.0.0.1:${port}" --default-network "${net}"
    record "k3d/registry-create-exists${suffix}" "${k3d}" registry create "${name}" --port "127.0.0.1:${port}" --default-network "${net}"
    record "k3d/registry-list${suffix}" "${k3d}" registry list "${name}" -o json
    podman --url "${DOCKER_HOST}" stop -t 2 "k3d-${name}" >/dev/null
    record "k3d/registry-list-stopped${suffix}" "${k3d}" registry list "${name}" -o json
    record "k3d/registry-delete${suffix}" "${k3d}" registry delete "${name}"
    record "k3d/registry-list-missing${suffix}" "${k3d}" registry list "${name}" -o json
    record "k3d/registry-delete-missing${suffix}" "${k3d}" registry delete "${name}"
    record "k3d/registry-create-no-network${suffix}" "${k3d}" registry create "${name}" --port "127.0.0.1:${port}" --default-network "${net}-missing"
    record "k3d/cluster-list-none${suffix}" "${k3d}" cluster list -o json
    record "k3d/cluster-list-missing${suffix}" "${k3d}" cluster list "${cluster}" -o json
    record "k3d/cluster-delete-missing${suffix}" "${k3d}" cluster delete "${cluster}"
    record "k3d/kubeconfig-get-missing${suffix}" "${k3d}" kubeconfig get "${cluster}"
    DOCKER_HOST="unix:///nonexistent/docker.sock" REC_ENV="LOG_COLORS DOCKER_HOST" \
      record "k3d/cluster-list-no-engine${suffix}" "${k3d}" cluster list "${cluster}" -o json
    DOCKER_HOST="unix:///nonexistent/docker.sock" REC_ENV="LOG_COLORS DOCKER_HOST" \
      record "k3d/registry-list-no-engine${suffix}" "${k3d}" registry list "${name}" -o json
    DOCKER_HOST="unix:///nonexistent/docker.sock" REC_ENV="LOG_COLORS DOCKER_HOST" \
      record "k3d/node-list-no-engine${suffix}" "${k3d}" node list -o json
    DOCKER_HOST="unix:///nonexistent/docker.sock" REC_ENV="LOG_COLORS DOCKER_HOST" \
      record "k3d/kubeconfig-get-no-engine${suffix}" "${k3d}" kubeconfig get "${cluster}"
  done
  # A cluster of 1 server + 1 agent + load balancer, created, stopped, started and deleted by
  # the real k3d from the stand-in images of tests/support/k3d-standins.sh (no k3s runs in them;
  # the kubeconfig they hand k3d holds no real credentials).
  export LOG_COLORS=false
  local kubeconfig api_port token
  kubeconfig="$(mktemp)"
  printf '%s\n' 'apiVersion: v1' 'kind: Config' 'current-context: x' \
    'clusters: [{name: x, cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: RkFLRQ==}}]' \
    'users: [{name: x, user: {client-certificate-data: RkFLRQ==, client-key-data: RkFLRQ==}}]' \
    'contexts: [{name: x, context: {cluster: x, user: x}}]' >"${kubeconfig}"
  eval "$("${ROOT}/tests/support/k3d-standins.sh" cluster "${DOCKER_HOST}" "${kubeconfig}" 127.0.0.1:9 rec)"
  api_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  REC_VARS+=" API_PORT=${api_port}"
  # `k3d node list -o json` is what up and down read: every k3d container, so the registry of
  # the kit's shape (created apart, attached with registries.use) is there too.
  "${k3d}" registry create "${name}" --port "127.0.0.1:${port}" --default-network "${net}" >/dev/null 2>&1
  record k3d/node-list-registry "${k3d}" node list -o json
  record k3d/cluster-create "${k3d}" cluster create "${cluster}" --agents 1 --network "${net}" --image "${K8S_DEV_K3S_IMAGE}" \
    --api-port "127.0.0.1:${api_port}" --registry-use "k3d-${name}:5000" \
    --kubeconfig-update-default=false --kubeconfig-switch-context=false
  # The k3s token of this throwaway cluster is in every node's env: not kept.
  token="$(podman --url "${DOCKER_HOST}" inspect "k3d-${cluster}-server-0" --format '{{range .Config.Env}}{{println .}}{{end}}' \
    | sed -n 's/^K3S_TOKEN=//p')"
  export REC_REDACT="${token}"
  record k3d/cluster-list "${k3d}" cluster list "${cluster}" -o json
  record k3d/cluster-list-all "${k3d}" cluster list -o json
  record k3d/kubeconfig-get "${k3d}" kubeconfig get "${cluster}"
  record k3d/node-list "${k3d}" node list -o json
  record k3d/node-stop "${k3d}" node stop "k3d-${cluster}-serverlb"
  record k3d/node-list-lb-stopped "${k3d}" node list -o json
  "${k3d}" cluster start "${cluster}" >/dev/null 2>&1
  podman --url "${DOCKER_HOST}" stop -t 2 "k3d-${cluster}-agent-0" >/dev/null
  record k3d/cluster-list-partial "${k3d}" cluster list "${cluster}" -o json
  record k3d/node-list-partial "${k3d}" node list -o json
  record k3d/cluster-stop "${k3d}" cluster stop "${cluster}"
  record k3d/cluster-list-stopped "${k3d}" cluster list "${cluster}" -o json
  record k3d/node-list-stopped "${k3d}" node list -o json
  record k3d/cluster-start "${k3d}" cluster start "${cluster}"
  record k3d/cluster-delete "${k3d}" cluster delete "${cluster}"
  "${k3d}" registry delete "${name}" >/dev/null 2>&1
  rm -f "${kubeconfig}"
}

k3d_cleanup() {
  "$(tool_path k3d)" cluster delete rec-cluster >/dev/null 2>&1 || true
  rm -rf "${K3D_KUBECONFIG_DIR:-}"
  podman --url "${DOCKER_HOST}" rm -f -t 2 "k3d-rec-registry" >/dev/null 2>&1 || true
  podman --url "${DOCKER_HOST}" network rm "k3d-rec-net" >/dev/null 2>&1 || true
  podman --url "${DOCKER_HOST}" rmi -f localhost/k8s-dev-standin-k3s:rec localhost/k8s-dev-standin-proxy:rec \
    localhost/k8s-dev-standin-tools:rec >/dev/null 2>&1 || true
}

record_helm() {
  [[ -n "${K8S_DEV_TEST_KUBECONFIG:-}" && -n "${K8S_DEV_TEST_CONTEXT:-}" ]] \
    || die "K8S_DEV_TEST_KUBECONFIG/K8S_DEV_TEST_CONTEXT are not set; eval \"\$(tests/support/cluster.sh up)\""
  local helm ns="rec-helm-$$" chart="${ROOT}/deploy/helm/openshell" values
  helm="$(tool_path helm)"
  export KUBECONFIG="${K8S_DEV_TEST_KUBECONFIG}"
  values="$(mktemp)"
  # The fixed dev node port is cluster-wide; a recording must not collide with a test.
  sed 's/^\(  nodePort:\).*/\1 null/' "${ROOT}/deploy/values/dev.yaml" >"${values}"
  local h=("${helm}" --kube-context "${K8S_DEV_TEST_CONTEXT}")
  export REC_ENV="" REC_VARS="NAMESPACE=${ns} RELEASE=openshell CHART=${chart} VALUES=${values}"
  record helm/version "${helm}" version
  record helm/status-missing "${h[@]}" status openshell -n "${ns}" -o json
  record helm/get-all-missing "${h[@]}" get all openshell -n "${ns}"
  record helm/uninstall-missing "${h[@]}" uninstall openshell -n "${ns}"
  record helm/upgrade-install "${h[@]}" upgrade --install openshell "${chart}" -n "${ns}" --create-namespace -f "${values}"
  record helm/upgrade-again "${h[@]}" upgrade --install openshell "${chart}" -n "${ns}" -f "${values}"
  record helm/status "${h[@]}" status openshell -n "${ns}" -o json
  record helm/upgrade-bad-chart "${h[@]}" upgrade --install openshell "${ROOT}/tests" -n "${ns}"
  record helm/uninstall "${h[@]}" uninstall openshell -n "${ns}"
  kubectl --context "${K8S_DEV_TEST_CONTEXT}" delete namespace "${ns}" --wait=false >/dev/null
  rm -f "${values}"
}

# skaffold dev as k8s:dev:watch runs it, against the control plane and registry, with a helm
# shim on PATH that logs the helm commands skaffold runs; Ctrl-C once deployed.
record_skaffold() {
  [[ -n "${K8S_DEV_TEST_REGISTRY:-}" && -n "${K8S_DEV_TEST_CONTEXT:-}" ]] \
    || die "K8S_DEV_TEST_REGISTRY and K8S_DEV_TEST_CONTEXT are not set; start engines.sh and cluster.sh"
  local skaffold helm shim
  skaffold="$(tool_path skaffold)"
  helm="$(tool_path helm)"
  export KUBECONFIG="${K8S_DEV_TEST_KUBECONFIG}" SKAFFOLD_UPDATE_CHECK=false
  shim="$(mktemp -d)"
  printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s/helm-calls"\nexec "%s" "$@"\n' "${shim}" "${helm}" >"${shim}/helm"
  chmod +x "${shim}/helm"
  PATH="${shim}:$(dirname "${skaffold}"):${PATH}"
  # A fresh HOME for skaffold's global config; the Rust toolchain stays where it is.
  export RUSTUP_HOME="${RUSTUP_HOME:-${HOME}/.rustup}" CARGO_HOME="${CARGO_HOME:-${HOME}/.cargo}"
  export PATH HOME="${shim}/home"
  mkdir -p "${HOME}"
  "${skaffold}" config set --global collect-metrics false >/dev/null
  export REC_ENV="" REC_VARS="REGISTRY=${K8S_DEV_TEST_REGISTRY} CONTEXT=${K8S_DEV_TEST_CONTEXT}"
  record skaffold/version "${skaffold}" version
  record skaffold/unknown-command "${skaffold}" frobnicate
  log "skaffold dev (builds both images; minutes on a cold cargo cache)"
  skaffold_dev dev "${shim}"
  # The custom builder failing (cargo has no such package), past skaffold's artifact cache.
  K8S_DEV_SUPERVISOR_PACKAGE=no-such-package skaffold_dev dev-build-fails "${shim}" --cache-artifacts=false
  rm -rf "${shim}"
}

# One `skaffold dev` (as the watch task runs it), SIGINT once it watches, into skaffold/CASE.json
# with the helm commands it ran.
skaffold_dev() { # case, shim dir, [skaffold dev flag...]
  local name="$1" shim="$2" log="$2/dev.log" pid i rc=0
  shift 2
  : >"${shim}/helm-calls"
  (cd "${ROOT}" && exec setsid "$(tool_path skaffold)" dev --filename skaffold.yaml --default-repo "${K8S_DEV_TEST_REGISTRY}" \
    --kube-context "${K8S_DEV_TEST_CONTEXT}" "$@") >"${log}" 2>"${shim}/dev.err" &
  pid=$!
  for ((i = 0; i < 1800; i++)); do
    grep -q "Watching for changes" "${log}" 2>/dev/null && break
    kill -0 "${pid}" 2>/dev/null || break
    sleep 0.5
  done
  kill -INT -- "-${pid}" 2>/dev/null || true
  wait "${pid}" || rc=$?
  python3 - "${HERE}/skaffold/${name}.json" "${log}" "${shim}/dev.err" "${shim}/helm-calls" "${rc}" "${K8S_DEV_TEST_REGISTRY}" "${K8S_DEV_TEST_CONTEXT}" "$@" <<'PY'
import json, sys
out, log, err, calls, rc, registry, context = sys.argv[1:8]
case = {"argv": ["skaffold", "dev", "--filename", "skaffold.yaml", "--default-repo", registry, "--kube-context", context] + sys.argv[8:],
        "env": {}, "vars": {"REGISTRY": registry, "CONTEXT": context},
        "signal": "SIGINT after 'Watching for changes', if it gets there", "exit": int(rc),
        "stdout": open(log).read(), "stderr": open(err).read(),
        "helm_calls": open(calls).read().splitlines()}
with open(out, "w") as f:
    json.dump(case, f, indent=1)
    f.write("\n")
PY
  log "skaffold/${name}.json: exit ${rc}"
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  (($#)) || set -- k3d helm skaffold
  # The tools cache lives under HOME, which record_skaffold replaces.
  export K8S_DEV_TOOLS_CACHE="${K8S_DEV_TOOLS_CACHE:-${HOME}/.cache/k8s-dev-tools}"
  local t
  for t in "$@"; do
    case "${t}" in
      k3d) (record_k3d) ;;
      helm) (record_helm) ;;
      skaffold) (record_skaffold) ;;
      *) usage >&2; exit 2 ;;
    esac
  done
}

main "$@"
