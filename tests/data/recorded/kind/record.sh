#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Records what the real kind CLI prints, and its exit codes, into this directory, for the
# recording fake (tests/fakes/kind) to replay and the tests to compare against. One JSON file
# per case, in the shape of the other tools' recordings: argv, env (what mattered), vars (the
# names, ports and paths of this run, which a replay replaces with its own), exit, stdout,
# stderr. README.md says how each case was made.
#
# No node image can be pulled where this runs, so kind goes as far as it can without one:
# config decoding and validation, name checks, the node-image step. Commands on an existing
# cluster run against stand-in node containers (busybox, kind's labels, names and port
# bindings), which is all kind reads of them. Nothing outside the private engines is touched.
#
# Needs: a kind binary (KIND), a private dockerd (DOCKER_HOST), a Podman API socket (PODMAN_HOST)
# and the podman CLI, busybox-static, python3. tests/support/engines.sh up provides the engines.
#
# Environment:
#   KIND         kind binary (default: kind on PATH); must be v0.33.0
#   DOCKER_HOST  the private dockerd's socket (unix://...)
#   PODMAN_HOST  the private Podman API socket (unix://...); podman cases are skipped without it
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../../../.." && pwd)"
KIND="${KIND:-$(command -v kind || true)}"
WANT_VERSION="v0.33.0"
CONFIG="${ROOT}/tests/data/kind/rendered/defaults.yaml"
NODE_IMAGE="k8s-dev-kind-stand-in-node:1"
TMP=""

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Runs the real kind against private engines and rewrites the *.json recordings here.

Environment:
  KIND         kind binary (default: kind on PATH); must be ${WANT_VERSION}
  DOCKER_HOST  the private dockerd's socket (unix://...)
  PODMAN_HOST  the private Podman API socket (unix://...); podman cases are skipped without it
USAGE
}

die() { echo "error: $*" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# record CASE "VAR=value ..." -- [VAR=VALUE...] kind ARGS...: run kind, write CASE.json.
# The first list names the values of this run a replay puts its own in place of (`vars`);
# TMP (this run's temporary directory) is always one.
record() {
  local name="$1" vars="$2" rc=0
  shift 3
  local envs=()
  while [[ "$1" == *=* ]]; do envs+=("$1"); shift; done
  env "${envs[@]}" "${KIND}" "$@" >"${TMP}/out" 2>"${TMP}/err" || rc=$?
  python3 - "${HERE}/${name}.json" "${rc}" "${TMP}" "TMP=${TMP} ${vars}" "${#envs[@]}" "${envs[@]}" "$@" <<'PY'
import json, sys
path, rc, tmp, vars_, n = sys.argv[1:6]
envs, argv = sys.argv[6:6 + int(n)], sys.argv[6 + int(n):]
# Engine sockets and PATH are the recorder's plumbing, not what the case is about.
plumbing = ("DOCKER_HOST=", "CONTAINER_HOST=", "PATH=")
out = {
    "argv": ["kind"] + argv,
    "env": dict(e.split("=", 1) for e in envs if not e.startswith(plumbing)),
    "vars": dict(v.split("=", 1) for v in vars_.split()),
    "exit": int(rc),
    "stdout": open(tmp + "/out").read(),
    "stderr": open(tmp + "/err").read(),
}
with open(path, "w") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
    f.write("\n")
PY
  echo "recorded ${name} (exit ${rc})" >&2
}

# A busybox image to stand in for kindest/node: kind only reads labels, names and ports.
build_stand_in() {
  local ctx="${TMP}/node" applet
  mkdir -p "${ctx}/rootfs/bin"
  cp /bin/busybox "${ctx}/rootfs/bin/busybox"
  for applet in sh cat sleep mkdir; do ln -s busybox "${ctx}/rootfs/bin/${applet}"; done
  printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD ["sleep", "3600"]\n' >"${ctx}/Dockerfile"
  # --no-cache: dockerd 20.10's legacy builder can reuse a `COPY rootfs/ /` layer of another
  # image whose links differ (seen here: a stand-in without cat).
  docker build --no-cache -q -t "${NODE_IMAGE}" "${ctx}" >/dev/null 2>&1
}

# Cluster `rec` as kind would leave it: control plane with the API on 127.0.0.1:API_PORT and
# the gateway 127.0.0.1:HOST_PORT -> 30051, one worker, kubeadm's admin.conf in the control plane.
API_PORT=""
HOST_PORT=""
make_rec() {
  API_PORT="$(free_port)"
  HOST_PORT="$(free_port)"
  docker network inspect kind >/dev/null 2>&1 || docker network create kind >/dev/null
  docker run -d --name rec-control-plane --hostname rec-control-plane --net kind --restart=on-failure:1 \
    --label io.x-k8s.kind.cluster=rec --label io.x-k8s.kind.role=control-plane \
    -p "127.0.0.1:${API_PORT}:6443" -p "127.0.0.1:${HOST_PORT}:30051" "${NODE_IMAGE}" >/dev/null
  docker run -d --name rec-worker --hostname rec-worker --net kind --restart=on-failure:1 \
    --label io.x-k8s.kind.cluster=rec --label io.x-k8s.kind.role=worker "${NODE_IMAGE}" >/dev/null
  docker exec -i rec-control-plane sh -c 'mkdir -p /etc/kubernetes && cat >/etc/kubernetes/admin.conf' <<'CONF'
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: RkFLRS1DQQ==
    server: https://rec-control-plane:6443
  name: rec
contexts:
- context:
    cluster: rec
    user: kubernetes-admin
  name: kubernetes-admin@rec
current-context: kubernetes-admin@rec
kind: Config
preferences: {}
users:
- name: kubernetes-admin
  user:
    client-certificate-data: RkFLRS1DRVJU
    client-key-data: RkFLRS1LRVk=
CONF
}

remove_rec() {
  docker rm -f -v rec-control-plane rec-worker >/dev/null 2>&1 || true
}

# kind reads admin.conf with `docker exec --privileged`; this sandbox cannot grant every
# capability, so this shim drops that one flag for the get-kubeconfig cases.
make_shim() {
  mkdir -p "${TMP}/shim"
  cat >"${TMP}/shim/docker" <<SHIM
#!/usr/bin/env bash
if [[ "\${1:-}" == exec ]]; then
  args=()
  for a in "\$@"; do [[ "\$a" == --privileged ]] || args+=("\$a"); done
  exec $(command -v docker) "\${args[@]}"
fi
exec $(command -v docker) "\$@"
SHIM
  chmod +x "${TMP}/shim/docker"
}

user_kubeconfig() {
  cat >"${TMP}/kubeconfig" <<'KC'
apiVersion: v1
clusters:
- cluster:
    server: https://example.invalid:6443
  name: mine
contexts:
- context:
    cluster: mine
    user: mine
  name: mine
current-context: mine
kind: Config
preferences: {}
users:
- name: mine
  user:
    token: NOT-A-REAL-TOKEN
KC
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; "") ;; *) usage >&2; exit 2 ;; esac
  [[ -n "${KIND}" && -x "${KIND}" ]] || die "no kind binary; set KIND (go install sigs.k8s.io/kind@${WANT_VERSION})"
  [[ "$("${KIND}" version)" == "kind ${WANT_VERSION} "* ]] || die "${KIND} is not kind ${WANT_VERSION}; set KIND"
  [[ "${DOCKER_HOST:-}" == unix://* ]] || die "DOCKER_HOST must name the private dockerd; run tests/support/engines.sh up"
  docker info >/dev/null 2>&1 || die "no dockerd answers at ${DOCKER_HOST}"
  TMP="$(mktemp -d)"
  trap 'remove_rec; rm -rf "${TMP}"' EXIT
  local broken="${TMP}/misspelt.yaml" d="DOCKER_HOST=${DOCKER_HOST}"
  sed 's/extraPortMappings:/extraPortMapping:/' "${CONFIG}" >"${broken}"
  remove_rec

  local none="CLUSTER=openshell-dev" image
  image="$(sed -n 's/^  image: //p' "${CONFIG}" | head -n1)"
  # How kind names the image it fails to pull: as given (docker), fully qualified (podman).
  local pull="${none} IMAGE=${image} FRIENDLY=${image%@*} PULLED=${image}"
  local podman_pull="${none} IMAGE=${image} FRIENDLY=${image%@*} PULLED=docker.io/${image%%:*}@${image#*@}"
  record version "" -- "${d}" version
  record get-clusters-none "" -- "${d}" get clusters
  record get-nodes-none "${none}" -- "${d}" get nodes --name openshell-dev
  record get-nodes-all-none "" -- "${d}" get nodes --all-clusters
  record get-kubeconfig-missing "${none}" -- "${d}" get kubeconfig --name openshell-dev
  record delete-cluster-missing "${none}" -- "${d}" delete cluster --name openshell-dev --kubeconfig "${TMP}/kubeconfig"
  record create-stops-at-node-image "${pull}" -- \
    "${d}" create cluster --config "${CONFIG}" --name openshell-dev --kubeconfig "${TMP}/kubeconfig"
  record create-misspelt-field "${none}" -- "${d}" create cluster --config "${broken}" --name openshell-dev
  record create-invalid-name "CLUSTER=Bad_Name" -- "${d}" create cluster --config "${CONFIG}" --name Bad_Name
  record no-engine-get-clusters "" -- "DOCKER_HOST=unix://${TMP}/nothing.sock" get clusters

  build_stand_in
  make_rec
  make_shim
  local rec="CLUSTER=rec API_PORT=${API_PORT} HOST_PORT=${HOST_PORT}" shim="PATH=${TMP}/shim:${PATH}"
  record get-clusters "${rec}" -- "${d}" get clusters
  record get-nodes "${rec}" -- "${d}" get nodes --name rec
  record get-kubeconfig "${rec}" -- "${d}" "${shim}" get kubeconfig --name rec
  record get-kubeconfig-internal "${rec}" -- "${d}" "${shim}" get kubeconfig --name rec --internal
  record create-exists "${rec}" -- "${d}" create cluster --config "${CONFIG}" --name rec
  docker inspect rec-control-plane rec-worker >"${HERE}/inspect-running.json"
  docker stop -t 1 rec-control-plane rec-worker >/dev/null
  docker inspect rec-control-plane rec-worker >"${HERE}/inspect-stopped.json"
  record get-clusters-stopped "${rec}" -- "${d}" get clusters
  record get-kubeconfig-stopped "${rec} CONTAINER_ID=$(docker inspect -f '{{.Id}}' rec-control-plane)" -- \
    "${d}" "${shim}" get kubeconfig --name rec
  docker start rec-control-plane rec-worker >/dev/null
  user_kubeconfig
  record export-kubeconfig "${rec}" -- "${d}" "${shim}" export kubeconfig --name rec --kubeconfig "${TMP}/kubeconfig"
  cp "${TMP}/kubeconfig" "${HERE}/export-kubeconfig.kubeconfig"
  record delete-cluster "${rec}" -- "${d}" delete cluster --name rec --kubeconfig "${TMP}/kubeconfig"
  cp "${TMP}/kubeconfig" "${HERE}/delete-cluster.kubeconfig"
  remove_rec

  if [[ -n "${PODMAN_HOST:-}" ]]; then
    local p=(KIND_EXPERIMENTAL_PROVIDER=podman "CONTAINER_HOST=${PODMAN_HOST}")
    record podman-get-clusters-none "" -- "${p[@]}" get clusters
    record podman-create-stops-at-node-image "${podman_pull}" -- \
      "${p[@]}" create cluster --config "${CONFIG}" --name openshell-dev --kubeconfig "${TMP}/kubeconfig"
  else
    echo "skipping the podman cases: PODMAN_HOST is not set" >&2
  fi
}

main "$@"
