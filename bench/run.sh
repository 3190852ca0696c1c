#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# The k8s:dev:bench task: measure the inner loop on this machine, in one run, and write the
# figures to bench/results/latest.md and latest.json with the machine described. It compares
# the kit's loop with what developers do without it (build an image, push it or docker save it
# and import it whole into the cluster's engine). A benchmark, not a test: it prints figures,
# judges the targets on their medians, and asserts nothing.
#
# Sections (each a script of its own, runnable alone):
#   sync     bench/sync.sh     k8s-dev.sh sync after a one-line change, per phase, helper and
#                              engine paths, and the docker/podman/save-load baselines
#   publish  bench/publish.sh  the image step alone for a > 50 MB binary after a one-byte change
#   tasks    bench/tasks.sh    no-op up (fakes, real engine), helper engine, 200-context merge,
#                              mise overhead
#   loop     bench/loop.sh     edit -> new gateway pod serving on the real node (node.sh), per
#                              phase, kit vs docker build + push vs docker save + ctr import;
#                              skipped without the node's env (3 rounds by default: each is long)
#
# Needs: cargo, python3, mise, kubectl, docker and podman CLIs, busybox, docker-registry, and
# engines from `eval "$(tests/support/engines.sh up)"`. A missing engine or registry skips the
# parts that need it, and the report lists them. Takes about 5 to 10 minutes, plus about 3.5 for the
# loop section when the real node is up (the first run also
# builds the workspace into its own target directory and, unless disabled, the release helper).
#
# Environment:
#   K8S_DEV_TEST_REGISTRY     registry host:port (sync and publish need it)
#   K8S_DEV_TEST_DOCKER_HOST  dockerd socket (Docker paths and baselines)
#   K8S_DEV_TEST_PODMAN_HOST  Podman API socket (Podman paths and baselines)
#   K8S_DEV_BENCH_RUNS        measured runs per figure (default: 5)
#   K8S_DEV_BENCH_RELEASE     1: also build and measure the release helper (default: 1)
#   K8S_DEV_BENCH_LOOP_RUNS   measured rounds of the loop section (default: 3)
#   K8S_DEV_BENCH_RESULTS     directory of the reports (default: <repo>/bench/results)
#   K8S_DEV_BENCH_NAME        report name (default: latest for all sections, else the sections
#                             joined by -, so a partial run leaves latest.* as they are)
#   K8S_DEV_BENCH_TARGET_DIR  CARGO_TARGET_DIR of the sync bench (default: <repo>/target/k8s-dev-bench)
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECTIONS=(sync publish tasks loop)
RESULTS="${K8S_DEV_BENCH_RESULTS:-${BENCH_ROOT}/bench/results}"
RELEASE="${K8S_DEV_BENCH_RELEASE:-1}"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [section...]

Sections: ${SECTIONS[*]} (default: all). Writes ${RESULTS#"${BENCH_ROOT}/"}/latest.md and
latest.json (a run of some sections only: <section>[-<section>...].md and .json) and prints
the Markdown.

Environment:
  K8S_DEV_TEST_REGISTRY     registry host:port (sync and publish need it)
  K8S_DEV_TEST_DOCKER_HOST  dockerd socket (Docker paths and baselines)
  K8S_DEV_TEST_PODMAN_HOST  Podman API socket (Podman paths and baselines)
  K8S_DEV_BENCH_RUNS        measured runs per figure (default: 5)
  K8S_DEV_BENCH_RELEASE     1: also build and measure the release helper (default: 1)
  K8S_DEV_BENCH_LOOP_RUNS   measured rounds of the loop section (default: 3)
  K8S_DEV_BENCH_RESULTS     directory of the reports (default: <repo>/bench/results)
  K8S_DEV_BENCH_NAME        report name (default: latest, or the sections run joined by -)
  K8S_DEV_BENCH_TARGET_DIR  CARGO_TARGET_DIR of the sync bench (default: <repo>/target/k8s-dev-bench)

Engines: eval "\$(tests/support/engines.sh up)" starts private ones and sets the K8S_DEV_TEST_*;
the loop section also needs cluster.sh up and node.sh up (tests/support).
USAGE
}

# Say up front what will not be measured; the sections record the same in the report.
announce_skips() {
  have_registry || bench_log "K8S_DEV_TEST_REGISTRY is not set: skipping the sync and publish sections"
  have_docker || bench_log "K8S_DEV_TEST_DOCKER_HOST is not set (or no docker CLI): skipping every Docker path, the docker baselines and docker save + podman load"
  have_podman || bench_log "K8S_DEV_TEST_PODMAN_HOST is not set (or no podman CLI): skipping every Podman path, the podman baselines and docker save + podman load"
}

build() {
  bench_log "building the helper and its bench examples (debug; the tasks run the release build)"
  (cd "${BENCH_ROOT}" && cargo build --quiet -p k8s-dev-helper --bins --examples) || bench_die "cargo build failed"
  if [[ "${RELEASE}" == 1 ]]; then
    bench_log "building the release helper (slow the first time; K8S_DEV_BENCH_RELEASE=0 skips it)"
    (cd "${BENCH_ROOT}" && cargo build --quiet --release -p k8s-dev-helper --bins --examples) \
      || bench_die "cargo build --release failed"
  fi
}

main() {
  local sections=() section
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      sync | publish | tasks | loop) sections+=("$1") ;;
      *) usage >&2; exit 2 ;;
    esac
    shift
  done
  ((${#sections[@]})) || sections=("${SECTIONS[@]}")
  local name="${K8S_DEV_BENCH_NAME:-latest}"
  if [[ -z "${K8S_DEV_BENCH_NAME:-}" && "${sections[*]}" != "${SECTIONS[*]}" ]]; then
    name="$(IFS=-; echo "${sections[*]}")"
  fi
  command -v python3 >/dev/null 2>&1 || bench_die "python3 not found; it renders the report"
  announce_skips
  build

  local load_start start failed=0
  load_start="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
  start="$(date +%s)"
  FIGURES="$(mktemp "${TMPDIR:-/tmp}/k8s-dev-bench.XXXXXX.jsonl")"
  trap 'rm -f "${FIGURES}"' EXIT
  export K8S_DEV_BENCH_OUT="${FIGURES}"
  if [[ "${RELEASE}" == 1 ]]; then
    export K8S_DEV_BENCH_RELEASE_HELPER="${CARGO_TARGET_DIR:-${BENCH_ROOT}/target}/release/k8s-dev-helper"
  else
    skipped "release helper figures" "K8S_DEV_BENCH_RELEASE=${RELEASE}"
  fi
  for section in "${sections[@]}"; do
    bench_log "--- ${section}"
    if ! "${BENCH_ROOT}/bench/${section}.sh"; then
      failed=1
      printf '{"kind":"failed","what":"section %s","reason":"bench/%s.sh exited non-zero; see its output"}\n' \
        "${section}" "${section}" >>"${FIGURES}"
    fi
  done
  python3 "${BENCH_ROOT}/bench/report.py" "${FIGURES}" "${RESULTS}" --duration "$(($(date +%s) - start))" \
    --load-start "${load_start}" --runs "${K8S_DEV_BENCH_RUNS:-5}" --name "${name}"
  cat "${RESULTS}/${name}.md"
  bench_log "wrote ${RESULTS}/${name}.md and ${name}.json"
  return "${failed}"
}

main "$@"
