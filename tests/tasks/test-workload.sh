#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Tests of the workload tasks (k8s:dev:sync, bootstrap, gateway, watch) in a copy of this
# workspace, so a one-line source change can be made safely. sync really builds the static
# binaries and publishes to the real registry; the images are pulled back and run with Docker
# and Podman. bootstrap, gateway and watch run through real mise against the fake cluster of
# the recording fake k3d, with recording fakes of helm, skaffold and cargo.
#
# Environment: K8S_DEV_TEST_DOCKER_HOST, K8S_DEV_TEST_PODMAN_HOST, K8S_DEV_TEST_REGISTRY (all
# three needed; missing ones skip), K8S_DEV_TEST_NO_SKIP=1 (a skip fails).
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0")"
}

publish_field() { # image name, python expression over the publish report `r`
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
    "${K8S_DEV_STATE_DIR}/publish-$1.json" "$2"
}

# Run the gateway image with an engine CLI (passed as words) and return its /version body.
gateway_version_via() { # cli words...
  local port health id body=""
  port="$(free_port)"
  health="$(free_port)"
  id="$("$@" run -d --rm --pull always --network host "${K8S_DEV_TEST_REGISTRY}/${K8S_DEV_GATEWAY_IMAGE}:dev" \
    --bind-address 127.0.0.1 --port "${port}" --health-port "${health}" --disable-tls)" || return 1
  local i
  for ((i = 0; i < 50; i++)); do
    body="$(curl -fsS "http://127.0.0.1:${port}/version" 2>/dev/null)" && break
    sleep 0.2
  done
  "$@" stop -t 2 "${id}" >/dev/null 2>&1 || true
  echo "${body}"
}

# A copy of the workspace (tracked and untracked, not ignored files) to edit freely; builds
# share this repository's target dir, so dependencies compile once.
copy_workspace() {
  WORK="${SANDBOX}/work"
  mkdir -p "${WORK}"
  (cd "${ROOT}" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "${WORK}")
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
  export K8S_DEV_STATE_DIR="${SANDBOX}/state"
  export MISE_TRUSTED_CONFIG_PATHS="${ROOT}:${WORK}"
  TASK_DIR="${WORK}" # run_task runs the copy's tasks
}

check_sync() {
  # Pulled by both engines: the CI registry is the one both trust over plain HTTP; gzip
  # because Docker before 23 cannot unpack zstd layers.
  export K8S_DEV_REGISTRY="${K8S_DEV_TEST_REGISTRY}"
  export K8S_DEV_GATEWAY_IMAGE="test-$$-gateway" K8S_DEV_SUPERVISOR_IMAGE="test-$$-supervisor"
  export K8S_DEV_IMAGE_COMPRESSION=gzip
  run_task k8s:dev:sync
  assert_ok "sync builds and publishes both images"
  assert_contains "${ERR}" "cargo build" "sync prints the build phase time"
  assert_contains "${ERR}" "gateway image" "sync prints the image phase time"
  assert_eq "True True" "$(publish_field "${K8S_DEV_GATEWAY_IMAGE}" 'r["bytes_uploaded"] > 0') $(publish_field "${K8S_DEV_SUPERVISOR_IMAGE}" 'r["bytes_uploaded"] > 0')" \
    "first sync uploads both images"
  assert_contains "$(gateway_version_via env DOCKER_HOST="${K8S_DEV_TEST_DOCKER_HOST}" docker)" '"name":"openshell-gateway"' \
    "the gateway image pulls and runs with Docker (/version answers)"
  assert_contains "$(gateway_version_via podman --url "${K8S_DEV_TEST_PODMAN_HOST}")" '"name":"openshell-gateway"' \
    "the gateway image pulls and runs with Podman (/version answers)"
  assert_contains "$(podman --url "${K8S_DEV_TEST_PODMAN_HOST}" run --rm --network host "${K8S_DEV_TEST_REGISTRY}/${K8S_DEV_SUPERVISOR_IMAGE}:dev" --version)" \
    "openshell-sandbox" "the supervisor image runs and reports its version"

  run_task k8s:dev:sync
  assert_ok "second sync succeeds"
  assert_eq "0 True 0 True" \
    "$(publish_field "${K8S_DEV_GATEWAY_IMAGE}" 'r["bytes_uploaded"], r["unchanged"]' | tr -d '(),') $(publish_field "${K8S_DEV_SUPERVISOR_IMAGE}" 'r["bytes_uploaded"], r["unchanged"]' | tr -d '(),')" \
    "a second sync with no change pushes nothing"

  sed -i 's/seconds until SIGTERM or SIGINT/seconds until SIGTERM or SIGINT (edited)/' "${WORK}/example/supervisor/src/main.rs"
  run_task k8s:dev:sync
  assert_ok "sync after a one-line supervisor change succeeds"
  assert_eq "0 True" "$(publish_field "${K8S_DEV_GATEWAY_IMAGE}" 'r["bytes_uploaded"], r["unchanged"]' | tr -d '(),')" \
    "after the change the gateway pushes nothing"
  assert_eq "True False" "$(publish_field "${K8S_DEV_SUPERVISOR_IMAGE}" 'r["bytes_uploaded"] > 0, r["unchanged"]' | tr -d '(),')" \
    "after the change the supervisor pushes its changed layer"
  assert_contains "$(podman --url "${K8S_DEV_TEST_PODMAN_HOST}" run --rm --pull always --network host "${K8S_DEV_TEST_REGISTRY}/${K8S_DEV_SUPERVISOR_IMAGE}:dev" --help)" \
    "(edited)" "the pushed supervisor is the changed build"

  local engine host
  for engine in docker podman; do
    host="$(engine_host "${engine}")"
    DOCKER_HOST="${host}" K8S_DEV_IMAGE_BUILDER=engine K8S_DEV_GATEWAY_IMAGE="test-$$-engine-${engine}" run_task k8s:dev:sync
    assert_ok "sync through the ${engine} engine (K8S_DEV_IMAGE_BUILDER=engine)"
    K8S_DEV_GATEWAY_IMAGE="test-$$-engine-${engine}" assert_contains \
      "$(K8S_DEV_GATEWAY_IMAGE="test-$$-engine-${engine}" gateway_version_via env DOCKER_HOST="${K8S_DEV_TEST_DOCKER_HOST}" docker)" \
      '"name":"openshell-gateway"' "the ${engine}-built gateway image pulls and runs"
  done
  # The engines keep what they pulled; drop it so repeated runs do not pile up images.
  local ref
  for ref in "test-$$-gateway" "test-$$-supervisor" "test-$$-engine-docker" "test-$$-engine-podman"; do
    DOCKER_HOST="${K8S_DEV_TEST_DOCKER_HOST}" docker image rm -f "${K8S_DEV_TEST_REGISTRY}/${ref}:dev" >/dev/null 2>&1 || true
    podman --url "${K8S_DEV_TEST_PODMAN_HOST}" image rm -f "${K8S_DEV_TEST_REGISTRY}/${ref}:dev" >/dev/null 2>&1 || true
  done
  unset K8S_DEV_REGISTRY K8S_DEV_GATEWAY_IMAGE K8S_DEV_SUPERVISOR_IMAGE K8S_DEV_IMAGE_COMPRESSION
}

check_bootstrap() {
  local ctx="k3d-${K8S_DEV_CLUSTER}" kc="${HOME}/.kube/k3d-${K8S_DEV_CLUSTER}.yaml" tags
  local pull="${K8S_DEV_REGISTRY_NAME}:5000" # derived from the registry name alone
  # CRDs kubectl cannot apply: bootstrap stops before the chart (a `for` over the failed apply's
  # output used to install the chart anyway and exit 0).
  K8S_DEV_CRDS="${SANDBOX}/no-such-crds.yaml" K8S_DEV_SKIP_SYNC=1 run_task k8s:dev:bootstrap
  assert_eq 1 "${RC}" "bootstrap with CRDs kubectl cannot apply fails"
  assert_contains "${ERR}" "error: applying the CRDs in ${SANDBOX}/no-such-crds.yaml failed" "the failure names the CRDs"
  assert_eq "" "$(calls helm 'c["argv"][0] == "upgrade"')" "no chart installed without its CRDs"
  run_task k8s:dev:bootstrap
  assert_ok "bootstrap succeeds against the cluster"
  # shellcheck disable=SC1091 # written by sync
  tags="$(source "${K8S_DEV_STATE_DIR}/images.env" && echo "${K8S_DEV_GATEWAY_TAG} ${K8S_DEV_SUPERVISOR_TAG}")"
  assert_eq "upgrade --install openshell deploy/helm/openshell --kube-context ${ctx} --kubeconfig ${kc} --namespace openshell --create-namespace --values ${WORK}/deploy/values/dev.yaml --set image.repository=${pull}/openshell-gateway --set image.tag=${tags% *} --set supervisor.image.repository=${pull}/openshell-supervisor --set supervisor.image.tag=dev" \
    "$(calls helm 'c["argv"][0] == "upgrade"' | tail -n1)" \
    "bootstrap installs the chart with the dev values, the gateway's content tag and the supervisor's :dev"
  assert_eq "1" "$(kubectl --kubeconfig "${kc}" get statefulset openshell -n openshell -o jsonpath='{.status.updatedReplicas}')" \
    "the rendered StatefulSet reached the cluster and bootstrap waited for its rollout"
  assert_eq "Active" "$(kubectl --kubeconfig "${kc}" get namespace openshell -o jsonpath='{.status.phase}')" "bootstrap created the namespace"
  run_task k8s:dev:bootstrap
  assert_ok "bootstrap is idempotent"
  assert_contains "${OUT}" "Release: openshell in openshell" "bootstrap reports the release"
}

check_gateway() {
  local bin="${SANDBOX}/fake-cargo"
  mkdir -p "${bin}"
  cat >"${bin}/cargo" <<'CARGO'
#!/usr/bin/env bash
# Recording fake of `cargo run` for the gateway task.
printf '%s\n' "$*" >"${K8S_DEV_FAKE_STATE}/cargo.argv"
env | grep -E '^(KUBECONFIG|OPENSHELL_[A-Z_]+)=' | sort >"${K8S_DEV_FAKE_STATE}/cargo.env"
CARGO
  chmod +x "${bin}/cargo"
  local port
  port="$(free_port)"
  PATH="${bin}:${PATH}" K8S_DEV_GATEWAY_PORT="${port}" run_task k8s:dev:gateway
  assert_ok "gateway starts cargo run"
  assert_eq "run -p openshell-server --bin openshell-gateway --" "$(cat "${K8S_DEV_FAKE_STATE}/cargo.argv")" \
    "gateway runs the gateway package with cargo"
  assert_eq "$(printf '%s\n' "KUBECONFIG=${HOME}/.kube/k3d-${K8S_DEV_CLUSTER}.yaml" OPENSHELL_DRIVERS=kubernetes \
    "OPENSHELL_GATEWAY_PORT=${port}" "OPENSHELL_SANDBOX_IMAGE=${K8S_DEV_REGISTRY_NAME}:5000/openshell-supervisor:dev" \
    OPENSHELL_SANDBOX_NAMESPACE=openshell)" "$(cat "${K8S_DEV_FAKE_STATE}/cargo.env")" \
    "gateway gets the cluster kubeconfig, the Kubernetes driver and the sandbox settings"
  rm -f "${K8S_DEV_FAKE_STATE}/cargo.argv"
  PATH="${bin}:${PATH}" K8S_DEV_GATEWAY_PORT="${K8S_DEV_LB_PORT}" run_task k8s:dev:gateway
  assert_eq 1 "${RC}" "gateway on the load balancer's port fails"
  assert_contains "${ERR}" "in-cluster gateway" "gateway says the port is the in-cluster gateway's"
  assert_contains "${ERR}" "set K8S_DEV_GATEWAY_PORT to another port" "gateway offers the port setting"
  if [[ ! -e "${K8S_DEV_FAKE_STATE}/cargo.argv" ]]; then pass "gateway ran no cargo after refusing"; else fail "gateway ran cargo on the load balancer's port"; fi

  # Remote mode: the gateway gets a one-context copy of the user's kubeconfig, created fresh
  # (0600; the copy used to be written over an old file, keeping its 0644) and removed when the
  # task ends.
  local old_copy="${K8S_DEV_STATE_DIR}/remote-kubeconfig.yaml"
  mkdir -p "${K8S_DEV_STATE_DIR}"
  echo old >"${old_copy}"
  chmod 644 "${old_copy}"
  cat >"${bin}/cargo" <<'CARGO'
#!/usr/bin/env bash
# Recording fake of `cargo run`: the kubeconfig it was given, its mode and its contexts.
{ echo "${KUBECONFIG}"; stat -c %a "${KUBECONFIG}"; grep -c 'name: k3d-' "${KUBECONFIG}"; } >"${K8S_DEV_FAKE_STATE}/cargo.kubeconfig"
CARGO
  kubectl config set-context "k3d-${K8S_DEV_CLUSTER}-copy" --cluster "k3d-${K8S_DEV_CLUSTER}" \
    --user "admin@k3d-${K8S_DEV_CLUSTER}" >/dev/null
  # The task in remote mode, as the leader of its own process group (as a terminal runs it).
  local remote=(env PATH="${bin}:${PATH}" KUBECONFIG="${HOME}/.kube/config" K8S_DEV_CONTEXT="k3d-${K8S_DEV_CLUSTER}-copy"
    K8S_DEV_GATEWAY_PORT="${port}" K8S_DEV_REGISTRY="localhost:${K8S_DEV_REGISTRY_PORT}"
    K8S_DEV_REGISTRY_PULL="${K8S_DEV_REGISTRY_NAME}:5000" setsid mise run -q k8s:dev:gateway)
  (cd "${WORK}" && exec "${remote[@]}") >"${SANDBOX}/out" 2>"${SANDBOX}/err" || fail "remote gateway: $(cat "${SANDBOX}/err")"
  local given mode
  { read -r given; read -r mode; } <"${K8S_DEV_FAKE_STATE}/cargo.kubeconfig"
  assert_contains "${given}" "${K8S_DEV_STATE_DIR}/remote-kubeconfig." "remote gateway: KUBECONFIG is a fresh copy in the state directory"
  assert_eq 600 "${mode}" "remote gateway: the copy is 0600"
  if [[ ! -e "${given}" ]]; then pass "remote gateway: the copy is gone after the task"; else fail "remote gateway: ${given} left behind"; fi

  # Ctrl-C while the gateway runs: the copy goes too.
  cat >"${bin}/cargo" <<'CARGO'
#!/usr/bin/env bash
# A gateway that runs until interrupted, after saying which kubeconfig it got.
echo "${KUBECONFIG}" >"${K8S_DEV_FAKE_STATE}/cargo.kubeconfig.running"
exec sleep 120
CARGO
  (cd "${WORK}" && exec "${remote[@]}") >"${SANDBOX}/out" 2>"${SANDBOX}/err" &
  local pid=$! i # the group's leader: env and setsid exec in place
  for ((i = 0; i < 300; i++)); do [[ -s "${K8S_DEV_FAKE_STATE}/cargo.kubeconfig.running" ]] && break; sleep 0.1; done
  given="$(cat "${K8S_DEV_FAKE_STATE}/cargo.kubeconfig.running")"
  if [[ -e "${given}" ]]; then pass "remote gateway: the copy exists while the gateway runs"; else fail "remote gateway: no copy while running"; fi
  kill -INT -- "-${pid}" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  if [[ ! -e "${given}" ]]; then pass "remote gateway: Ctrl-C removes the copy"; else fail "remote gateway: ${given} left behind after Ctrl-C"; fi
  kubectl config delete-context "k3d-${K8S_DEV_CLUSTER}-copy" >/dev/null
}

check_watch() {
  local log="${SANDBOX}/watch.log" pid
  # From no release, as the recording of the real skaffold started (bootstrap installed one).
  helm uninstall openshell --kube-context "k3d-${K8S_DEV_CLUSTER}" --namespace openshell >/dev/null
  start_background watch "${WORK}" "${log}" mise run -q k8s:dev:watch
  pid="${BG_PID}"
  await_output "${log}" "Watching for changes" "${pid}" 300 || true
  assert_contains "$(cat "${log}")" "Watching for changes" "watch: skaffold dev built, pushed and deployed"
  local build
  build="$(calls skaffold 'c["argv"][0] == "dev"')"
  assert_eq "dev --filename skaffold.yaml --default-repo localhost:${K8S_DEV_REGISTRY_PORT} --kube-context k3d-${K8S_DEV_CLUSTER} --kubeconfig ${HOME}/.kube/k3d-${K8S_DEV_CLUSTER}.yaml" \
    "${build}" "watch runs skaffold dev with the cluster's kubeconfig and the registry as default repo"
  assert_contains "$(calls helm '"install" in c["argv"] and "--kube-context" in c["argv"]' | tail -n1)" \
    "--set image.tag=fake-1@sha256:" "watch: the release gets the pushed tag and digest through setValueTemplates"
  kill -INT -- "-${pid}" 2>/dev/null || true
  local rc=0
  wait "${pid}" || rc=$?
  # skaffold exits 0 after Ctrl-C; mise itself reports an interrupted task as 130.
  if [[ "${rc}" == 0 || "${rc}" == 130 ]]; then pass "watch: Ctrl-C ends the task (exit ${rc})"; else fail "watch: Ctrl-C exit ${rc}"; fi
  assert_contains "$(cat "${log}")" "Cleaning up..." "watch: Ctrl-C cleans up"
  assert_contains "$(calls helm '"delete" in c["argv"]')" "delete openshell --namespace openshell" "watch: the release is uninstalled"
  # What the real skaffold 2.24 ran (recorded by tests/data/recorded/record.sh), command words only.
  assert_eq "$(python3 -c 'import json,sys; print("|".join(" ".join(c.split()[2:4]) for c in json.load(open(sys.argv[1]))["helm_calls"] if c != "version"))' \
    "${ROOT}/tests/data/recorded/skaffold/dev.json")" \
    "$(calls helm 'c["argv"][:1] == ["--kube-context"] and c["argv"][2:3] != ["version"]' | awk '{ print $3, $4 }' | paste -sd'|' -)" \
    "watch: the fake skaffold ran helm in the order the real one did"
}

test_workload() {
  local missing=""
  [[ -n "${K8S_DEV_TEST_DOCKER_HOST:-}" ]] || missing+=" K8S_DEV_TEST_DOCKER_HOST"
  [[ -n "${K8S_DEV_TEST_PODMAN_HOST:-}" ]] || missing+=" K8S_DEV_TEST_PODMAN_HOST"
  [[ -n "${K8S_DEV_TEST_REGISTRY:-}" ]] || missing+=" K8S_DEV_TEST_REGISTRY"
  if [[ -n "${missing}" ]]; then skip "workload tasks: not set:${missing}"; return 0; fi
  sandbox_setup
  copy_workspace
  export DOCKER_HOST="${K8S_DEV_TEST_DOCKER_HOST}"
  run_task k8s:dev:up
  assert_ok "up (fake k3d) for the workload tests"
  check_sync
  check_bootstrap
  check_gateway
  check_watch
  run_task k8s:dev:down --registry
  assert_ok "down --registry after the workload tests"
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  build_helper
  (test_workload && finish)
}

main "$@"
