#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Edit -> serving on the real node (tests/support/node.sh): after a one-line change of the
# stand-in gateway's version string, how long until a new gateway pod is Ready and its NodePort
# answers /version with the new version, split per phase. Three paths, interleaved per round so
# that drift hits them alike, the rollout the same for all (k8s-dev.sh bootstrap with
# K8S_DEV_SKIP_SYNC=1, as test-real-loop does):
#   kit     k8s-dev.sh sync (cargo build, the helper's daemonless publish) + bootstrap
#   docker  the same cargo build, then docker build + docker push of the staged binary
#   import  the same cargo build, then docker build + docker save + `ctr images import` into
#           the node's containerd (what `k3d image import` does per node); the pod runs it
#           with imagePullPolicy IfNotPresent, as imported images need
# The baselines take the cargo build of a kit sync of the same change (the sync's own publish is
# not counted for them) and point bootstrap at their image by writing the state's images.env as
# sync does. Prints figures on stderr; asserts nothing.
#
# How each phase is measured (epoch ms, one clock):
#   cargo, image, push  kit: the sync's "cargo build" phase and the helper's own layer and
#                       upload + manifest times; baselines: the sync's cargo phase, then the
#                       wall time of each engine command (import: save + ctr import is "push")
#   rollout             bootstrap starting -> containerd's PullImage of the new image (or, with
#                       no pull, the new container's StartContainer): helm upgrade, the old
#                       pod's termination, the new pod's scheduling, sandbox and CNI
#   pull                containerd's PullImage call -> its return (its log, node_events.py)
#   start               pull return (or sandbox return) -> the NodePort answers the new version:
#                       container start, probes, Ready, endpoints, kube-proxy, and this script's
#                       100 ms polling
# with details: the old container's StopContainer (termination grace), RunPodSandbox, container
# start, and start -> serving (readiness). edit -> serving is wall time for the kit and
# cargo + image + push + (bootstrap start -> serving) for the baselines.
#
# Then `k8s-dev.sh watch` (real Skaffold) on the same release: its edit -> serving (wall time
# from the edit to the NodePort answering), pull and start; Skaffold's own build and deploy are
# not split. Ctrl-C ends it (it uninstalls the release).
#
# The source tree is never touched: the workspace is copied and changed there, built into
# K8S_DEV_BENCH_TARGET_DIR (as bench/sync.sh). One release in a namespace of its own, removed at
# the end with the baselines' images.
#
# Needs: the real node (eval "$(tests/support/node.sh up)"), its control plane (cluster.sh up),
# engines (engines.sh up), helm, kubectl and skaffold (tests/support/tools.sh), ctr (tools.sh
# build containerd), curl. Without the node's env this section is skipped with the reason.
#
# Environment:
#   K8S_DEV_TEST_NODE, K8S_DEV_TEST_NODE_TAINT, K8S_DEV_TEST_NODE_PROXY, K8S_DEV_NODE_STATE  node.sh up
#   K8S_DEV_TEST_KUBECONFIG, K8S_DEV_TEST_CONTEXT                                          cluster.sh up
#   K8S_DEV_TEST_REGISTRY, K8S_DEV_TEST_PODMAN_HOST, K8S_DEV_TEST_DOCKER_HOST              engines.sh up
#   K8S_DEV_BENCH_LOOP_RUNS   measured rounds (default: 3, below K8S_DEV_BENCH_RUNS: a round is
#                             three rollouts, about a minute), after one unmeasured round
#   K8S_DEV_BENCH_TARGET_DIR  CARGO_TARGET_DIR of the copy (default: <repo>/target/k8s-dev-bench)
#   K8S_DEV_BENCH_OUT         JSON-lines file the figures are appended to (see bench/lib.sh)
#   K8S_DEV_HELPER            helper binary (default: the workspace debug build)
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${K8S_DEV_BENCH_LOOP_RUNS:-3}"
TARGET_DIR="${K8S_DEV_BENCH_TARGET_DIR:-${BENCH_ROOT}/target/k8s-dev-bench}"
KIT="${BENCH_ROOT}/tasks/scripts/k8s-dev.sh"
PATHS=(kit docker import)
# The line changed per run: the stand-in's version string, which /version answers.
VERSION_FILE=example/gateway/src/version.rs
VERSION_PATTERN='^    version: [^,]*,$'

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Times edit -> new gateway pod serving on the real node's NodePort, per phase, for k8s-dev.sh
sync + bootstrap, for docker build + push and docker save + ctr import, and for k8s-dev.sh watch.

Environment:
  K8S_DEV_TEST_NODE/_TAINT/_PROXY, K8S_DEV_NODE_STATE  tests/support/node.sh up (else skipped)
  K8S_DEV_TEST_KUBECONFIG, K8S_DEV_TEST_CONTEXT         tests/support/cluster.sh up
  K8S_DEV_TEST_REGISTRY, K8S_DEV_TEST_PODMAN_HOST       tests/support/engines.sh up
  K8S_DEV_TEST_DOCKER_HOST  dockerd socket (without it the baselines are skipped)
  K8S_DEV_BENCH_LOOP_RUNS   measured rounds of each path (default: 3)
  K8S_DEV_BENCH_TARGET_DIR  CARGO_TARGET_DIR of the copy (default: <repo>/target/k8s-dev-bench)
  K8S_DEV_BENCH_OUT         JSON-lines file the figures are appended to
  K8S_DEV_HELPER            helper binary (default: the workspace debug build)
USAGE
}

# What is missing for this section, empty when it can run. No `"` or `\`: it goes into a JSON
# line as it is (bench/lib.sh).
missing_env() {
  local missing=""
  [[ -n "${K8S_DEV_TEST_NODE:-}" && -n "${K8S_DEV_NODE_STATE:-}" ]] \
    || missing+=" K8S_DEV_TEST_NODE/K8S_DEV_NODE_STATE (run: tests/support/node.sh up, and eval its output)"
  [[ -n "${K8S_DEV_TEST_NODE_PROXY:-}" || -z "${K8S_DEV_TEST_NODE:-}" ]] \
    || missing+=" K8S_DEV_TEST_NODE_PROXY (the node runs no kube-proxy, so no NodePort answers)"
  [[ -n "${K8S_DEV_TEST_KUBECONFIG:-}" && -n "${K8S_DEV_TEST_CONTEXT:-}" ]] \
    || missing+=" K8S_DEV_TEST_KUBECONFIG/K8S_DEV_TEST_CONTEXT (run: tests/support/cluster.sh up, and eval its output)"
  [[ -n "${K8S_DEV_TEST_REGISTRY:-}" && -n "${K8S_DEV_TEST_PODMAN_HOST:-}" ]] \
    || missing+=" K8S_DEV_TEST_REGISTRY/K8S_DEV_TEST_PODMAN_HOST (run: tests/support/engines.sh up, and eval its output)"
  echo "${missing}"
}

kc() { kubectl --context "${K8S_DEV_CONTEXT}" "$@"; }

# The kit's script from the copy, its stderr kept in WORK/kit.err for the phase parsers and,
# each line prefixed with the epoch ms it arrived at, in WORK/kit.stamped.
run_kit() { # what, verb
  local ok=1
  (cd "${WS}" && "${KIT}" "$2") 2>&1 >"${WORK}/kit.out" | stamp_lines >"${WORK}/kit.stamped" || ok=0
  cut -d' ' -f2- "${WORK}/kit.stamped" >"${WORK}/kit.err"
  if ((!ok)); then
    cat "${WORK}/kit.err" >&2
    bench_die "$2 ($1) failed"
  fi
}

stamp_lines() {
  local line
  while IFS= read -r line; do
    printf '%s %s\n' "$(((${EPOCHREALTIME/./} + 500) / 1000))" "${line}"
  done
}

# The ms at which the first stamped line matching PATTERN arrived, or -.
stamped_ms() { # pattern
  { grep -E -m1 -- "^[0-9]+ $1" "${WORK}/kit.stamped" || echo -; } | cut -d' ' -f1
}

phase_ms() { # phase name as k8s-dev.sh prints it ("[k8s-dev] cargo build   2.131s")
  sed -n -E "s/^\[k8s-dev\] $1 +([0-9]+\.[0-9]+)s$/\1/p" "${WORK}/kit.err" \
    | awk '{printf "%d\n", $1 * 1000 + 0.5}' | tail -n 1 | grep . \
    || bench_die "no '$1' phase in the sync output: $(cat "${WORK}/kit.err")"
}

helper_ms() { # field of the helper's "published REF… (…; layer N ms, upload N ms, …)"
  grep -F "published ${K8S_DEV_REGISTRY}/${KIT_IMAGE}:" "${WORK}/kit.err" \
    | sed -n -E "s/.*[(;, ]$1 ([0-9]+) ms.*/\1/p" | tail -n 1 | grep . \
    || bench_die "no $1 time in the helper output: $(cat "${WORK}/kit.err")"
}

VERSIONS=0
VERSION=""
change_version() { # sets VERSION (not in a subshell: VERSIONS counts the changes)
  VERSIONS=$((VERSIONS + 1))
  VERSION="0.0.0-bench-${ID}-${VERSIONS}"
  sed -i -E "s|${VERSION_PATTERN}|    version: \"${VERSION}\",|" "${WS}/${VERSION_FILE}"
  grep -qF "\"${VERSION}\"" "${WS}/${VERSION_FILE}" \
    || bench_die "no line matching '${VERSION_PATTERN}' in ${VERSION_FILE}; update VERSION_PATTERN in $0"
}

# The NodePort polled in the background from the rollout's start, so the time it first serves
# VERSION does not wait for bootstrap's own rollout wait to return.
POLL=""
start_poll() {
  rm -f "${WORK}/served"
  (await_serving "${VERSION}" >"${WORK}/served.tmp" && mv "${WORK}/served.tmp" "${WORK}/served") &
  POLL=$!
}

# Not in a subshell: only this shell can wait for the poller.
await_poll() { # sets T_SERVE
  wait "${POLL}" || bench_die "the NodePort never served version ${VERSION} (see above)"
  T_SERVE="$(cat "${WORK}/served")"
}

# The ms at which the NodePort first answers VERSION (bounded: 120 s).
await_serving() { # version
  local deadline=$((SECONDS + 120)) body=""
  while ((SECONDS < deadline)); do
    body="$(curl -fsS -m 2 "http://127.0.0.1:${K8S_DEV_NODEPORT}/version" 2>&1)" || true
    if [[ "${body}" == *"\"version\":\"$1\""* ]]; then
      now_ms
      return 0
    fi
    sleep 0.1
  done
  bench_die "the NodePort never served version $1 within 120 s (last answer: ${body}); pod: $(kc get pod openshell-0 -n "${K8S_DEV_NAMESPACE}" -o jsonpath='{.status}' 2>&1)"
}

# bootstrap rolls out the image named by K8S_DEV_GATEWAY_IMAGE and images.env's tag.
point_at() { # repository, tag
  local sup
  sup="$(sed -n 's/^K8S_DEV_SUPERVISOR_TAG=//p' "${K8S_DEV_STATE_DIR}/images.env")"
  printf 'K8S_DEV_GATEWAY_TAG=%s\nK8S_DEV_SUPERVISOR_TAG=%s\n' "$2" "${sup}" >"${K8S_DEV_STATE_DIR}/images.env"
  export K8S_DEV_GATEWAY_IMAGE="$1"
}

# The dev values of the copy plus the gateway pinned to the real node; the import path's with
# the gateway's pull policy IfNotPresent (the first pullPolicy of the file is the gateway's).
write_values() {
  {
    cat "${WS}/deploy/values/dev.yaml"
    printf 'nodeSelector:\n  kubernetes.io/hostname: "%s"\n' "${K8S_DEV_TEST_NODE}"
    printf 'tolerations:\n  - {key: "%s", operator: Exists, effect: NoSchedule}\n' "${K8S_DEV_TEST_NODE_TAINT%%=*}"
  } >"${WORK}/values-kit.yaml"
  sed '0,/^  pullPolicy: .*/s//  pullPolicy: IfNotPresent/' "${WORK}/values-kit.yaml" >"${WORK}/values-import.yaml"
  grep -q '^  pullPolicy: IfNotPresent' "${WORK}/values-import.yaml" \
    || bench_die "no image.pullPolicy in deploy/values/dev.yaml to set IfNotPresent for the import path"
}

ms_or() { [[ "$1" != - ]] && echo "$1" || echo "$2"; }

# One edit -> serving of PATH; appends to the S_<path>_<phase> arrays when MEASURE is 1.
loop_once() { # path, measure
  local path="$1" tag cargo sync_ms image push t_edit t_roll t_boot t_serve offset ref events
  local stop0 stop1 unsb sb0 sb1 pull0 pull1 st0 st1 after_pull total t_helm t_helm_done
  change_version
  t_edit=$(now_ms)
  export K8S_DEV_GATEWAY_IMAGE="${KIT_IMAGE}"
  run_kit "${path}" sync
  cargo=$(phase_ms "cargo build")
  sync_ms=$(phase_ms sync)
  export K8S_DEV_VALUES="${WORK}/values-kit.yaml"
  case "${path}" in
    kit)
      image=$(helper_ms layer)
      push=$(($(helper_ms upload) + $(helper_ms manifest)))
      tag="$(sed -n 's/^K8S_DEV_GATEWAY_TAG=//p' "${K8S_DEV_STATE_DIR}/images.env")"
      ;;
    docker | import)
      tag="b${VERSIONS}"
      ref="${K8S_DEV_REGISTRY}/${BASE_IMAGE}-${path}:${tag}"
      local t
      t=$(now_ms)
      quietly docker_ build -q -f "${WS}/deploy/docker/Dockerfile.gateway" --build-arg "TARGETARCH=${ARCH}" -t "${ref}" "${WS}" >>"${WORK}/docker.ids"
      image=$(($(now_ms) - t))
      t=$(now_ms)
      if [[ "${path}" == docker ]]; then
        quietly docker_ push -q "${ref}" >/dev/null
      else
        quietly docker_ save -o "${WORK}/image.tar" "${ref}"
        quietly "${CTR}" --address "${K8S_DEV_NODE_STATE}/containerd.sock" -n k8s.io images import "${WORK}/image.tar" >/dev/null
        rm -f "${WORK}/image.tar"
        echo "${ref}" >>"${WORK}/imported"
        export K8S_DEV_VALUES="${WORK}/values-import.yaml"
      fi
      push=$(($(now_ms) - t))
      point_at "${BASE_IMAGE}-${path}" "${tag}"
      ;;
  esac
  ref="${K8S_DEV_REGISTRY_PULL}/${K8S_DEV_GATEWAY_IMAGE}:"
  offset="$(stat -c %s "${CONTAINERD_LOG}")"
  start_poll
  t_roll=$(now_ms)
  K8S_DEV_SKIP_SYNC=1 run_kit "${path}" bootstrap
  t_boot=$(now_ms)
  await_poll
  t_serve="${T_SERVE}"
  t_helm=$(stamped_ms '\[k8s-dev\] helm upgrade --install')
  t_helm_done=$(stamped_ms 'Release "[^"]*" has been upgraded')
  events="$(python3 "${BENCH_ROOT}/bench/node_events.py" "${CONTAINERD_LOG}" "${offset}" "${ref}")"
  read -r stop0 stop1 unsb sb0 sb1 pull0 pull1 st0 st1 <<<"${events}"
  [[ "${sb1}" != - && "${st1}" != - ]] \
    || bench_die "no RunPodSandbox/StartContainer of the new pod in ${CONTAINERD_LOG} (got: ${events})"
  if [[ "${path}" == kit ]]; then total=$((t_serve - t_edit)); else total=$((cargo + image + push + t_serve - t_roll)); fi
  after_pull=$(ms_or "${pull1}" "${sb1}")
  bench_log "$(printf '%-6s edit -> serving %6d ms (cargo %d, image %d, push %d, rollout %d, pull %s, start %d)' \
    "${path}" "${total}" "${cargo}" "${image}" "${push}" "$(($(ms_or "${pull0}" "${st0}") - t_roll))" \
    "$([[ "${pull0}" == - ]] && echo none || echo $((pull1 - pull0)))" "$((t_serve - after_pull))")"
  (($2)) || return 0
  add "${path}" cargo "${cargo}"
  [[ "${path}" != kit ]] || add "${path}" sync "${sync_ms}"
  add "${path}" image "${image}"
  add "${path}" push "${push}"
  add "${path}" rollout "$(($(ms_or "${pull0}" "${st0}") - t_roll))"
  [[ "${pull0}" == - ]] || add "${path}" pull "$((pull1 - pull0))"
  add "${path}" start "$((t_serve - after_pull))"
  add "${path}" bootstrap "$((t_boot - t_roll))"
  [[ "${t_helm}" == - ]] || add "${path}" before_helm "$((t_helm - t_roll))"
  [[ "${t_helm}" == - || "${t_helm_done}" == - ]] || add "${path}" helm "$((t_helm_done - t_helm))"
  [[ "${t_helm_done}" == - || "${stop0}" == - ]] || add "${path}" to_stop "$((stop0 - t_helm_done))"
  [[ "${stop0}" == - || "${stop1}" == - ]] || add "${path}" termination "$((stop1 - stop0))"
  [[ "${unsb}" == - || "${sb0}" == - ]] || add "${path}" recreate "$((sb0 - unsb))"
  add "${path}" sandbox "$((sb1 - $(ms_or "${sb0}" "${sb1}")))"
  add "${path}" container_start "$((st1 - after_pull))"
  add "${path}" ready "$((t_serve - st1))"
  add "${path}" edit_to_serving "${total}"
  add "${path}" over_cargo "$((total - cargo))"
}

# k8s-dev.sh watch (skaffold dev) on the same release, edited RUNS + 1 times (the first not
# measured), then Ctrl-C. Skaffold builds (cargo and the helper's publish through the custom
# builder), pushes and deploys on its own: only edit -> serving and the node's pull and start
# are measured.
watch_rounds() {
  local log="${WORK}/watch.log" watch i round t_edit t_serve offset events ref
  local stop0 stop1 unsb sb0 sb1 pull0 pull1 st0 st1 after_pull
  ref="${K8S_DEV_REGISTRY_PULL}/openshell-gateway:"
  # Skaffold's config (usage metrics off) in a HOME of this run's own; cargo's stays.
  mkdir -p "${WORK}/home"
  HOME="${WORK}/home" skaffold config set --global collect-metrics false >/dev/null
  export K8S_DEV_VALUES="${WORK}/values-kit.yaml"
  local rustup="${RUSTUP_HOME:-${HOME}/.rustup}" cargo_home="${CARGO_HOME:-${HOME}/.cargo}"
  (cd "${WS}" && HOME="${WORK}/home" RUSTUP_HOME="${rustup}" CARGO_HOME="${cargo_home}" \
    exec setsid "${KIT}" watch) >"${log}" 2>&1 &
  watch=$!
  echo "${watch}" >"${WORK}/watch.pid"
  for ((i = 0; i < 600; i++)); do
    grep -q "Watching for changes" "${log}" 2>/dev/null && break
    kill -0 "${watch}" 2>/dev/null || break
    sleep 0.5
  done
  grep -q "Watching for changes" "${log}" || { tail -n 20 "${log}" >&2; bench_die "watch never reached 'Watching for changes'"; }
  for ((round = 0; round <= RUNS; round++)); do
    offset="$(stat -c %s "${CONTAINERD_LOG}")"
    change_version
    t_edit=$(now_ms)
    t_serve=$(await_serving "${VERSION}") || exit 1
    events="$(python3 "${BENCH_ROOT}/bench/node_events.py" "${CONTAINERD_LOG}" "${offset}" "${ref}")"
    read -r stop0 stop1 unsb sb0 sb1 pull0 pull1 st0 st1 <<<"${events}"
    [[ "${sb1}" != - && "${st1}" != - ]] \
      || bench_die "no RunPodSandbox/StartContainer of the new pod in ${CONTAINERD_LOG} (got: ${events}; edit ${t_edit}, serving ${t_serve}); watch: $(tail -n 15 "${log}")"
    after_pull=$(ms_or "${pull1}" "${sb1}")
    bench_log "$(printf 'watch  edit -> serving %6d ms (build + push + deploy + rollout %d, pull %s, start %d)' \
      "$((t_serve - t_edit))" "$(($(ms_or "${pull0}" "${st0}") - t_edit))" \
      "$([[ "${pull0}" == - ]] && echo none || echo $((pull1 - pull0)))" "$((t_serve - after_pull))")"
    ((round > 0)) || continue
    add watch edit_to_serving "$((t_serve - t_edit))"
    add watch rollout "$(($(ms_or "${pull0}" "${st0}") - t_edit))"
    [[ "${pull0}" == - ]] || add watch pull "$((pull1 - pull0))"
    add watch start "$((t_serve - after_pull))"
    [[ "${stop0}" == - || "${stop1}" == - ]] || add watch termination "$((stop1 - stop0))"
    [[ "${unsb}" == - || "${sb0}" == - ]] || add watch recreate "$((sb0 - unsb))"
    add watch ready "$((t_serve - st1))"
  done
  stop_watch
}

stop_watch() {
  local i watch
  [[ -s "${WORK}/watch.pid" ]] || return 0
  watch="$(cat "${WORK}/watch.pid")"
  kill -INT -- "-${watch}" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do
    kill -0 "${watch}" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "${watch}" 2>/dev/null; then
    bench_log "watch (pid ${watch}) did not end within 120 s of Ctrl-C; killing it"
    kill -KILL -- "-${watch}" 2>/dev/null || true
  fi
  rm -f "${WORK}/watch.pid"
}

# Samples per path and phase, in files (bash has no nested arrays).
add() { echo "$3" >>"${WORK}/samples.$1.$2"; }
samples() { [[ -s "${WORK}/samples.$1.$2" ]] && paste -sd' ' "${WORK}/samples.$1.$2"; }

record_path() { # path
  local path="$1" what phase label s
  case "${path}" in
    kit) what="edit -> serving, kit (sync + bootstrap)" ;;
    docker) what="edit -> serving, docker build + push" ;;
    import) what="edit -> serving, docker build + save + ctr import" ;;
    watch) what="edit -> serving, watch (skaffold dev)" ;;
  esac
  for phase in cargo sync image push rollout pull start edit_to_serving over_cargo bootstrap before_helm helm to_stop termination recreate sandbox container_start ready; do
    s="$(samples "${path}" "${phase}")" || continue
    case "${phase}" in
      cargo) label="cargo build (sync's phase)" ;;
      sync) label="sync, whole (also the unchanged supervisor's image phase)" ;;
      image) label="$([[ "${path}" == kit ]] && echo "image: gateway layer (helper)" || echo "image: docker build")" ;;
      push)
        case "${path}" in
          kit) label="push: upload + manifest (helper)" ;;
          docker) label="push: docker push" ;;
          import) label="push: docker save + ctr images import" ;;
        esac
        ;;
      rollout)
        if [[ "${path}" == watch ]]; then
          label="edit -> PullImage: skaffold's build, push, helm upgrade, old pod gone, new sandbox"
        else
          label="rollout: bootstrap start -> PullImage (or StartContainer)"
        fi
        ;;
      pull) label="pull: containerd PullImage" ;;
      start) label="start: pulled -> NodePort serves the new version" ;;
      edit_to_serving) label="total" ;;
      over_cargo) label="total - cargo build" ;;
      bootstrap) label="detail: bootstrap (helm upgrade + rollout wait) returns" ;;
      before_helm) label="detail: bootstrap start -> helm upgrade starts (kit's checks)" ;;
      helm) label="detail: helm upgrade --install" ;;
      to_stop) label="detail: helm prints its result -> old container StopContainer (below 0: stop began first)" ;;
      termination) label="detail: old container StopContainer (grace)" ;;
      recreate) label="detail: old StopPodSandbox -> new RunPodSandbox (delete, create, schedule)" ;;
      sandbox) label="detail: RunPodSandbox (pause + CNI)" ;;
      container_start) label="detail: pulled -> StartContainer returned" ;;
      ready) label="detail: StartContainer -> NodePort serves (probes, endpoints)" ;;
    esac
    # shellcheck disable=SC2086 # one sample per word
    record "loop.${path}.${phase}" ms "${what}: ${label}" ${s}
  done
}

cleanup() {
  local ids=() refs=()
  stop_watch
  if [[ -n "${K8S_DEV_NAMESPACE:-}" ]]; then
    kc delete namespace "${K8S_DEV_NAMESPACE}" --ignore-not-found --timeout=120s >/dev/null 2>&1 || true
  fi
  if [[ -s "${WORK}/docker.ids" ]]; then
    mapfile -t ids <"${WORK}/docker.ids"
    docker_ rmi -f "${ids[@]}" >/dev/null 2>&1 || true
  fi
  if [[ -s "${WORK}/imported" ]]; then
    mapfile -t refs <"${WORK}/imported"
    "${CTR}" --address "${K8S_DEV_NODE_STATE}/containerd.sock" -n k8s.io images rm "${refs[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "${WORK}"
}

setup() {
  HELPER="$(helper_debug)"
  eval "$("${BENCH_ROOT}/tests/support/tools.sh" env helm kubectl skaffold 2>/dev/null)"
  CTR="$("${BENCH_ROOT}/tests/support/tools.sh" path containerd 2>/dev/null)/ctr"
  CONTAINERD_LOG="${K8S_DEV_NODE_STATE}/containerd.log"
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/k8s-dev-bench-loop.XXXXXX")"
  WS="${WORK}/workspace"
  ID="$(date +%s)-$$"
  case "$(uname -m)" in x86_64) ARCH=amd64 ;; aarch64) ARCH=arm64 ;; *) ARCH="$(uname -m)" ;; esac
  trap cleanup EXIT
  mkdir -p "${WS}"
  tar -C "${BENCH_ROOT}" --exclude=./target --exclude=./.git --exclude=./.cache \
    --exclude=./bench/results -cf - . | tar -C "${WS}" -xf -
  export CARGO_TARGET_DIR="${TARGET_DIR}" K8S_DEV_HELPER="${HELPER}" CONTAINER_ENGINE_QUIET=1
  unset K8S_DEV_ENGINE CONTAINER_ENGINE
  export KUBECONFIG="${WORK}/kubeconfig"
  (umask 077 && cp "${K8S_DEV_TEST_KUBECONFIG}" "${KUBECONFIG}")
  export K8S_DEV_CONTEXT="${K8S_DEV_TEST_CONTEXT}"
  export K8S_DEV_REGISTRY="${K8S_DEV_TEST_REGISTRY}" K8S_DEV_REGISTRY_PULL="${K8S_DEV_TEST_REGISTRY}"
  export K8S_DEV_NAMESPACE="bench-loop-$$" K8S_DEV_SANDBOX_NAMESPACE="bench-loop-$$"
  KIT_IMAGE="k8s-dev-bench/${ID}-loop-gateway" BASE_IMAGE="k8s-dev-bench/${ID}-loop-baseline"
  export K8S_DEV_SUPERVISOR_IMAGE="k8s-dev-bench/${ID}-loop-supervisor"
  export K8S_DEV_STATE_DIR="${WORK}/state" K8S_DEV_CACHE_DIR="${WORK}/cache" K8S_DEV_TIMEOUT=300s
  export K8S_DEV_IMAGE_BUILDER=helper
  # The supervisor's RUN steps need an engine, once, from a base it can pull offline.
  export DOCKER_HOST="${K8S_DEV_TEST_PODMAN_HOST}"
  busybox_base "${K8S_DEV_REGISTRY}/k8s-dev-bench/${ID}-busybox:1" "${WORK}/busybox"
  export K8S_DEV_SUPERVISOR_BUILD_ARGS="SUPERVISOR_BASE_IMAGE=${K8S_DEV_REGISTRY}/k8s-dev-bench/${ID}-busybox:1"
  # A node port of this run's own: node ports are cluster-wide.
  export K8S_DEV_SERVICE_TYPE=NodePort K8S_DEV_NODEPORT=$((30000 + RANDOM % 2768))
  write_values
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; exit 2 ;;
  esac
  local missing round path start
  missing="$(missing_env)"
  if [[ -n "${missing}" ]]; then
    skipped "edit -> serving on the real node (loop section)" "not set:${missing}"
    return 0
  fi
  if ! have_docker; then
    skipped "edit -> serving, docker build + push and save + ctr import" "K8S_DEV_TEST_DOCKER_HOST is not set or docker is missing"
    PATHS=(kit)
  fi
  setup
  [[ -x "${CTR}" ]] || { skipped "edit -> serving, save + ctr import" "no ctr in $(dirname "${CTR}"); run: tests/support/tools.sh build containerd"; PATHS=("${PATHS[@]/import/}"); }
  start=$(now_ms)
  export K8S_DEV_GATEWAY_IMAGE="${KIT_IMAGE}" K8S_DEV_VALUES="${WORK}/values-kit.yaml"
  run_kit prepare bootstrap
  note "loop: the first bootstrap (cargo build of the copy, first pull) took $(($(now_ms) - start)) ms; ${RUNS} measured rounds of ${PATHS[*]} after one unmeasured"
  for ((round = 0; round <= RUNS; round++)); do
    for path in "${PATHS[@]}"; do
      [[ -z "${path}" ]] || loop_once "${path}" "$((round > 0))"
    done
  done
  if command -v skaffold >/dev/null 2>&1; then
    watch_rounds
    PATHS+=(watch)
  else
    skipped "edit -> serving, watch" "no skaffold on PATH; run: tests/support/tools.sh build skaffold"
  fi
  for path in "${PATHS[@]}"; do
    [[ -z "${path}" ]] || record_path "${path}"
  done
}

main "$@"
