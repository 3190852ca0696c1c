#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Measure the inner loop's image step: publish a base image plus one large host binary after a
# one-byte change, with `k8s-dev-helper image publish` (zstd and gzip, with and without the layer
# cache) and with `docker build`+`docker push` and `podman build`+`podman push` of the same
# image, in the same run. Prints a table of wall-clock times (median of the runs); asserts
# nothing. The binary is /bin/busybox with random data appended (it still runs, and random data
# is the worst case for compression).
#
# Needs: docker and podman CLIs, busybox-static, a release build of the helper (built here when
# K8S_DEV_HELPER is unset), engines from `eval "$(tests/support/engines.sh up)"`.
#
# Environment:
#   K8S_DEV_TEST_REGISTRY      registry host:port (required; plain HTTP)
#   K8S_DEV_TEST_DOCKER_HOST   dockerd socket (required)
#   K8S_DEV_TEST_PODMAN_HOST   Podman API socket (required)
#   K8S_DEV_HELPER             helper binary (default: cargo build --release, then target/release)
#   K8S_DEV_BENCH_SIZE_MB      random MiB appended to busybox (default: 60)
#   K8S_DEV_BENCH_RUNS         runs per method (default: 3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE_MB="${K8S_DEV_BENCH_SIZE_MB:-60}"
RUNS="${K8S_DEV_BENCH_RUNS:-3}"

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Times publishing a base + one ${SIZE_MB} MiB binary after a one-byte change: helper (zstd, gzip,
unchanged with/without cache) vs docker build+push vs podman build+push. Prints a table.

Environment:
  K8S_DEV_TEST_REGISTRY      registry host:port (required; plain HTTP)
  K8S_DEV_TEST_DOCKER_HOST   dockerd socket (required)
  K8S_DEV_TEST_PODMAN_HOST   Podman API socket (required)
  K8S_DEV_HELPER             helper binary (default: cargo build --release, then target/release)
  K8S_DEV_BENCH_SIZE_MB      random MiB appended to busybox (default: 60)
  K8S_DEV_BENCH_RUNS         runs per method (default: 3)
USAGE
}

die() { echo "error: $*" >&2; exit 1; }
log() { echo "[bench] $*" >&2; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Invert one byte in the random tail, keeping the size: the smallest change a rebuild makes.
# Each change uses the next offset, so the file never returns to an earlier state (which an
# engine's build cache would recognise).
touch_binary() {
  local file="$1" n offset old
  n=$(($(cat "${WORK}/touches" 2>/dev/null || echo 0) + 1))
  echo "${n}" >"${WORK}/touches"
  offset=$((4000000 + n))
  old=$(od -An -tu1 -j "${offset}" -N1 "${file}" | tr -d ' ')
  printf '%b' "\\x$(printf '%02x' $((255 - old)))" |
    dd of="${file}" bs=1 seek="${offset}" conv=notrunc status=none
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

docker_() { DOCKER_HOST="${K8S_DEV_TEST_DOCKER_HOST}" docker "$@"; }
podman_() { podman --url "${K8S_DEV_TEST_PODMAN_HOST}" "$@"; }

# Time one command per run, each after a one-byte change; prints the median in ms.
time_runs() {
  local label="$1" change="$2" run start times=()
  shift 2
  for ((run = 1; run <= RUNS; run++)); do
    [[ "${change}" == change ]] && touch_binary "${WORK}/ctx/busybox"
    start=$(now_ms)
    "$@" >"${WORK}/last.out" 2>"${WORK}/last.err" || {
      cat "${WORK}/last.err" >&2
      die "${label} failed"
    }
    times+=("$(($(now_ms) - start))")
  done
  log "${label}: ${times[*]} ms"
  printf '%s\n' "${times[@]}" | median
}

# Extra flags follow the fixed ones; every caller names its --tag.
helper_publish() {
  "${HELPER}" image publish --base "${BASE}" \
    --file "${WORK}/ctx/busybox:/usr/local/bin/busybox:755" \
    --entrypoint /usr/local/bin/busybox --cmd "echo published" \
    --cache-dir "${WORK}/cache" "$@"
}

# Each rebuild leaves the previous image untagged; the IDs are kept to remove them all at the end.
docker_path() {
  docker_ build -q -t "${IMAGE}:docker" "${WORK}/ctx" | tee -a "${WORK}/docker.ids" &&
    docker_ push -q "${IMAGE}:docker"
}

podman_path() {
  podman_ build -q -t "${IMAGE}:podman" "${WORK}/ctx" | tee -a "${WORK}/podman.ids" &&
    podman_ push "${IMAGE}:podman"
}

cleanup_images() {
  local ids=()
  podman_ rmi -f "${IMAGE}:helper" "${BASE}" >/dev/null 2>&1 || true
  [[ -s "${WORK}/podman.ids" ]] && mapfile -t ids <"${WORK}/podman.ids" &&
    podman_ rmi -f "${ids[@]}" >/dev/null 2>&1
  docker_ rmi "${BASE}" >/dev/null 2>&1 || true
  [[ -s "${WORK}/docker.ids" ]] && mapfile -t ids <"${WORK}/docker.ids" &&
    docker_ rmi -f "${ids[@]}" >/dev/null 2>&1
  return 0
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; exit 2 ;;
  esac
  : "${K8S_DEV_TEST_REGISTRY:?set it, e.g. eval \"\$(tests/support/engines.sh up)\"}"
  : "${K8S_DEV_TEST_DOCKER_HOST:?set it, e.g. eval \"\$(tests/support/engines.sh up)\"}"
  : "${K8S_DEV_TEST_PODMAN_HOST:?set it, e.g. eval \"\$(tests/support/engines.sh up)\"}"
  HELPER="${K8S_DEV_HELPER:-}"
  if [[ -z "${HELPER}" ]]; then
    log "cargo build --release -p k8s-dev-helper"
    (cd "${ROOT}" && cargo build --release --quiet -p k8s-dev-helper)
    HELPER="${ROOT}/target/release/k8s-dev-helper"
  fi
  local id
  id="bench-$$-$(date +%s)"
  BASE="${K8S_DEV_TEST_REGISTRY}/k8s-dev-bench/base-${id}:dev"
  IMAGE="${K8S_DEV_TEST_REGISTRY}/k8s-dev-bench/app-${id}"
  WORK="$(mktemp -d)"
  trap 'cleanup_images; rm -rf "${WORK}"' EXIT

  log "base image ${BASE} (busybox FROM scratch, docker build + push)"
  mkdir -p "${WORK}/base/rootfs/bin" "${WORK}/ctx"
  cp /bin/busybox "${WORK}/base/rootfs/bin/busybox"
  ln -s busybox "${WORK}/base/rootfs/bin/sh"
  printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\n' >"${WORK}/base/Dockerfile"
  docker_ build -q -t "${BASE}" "${WORK}/base" >/dev/null
  docker_ push -q "${BASE}" >/dev/null
  podman_ pull -q "${BASE}" >/dev/null

  log "binary: /bin/busybox + ${SIZE_MB} MiB random"
  { cat /bin/busybox; head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom; } >"${WORK}/ctx/busybox"
  chmod 755 "${WORK}/ctx/busybox"
  # The legacy builder (docker CLI without buildx) rejects COPY --chmod, so the mode comes from
  # the file itself.
  printf 'FROM %s\nCOPY busybox /usr/local/bin/busybox\nENTRYPOINT ["/usr/local/bin/busybox"]\nCMD ["echo", "published"]\n' \
    "${BASE}" >"${WORK}/ctx/Dockerfile"
  local bytes
  bytes=$(stat -c %s "${WORK}/ctx/busybox")

  # Warm every path once (first pushes, engine caches) so the runs measure the inner loop.
  helper_publish --tag "${IMAGE}:helper" >/dev/null 2>&1
  docker_path >/dev/null 2>&1
  podman_path >/dev/null 2>&1

  local zstd gzip unchanged_cache unchanged_nocache docker_ms podman_ms
  zstd=$(time_runs "helper zstd" change helper_publish --tag "${IMAGE}:helper" --json)
  cp "${WORK}/last.out" "${WORK}/last.json"
  gzip=$(time_runs "helper gzip" change helper_publish --compression gzip --tag "${IMAGE}:helper-gz")
  helper_publish --tag "${IMAGE}:helper" >/dev/null 2>&1
  unchanged_cache=$(time_runs "helper unchanged, cache" same helper_publish --tag "${IMAGE}:helper")
  unchanged_nocache=$(time_runs "helper unchanged, --no-cache" same helper_publish --tag "${IMAGE}:helper" --no-cache)
  docker_ms=$(time_runs "docker build+push" change docker_path)
  podman_ms=$(time_runs "podman build+push" change podman_path)

  log "checking that the published image runs"
  local out
  out=$(podman_ run --rm --network host "${IMAGE}:helper" 2>/dev/null)
  [[ "${out}" == published ]] || die "published image printed ${out:-nothing}, want 'published'"

  echo
  echo "Publish after a one-byte change of a $((bytes / 1024 / 1024)) MiB binary (median of ${RUNS}, ms)"
  echo
  printf '  %-38s %8s\n' "method" "ms"
  printf '  %-38s %8s\n' "helper, zstd level 1 (default)" "${zstd}"
  printf '  %-38s %8s\n' "helper, gzip level 1" "${gzip}"
  printf '  %-38s %8s\n' "helper, unchanged, layer cache" "${unchanged_cache}"
  printf '  %-38s %8s\n' "helper, unchanged, --no-cache" "${unchanged_nocache}"
  printf '  %-38s %8s\n' "docker build + docker push" "${docker_ms}"
  printf '  %-38s %8s\n' "podman build + podman push" "${podman_ms}"
  echo
  printf '  docker / helper zstd: %s×\n' "$(awk -v a="${docker_ms}" -v b="${zstd}" 'BEGIN {printf "%.1f", a / b}')"
  printf '  podman / helper zstd: %s×\n' "$(awk -v a="${podman_ms}" -v b="${zstd}" 'BEGIN {printf "%.1f", a / b}')"
  echo "  last helper --json: $(cat "${WORK}/last.json")"
}

main "$@"
