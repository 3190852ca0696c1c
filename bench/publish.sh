#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Measure the inner loop's image step alone: a base image plus one large host binary, published
# after a one-byte change, with `k8s-dev-helper image publish` (the debug build the tasks run:
# zstd, gzip, unchanged with and without the layer cache; the release build when given) and,
# on the same bytes, with docker build + push, podman build + push, and docker build + docker
# save + podman load (the whole image moved, as `k3d image import` does per node). Prints
# figures on stderr; asserts nothing. The binary is /bin/busybox with random data appended (it
# still runs, and random data is the worst case for compression); each change inverts the next
# byte, so no engine ever sees a content twice. Then, one run: a Dockerfile with a RUN step
# before the binary's COPY (OpenShell's supervisor shape) through the helper's --engine-prefix
# path (the engine builds lines up to the RUN once; each change is published daemonless on
# top) against a full docker build + push of the same file after the same change. Last, one
# run: the same image published to the loopback plain-HTTP registry and to TLS registries that
# want a login (token auth with the test suite's token issuer, and htpasswd), for the overhead
# of TLS and auth as a ratio (helper/examples/bench_auth_registry.rs starts those registries).
#
# Needs: busybox (static), the docker and podman CLIs, engines from
# `eval "$(tests/support/engines.sh up)"`; docker-registry and openssl for the TLS registries.
#
# Environment:
#   K8S_DEV_TEST_REGISTRY         registry host:port (without it this bench is skipped)
#   K8S_DEV_TEST_DOCKER_HOST      dockerd socket (without it the docker paths are skipped)
#   K8S_DEV_TEST_PODMAN_HOST      Podman API socket (without it the podman paths are skipped)
#   K8S_DEV_BENCH_RUNS            measured runs per method (default: 5), after one unmeasured run
#   K8S_DEV_BENCH_SIZE_MB         random MiB appended to busybox (default: 50, for a binary > 50 MB)
#   K8S_DEV_BENCH_OUT             JSON-lines file the figures are appended to (see bench/lib.sh)
#   K8S_DEV_HELPER                helper binary (default: the workspace debug build; the tasks run a release build)
#   K8S_DEV_BENCH_RELEASE_HELPER  a release build of the helper, measured too when set
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${K8S_DEV_BENCH_RUNS:-5}"
SIZE_MB="${K8S_DEV_BENCH_SIZE_MB:-50}"

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Times publishing a base + one ${SIZE_MB} MiB binary after a one-byte change: helper (zstd, gzip,
unchanged with/without cache) vs docker build+push vs podman build+push vs docker save +
podman load, on the same bytes; then, once, a RUN-before-COPY Dockerfile through the helper's
--engine-prefix path vs docker build + push; then, once, the same image to the loopback HTTP
registry vs TLS registries with token auth and with htpasswd.

Environment:
  K8S_DEV_TEST_REGISTRY         registry host:port (without it this bench is skipped)
  K8S_DEV_TEST_DOCKER_HOST      dockerd socket (without it the docker paths are skipped)
  K8S_DEV_TEST_PODMAN_HOST      Podman API socket (without it the podman paths are skipped)
  K8S_DEV_BENCH_RUNS            measured runs per method (default: 5)
  K8S_DEV_BENCH_SIZE_MB         random MiB appended to busybox (default: 50)
  K8S_DEV_BENCH_OUT             JSON-lines file the figures are appended to
  K8S_DEV_HELPER                helper binary (default: the workspace debug build)
  K8S_DEV_BENCH_RELEASE_HELPER  a release build of the helper, measured too when set
USAGE
}

# Invert one byte in the random tail, keeping the size: the smallest change a rebuild makes.
TOUCHES=0
touch_binary() {
  local file="${WORK}/ctx/busybox" offset old
  TOUCHES=$((TOUCHES + 1))
  offset=$((4000000 + TOUCHES))
  old=$(od -An -tu1 -j "${offset}" -N1 "${file}" | tr -d ' ')
  printf '%b' "\\x$(printf '%02x' $((255 - old)))" |
    dd of="${file}" bs=1 seek="${offset}" conv=notrunc status=none
}

# Runs a command and prints its wall time in ms.
timed() { # command...
  local start
  start=$(now_ms)
  quietly "$@" >/dev/null
  echo $(($(now_ms) - start))
}

# Each method has a layer cache of its own: a shared one would hand the second method the layer
# the first just compressed from the same bytes.
helper_publish() { # helper, cache name, extra flags (each caller names its --tag)
  local helper="$1" cache="$2"
  shift 2
  "${helper}" image publish --base "${BASE}" \
    --file "${WORK}/ctx/busybox:/usr/local/bin/busybox:755" \
    --entrypoint /usr/local/bin/busybox --cmd "echo published" \
    --cache-dir "${WORK}/cache-${cache}" "$@"
}


# One run of every method on the same bytes. Each method has its own repository, so none finds
# another's blobs in the registry.
one_run() { # measure: 1 records the samples
  local zstd gzip release build push save load pbuild ppush
  touch_binary
  zstd=$(timed helper_publish "${HELPER}" zstd --tag "${IMAGE}-helper:dev")
  gzip=$(timed helper_publish "${HELPER}" gzip --compression gzip --tag "${IMAGE}-helper-gzip:dev")
  if [[ -n "${RELEASE_HELPER}" ]]; then
    release=$(timed helper_publish "${RELEASE_HELPER}" release --tag "${IMAGE}-helper-release:dev")
  fi
  if have_docker; then
    build=$(timed docker_ build -q -t "${IMAGE}-docker:dev" "${WORK}/ctx")
    docker_ image inspect --format '{{.Id}}' "${IMAGE}-docker:dev" >>"${WORK}/docker.ids"
    push=$(timed docker_ push -q "${IMAGE}-docker:dev")
    if have_podman; then
      save=$(timed docker_ save -o "${WORK}/image.tar" "${IMAGE}-docker:dev")
      load=$(timed podman_ load -q -i "${WORK}/image.tar")
      rm -f "${WORK}/image.tar"
      # The next load moves the tag; without its ID this image would be left behind untagged.
      podman_ image inspect --format '{{.Id}}' "${IMAGE}-docker:dev" >>"${WORK}/podman.ids"
    fi
  fi
  if have_podman; then
    pbuild=$(timed podman_ build -q -t "${IMAGE}-podman:dev" "${WORK}/ctx")
    podman_ image inspect --format '{{.Id}}' "${IMAGE}-podman:dev" >>"${WORK}/podman.ids"
    ppush=$(timed podman_ push -q "${IMAGE}-podman:dev")
  fi
  (($1)) || return 0
  S_ZSTD+=("${zstd}") S_GZIP+=("${gzip}")
  if [[ -n "${RELEASE_HELPER}" ]]; then S_RELEASE+=("${release}"); fi
  if have_docker; then S_DBUILD+=("${build}") S_DPUSH+=("${push}") S_DOCKER+=("$((build + push))"); fi
  if have_docker && have_podman; then S_SAVE+=("${save}") S_LOAD+=("${load}") S_IMPORT+=("$((build + save + load))"); fi
  if have_podman; then S_PBUILD+=("${pbuild}") S_PPUSH+=("${ppush}") S_PODMAN+=("$((pbuild + ppush))"); fi
}

record_runs() {
  local what="publish ${BYTES_MB} MB binary"
  record publish.helper_zstd ms "${what}: helper (debug), zstd" "${S_ZSTD[@]}"
  record publish.helper_gzip ms "${what}: helper (debug), gzip" "${S_GZIP[@]}"
  if ((${#S_RELEASE[@]})); then record publish.helper_release_zstd ms "${what}: helper (release), zstd" "${S_RELEASE[@]}"; fi
  if ((${#S_DOCKER[@]})); then
    record publish.docker_build ms "${what}: docker build" "${S_DBUILD[@]}"
    record publish.docker_push ms "${what}: docker push" "${S_DPUSH[@]}"
    record publish.docker_build_push ms "${what}: docker build + push" "${S_DOCKER[@]}"
  fi
  if ((${#S_IMPORT[@]})); then
    record publish.docker_save ms "${what}: docker save" "${S_SAVE[@]}"
    record publish.podman_load ms "${what}: podman load" "${S_LOAD[@]}"
    record publish.docker_build_save_load ms "${what}: docker build + save + podman load" "${S_IMPORT[@]}"
  fi
  if ((${#S_PODMAN[@]})); then
    record publish.podman_build ms "${what}: podman build" "${S_PBUILD[@]}"
    record publish.podman_push ms "${what}: podman push" "${S_PPUSH[@]}"
    record publish.podman_build_push ms "${what}: podman build + push" "${S_PODMAN[@]}"
  fi
}

# Nothing changed: what a sync costs for an image whose binary did not change.
record_unchanged() {
  local run cached=() uncached=()
  for ((run = 1; run <= RUNS; run++)); do
    cached+=("$(timed helper_publish "${HELPER}" zstd --tag "${IMAGE}-helper:dev")")
    uncached+=("$(timed helper_publish "${HELPER}" zstd --tag "${IMAGE}-helper:dev" --no-cache)")
  done
  record publish.helper_unchanged_cache ms "publish ${BYTES_MB} MB binary, unchanged: helper, layer cache" "${cached[@]}"
  record publish.helper_unchanged_nocache ms "publish ${BYTES_MB} MB binary, unchanged: helper, --no-cache" "${uncached[@]}"
}

# The supervisor shape, one run. The prefix's first build (engine build + push of the lines up
# to the RUN, then the tail) is what a new prefix costs; after a change the prefix comes from the
# registry and only the binary's layer is made. The engine's rebuild after the same change has
# the RUN layer in its build cache (an unmeasured build first), so both sides skip the RUN.
record_prefix() {
  local ctx="${WORK}/prefix" first cached build push out
  if ! have_docker; then
    skipped "publish: --engine-prefix vs docker build + push" "K8S_DEV_TEST_DOCKER_HOST is not set or docker is missing"
    return 0
  fi
  mkdir -p "${ctx}"
  # A hard link: touch_binary's in-place change reaches both contexts.
  ln "${WORK}/ctx/busybox" "${ctx}/busybox"
  # No COPY --chmod: the legacy builder (docker CLI without buildx) rejects it. The base has
  # busybox but no /bin/sh, hence the exec form.
  printf '%s\n' "FROM ${BASE}" \
    'RUN ["/bin/busybox", "sh", "-c", "mkdir -p /etc/supervisor && echo nftables > /etc/supervisor/tools"]' \
    'COPY busybox /usr/local/bin/busybox' \
    'ENTRYPOINT ["/usr/local/bin/busybox"]' \
    'CMD ["cat", "/etc/supervisor/tools"]' >"${ctx}/Dockerfile"
  touch_binary
  first=$(timed prefix_publish "${ctx}")
  touch_binary
  cached=$(timed prefix_publish "${ctx}")
  out=$(podman_run_if_any "${IMAGE}-prefix:dev")
  [[ -z "${out}" || "${out}" == nftables ]] || bench_die "the --engine-prefix image printed '${out}', want 'nftables'"
  quietly docker_ build -q -t "${IMAGE}-full:dev" "${ctx}" >/dev/null
  touch_binary
  build=$(timed docker_ build -q -t "${IMAGE}-full:dev" "${ctx}")
  push=$(timed docker_ push -q "${IMAGE}-full:dev")
  docker_ images -q "${IMAGE}-full" >>"${WORK}/docker.ids"
  docker_ images -q "${IMAGE}-prefix" >>"${WORK}/docker.ids"
  local what="RUN before COPY of a ${BYTES_MB} MB binary, one run"
  record publish.prefix_first_build ms "${what}: helper --engine-prefix, prefix built" "${first}"
  record publish.prefix_after_change ms "${what}: helper --engine-prefix, prefix cached" "${cached}"
  record publish.full_engine_build_push ms "${what}: docker build + push (RUN cached)" "$((build + push))"
}

prefix_publish() { # context
  DOCKER_HOST="${K8S_DEV_TEST_DOCKER_HOST}" "${HELPER}" image publish --engine-prefix \
    --dockerfile "$1/Dockerfile" --context "$1" --cache-dir "${WORK}/cache-prefix" \
    --tag "${IMAGE}-prefix:dev"
}

# What the image prints under Podman, or nothing when Podman is not there to run it.
podman_run_if_any() { # image
  if ! have_podman; then return 0; fi
  podman_ run --rm --pull always --network host "$1" 2>/dev/null || true
  podman_ rmi -f "$1" >/dev/null 2>&1 || true
}

# The published image must run, or the figures measure something broken.
check_image() {
  local out
  if ! have_podman; then return 0; fi
  out=$(podman_ run --rm --network host "${IMAGE}-helper:dev" 2>/dev/null) || true
  podman_ rmi -f "${IMAGE}-helper:dev" >/dev/null 2>&1 || true
  [[ "${out}" == published ]] || bench_die "the helper's image printed '${out:-nothing}', want 'published'"
}

# The same image (the large binary on scratch, --no-cache: tar, zstd and upload every time) to
# the loopback plain-HTTP registry and to TLS registries with a login: token auth (a token from
# the issuer, a JWT checked on every request) and htpasswd (bcrypt cost 4 on every request).
# One unmeasured publish to each, then one measured after a one-byte change.
record_auth() {
  local example="${CARGO_TARGET_DIR:-${BENCH_ROOT}/target}/debug/examples/bench_auth_registry"
  local fifo="${WORK}/auth.in" key value waited=0 http token htpasswd tag
  local TOKEN_REGISTRY="" TOKEN_CERTS_DIR="" HTPASSWD_REGISTRY="" HTPASSWD_CERTS_DIR="" DOCKER_CONFIG_DIR=""
  if ! command -v docker-registry >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
    skipped "publish: TLS + auth registry vs loopback HTTP" "docker-registry or openssl is missing"
    return 0
  fi
  (cd "${BENCH_ROOT}" && cargo build --quiet -p k8s-dev-helper --example bench_auth_registry >&2) \
    || bench_die "building the bench_auth_registry example failed"
  # It serves until its stdin closes (cleanup closes fd 7), then stops its registries.
  mkfifo "${fifo}"
  "${example}" <"${fifo}" >"${WORK}/auth.env" 2>"${WORK}/auth.log" &
  AUTH_PID=$!
  exec 7>"${fifo}"
  until grep -qx ready "${WORK}/auth.env" 2>/dev/null; do
    kill -0 "${AUTH_PID}" 2>/dev/null || { cat "${WORK}/auth.log" >&2; bench_die "bench_auth_registry exited"; }
    ((waited++ < 300)) || bench_die "bench_auth_registry did not get ready in 30 s; log: ${WORK}/auth.log"
    sleep 0.1
  done
  while IFS='=' read -r key value; do
    case "${key}" in
      TOKEN_REGISTRY) TOKEN_REGISTRY="${value}" ;;
      TOKEN_CERTS_DIR) TOKEN_CERTS_DIR="${value}" ;;
      HTPASSWD_REGISTRY) HTPASSWD_REGISTRY="${value}" ;;
      HTPASSWD_CERTS_DIR) HTPASSWD_CERTS_DIR="${value}" ;;
      DOCKER_CONFIG) DOCKER_CONFIG_DIR="${value}" ;;
    esac
  done <"${WORK}/auth.env"
  for tag in warm dev; do
    if [[ "${tag}" == dev ]]; then touch_binary; fi
    http=$(timed auth_publish "${IMAGE}-http:${tag}")
    token=$(timed auth_publish "${TOKEN_REGISTRY}/k8s-dev-bench/large-token:${tag}")
    htpasswd=$(timed auth_publish "${HTPASSWD_REGISTRY}/k8s-dev-bench/large-htpasswd:${tag}")
  done
  local what="publish ${BYTES_MB} MB binary on scratch, --no-cache, one run"
  record publish.auth_loopback_http ms "${what}: loopback HTTP registry, no login" "${http}"
  record publish.auth_tls_token ms "${what}: TLS registry, token auth (ES256 JWTs)" "${token}"
  record publish.auth_tls_htpasswd ms "${what}: TLS registry, htpasswd (bcrypt cost 4)" "${htpasswd}"
}

auth_publish() { # tag
  DOCKER_CONFIG="${DOCKER_CONFIG_DIR}" "${HELPER}" image publish --base scratch \
    --file "${WORK}/ctx/busybox:/usr/local/bin/busybox:755" --entrypoint /usr/local/bin/busybox \
    --no-cache --certs-dir "${TOKEN_CERTS_DIR}" --certs-dir "${HTPASSWD_CERTS_DIR}" --tag "$1"
}

cleanup() {
  local ids=()
  if [[ -n "${AUTH_PID:-}" ]]; then
    exec 7>&-
    wait "${AUTH_PID}" 2>/dev/null || true
  fi
  if [[ -s "${WORK}/docker.ids" ]]; then
    mapfile -t ids <"${WORK}/docker.ids"
    docker_ rmi -f "${ids[@]}" "${BASE}" >/dev/null 2>&1 || true
  fi
  if [[ -s "${WORK}/podman.ids" ]]; then
    mapfile -t ids <"${WORK}/podman.ids"
    podman_ rmi -f "${ids[@]}" "${BASE}" >/dev/null 2>&1 || true
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
    skipped "publish of a large binary" "K8S_DEV_TEST_REGISTRY is not set"
    return 0
  fi
  command -v busybox >/dev/null 2>&1 || bench_die "busybox not found; install busybox-static"
  have_docker || skipped "publish: docker build + push" "K8S_DEV_TEST_DOCKER_HOST is not set or docker is missing"
  have_podman || skipped "publish: podman build + push" "K8S_DEV_TEST_PODMAN_HOST is not set or podman is missing"
  { have_docker && have_podman; } || skipped "publish: docker save + podman load" "it needs both engines"
  HELPER="$(helper_debug)"
  RELEASE_HELPER="${K8S_DEV_BENCH_RELEASE_HELPER:-}"
  local id
  id="$(date +%s)-$$"
  BASE="${K8S_DEV_TEST_REGISTRY}/k8s-dev-bench/${id}-base:dev"
  IMAGE="${K8S_DEV_TEST_REGISTRY}/k8s-dev-bench/${id}-large"
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/k8s-dev-bench-publish.XXXXXX")"
  S_ZSTD=() S_GZIP=() S_RELEASE=() S_DBUILD=() S_DPUSH=() S_DOCKER=() S_SAVE=() S_LOAD=() S_IMPORT=()
  S_PBUILD=() S_PPUSH=() S_PODMAN=() AUTH_PID=""
  trap cleanup EXIT

  mkdir -p "${WORK}/ctx"
  busybox_base "${BASE}" "${WORK}/base"
  { cat "$(command -v busybox)"; head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom; } >"${WORK}/ctx/busybox"
  chmod 755 "${WORK}/ctx/busybox"
  BYTES_MB=$(($(stat -c %s "${WORK}/ctx/busybox") / 1000000))
  # The legacy builder (docker CLI without buildx) rejects COPY --chmod: the mode comes from
  # the file itself.
  printf 'FROM %s\nCOPY busybox /usr/local/bin/busybox\nENTRYPOINT ["/usr/local/bin/busybox"]\nCMD ["echo", "published"]\n' \
    "${BASE}" >"${WORK}/ctx/Dockerfile"

  bench_log "publish: ${BYTES_MB} MB binary, 1 unmeasured + ${RUNS} measured runs of every method"
  local run
  for ((run = 0; run <= RUNS; run++)); do one_run "$((run > 0))"; done
  record_runs
  record_unchanged
  check_image
  record_prefix
  record_auth
}

main "$@"
