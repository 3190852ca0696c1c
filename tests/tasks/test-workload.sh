#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Tests of the workload tasks (k8s:dev:sync, bootstrap, gateway, watch) in a copy of this
# workspace, so a one-line source change can be made safely. sync really builds the static
# binaries, stages them in OpenShell's layout (deploy/docker/.build/prebuilt-binaries/<arch>/)
# and publishes deploy/docker/Dockerfile.* to the real registry (the supervisor's RUN step on an
# engine-built prefix); the images are pulled back and run with Docker and Podman; a base that
# cannot be reached, a binary not where the Dockerfile looks and a RUN step with no engine each
# stop sync with one line naming the setting, nothing pushed. bootstrap, gateway and watch run
# through real mise against the fake cluster of the recording fake k3d, with recording fakes of
# helm and skaffold and a recording gateway command.
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

# BuildKit's TARGETARCH for this host.
host_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) uname -m ;;
  esac
}

# The digest a tag points at in the test registry, or "none".
tag_digest() { # repository, tag
  curl -fsSI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://${K8S_DEV_TEST_REGISTRY}/v2/$1/manifests/$2" 2>/dev/null \
    | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p' | grep . || echo none
}

# The number of error lines in ERR.
error_lines() { grep -c '^error: ' <<<"${ERR}" || true; }

check_sync() {
  # Pulled by both engines: the CI registry is the one both trust over plain HTTP; gzip
  # because Docker before 23 cannot unpack zstd layers.
  export K8S_DEV_REGISTRY="${K8S_DEV_TEST_REGISTRY}"
  export K8S_DEV_GATEWAY_IMAGE="test-$$-gateway" K8S_DEV_SUPERVISOR_IMAGE="test-$$-supervisor"
  export K8S_DEV_IMAGE_COMPRESSION=gzip
  local base
  base="$(busybox_base "${K8S_DEV_TEST_REGISTRY}")" || { fail "publishing the busybox base"; return 0; }
  # The supervisor's base, offline: the registry's busybox instead of Docker Hub's.
  export K8S_DEV_SUPERVISOR_BUILD_ARGS="SUPERVISOR_BASE_IMAGE=${base}"
  run_task k8s:dev:sync
  assert_ok "sync builds and publishes both images"
  assert_contains "${ERR}" "cargo build" "sync prints the build phase time"
  assert_contains "${ERR}" "gateway image" "sync prints the image phase time"
  assert_eq "True True" "$(publish_field "${K8S_DEV_GATEWAY_IMAGE}" 'r["bytes_uploaded"] > 0') $(publish_field "${K8S_DEV_SUPERVISOR_IMAGE}" 'r["bytes_uploaded"] > 0')" \
    "first sync uploads both images"
  local staged triple
  staged="${WORK}/deploy/docker/.build/prebuilt-binaries/$(host_arch)"
  triple="$(rustc -vV | sed -n 's/^host: //p')"
  if cmp -s "${staged}/openshell-gateway" "${CARGO_TARGET_DIR}/${triple}/debug/openshell-gateway" \
    && cmp -s "${staged}/openshell-sandbox" "${CARGO_TARGET_DIR}/${triple}/debug/openshell-sandbox"; then
    pass "sync stages both binaries in OpenShell's layout, deploy/docker/.build/prebuilt-binaries/<arch>/"
  else
    fail "no staged binaries in ${staged}: $(ls -l "${staged}" 2>&1)"
  fi
  assert_eq "None True" "$(publish_field "${K8S_DEV_GATEWAY_IMAGE}" 'r["prefix"]') $(publish_field "${K8S_DEV_SUPERVISOR_IMAGE}" 'r["prefix"]["built"]')" \
    "the gateway publishes daemonlessly, the supervisor's RUN step is built by the engine once"
  assert_contains "${ERR}" "building deploy/docker/Dockerfile.supervisor lines 1-" "sync says the engine builds the supervisor's prefix"
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
  assert_eq "False" "$(publish_field "${K8S_DEV_SUPERVISOR_IMAGE}" 'r["prefix"]["built"]')" \
    "a second sync takes the supervisor's prefix from the registry: no engine build"

  sed -i 's/seconds until SIGTERM or SIGINT/seconds until SIGTERM or SIGINT (edited)/' "${WORK}/example/supervisor/src/main.rs"
  run_task k8s:dev:sync
  assert_ok "sync after a one-line supervisor change succeeds"
  assert_eq "0 True" "$(publish_field "${K8S_DEV_GATEWAY_IMAGE}" 'r["bytes_uploaded"], r["unchanged"]' | tr -d '(),')" \
    "after the change the gateway pushes nothing"
  assert_eq "True False" "$(publish_field "${K8S_DEV_SUPERVISOR_IMAGE}" 'r["bytes_uploaded"] > 0, r["unchanged"]' | tr -d '(),')" \
    "after the change the supervisor pushes its changed layer"
  assert_contains "$(podman --url "${K8S_DEV_TEST_PODMAN_HOST}" run --rm --pull always --network host "${K8S_DEV_TEST_REGISTRY}/${K8S_DEV_SUPERVISOR_IMAGE}:dev" --help)" \
    "(edited)" "the pushed supervisor is the changed build"

  check_sync_refusals

  # Docker without buildx builds with its legacy builder, which has no COPY --chmod (OpenShell's
  # supervisor Dockerfile, and the stand-in's, use it): that engine gets the same file without.
  sed 's/^COPY --chmod=0555 /COPY /' "${WORK}/deploy/docker/Dockerfile.supervisor" >"${SANDBOX}/Dockerfile.supervisor.legacy"
  local engine host legacy
  for engine in docker podman; do
    host="$(engine_host "${engine}")"
    legacy=""
    if [[ "${engine}" == docker ]] && ! DOCKER_HOST="${host}" docker buildx version >/dev/null 2>&1; then
      legacy="${SANDBOX}/Dockerfile.supervisor.legacy"
    fi
    DOCKER_HOST="${host}" K8S_DEV_IMAGE_BUILDER=engine K8S_DEV_GATEWAY_IMAGE="test-$$-engine-${engine}" \
      K8S_DEV_SUPERVISOR_DOCKERFILE="${legacy:-deploy/docker/Dockerfile.supervisor}" run_task k8s:dev:sync
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

# Bad input stops sync with one line naming the setting to change, and moves no tag.
check_sync_refusals() {
  local gw_before sup_before dead
  gw_before="$(tag_digest "${K8S_DEV_GATEWAY_IMAGE}" dev)"
  sup_before="$(tag_digest "${K8S_DEV_SUPERVISOR_IMAGE}" dev)"
  dead="127.0.0.1:$(free_port)"
  # A change, so that there is something to push; the base is where nothing answers.
  sed -i 's/received {signal}, shutting down/received {signal}, shutting down (edited)/' "${WORK}/example/gateway/src/main.rs"
  K8S_DEV_GATEWAY_BUILD_ARGS="GATEWAY_BASE_IMAGE=${dead}/distroless/cc:nonroot" run_task k8s:dev:sync
  assert_eq 1 "${RC}" "sync with an unreachable gateway base fails"
  assert_eq 1 "$(error_lines)" "with one error line"
  assert_contains "${ERR}" "add GATEWAY_BASE_IMAGE=<mirror>/distroless/cc:nonroot to K8S_DEV_GATEWAY_BUILD_ARGS" \
    "naming the build-arg and the setting that point the base at a mirror"
  assert_eq "${gw_before}" "$(tag_digest "${K8S_DEV_GATEWAY_IMAGE}" dev)" "the gateway's :dev did not move"

  rm -rf "${WORK}/deploy/docker/.build"
  K8S_DEV_IMAGE_STAGING_DIR="elsewhere/{arch}" run_task k8s:dev:sync
  assert_eq 1 "${RC}" "sync staging the binary where the Dockerfile does not look fails"
  assert_eq 1 "$(error_lines)" "with one error line"
  assert_contains "${ERR}" "deploy/docker/.build/prebuilt-binaries/$(host_arch)/openshell-gateway" "naming the path the Dockerfile COPYs"
  assert_contains "${ERR}" "check K8S_DEV_IMAGE_STAGING_DIR and K8S_DEV_IMAGE_CONTEXT" "and the settings to check"
  assert_eq "${gw_before}" "$(tag_digest "${K8S_DEV_GATEWAY_IMAGE}" dev)" "the gateway's :dev still did not move"

  # A supervisor prefix the registry does not have yet (another build arg is another prefix),
  # and no engine that answers.
  DOCKER_HOST="unix://${SANDBOX}/no-engine.sock" \
    K8S_DEV_SUPERVISOR_BUILD_ARGS="${K8S_DEV_SUPERVISOR_BUILD_ARGS} UNUSED=$$" run_task k8s:dev:sync
  assert_eq 1 "${RC}" "sync with a new RUN prefix and no engine fails"
  assert_eq 1 "$(error_lines)" "with one error line"
  assert_contains "${ERR}" "deploy/docker/Dockerfile.supervisor lines 1-" "naming the Dockerfile lines that need the engine"
  assert_contains "${ERR}" "none answers" "and that no engine answers"
  assert_eq "${sup_before}" "$(tag_digest "${K8S_DEV_SUPERVISOR_IMAGE}" dev)" "the supervisor's :dev did not move"
  sed -i 's/received {signal}, shutting down (edited)/received {signal}, shutting down/' "${WORK}/example/gateway/src/main.rs"
}

check_bootstrap() {
  local ctx="k3d-${K8S_DEV_CLUSTER}" kc="${HOME}/.kube/k3d-${K8S_DEV_CLUSTER}.yaml" tags
  local pull="${K8S_DEV_REGISTRY_NAME}:5000" # derived from the registry name alone
  # CRDs kubectl cannot apply: bootstrap stops before the chart (a `for` over the failed apply's
  # output used to install the chart anyway and exit 0).
  printf 'kind: Nonsense\n' >"${SANDBOX}/bad-crds.yaml"
  K8S_DEV_CRDS="${SANDBOX}/bad-crds.yaml" K8S_DEV_SKIP_SYNC=1 run_task k8s:dev:bootstrap
  assert_eq 1 "${RC}" "bootstrap with CRDs kubectl cannot apply fails"
  assert_contains "${ERR}" "error: applying the CRDs in ${SANDBOX}/bad-crds.yaml failed" "the failure names the CRDs"
  assert_eq "" "$(calls helm 'c["argv"][0] == "upgrade"')" "no chart installed without its CRDs"
  check_crds
  run_task k8s:dev:bootstrap
  assert_ok "bootstrap succeeds against the cluster"
  # shellcheck disable=SC1091 # written by sync
  tags="$(source "${K8S_DEV_STATE_DIR}/images.env" && echo "${K8S_DEV_GATEWAY_TAG} ${K8S_DEV_SUPERVISOR_TAG}")"
  assert_eq "upgrade --install openshell deploy/helm/openshell --kube-context ${ctx} --kubeconfig ${kc} --namespace openshell --create-namespace --values ${WORK}/deploy/values/dev.yaml --values ${K8S_DEV_STATE_DIR}/values.yaml --set image.repository=${pull}/openshell-gateway --set image.tag=${tags% *} --set supervisor.image.repository=${pull}/openshell-supervisor --set supervisor.image.tag=dev" \
    "$(calls helm 'c["argv"][0] == "upgrade"' | tail -n1)" \
    "bootstrap installs the chart with the dev values, the kit's values, the gateway's content tag and the supervisor's :dev"
  assert_eq "NodePort 30051 openshell None" "$(release_values 'v["service"]["type"], v["service"]["nodePort"], v["server"]["sandboxNamespace"], v.get("imagePullSecrets")' | tr -d "(),'")" \
    "locally the chart gets the NodePort behind the load balancer, the sandbox namespace and no pull secret"
  assert_eq "1" "$(kubectl --kubeconfig "${kc}" get statefulset openshell -n openshell -o jsonpath='{.status.updatedReplicas}')" \
    "the rendered StatefulSet reached the cluster and bootstrap waited for its rollout"
  assert_eq "Active" "$(kubectl --kubeconfig "${kc}" get namespace openshell -o jsonpath='{.status.phase}')" "bootstrap created the namespace"
  run_task k8s:dev:bootstrap
  assert_ok "bootstrap is idempotent"
  assert_contains "${OUT}" "Release: openshell in openshell" "bootstrap reports the release"
}

# The values the fake helm installed the release with (all files and --set merged).
release_values() { # python expression over the values `v`
  python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["openshell/openshell"]["values"]; print(eval(sys.argv[2]))' \
    "${K8S_DEV_FAKE_STATE}/helm-releases.json" "$1"
}

# CRD manifests: a file with one CRD, and a directory with the Agent Sandbox-shaped manifest
# (tests/data/agent-sandbox-manifest.yaml: a CRD, a namespace and a controller the fake API holds
# not rolled out until released).
write_crds() { # dir
  mkdir -p "$1/more"
  cat >"$1/crd.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: sandboxtemplates.agents.x-k8s.io
spec:
  group: agents.x-k8s.io
  names: {kind: SandboxTemplate, listKind: SandboxTemplateList, plural: sandboxtemplates, singular: sandboxtemplate}
  scope: Namespaced
  versions:
    - {name: v1alpha1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
YAML
  cp "${ROOT}/tests/data/agent-sandbox-manifest.yaml" "$1/more/manifest.yaml"
}

# K8S_DEV_CRDS with a file and a directory: bootstrap waits for each CRD and for the controller
# the manifests run, and a controller that never rolls out stops it before the chart.
check_crds() {
  local kc="${HOME}/.kube/k3d-${K8S_DEV_CLUSTER}.yaml" crds="${SANDBOX}/crds" api
  write_crds "${crds}"
  K8S_DEV_TIMEOUT=3s K8S_DEV_CRDS="${crds}/crd.yaml ${crds}/more" K8S_DEV_SKIP_SYNC=1 run_task k8s:dev:bootstrap
  assert_eq 3 "${RC}" "bootstrap with a controller that does not roll out times out"
  assert_contains "${ERR}" "waiting for rollout of deployment/agent-sandbox-controller in agent-sandbox-system" "naming the controller it waited for"
  assert_eq "" "$(calls helm 'c["argv"][0] == "upgrade"')" "and installs no chart"
  # Released once bootstrap says it waits for it (the fake API keeps it held until then).
  api="$(kubectl --kubeconfig "${kc}" config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
  local pid
  (cd "${WORK}" && exec env K8S_DEV_CRDS="${crds}/crd.yaml ${crds}/more" K8S_DEV_SKIP_SYNC=1 mise run -q k8s:dev:bootstrap) \
    >"${SANDBOX}/out" 2>"${SANDBOX}/err" &
  pid=$!
  await_output "${SANDBOX}/err" "waiting up to 30s for rollout of deployment/agent-sandbox-controller in agent-sandbox-system" "${pid}" 120 || true
  curl -fsS -X POST "${api}/_fake/hold?path=/apis/apps/v1/namespaces/agent-sandbox-system/deployments/agent-sandbox-controller&hold=false" >/dev/null
  RC=0
  wait "${pid}" || RC=$?
  ERR="$(cat "${SANDBOX}/err")"
  assert_ok "bootstrap with CRDs from a file and a directory"
  assert_contains "${ERR}" "waiting up to 30s for rollout of deployment/agent-sandbox-controller in agent-sandbox-system" "bootstrap waited for the controller"
  assert_contains "${ERR}" "rollout of deployment/agent-sandbox-controller in agent-sandbox-system (context k3d-${K8S_DEV_CLUSTER}) ready after" \
    "until it rolled out"
  assert_eq "True True" "$(kubectl --kubeconfig "${kc}" get crd sandboxes.agents.x-k8s.io sandboxtemplates.agents.x-k8s.io \
    -o jsonpath='{.items[*].status.conditions[?(@.type=="Established")].status}')" "both CRDs are Established"
  K8S_DEV_CRDS="${crds}/missing.yaml" K8S_DEV_SKIP_SYNC=1 run_task k8s:dev:bootstrap
  assert_eq 1 "${RC}" "a CRD file that does not exist fails"
  assert_contains "${ERR}" "K8S_DEV_CRDS: ${crds}/missing.yaml does not exist" "naming it and the setting"
}

# A gateway command: records its arguments, the OPENSHELL_* variables and the kubeconfig it got
# (path, mode, current context), then listens on OPENSHELL_BIND_ADDRESS:OPENSHELL_SERVER_PORT
# until interrupted, as a gateway runner does (FAKE_GATEWAY_EXIT=N: exits N at once instead).
write_fake_gateway() { # path
  cat >"$1" <<'SH'
#!/usr/bin/env bash
printf '%s\n' "$*" >"${K8S_DEV_FAKE_STATE}/gateway.argv"
env | grep -E '^(KUBECONFIG|OPENSHELL_[A-Z_]+)=' | sort >"${K8S_DEV_FAKE_STATE}/gateway.env"
{ echo "${KUBECONFIG}"; stat -c %a "${KUBECONFIG}"; kubectl config current-context; } >"${K8S_DEV_FAKE_STATE}/gateway.kubeconfig"
[[ -z "${FAKE_GATEWAY_EXIT:-}" ]] || exit "${FAKE_GATEWAY_EXIT}"
exec python3 -c 'import socket,sys,time; s=socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(); time.sleep(600)' \
  "${OPENSHELL_BIND_ADDRESS}" "${OPENSHELL_SERVER_PORT}"
SH
  chmod +x "$1"
}

# The gateway task in the background as the leader of its own process group (as a terminal runs
# it), until it prints the address; then Ctrl-C. Output in SANDBOX/gateway.log.
run_gateway_until_listening() { # env assignments...
  local log="${SANDBOX}/gateway.log" pid i rc=0
  (cd "${WORK}" && exec env "$@" setsid mise run -q k8s:dev:gateway) >"${log}" 2>&1 &
  pid=$!
  await_output "${log}" "^Gateway: " "${pid}" 60 || true
  GATEWAY_LINE="$(grep '^Gateway: ' "${log}" || true)"
  kill -INT -- "-${pid}" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || rc=$?
  GATEWAY_RC="${rc}"
}

check_gateway() {
  local fake="${SANDBOX}/bin/fake-gateway" port kc="${HOME}/.kube/k3d-${K8S_DEV_CLUSTER}.yaml"
  mkdir -p "${SANDBOX}/bin"
  write_fake_gateway "${fake}"
  port="$(free_port)"
  run_gateway_until_listening K8S_DEV_GATEWAY_PORT="${port}" K8S_DEV_GATEWAY_COMMAND="${fake} --driver kubernetes"
  assert_eq "Gateway: http://127.0.0.1:${port} (listening)" "${GATEWAY_LINE}" "gateway prints the address once the command listens there"
  assert_eq "--driver kubernetes" "$(cat "${K8S_DEV_FAKE_STATE}/gateway.argv")" "gateway runs K8S_DEV_GATEWAY_COMMAND as given"
  assert_eq "$(printf '%s\n' "KUBECONFIG=${kc}" OPENSHELL_BIND_ADDRESS=127.0.0.1 "OPENSHELL_GATEWAY_NAME=${K8S_DEV_CLUSTER}" \
    "OPENSHELL_SANDBOX_IMAGE=${K8S_DEV_REGISTRY_NAME}:5000/openshell-supervisor:dev" OPENSHELL_SANDBOX_IMAGE_PULL_POLICY=Always \
    OPENSHELL_SANDBOX_NAMESPACE=openshell "OPENSHELL_SERVER_PORT=${port}" \
    "OPENSHELL_SUPERVISOR_IMAGE=${K8S_DEV_REGISTRY_NAME}:5000/openshell-supervisor:dev")" "$(cat "${K8S_DEV_FAKE_STATE}/gateway.env")" \
    "the command gets the cluster's kubeconfig, OpenShell's runner variables and the pushed supervisor"
  if [[ "${GATEWAY_RC}" == 0 || "${GATEWAY_RC}" == 130 ]]; then pass "gateway: Ctrl-C ends the task (exit ${GATEWAY_RC})"; else fail "gateway: Ctrl-C exit ${GATEWAY_RC}: $(cat "${SANDBOX}/gateway.log")"; fi

  rm -f "${K8S_DEV_FAKE_STATE}/gateway.argv"
  K8S_DEV_GATEWAY_COMMAND="${fake}" K8S_DEV_GATEWAY_PORT="${K8S_DEV_LB_PORT}" run_task k8s:dev:gateway
  assert_eq 1 "${RC}" "gateway on the load balancer's port fails"
  assert_contains "${ERR}" "in-cluster gateway" "gateway says the port is the in-cluster gateway's"
  assert_contains "${ERR}" "set K8S_DEV_GATEWAY_PORT to another port" "gateway offers the port setting"
  if [[ ! -e "${K8S_DEV_FAKE_STATE}/gateway.argv" ]]; then pass "gateway ran no command after refusing"; else fail "gateway ran the command on the load balancer's port"; fi
  K8S_DEV_GATEWAY_COMMAND="no-such-runner --driver kubernetes" K8S_DEV_GATEWAY_PORT="${port}" run_task k8s:dev:gateway
  assert_eq 1 "${RC}" "a gateway command that is not installed fails"
  assert_contains "${ERR}" "K8S_DEV_GATEWAY_COMMAND: no-such-runner not found on PATH" "naming the setting"

  # A `mise run` command gets the repository's mise [env], whose KUBECONFIG wins over the task's
  # (OpenShell's does this): its current context must be the cluster's, else the task says so.
  local repo_kc="${WORK}/repo-kubeconfig"
  cp "${kc}" "${repo_kc}"
  kubectl --kubeconfig "${repo_kc}" config set-context elsewhere --cluster "k3d-${K8S_DEV_CLUSTER}" >/dev/null
  kubectl --kubeconfig "${repo_kc}" config use-context elsewhere >/dev/null
  printf '[env]\nKUBECONFIG = "{{config_root}}/repo-kubeconfig"\n\n[tasks.fake-gateway]\nrun = "%s"\n' "${fake}" >"${WORK}/mise.local.toml"
  rm -f "${K8S_DEV_FAKE_STATE}/gateway.argv"
  K8S_DEV_GATEWAY_COMMAND="mise run fake-gateway" K8S_DEV_GATEWAY_PORT="${port}" run_task k8s:dev:gateway
  assert_eq 1 "${RC}" "a mise command whose kubeconfig is on another context fails"
  assert_contains "${ERR}" "runs with KUBECONFIG=${repo_kc} (the repository's mise [env] replaces the task's), whose current context is 'elsewhere', not k3d-${K8S_DEV_CLUSTER}; run: KUBECONFIG=${repo_kc} kubectl config use-context k3d-${K8S_DEV_CLUSTER}" \
    "naming the kubeconfig the command would use and the fix"
  if [[ ! -e "${K8S_DEV_FAKE_STATE}/gateway.argv" ]]; then pass "and starts nothing"; else fail "the command ran against the wrong context"; fi
  kubectl --kubeconfig "${repo_kc}" config use-context "k3d-${K8S_DEV_CLUSTER}" >/dev/null
  FAKE_GATEWAY_EXIT=0 K8S_DEV_GATEWAY_COMMAND="mise run fake-gateway" K8S_DEV_GATEWAY_PORT="${port}" run_task k8s:dev:gateway
  assert_ok "with the cluster current there, the mise command runs"
  assert_eq "$(printf '%s\n' "${repo_kc}" 600 "k3d-${K8S_DEV_CLUSTER}")" "$(cat "${K8S_DEV_FAKE_STATE}/gateway.kubeconfig")" \
    "the command ran with the repository's kubeconfig, on the cluster's context"
  rm -f "${WORK}/mise.local.toml" "${repo_kc}"

  # Remote mode: the command gets a one-context copy of the user's kubeconfig, created fresh
  # (0600; the copy used to be written over an old file, keeping its 0644) and removed when the
  # task ends.
  local old_copy="${K8S_DEV_STATE_DIR}/remote-kubeconfig.yaml"
  mkdir -p "${K8S_DEV_STATE_DIR}"
  echo old >"${old_copy}"
  chmod 644 "${old_copy}"
  kubectl config set-context "k3d-${K8S_DEV_CLUSTER}-copy" --cluster "k3d-${K8S_DEV_CLUSTER}" \
    --user "admin@k3d-${K8S_DEV_CLUSTER}" >/dev/null
  local remote=(KUBECONFIG="${HOME}/.kube/config" K8S_DEV_CONTEXT="k3d-${K8S_DEV_CLUSTER}-copy"
    K8S_DEV_GATEWAY_PORT="${port}" K8S_DEV_REGISTRY="localhost:${K8S_DEV_REGISTRY_PORT}"
    K8S_DEV_REGISTRY_PULL="${K8S_DEV_REGISTRY_NAME}:5000" K8S_DEV_GATEWAY_COMMAND="${fake}")
  (cd "${WORK}" && exec env FAKE_GATEWAY_EXIT=0 "${remote[@]}" mise run -q k8s:dev:gateway) >"${SANDBOX}/out" 2>"${SANDBOX}/err" \
    || fail "remote gateway: $(cat "${SANDBOX}/err")"
  local given mode
  { read -r given; read -r mode; } <"${K8S_DEV_FAKE_STATE}/gateway.kubeconfig"
  assert_contains "${given}" "${K8S_DEV_STATE_DIR}/remote-kubeconfig." "remote gateway: KUBECONFIG is a fresh copy in the state directory"
  assert_eq 600 "${mode}" "remote gateway: the copy is 0600"
  if [[ ! -e "${given}" ]]; then pass "remote gateway: the copy is gone after the task"; else fail "remote gateway: ${given} left behind"; fi

  # Ctrl-C while the gateway runs: the copy goes too.
  rm -f "${K8S_DEV_FAKE_STATE}/gateway.kubeconfig"
  run_gateway_until_listening "${remote[@]}"
  given="$(head -n1 "${K8S_DEV_FAKE_STATE}/gateway.kubeconfig")"
  assert_contains "${GATEWAY_LINE}" "Gateway: http://127.0.0.1:${port}" "remote gateway: the address is printed"
  if [[ -n "${given}" && ! -e "${given}" ]]; then pass "remote gateway: Ctrl-C removes the copy"; else fail "remote gateway: '${given}' left behind after Ctrl-C"; fi
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
  local build upgrade
  build="$(calls skaffold 'c["argv"][0] == "dev"')"
  assert_eq "dev --filename ${WORK}/skaffold.yaml --default-repo localhost:${K8S_DEV_REGISTRY_PORT} --kube-context k3d-${K8S_DEV_CLUSTER} --kubeconfig ${HOME}/.kube/k3d-${K8S_DEV_CLUSTER}.yaml" \
    "${build}" "watch runs the kit's skaffold.yaml with the cluster's kubeconfig and the registry as default repo"
  assert_eq "${WORK}" "$(python3 -c 'import json,sys
for line in open(sys.argv[1]):
    c = json.loads(line)
    if c["tool"] == "skaffold": print(c["cwd"])' "${K8S_DEV_FAKE_STATE}/calls.jsonl" | tail -n1)" "Skaffold runs in the repository root"
  upgrade="$(calls helm '"install" in c["argv"] and "--kube-context" in c["argv"]' | tail -n1)"
  assert_contains "${upgrade}" "install openshell ${WORK}/deploy/helm/openshell --namespace openshell" \
    "watch: the release, chart and namespace come from the task's settings through Skaffold's templates"
  assert_contains "${upgrade}" "-f ${WORK}/deploy/values/dev.yaml -f ${K8S_DEV_STATE_DIR}/values.yaml " \
    "watch: the dev values and the kit's values files, in that order"
  assert_contains "${upgrade}" "--set image.repository=${K8S_DEV_REGISTRY_NAME}:5000/openshell-gateway " \
    "watch: pods pull the gateway by the registry's in-cluster name"
  assert_contains "${upgrade}" "--set image.tag=fake-1@sha256:" "watch: the release gets the pushed tag and digest through setValueTemplates"
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
