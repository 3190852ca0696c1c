#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Tests of the cluster providers (K8S_DEV_PROVIDER=kind and k3s) through the same tasks as k3d
# (k8s:dev:up/down/status/doctor), with real mise, the real helper and kubectl:
#   kind: the recording fake kind (tests/fakes/kind), whose nodes are real containers on the
#         engine (the control plane runs the fake Kubernetes API), on Docker and on Podman;
#   k3s:  a fake host under a temporary root (K8S_DEV_TEST_HOST_ROOT: etc/rancher/k3s with the
#         kubeconfig of a fake Kubernetes API, a systemd unit), the registry on the engine;
# and bad input: an unknown provider, kind missing, a kind cluster of the kit's name the kit did
# not make, a k3s kubeconfig missing or unreadable, a registries.yaml that may not be written.
# Where the real kind binary (v0.33.0) is built, it checks every config the kit rendered for
# kind, up to where it would need a node image. Prints PASS/FAIL/SKIP lines.
#
# Environment: K8S_DEV_TEST_DOCKER_HOST, K8S_DEV_TEST_PODMAN_HOST (engine sockets; a missing one
# skips its tests), K8S_DEV_TEST_KIND (the real kind; default: the tools cache, else PATH),
# K8S_DEV_TEST_NO_SKIP=1 (a skip fails).
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0") [test-name...]   (default: all; see main for names)"
}

json_get() { # json text, python expression over `d`
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# The names, labels, state and networks of the engine's containers named NAME*, one per line.
containers() { # name prefix
  docker ps -a --filter "name=$1" --format '{{.Names}} {{.State}}' | sort
}

# A blob pushed to the registry over its API: what must survive the cluster's re-creation.
push_blob() { # registry host:port -> digest
  python3 - "$1" <<'PY'
import hashlib, sys, urllib.request
reg = sys.argv[1]
data = b"k8s-dev provider test blob\n"
digest = "sha256:" + hashlib.sha256(data).hexdigest()
req = urllib.request.Request("http://%s/v2/provider-test/blobs/uploads/" % reg, method="POST")
location = urllib.request.urlopen(req, timeout=10).headers["Location"]
if location.startswith("/"):
    location = "http://" + reg + location
sep = "&" if "?" in location else "?"
put = urllib.request.Request(location + sep + "digest=" + digest, data=data, method="PUT",
                             headers={"Content-Type": "application/octet-stream"})
urllib.request.urlopen(put, timeout=10)
print(digest)
PY
}

has_blob() { # registry host:port, digest
  python3 - "$1" "$2" <<'PY'
import sys, urllib.request
req = urllib.request.Request("http://%s/v2/provider-test/blobs/%s" % (sys.argv[1], sys.argv[2]), method="HEAD")
try:
    urllib.request.urlopen(req, timeout=10)
except Exception:
    sys.exit(1)
PY
}

# --- the real kind ---------------------------------------------------------------------------

KIND_VERSION=v0.33.0
REAL_KIND=""
find_real_kind() {
  local candidate
  for candidate in "${K8S_DEV_TEST_KIND:-}" \
    "${K8S_DEV_TOOLS_CACHE:-${REAL_HOME:-${HOME}}/.cache/k8s-dev-tools}/bin/kind-${KIND_VERSION}/kind"; do
    [[ -n "${candidate}" && -x "${candidate}" ]] || continue
    if [[ "$("${candidate}" version 2>/dev/null)" == "kind ${KIND_VERSION} "* ]]; then
      REAL_KIND="${candidate}"
      return 0
    fi
  done
  return 1
}
REAL_HOME="${HOME}"
find_real_kind || true

# The real kind's own decoding, name check and validation of CONFIG, stopped (by a docker stub
# that refuses the first network call) before it would create anything or need a node image.
real_kind_accepts() { # config, what
  if [[ -z "${REAL_KIND}" ]]; then
    skip "$2: no kind ${KIND_VERSION} binary (set K8S_DEV_TEST_KIND, or GOBIN=… go install sigs.k8s.io/kind@${KIND_VERSION})"
    return 0
  fi
  local stub="${SANDBOX}/kind-stub" out
  mkdir -p "${stub}/bin"
  cat >"${stub}/bin/docker" <<'STUB'
#!/bin/sh
case "$1" in
  -v) echo "Docker version 28.2.2, build e6534b4" ;;
  info) echo '{"CgroupDriver":"systemd","CgroupVersion":"2","MemoryLimit":true,"PidsLimit":true,"CPUShares":true,"SecurityOptions":["name=seccomp,profile=builtin","name=cgroupns"]}' ;;
  ps | inspect) ;;
  *) echo "docker stub: stopping after kind's config checks" >&2; exit 1 ;;
esac
STUB
  chmod 755 "${stub}/bin/docker"
  out="$(env -i PATH="${stub}/bin" HOME="${stub}" "${REAL_KIND}" create cluster --config "$1" \
    --kubeconfig "${stub}/kubeconfig" 2>&1)" || true
  if [[ "${out}" == *"Creating cluster"*"failed to ensure docker network"* ]]; then
    pass "$2: the real kind ${KIND_VERSION} decodes and validates it"
  else
    fail "$2: the real kind refused it: ${out}"
  fi
}

# --- kind ----------------------------------------------------------------------------------------

test_kind_lifecycle() { # engine
  local engine="$1"
  sandbox_setup
  use_kind "${engine}" || return 0
  seed_user_kubeconfig
  local name="${K8S_DEV_CLUSTER}" ctx="kind-${K8S_DEV_CLUSTER}" reg="${K8S_DEV_REGISTRY_NAME}"
  local kind_kc
  kind_kc="$(setting K8S_DEV_KIND_KUBECONFIG)"

  run_task k8s:dev:up
  assert_ok "${engine}: first up succeeds"
  assert_eq "create cluster --config $(setting K8S_DEV_STATE_DIR)/kind/${name}.yaml --name ${name} --kubeconfig ${kind_kc}" \
    "$(calls kind 'c["argv"][0] in ("create", "delete", "export")')" \
    "${engine}: up creates the cluster with kind from the rendered config, kind writing its own kubeconfig"
  assert_eq "" "$(calls kind 'c["argv"][:2] in (["create", "cluster"], ["delete", "cluster"], ["export", "kubeconfig"]) and "--kubeconfig" not in c["argv"]')" \
    "${engine}: kind is never run without --kubeconfig (it would edit yours)"
  local want_env="None ${DOCKER_HOST} None"
  [[ "${engine}" == docker ]] || want_env="podman ${DOCKER_HOST} ${DOCKER_HOST}"
  assert_eq "${want_env}" \
    "$(python3 -c 'import json,sys; c=[json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["argv"][:2] == ["create", "cluster"]][0]["env"]; print(c["KIND_EXPERIMENTAL_PROVIDER"], c["DOCKER_HOST"], c["CONTAINER_HOST"])' "${K8S_DEV_FAKE_STATE}/calls.jsonl")" \
    "${engine}: kind drives the engine the kit found (Podman: KIND_EXPERIMENTAL_PROVIDER and CONTAINER_HOST)"
  local config="${K8S_DEV_FAKE_STATE}/kind/configs/${name}.yaml"
  assert_schema_valid kind-v1alpha4.schema.json "${config}" "${engine}: the config kind received validates against the kind v1alpha4 schema"
  assert_eq "${name} 127.0.0.1 ${K8S_DEV_API_PORT} 127.0.0.1:${K8S_DEV_LB_PORT}->30051 control-plane,worker" \
    "$(python3 -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1])); m=d["nodes"][0]["extraPortMappings"][0]; print(d["name"], d["networking"]["apiServerAddress"], d["networking"]["apiServerPort"], "%s:%s->%s" % (m["listenAddress"], m["hostPort"], m["containerPort"]), ",".join(n["role"] for n in d["nodes"]))' "${config}")" \
    "${engine}: the config names the cluster and binds the API and the gateway to 127.0.0.1 from the settings"
  real_kind_accepts "${config}" "${engine}: the config kind received"
  assert_eq "$(printf '%s running\n%s running' "${name}-control-plane" "${name}-worker")" "$(containers "${name}-")" \
    "${engine}: the cluster's nodes run"
  assert_eq "running true registry 127.0.0.1:${K8S_DEV_REGISTRY_PORT}" \
    "$(docker inspect "${reg}" --format '{{.State.Status}} {{if index .NetworkSettings.Networks "kind"}}true{{else}}false{{end}} {{index .Config.Labels "io.k8s-dev.role"}} {{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIp}}:{{.HostPort}}{{end}}{{end}}' 2>&1)" \
    "${engine}: the registry runs on kind's network, labelled the kit's, published on 127.0.0.1"
  local node
  for node in "${name}-control-plane" "${name}-worker"; do
    assert_eq "[host.\"http://${reg}:5000\"]" \
      "$(docker exec "${node}" cat "/etc/containerd/certs.d/localhost:${K8S_DEV_REGISTRY_PORT}/hosts.toml" | tail -n1)" \
      "${engine}: ${node}: containerd sends the push name localhost:${K8S_DEV_REGISTRY_PORT} to the registry"
    assert_eq "[host.\"http://${reg}:5000\"]" \
      "$(docker exec "${node}" cat "/etc/containerd/certs.d/${reg}:5000/hosts.toml" | tail -n1)" \
      "${engine}: ${node}: containerd sends the pull name ${reg}:5000 to the registry"
    if docker exec "${node}" curl -fsS -o /dev/null -m 5 "http://${reg}:5000/v2/"; then
      pass "${engine}: ${node} reaches the registry by its name on kind's network"
    else
      fail "${engine}: ${node} cannot reach http://${reg}:5000/v2/"
    fi
  done
  assert_mode "${HOME}/.kube/${ctx}.yaml" 600 "${engine}: the cluster's kubeconfig is 0600"
  assert_mode "${HOME}/.kube/config" 600 "${engine}: the default kubeconfig stays 0600"
  assert_eq "$(printf 'other\n%s' "${ctx}")" "$(kubeconfig_contexts "${HOME}/.kube/config")" \
    "${engine}: up merged kind's context and kept the user's"
  assert_eq "${ctx}" "$(kubectl config current-context)" "${engine}: up switched to the cluster's context"
  local hosting
  hosting="$(kubectl --kubeconfig "${HOME}/.kube/${ctx}.yaml" get configmap -n kube-public local-registry-hosting -o jsonpath='{.data.localRegistryHosting\.v1}')"
  assert_contains "${hosting}" "hostFromClusterNetwork: \"${reg}:5000\"" \
    "${engine}: KEP-1755 ConfigMap: pods on kind's network reach the registry by its name"
  assert_contains "${hosting}" "host: \"localhost:${K8S_DEV_REGISTRY_PORT}\"" "${engine}: KEP-1755 ConfigMap: the host pushes to localhost"
  assert_not_contains "${OUT}${ERR}" "RkFLRS1LRVk" "${engine}: up prints no client key"
  local blob
  blob="$(push_blob "localhost:${K8S_DEV_REGISTRY_PORT}")"

  local before
  before="$(calls kind | wc -l)"
  run_task k8s:dev:up
  assert_ok "${engine}: second up succeeds"
  assert_eq "${before}" "$(calls kind | wc -l)" "${engine}: second up runs kind not at all"
  assert_contains "${OUT}" "was running" "${engine}: second up finds the cluster running"
  assert_eq "kind none none none none none none running" \
    "$("${K8S_DEV_HELPER}" up plan --json | python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["plan"]; print(d["observed"]["provider"], p["network"], p["registry"], p["cluster"], p["mirrors"], p["kubeconfig"], p["configmap"], d["observed"]["cluster"]["state"])')" \
    "${engine}: up plan --json of a running kit: nothing to do"

  # Everything stopped, as after a reboot without restart policies: up starts it all.
  docker stop -t 1 "${name}-worker" "${name}-control-plane" "${reg}" >/dev/null
  run_task k8s:dev:up
  assert_ok "${engine}: up after a stop succeeds"
  assert_contains "${OUT}" "was stopped" "${engine}: up after a stop says the cluster was stopped"
  assert_eq "$(printf '%s running\n%s running' "${name}-control-plane" "${name}-worker")" "$(containers "${name}-")" \
    "${engine}: up started the nodes"
  assert_eq 1 "$(calls kind 'c["argv"][0] == "create"' | wc -l)" "${engine}: starting creates nothing (kind has no start: the kit starts the nodes)"
  assert_eq running "$(docker inspect "${reg}" --format '{{.State.Status}}')" "${engine}: up started the registry"

  # A registry off kind's network, a node without the hosts files: up puts both back.
  docker network disconnect kind "${reg}" >/dev/null
  docker exec "${name}-worker" rm -f "/etc/containerd/certs.d/${reg}:5000/hosts.toml"
  run_task k8s:dev:doctor --json
  assert_eq "ok fail fail" \
    "$(json_get "${OUT}" '" ".join(next(c["status"] for c in d["checks"] if c["name"] == n) for n in ("kind", "registry-from-nodes", "registry-hosts"))')" \
    "${engine}: doctor finds the registry unreachable from the nodes and a hosts file missing"
  assert_contains "$(json_get "${OUT}" 'next(c["detail"] for c in d["checks"] if c["name"] == "registry-hosts")')" \
    "${name}-worker: /etc/containerd/certs.d/${reg}:5000/hosts.toml is missing" "${engine}: doctor names the node and the file"
  run_task k8s:dev:up
  assert_ok "${engine}: up with the registry disconnected and a hosts file gone succeeds"
  if docker exec "${name}-worker" curl -fsS -o /dev/null -m 5 "http://${reg}:5000/v2/"; then
    pass "${engine}: up connected the registry to kind's network again"
  else
    fail "${engine}: the registry is not back on kind's network"
  fi
  assert_contains "$(docker exec "${name}-worker" cat "/etc/containerd/certs.d/${reg}:5000/hosts.toml" 2>&1)" "http://${reg}:5000" \
    "${engine}: up wrote the missing hosts file again"

  run_task k8s:dev:doctor --json
  assert_eq "ok ok ok" \
    "$(json_get "${OUT}" '" ".join(next(c["status"] for c in d["checks"] if c["name"] == n) for n in ("kind", "registry-from-nodes", "registry-hosts"))')" \
    "${engine}: doctor: kind's version, the registry from every node, the hosts files in every node"
  assert_contains "${OUT}" "http://${reg}:5000/v2/ answers from 2 nodes" "${engine}: doctor probed from both nodes"
  assert_not_contains "${OUT}" '"name":"k3d"' "${engine}: doctor does not ask for k3d"
  run_task k8s:dev:status --json
  assert_ok "${engine}: status --json succeeds"
  assert_eq "kind running running up-to-date ${reg} ${engine}" \
    "$(json_get "${OUT}" '" ".join([d["provider"], d["cluster"]["state"], d["registry"]["state"], d["registry"]["mirrors"], d["registry"]["container"], d["engine"]["engine"]])')" \
    "${engine}: status --json names the provider and reports cluster, registry, mirrors and engine"
  run_task k8s:dev:status
  assert_contains "${OUT}" "Provider: kind" "${engine}: status names the provider"
  assert_contains "${OUT}" "control planes 1/1, workers 1/1" "${engine}: status counts kind's nodes by role"

  run_task k8s:dev:down
  assert_ok "${engine}: down succeeds"
  assert_eq "delete cluster --name ${name} --kubeconfig ${kind_kc}" "$(calls kind 'c["argv"][0] == "delete"')" \
    "${engine}: down deletes the cluster with kind, on kind's own kubeconfig"
  assert_eq "" "$(containers "${name}-")" "${engine}: the nodes are gone"
  assert_eq running "$(docker inspect "${reg}" --format '{{.State.Status}}')" "${engine}: down keeps the registry running"
  assert_eq other "$(kubeconfig_contexts "${HOME}/.kube/config")" "${engine}: down removed the cluster's context and kept the user's"
  if [[ ! -e "${HOME}/.kube/${ctx}.yaml" && ! -e "${kind_kc}" ]]; then
    pass "${engine}: down removed the cluster's kubeconfig and kind's"
  else
    fail "${engine}: a kubeconfig was left behind"
  fi

  run_task k8s:dev:up
  assert_ok "${engine}: up after down re-creates the cluster"
  assert_contains "${OUT}" "pull ${reg}:5000 (was running)" "${engine}: ... with the registry that was kept"
  if has_blob "localhost:${K8S_DEV_REGISTRY_PORT}" "${blob}"; then
    pass "${engine}: what was pushed before survives the cluster's re-creation"
  else
    fail "${engine}: the registry lost ${blob}"
  fi
  run_task k8s:dev:down --registry
  assert_ok "${engine}: down --registry succeeds"
  if docker inspect "${reg}" >/dev/null 2>&1; then fail "${engine}: the registry is still there"; else pass "${engine}: down --registry deleted the registry"; fi
  run_task k8s:dev:down
  assert_ok "${engine}: down is idempotent"
}

# A kind cluster of the kit's name that the kit did not make (kind's own defaults: API on a
# random port, no gateway mapping): up and down stop with one line each, nothing deleted.
test_kind_foreign_cluster() {
  sandbox_setup
  use_kind docker || return 0
  local name="${K8S_DEV_CLUSTER}"
  kind create cluster --name "${name}" --image "${K8S_DEV_KIND_IMAGE}" --kubeconfig "${SANDBOX}/theirs.yaml" >/dev/null 2>&1 \
    || { fail "foreign kind cluster: creating it with kind"; return 0; }
  local before
  before="$(docker ps -a --format '{{.Names}} {{.ID}} {{.State}}' | sort)"
  run_task k8s:dev:up
  assert_eq 1 "${RC}" "foreign kind cluster: up exits 1"
  assert_eq 1 "$(grep -c '^error: ' <<<"${ERR}")" "foreign kind cluster: one error line"
  assert_contains "${ERR}" "error: kind cluster '${name}' exists but is not the one k8s-dev makes (it has 1 control-plane and 0 worker nodes, the kit makes 1 and 1; its API (6443/tcp) is on 127.0.0.1:" \
    "foreign kind cluster: up says what differs"
  assert_contains "${ERR}" "not on 127.0.0.1:${K8S_DEV_API_PORT}; its gateway (30051/tcp) is not published, not on 127.0.0.1:${K8S_DEV_LB_PORT})" \
    "foreign kind cluster: ... every difference"
  assert_contains "${ERR}" "delete it yourself with \`kind delete cluster --name ${name}\` if it is not needed, or set K8S_DEV_CLUSTER to another name" \
    "foreign kind cluster: up names both fixes"
  run_task k8s:dev:down --registry
  assert_eq 1 "${RC}" "foreign kind cluster: down exits 1"
  assert_contains "${ERR}" "error: deleting nothing: kind cluster '${name}' exists but is not the one k8s-dev makes" \
    "foreign kind cluster: down refuses, naming it"
  assert_eq "${before}" "$(docker ps -a --format '{{.Names}} {{.ID}} {{.State}}' | sort)" \
    "foreign kind cluster: up and down created, started and deleted nothing"
  assert_eq "create cluster" "$(calls kind 'c["argv"][0] in ("create", "delete")' | cut -d' ' -f1-2)" \
    "foreign kind cluster: the kit ran no kind create or delete"
}

# After a switch from k3d, its registry (k3d-<name>) holds the registry port: up says so, with
# both fixes, and creates nothing.
test_switch_from_k3d() {
  sandbox_setup
  use_kind docker || return 0
  local k3d_registry="k3d-${K8S_DEV_REGISTRY_NAME}"
  docker run --detach --name "${k3d_registry}" --network host \
    --env "REGISTRY_HTTP_ADDR=127.0.0.1:${K8S_DEV_REGISTRY_PORT}" "${K8S_DEV_REGISTRY_IMAGE}" >/dev/null
  local i
  for ((i = 0; i < 50; i++)); do
    curl -fsS -o /dev/null "http://127.0.0.1:${K8S_DEV_REGISTRY_PORT}/v2/" 2>/dev/null && break
    sleep 0.1
  done
  run_task k8s:dev:up
  docker rm --force --volumes "${k3d_registry}" >/dev/null
  assert_eq 1 "${RC}" "k3d's registry on the port: up exits 1"
  assert_eq "error: port ${K8S_DEV_REGISTRY_PORT} on 127.0.0.1 is in use, most likely by ${k3d_registry}, the registry of K8S_DEV_PROVIDER=k3d; delete it (K8S_DEV_PROVIDER=k3d mise run k8s:dev:down --registry; its images go with it), or set K8S_DEV_REGISTRY_PORT to another port" \
    "$(grep '^error:' <<<"${ERR}")" "k3d's registry on the port: one line naming it and both fixes"
  assert_eq "" "$(calls kind 'c["argv"][0] == "create"')" "k3d's registry on the port: nothing created"
}

test_kind_missing() {
  sandbox_setup
  use_kind docker || return 0
  # Every directory but those holding a kind (the fakes', the real tools' cache) stays on PATH.
  local path dir
  path="$(tr ':' '\n' <<<"${PATH}" | while read -r dir; do [[ -x "${dir}/kind" ]] || echo "${dir}"; done | paste -sd: -)"
  mkdir -p "${SANDBOX}/bin"
  ln -s "${ROOT}/tests/fakes/k3d" "${SANDBOX}/bin/k3d"
  PATH="${SANDBOX}/bin:${path}" run_task k8s:dev:up
  assert_eq 1 "${RC}" "kind missing: up exits 1"
  assert_eq "error: kind not found on PATH (K8S_DEV_PROVIDER=kind); install it: mise install (mise.toml pins kind 0.33.0), or go install sigs.k8s.io/kind@v0.33.0" \
    "$(grep '^error:' <<<"${ERR}")" "kind missing: one line naming the fix"
  if docker inspect "${K8S_DEV_REGISTRY_NAME}" >/dev/null 2>&1; then fail "kind missing: a registry was created"; else pass "kind missing: nothing created"; fi
}

test_unknown_provider() {
  sandbox_setup
  K8S_DEV_PROVIDER=minikube run_task k8s:dev:up
  assert_eq 1 "${RC}" "unknown provider: up exits 1"
  assert_eq "error: K8S_DEV_PROVIDER: unknown provider 'minikube'; set K8S_DEV_PROVIDER to k3d (the default), kind or k3s" \
    "$(grep '^error:' <<<"${ERR}")" "unknown provider: one line naming the three"
  K8S_DEV_PROVIDER=Kind run_task k8s:dev:down
  assert_eq 1 "${RC}" "a provider in the wrong case: down exits 1 too"
  assert_eq "" "$(calls k3d)$(calls kind)" "unknown provider: no k3d or kind call at all"
}

# Every config the kit renders for kind, as the real kind reads it: the settings' defaults,
# per-worktree ports, no worker, three workers on every address, an own node image.
test_kind_renderings() {
  sandbox_setup
  export K8S_DEV_PROVIDER=kind
  local case vars config
  for case in "defaults" "per-worktree|-u K8S_DEV_API_PORT -u K8S_DEV_LB_PORT K8S_DEV_CLUSTER_PER_WORKTREE=1" \
    "single node|K8S_DEV_AGENTS=0" \
    "three workers on every address|K8S_DEV_AGENTS=3 K8S_DEV_BIND_ADDRESS=0.0.0.0" \
    "own node image|K8S_DEV_KIND_IMAGE=registry.example:5000/kindest/node:v1.34.11"; do
    vars="${case#*|}"
    [[ "${vars}" != "${case}" ]] || vars=""
    # shellcheck disable=SC2086 # env's words: -u NAME and NAME=value
    config="$(cd "${ROOT}" && env ${vars} "${K8S_DEV_HELPER}" up config 2>&1)" || { fail "${case%%|*}: up config: ${config}"; continue; }
    real_kind_accepts "${config}" "kind config rendered for ${case%%|*}"
    if [[ "${case}" == per-worktree* ]]; then
      assert_eq "16550<=API<=17549 18100<=gateway<=19099" \
        "$(python3 -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1])); a=d["networking"]["apiServerPort"]; g=d["nodes"][0]["extraPortMappings"][0]["hostPort"]; print("16550<=API<=17549" if 16550<=a<=17549 else a, "18100<=gateway<=19099" if 18100<=g<=19099 else g)' "${config}")" \
        "per-worktree: the kind config takes the ports derived from the cluster name"
    fi
  done
}

# --- k3s (attach) --------------------------------------------------------------------------------

# A host with k3s under SANDBOX/host: its kubeconfig (the fake API's, whose entries are all
# named `default` as k3s's are) and a systemd unit, as get.k3s.io leaves them.
fake_k3s_host() {
  export K8S_DEV_TEST_HOST_ROOT="${SANDBOX}/host" K8S_DEV_PROVIDER=k3s
  mkdir -p "${K8S_DEV_TEST_HOST_ROOT}/etc/rancher/k3s" "${K8S_DEV_TEST_HOST_ROOT}/etc/systemd/system"
  : >"${K8S_DEV_TEST_HOST_ROOT}/etc/systemd/system/k3s.service"
  python3 "${ROOT}/tests/support/fake-kube-api.py" --port 0 --name default \
    --kubeconfig-out "${K8S_DEV_TEST_HOST_ROOT}/etc/rancher/k3s/k3s.yaml" \
    --pid-file "${SANDBOX}/k3s-api.pid" >"${SANDBOX}/k3s-api.out" 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do [[ -s "${SANDBOX}/k3s-api.pid" ]] && return 0; sleep 0.1; done
  fail "the fake k3s API did not start: $(cat "${SANDBOX}/k3s-api.out")"
  return 1
}

# The registry container is the kit's, so the sandbox cleanup removes it.
use_k3s() { # engine
  local host
  host="$(engine_host "$1")"
  if [[ -z "${host}" ]]; then
    skip "k3s on $1: no $1 socket"
    return 1
  fi
  export DOCKER_HOST="${host}"
  K8S_DEV_REGISTRY_IMAGE="$(standin_registry_image)" || { fail "k3s on $1: building the registry image"; return 1; }
  export K8S_DEV_REGISTRY_IMAGE
  KIND_ENGINE="$1"
}

test_k3s_attach() { # engine
  local engine="$1"
  sandbox_setup
  use_k3s "${engine}" || return 0
  fake_k3s_host || return 0
  seed_user_kubeconfig
  local name="${K8S_DEV_CLUSTER}" ctx="k3s-${K8S_DEV_CLUSTER}" reg="${K8S_DEV_REGISTRY_NAME}"
  local k3s_yaml="${K8S_DEV_TEST_HOST_ROOT}/etc/rancher/k3s/k3s.yaml"
  local registries="${K8S_DEV_TEST_HOST_ROOT}/etc/rancher/k3s/registries.yaml"
  local k3s_before
  k3s_before="$(cat "${k3s_yaml}")"

  run_task k8s:dev:up
  assert_ok "${engine}: up attaches to the host's k3s"
  assert_contains "${ERR}" "wrote ${registries}: k3s reads it when it starts; until \`systemctl restart k3s\`" \
    "${engine}: up wrote registries.yaml and names the restart (the kit never restarts k3s)"
  assert_eq "http://127.0.0.1:${K8S_DEV_REGISTRY_PORT} http://127.0.0.1:${K8S_DEV_REGISTRY_PORT}" \
    "$(python3 -c 'import sys,yaml; m=yaml.safe_load(open(sys.argv[1]))["mirrors"]; print(m[sys.argv[2]]["endpoint"][0], m[sys.argv[3]]["endpoint"][0])' "${registries}" "${reg}:5000" "localhost:${K8S_DEV_REGISTRY_PORT}")" \
    "${engine}: registries.yaml mirrors the pull and push names to the registry on the host's loopback"
  assert_mode "${registries}" 600 "${engine}: a new registries.yaml is 0600"
  assert_eq "host running registry" \
    "$(docker inspect "${reg}" --format '{{.HostConfig.NetworkMode}} {{.State.Status}} {{index .Config.Labels "io.k8s-dev.role"}}')" \
    "${engine}: the registry runs on the host's network, labelled the kit's"
  if curl -fsS -o /dev/null -m 5 "http://127.0.0.1:${K8S_DEV_REGISTRY_PORT}/v2/"; then
    pass "${engine}: the registry answers on 127.0.0.1:${K8S_DEV_REGISTRY_PORT}, where k3s's containerd pulls"
  else
    fail "${engine}: the registry does not answer on 127.0.0.1:${K8S_DEV_REGISTRY_PORT}"
  fi
  assert_eq "$(printf 'other\n%s' "${ctx}")" "$(kubeconfig_contexts "${HOME}/.kube/config")" \
    "${engine}: up merged k3s's kubeconfig under the kit's name and kept the user's"
  assert_eq "${ctx} ${ctx} admin@${ctx}" \
    "$(python3 -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1])); c=d["contexts"][0]; print(c["name"], c["context"]["cluster"], c["context"]["user"])' "${HOME}/.kube/${ctx}.yaml")" \
    "${engine}: k3s's default entries are renamed to the kit's"
  assert_mode "${HOME}/.kube/${ctx}.yaml" 600 "${engine}: the cluster's kubeconfig is 0600"
  assert_eq "${k3s_before}" "$(cat "${k3s_yaml}")" "${engine}: k3s's own kubeconfig is left as it was"
  assert_contains "$(kubectl --kubeconfig "${HOME}/.kube/${ctx}.yaml" get configmap -n kube-public local-registry-hosting -o jsonpath='{.data.localRegistryHosting\.v1}')" \
    "hostFromClusterNetwork: \"127.0.0.1:${K8S_DEV_REGISTRY_PORT}\"" "${engine}: KEP-1755 ConfigMap: the nodes reach the registry on loopback"
  assert_not_contains "${OUT}" "Gateway:" "${engine}: no load balancer port is claimed for k3s"

  local mtime
  mtime="$(stat -c %Y.%i "${registries}")"
  run_task k8s:dev:up
  assert_ok "${engine}: second up succeeds"
  assert_not_contains "${ERR}" "wrote" "${engine}: second up writes nothing"
  assert_eq "${mtime}" "$(stat -c %Y.%i "${registries}")" "${engine}: registries.yaml is left alone when up to date"
  assert_contains "${OUT}" "was running" "${engine}: second up finds k3s running"

  run_task k8s:dev:doctor --json
  assert_eq "fail ok ok ok" \
    "$(json_get "${OUT}" '" ".join(next(c["status"] for c in d["checks"] if c["name"] == n) for n in ("k3s", "k3s-kubeconfig", "k3s-registries", "registry-from-nodes"))')" \
    "${engine}: doctor: no k3s binary here (fails with its fix), its kubeconfig, mirrors and the registry on the host pass"
  run_task k8s:dev:status --json
  assert_eq "k3s running running up-to-date None" \
    "$(json_get "${OUT}" '" ".join(map(str, [d["provider"], d["cluster"]["state"], d["registry"]["state"], d["registry"]["mirrors"], d["cluster"]["servers"]]))')" \
    "${engine}: status --json names the provider, k3s running and the mirrors up to date"

  run_task k8s:dev:down
  assert_ok "${engine}: down succeeds"
  assert_contains "${ERR}" "forgetting the host's k3s (it keeps running" "${engine}: down says it leaves k3s alone"
  if kubectl --kubeconfig "${k3s_yaml}" get --raw /readyz >/dev/null 2>&1; then
    pass "${engine}: k3s still answers after down"
  else
    fail "${engine}: k3s stopped answering after down"
  fi
  assert_eq other "$(kubeconfig_contexts "${HOME}/.kube/config")" "${engine}: down removed the kit's context and kept the user's"
  assert_eq "${k3s_before}" "$(cat "${k3s_yaml}")" "${engine}: down leaves k3s's kubeconfig"
  assert_eq "${mtime}" "$(stat -c %Y.%i "${registries}")" "${engine}: down leaves registries.yaml"
  assert_eq running "$(docker inspect "${reg}" --format '{{.State.Status}}')" "${engine}: down keeps the registry"

  kill "$(cat "${SANDBOX}/k3s-api.pid")"
  run_task k8s:dev:up
  assert_eq 1 "${RC}" "${engine}: up with k3s down exits 1"
  assert_contains "${ERR}" "error: k3s does not answer at http://127.0.0.1:" "${engine}: up says k3s does not answer"
  assert_contains "${ERR}" "start it: systemctl start k3s, then run up again" "${engine}: ... and how to start it (never starting it itself)"
  run_task k8s:dev:down --registry
  assert_ok "${engine}: down --registry with k3s down succeeds"
  if docker inspect "${reg}" >/dev/null 2>&1; then fail "${engine}: the registry is still there"; else pass "${engine}: down --registry deleted the registry"; fi
}

test_k3s_kubeconfig_missing() {
  sandbox_setup
  export K8S_DEV_PROVIDER=k3s K8S_DEV_TEST_HOST_ROOT="${SANDBOX}/host"
  mkdir -p "${K8S_DEV_TEST_HOST_ROOT}"
  run_task k8s:dev:up
  assert_eq 1 "${RC}" "no k3s: up exits 1"
  assert_eq "error: k3s kubeconfig ${K8S_DEV_TEST_HOST_ROOT}/etc/rancher/k3s/k3s.yaml does not exist: k3s is not installed or has not started; install it (curl -sfL https://get.k3s.io | sh -), or set K8S_DEV_K3S_KUBECONFIG to a copy of its kubeconfig" \
    "$(grep '^error:' <<<"${ERR}")" "no k3s: one line naming the fixes"
  assert_not_contains "${ERR}" "container-engine" "no k3s: said before any engine is looked for"
}

# k3s writes its kubeconfig for root: run up as another user (uid 65534), as a user who has not
# copied it would.
test_k3s_kubeconfig_unreadable() {
  if [[ "$(id -u)" != 0 ]] || ! command -v setpriv >/dev/null; then
    skip "unreadable k3s kubeconfig: needs root and setpriv to run the task as uid 65534"
    return 0
  fi
  export RUSTUP_HOME="${RUSTUP_HOME:-${HOME}/.rustup}" CARGO_HOME="${CARGO_HOME:-${HOME}/.cargo}"
  sandbox_setup
  export K8S_DEV_PROVIDER=k3s K8S_DEV_TEST_HOST_ROOT="${SANDBOX}/host"
  local k3s_yaml="${K8S_DEV_TEST_HOST_ROOT}/etc/rancher/k3s/k3s.yaml"
  mkdir -p "${k3s_yaml%/*}"
  printf 'apiVersion: v1\nkind: Config\n' >"${k3s_yaml}"
  chmod 600 "${k3s_yaml}"
  # Everything of the sandbox is the user's but the host's k3s files, which are root's.
  share_helper
  chown -R 65534:65534 "${SANDBOX}"
  chown -R 0:0 "${K8S_DEV_TEST_HOST_ROOT}"
  chmod 755 "${SANDBOX}"
  RC=0
  (cd "${ROOT}" && setpriv --reuid 65534 --regid 65534 --clear-groups -- mise run -q k8s:dev:up) \
    >"${SANDBOX}/out" 2>"${SANDBOX}/err" || RC=$?
  ERR="$(cat "${SANDBOX}/err")"
  assert_eq 1 "${RC}" "unreadable k3s kubeconfig: up exits 1"
  assert_eq "error: k3s kubeconfig ${k3s_yaml} is not readable by you (k3s writes it for root); copy it: sudo install -m 600 -o \"\$(id -u)\" ${k3s_yaml} ~/.kube/k3s.yaml and set K8S_DEV_K3S_KUBECONFIG=~/.kube/k3s.yaml (or start k3s with --write-kubeconfig-mode 644)" \
    "$(grep '^error:' <<<"${ERR}")" "unreadable k3s kubeconfig: one line with the copy command"
}

# registries.yaml on a read-only mount (what a user without root meets): up prints the exact
# file and the restart, stops with one line, and creates nothing.
test_k3s_registries_not_writable() {
  sandbox_setup
  if ! unshare -m true 2>/dev/null; then
    skip "registries.yaml not writable: needs unshare -m for a read-only bind mount"
    return 0
  fi
  use_k3s docker || return 0
  fake_k3s_host || return 0
  local dir="${K8S_DEV_TEST_HOST_ROOT}/etc/rancher/k3s"
  RC=0
  # shellcheck disable=SC2016 # expanded by the inner sh
  (cd "${ROOT}" && unshare -m sh -c 'mount --bind -o ro "$1" "$1" && exec mise run -q k8s:dev:up' sh "${dir}") \
    >"${SANDBOX}/out" 2>"${SANDBOX}/err" || RC=$?
  ERR="$(cat "${SANDBOX}/err")"
  assert_eq 1 "${RC}" "registries.yaml not writable: up exits 1"
  assert_contains "${ERR}" "tee ${dir}/registries.yaml >/dev/null <<'EOF'" "registries.yaml not writable: the exact file to write is printed"
  assert_contains "${ERR}" "    - http://127.0.0.1:${K8S_DEV_REGISTRY_PORT}" "registries.yaml not writable: ... with the mirrors"
  assert_contains "${ERR}" $'EOF\nsystemctl restart k3s' "registries.yaml not writable: ... and the restart command"
  assert_eq 1 "$(grep -c '^error:' <<<"${ERR}")" "registries.yaml not writable: one error line"
  assert_contains "${ERR}" "error: ${dir}/registries.yaml does not send pulls of ${K8S_DEV_REGISTRY_NAME}:5000 and localhost:${K8S_DEV_REGISTRY_PORT} to the kit's registry, and you may not write it; run the commands printed above" \
    "registries.yaml not writable: the error points at them"
  if docker inspect "${K8S_DEV_REGISTRY_NAME}" >/dev/null 2>&1; then fail "registries.yaml not writable: a registry was created"; else pass "registries.yaml not writable: nothing created"; fi
  if [[ ! -e "${dir}/registries.yaml" ]]; then pass "registries.yaml not writable: nothing written"; else fail "registries.yaml not writable: the file was written"; fi
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(unknown_provider kind_missing switch_from_k3d kind_renderings k3s_kubeconfig_missing k3s_kubeconfig_unreadable
    "kind_lifecycle docker" "kind_lifecycle podman" kind_foreign_cluster "k3s_attach docker" "k3s_attach podman"
    k3s_registries_not_writable)
  run_tests "$@"
}

main "$@"
