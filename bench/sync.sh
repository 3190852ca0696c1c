#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Measure the inner loop as the k8s:dev:sync task runs it: the real tasks/scripts/k8s-dev.sh
# sync after a one-line change in the gateway source, per phase (cargo build, image, push),
# with the daemonless publisher (K8S_DEV_IMAGE_BUILDER=helper) and with each engine path
# (K8S_DEV_IMAGE_BUILDER=engine, DOCKER_HOST at Docker, then at Podman). After each helper
# sync, the baselines run on the image it just published: docker build + push, podman build +
# push, and docker save of the Docker-built image loaded into Podman (what `k3d image import`
# does for every node). Prints figures on stderr; asserts nothing.
#
# The source tree is never touched: the workspace (without target/) is copied to a temporary
# directory and changed there. CARGO_TARGET_DIR is a persistent directory of its own, so
# dependencies are built once (on the first run of this bench) and only the gateway is
# rebuilt per change. Engine calls made by the sync are timed by PATH shims around docker and
# podman (a few ms each).
#
# Needs: cargo, the docker and podman CLIs, engines from `eval "$(tests/support/engines.sh up)"`.
#
# Environment:
#   K8S_DEV_TEST_REGISTRY     registry host:port (without it this bench is skipped)
#   K8S_DEV_TEST_DOCKER_HOST  dockerd socket (without it the Docker path and baselines are skipped)
#   K8S_DEV_TEST_PODMAN_HOST  Podman API socket (without it the Podman path and baselines are skipped)
#   K8S_DEV_BENCH_RUNS        measured runs per path (default: 5), after one unmeasured run
#   K8S_DEV_BENCH_TARGET_DIR  CARGO_TARGET_DIR of the copies (default: <repo>/target/k8s-dev-bench)
#   K8S_DEV_BENCH_OUT         JSON-lines file the figures are appended to (see bench/lib.sh)
#   K8S_DEV_HELPER            helper binary (default: the workspace debug build; the tasks run a release build)
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${K8S_DEV_BENCH_RUNS:-5}"
TARGET_DIR="${K8S_DEV_BENCH_TARGET_DIR:-${BENCH_ROOT}/target/k8s-dev-bench}"
SYNC="${BENCH_ROOT}/tasks/scripts/k8s-dev.sh"
# The one line changed per run: a log message, so every change reaches the binary.
CHANGE_FILE="example/gateway/src/main.rs"
CHANGE_PATTERN='shutting down[^"]*"'

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Times k8s-dev.sh sync after a one-line gateway change (helper, Docker and Podman paths, per
phase) and docker/podman build + push and docker save + podman load of the same image.

Environment:
  K8S_DEV_TEST_REGISTRY     registry host:port (without it this bench is skipped)
  K8S_DEV_TEST_DOCKER_HOST  dockerd socket (without it the Docker path and baselines are skipped)
  K8S_DEV_TEST_PODMAN_HOST  Podman API socket (without it the Podman path and baselines are skipped)
  K8S_DEV_BENCH_RUNS        measured runs per path (default: 5)
  K8S_DEV_BENCH_TARGET_DIR  CARGO_TARGET_DIR of the copies (default: <repo>/target/k8s-dev-bench)
  K8S_DEV_BENCH_OUT         JSON-lines file the figures are appended to
  K8S_DEV_HELPER            helper binary (default: the workspace debug build)
USAGE
}

copy_workspace() {
  mkdir -p "${WS}"
  tar -C "${BENCH_ROOT}" --exclude=./target --exclude=./.git --exclude=./.cache \
    --exclude=./bench/results -cf - . | tar -C "${WS}" -xf -
  grep -Eq "${CHANGE_PATTERN}" "${WS}/${CHANGE_FILE}" \
    || bench_die "no line matching '${CHANGE_PATTERN}' in ${CHANGE_FILE}; update CHANGE_PATTERN in $0"
}

CHANGES=0
change_gateway() {
  CHANGES=$((CHANGES + 1))
  sed -i -E "s/${CHANGE_PATTERN}/shutting down (bench change ${CHANGES})\"/" "${WS}/${CHANGE_FILE}"
}

# docker and podman wrappers that log "<ms> <args>" per call, so the sync's engine build and
# push can be told apart without changing the script.
write_shims() {
  local tool real
  mkdir -p "${WORK}/shims"
  for tool in docker podman; do
    real="$(command -v "${tool}")" || continue
    cat >"${WORK}/shims/${tool}" <<SHIM
#!/usr/bin/env bash
start=\$(date +%s%N)
rc=0
"${real}" "\$@" || rc=\$?
echo "\$(((\$(date +%s%N) - start) / 1000000)) \$*" >>"${WORK}/engine.log"
exit "\${rc}"
SHIM
    chmod +x "${WORK}/shims/${tool}"
  done
}

# One sync; its stderr is kept in WORK/sync.err for the phase parsers below.
run_sync() { # what
  : >"${WORK}/engine.log"
  if ! (cd "${WS}" && PATH="${WORK}/shims:${PATH}" "${SYNC}" sync) >"${WORK}/sync.out" 2>"${WORK}/sync.err"; then
    cat "${WORK}/sync.err" >&2
    bench_die "sync ($1) failed"
  fi
}

phase_ms() { # phase name as k8s-dev.sh prints it ("[k8s-dev] cargo build   2.131s")
  sed -n -E "s/^\[k8s-dev\] $1 +([0-9]+\.[0-9]+)s$/\1/p" "${WORK}/sync.err" \
    | awk '{printf "%d\n", $1 * 1000 + 0.5}' | tail -n 1 | grep . \
    || bench_die "no '$1' phase in the sync output: $(cat "${WORK}/sync.err")"
}

# From the helper's "published REF… (…; layer N ms, upload N ms, manifest N ms, total N ms)".
helper_ms() { # image, field
  grep -F "published ${K8S_DEV_REGISTRY}/$1:" "${WORK}/sync.err" \
    | sed -n -E "s/.*[(;, ]$2 ([0-9]+) ms.*/\1/p" | tail -n 1 | grep . \
    || bench_die "no $2 time for $1 in the helper output: $(cat "${WORK}/sync.err")"
}

engine_ms() { # subcommand (build|push), image: summed over the logged calls
  awk -v sub_="$1" -v image="$2:" '
    { for (i = 2; i <= NF; i++) if ($i !~ /^-/ && $(i-1) != "--url") { if ($i == sub_) hit = 1; break } }
    hit && index($0, image) { sum += $1 } { hit = 0 }
    END { print sum + 0 }' "${WORK}/engine.log"
}

# The baselines on the image the helper just published: its Dockerfile and build context (the
# repository root, the binary staged in deploy/docker/.build/prebuilt-binaries/<arch>/). The
# legacy builder sets no TARGETARCH. Each engine pushes to its own repository, so no engine
# finds another's blobs.
baselines() { # measure: 1 records the samples
  local ctx="${WS}" dockerfile="${WS}/deploy/docker/Dockerfile.gateway" t b p s l arch
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac
  if have_docker; then
    t=$(now_ms)
    quietly docker_ build -q -f "${dockerfile}" --build-arg "TARGETARCH=${arch}" -t "${BASELINE}-docker:dev" "${ctx}" >>"${WORK}/docker.ids"
    b=$(($(now_ms) - t))
    t=$(now_ms)
    quietly docker_ push -q "${BASELINE}-docker:dev" >/dev/null
    p=$(($(now_ms) - t))
    if (($1)); then B_DOCKER_BUILD+=("${b}") B_DOCKER_PUSH+=("${p}") B_DOCKER+=("$((b + p))"); fi
    if have_podman; then
      t=$(now_ms)
      quietly docker_ save -o "${WORK}/image.tar" "${BASELINE}-docker:dev"
      s=$(($(now_ms) - t))
      t=$(now_ms)
      quietly podman_ load -q -i "${WORK}/image.tar" >/dev/null
      l=$(($(now_ms) - t))
      rm -f "${WORK}/image.tar"
      # The next load moves the tag; without its ID this image would be left behind untagged.
      podman_ image inspect --format '{{.Id}}' "${BASELINE}-docker:dev" >>"${WORK}/podman.ids"
      if (($1)); then B_SAVE+=("${s}") B_LOAD+=("${l}") B_IMPORT+=("$((b + s + l))"); fi
    fi
  fi
  if have_podman; then
    t=$(now_ms)
    quietly podman_ build -q -f "${dockerfile}" --build-arg "TARGETARCH=${arch}" -t "${BASELINE}-podman:dev" "${ctx}" >>"${WORK}/podman.ids"
    b=$(($(now_ms) - t))
    t=$(now_ms)
    quietly podman_ push -q "${BASELINE}-podman:dev" >/dev/null
    p=$(($(now_ms) - t))
    if (($1)); then B_PODMAN_BUILD+=("${b}") B_PODMAN_PUSH+=("${p}") B_PODMAN+=("$((b + p))"); fi
  fi
}

# Remember what an engine path built, so cleanup can remove every untagged predecessor too.
keep_engine_ids() { # path
  local ref="${K8S_DEV_REGISTRY}/${K8S_DEV_GATEWAY_IMAGE}:dev" sup="${K8S_DEV_REGISTRY}/${K8S_DEV_SUPERVISOR_IMAGE}:dev"
  case "$1" in
    engine_docker) docker_ image inspect --format '{{.Id}}' "${ref}" "${sup}" >>"${WORK}/docker.ids" ;;
    engine_podman) podman_ image inspect --format '{{.Id}}' "${ref}" "${sup}" >>"${WORK}/podman.ids" ;;
  esac
}

bench_path() { # helper | engine_docker | engine_podman
  local path="$1" run cargo gw sup total image upload manifest push
  local -a cargo_ms=() gw_ms=() sup_ms=() total_ms=() over_ms=() image_ms=() push_ms=()
  export K8S_DEV_GATEWAY_IMAGE="k8s-dev-bench/${ID}-${path//_/-}-gateway"
  export K8S_DEV_SUPERVISOR_IMAGE="k8s-dev-bench/${ID}-${path//_/-}-supervisor"
  # The helper path needs an engine once, for the supervisor's RUN prefix (then in the registry).
  unset K8S_DEV_SUPERVISOR_DOCKERFILE
  case "${path}" in
    helper) export K8S_DEV_IMAGE_BUILDER=helper DOCKER_HOST="${K8S_DEV_TEST_DOCKER_HOST:-${K8S_DEV_TEST_PODMAN_HOST:-}}" ;;
    engine_docker)
      export K8S_DEV_IMAGE_BUILDER=engine DOCKER_HOST="${K8S_DEV_TEST_DOCKER_HOST}"
      # Docker's legacy builder (no buildx) has no COPY --chmod.
      docker_ buildx version >/dev/null 2>&1 || export K8S_DEV_SUPERVISOR_DOCKERFILE="${WORK}/Dockerfile.supervisor.legacy"
      ;;
    engine_podman) export K8S_DEV_IMAGE_BUILDER=engine DOCKER_HOST="${K8S_DEV_TEST_PODMAN_HOST}" ;;
  esac
  bench_log "sync, ${path}: 1 unmeasured + ${RUNS} measured runs"
  for ((run = 0; run <= RUNS; run++)); do
    change_gateway
    run_sync "${path}"
    keep_engine_ids "${path}"
    [[ "${path}" != helper ]] || baselines "$((run > 0))"
    ((run > 0)) || continue
    cargo=$(phase_ms "cargo build")
    gw=$(phase_ms "gateway image")
    sup=$(phase_ms "supervisor image")
    total=$(phase_ms "sync")
    cargo_ms+=("${cargo}") gw_ms+=("${gw}") sup_ms+=("${sup}") total_ms+=("${total}")
    over_ms+=("$((total - cargo))")
    if [[ "${path}" == helper ]]; then
      image=$(helper_ms "${K8S_DEV_GATEWAY_IMAGE}" layer)
      upload=$(helper_ms "${K8S_DEV_GATEWAY_IMAGE}" upload)
      manifest=$(helper_ms "${K8S_DEV_GATEWAY_IMAGE}" manifest)
      push=$((upload + manifest))
    else
      image=$(engine_ms build "${K8S_DEV_GATEWAY_IMAGE}")
      push=$(engine_ms push "${K8S_DEV_GATEWAY_IMAGE}")
    fi
    image_ms+=("${image}") push_ms+=("${push}")
  done
  local what="sync ${path//_/ }"
  record "sync.${path}.cargo_build" ms "${what}: cargo build" "${cargo_ms[@]}"
  if [[ "${path}" == helper ]]; then
    record "sync.${path}.image" ms "${what}: gateway layer (tar + zstd)" "${image_ms[@]}"
    record "sync.${path}.push" ms "${what}: gateway upload + manifest" "${push_ms[@]}"
  else
    record "sync.${path}.image" ms "${what}: gateway build" "${image_ms[@]}"
    record "sync.${path}.push" ms "${what}: gateway push (2 tags)" "${push_ms[@]}"
  fi
  record "sync.${path}.gateway_image" ms "${what}: gateway image phase" "${gw_ms[@]}"
  record "sync.${path}.supervisor_image" ms "${what}: supervisor image phase (unchanged)" "${sup_ms[@]}"
  record "sync.${path}.total" ms "${what}: total" "${total_ms[@]}"
  record "sync.${path}.overhead" ms "${what}: total - cargo build" "${over_ms[@]}"
}

record_baselines() {
  local what="baseline, same image as sync helper"
  if ((${#B_DOCKER[@]})); then
    record baseline.docker_build ms "${what}: docker build" "${B_DOCKER_BUILD[@]}"
    record baseline.docker_push ms "${what}: docker push" "${B_DOCKER_PUSH[@]}"
    record baseline.docker_build_push ms "${what}: docker build + push" "${B_DOCKER[@]}"
  fi
  if ((${#B_IMPORT[@]})); then
    record baseline.docker_save ms "${what}: docker save" "${B_SAVE[@]}"
    record baseline.podman_load ms "${what}: podman load" "${B_LOAD[@]}"
    record baseline.docker_build_save_load ms "${what}: docker build + save + podman load" "${B_IMPORT[@]}"
  fi
  if ((${#B_PODMAN[@]})); then
    record baseline.podman_build ms "${what}: podman build" "${B_PODMAN_BUILD[@]}"
    record baseline.podman_push ms "${what}: podman push" "${B_PODMAN_PUSH[@]}"
    record baseline.podman_build_push ms "${what}: podman build + push" "${B_PODMAN[@]}"
  fi
}

cleanup() {
  local ids=()
  if [[ -s "${WORK}/docker.ids" ]]; then
    mapfile -t ids <"${WORK}/docker.ids"
    docker_ rmi -f "${ids[@]}" >/dev/null 2>&1 || true
  fi
  if [[ -s "${WORK}/podman.ids" ]]; then
    mapfile -t ids <"${WORK}/podman.ids"
    podman_ rmi -f "${ids[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "${WORK}"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; exit 2 ;;
  esac
  if ! have_registry; then
    skipped "sync and its baselines" "K8S_DEV_TEST_REGISTRY is not set"
    return 0
  fi
  have_docker || skipped "sync engine_docker path and the docker baselines" "K8S_DEV_TEST_DOCKER_HOST is not set or docker is missing"
  have_podman || skipped "sync engine_podman path and the podman baselines" "K8S_DEV_TEST_PODMAN_HOST is not set or podman is missing"
  { have_docker && have_podman; } || skipped "docker save + podman load baseline" "it needs both engines"
  HELPER="$(helper_debug)"
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/k8s-dev-bench-sync.XXXXXX")"
  WS="${WORK}/workspace"
  ID="$(date +%s)-$$"
  BASELINE="${K8S_DEV_TEST_REGISTRY}/k8s-dev-bench/${ID}-baseline"
  B_DOCKER_BUILD=() B_DOCKER_PUSH=() B_DOCKER=() B_SAVE=() B_LOAD=() B_IMPORT=()
  B_PODMAN_BUILD=() B_PODMAN_PUSH=() B_PODMAN=()
  trap cleanup EXIT
  copy_workspace
  write_shims
  export CARGO_TARGET_DIR="${TARGET_DIR}" K8S_DEV_HELPER="${HELPER}"
  # An engine for the supervisor's RUN prefix, built once and then found in the registry.
  export DOCKER_HOST="${K8S_DEV_TEST_DOCKER_HOST:-${K8S_DEV_TEST_PODMAN_HOST:-}}"
  # The supervisor's base, offline: busybox in the registry.
  busybox_base "${K8S_DEV_TEST_REGISTRY}/k8s-dev-bench/${ID}-busybox:1" "${WORK}/busybox"
  export K8S_DEV_SUPERVISOR_BUILD_ARGS="SUPERVISOR_BASE_IMAGE=${K8S_DEV_TEST_REGISTRY}/k8s-dev-bench/${ID}-busybox:1"
  sed 's/^COPY --chmod=0555 /COPY /' "${WS}/deploy/docker/Dockerfile.supervisor" >"${WORK}/Dockerfile.supervisor.legacy"
  export K8S_DEV_REGISTRY="${K8S_DEV_TEST_REGISTRY}" K8S_DEV_CACHE_DIR="${WORK}/cache"
  export CONTAINER_ENGINE_QUIET=1
  unset K8S_DEV_ENGINE CONTAINER_ENGINE

  local start
  start=$(now_ms)
  export K8S_DEV_GATEWAY_IMAGE="k8s-dev-bench/${ID}-prepare-gateway"
  export K8S_DEV_SUPERVISOR_IMAGE="k8s-dev-bench/${ID}-prepare-supervisor"
  run_sync prepare
  note "sync: preparing the copy took $(($(now_ms) - start)) ms (builds every dependency into ${TARGET_DIR} on the first run only)"
  bench_path helper
  record_baselines
  if have_docker; then bench_path engine_docker; fi
  if have_podman; then bench_path engine_podman; fi
}

main "$@"
