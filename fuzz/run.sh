#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Fuzz k8s-dev-helper for a bounded time per target (a CI smoke, or longer by hand):
#   kubeconfig  the kubeconfig merge/remove; seeds: every pair of
#               helper/tests/fixtures/kubeconfig-*.yaml as target and new file, with and
#               without --set-current, and two fixtures as a target of two files
#               (KUBECONFIG=a:b)
#   dockerfile  the Dockerfile parser, plan and --engine-prefix split `image publish` runs on
#               files it did not write; seeds: the repository's Dockerfiles (deploy/docker,
#               helper/tests/fixtures/image-*) for each fuzzed platform, with build args
#   settings    the settings parser and its rules; seeds: every setting with plain values and
#               with the injections the adversarial review found
# A crash leaves its input in fuzz/artifacts/<target>/ and the run exits non-zero, printing
# how to replay it.
#
# Needs: cargo-fuzz (cargo install cargo-fuzz --locked) and a C++ compiler for libFuzzer. No
# nightly toolchain: RUSTC_BOOTSTRAP=1 lets the stable compiler take cargo-fuzz's -Z flags, and
# `--sanitizer none` avoids AddressSanitizer (safe Rust; a panic is the bug we look for).
#
# Environment:
#   K8S_DEV_FUZZ_SECONDS  how long to fuzz each target (30; the first argument wins)
#   K8S_DEV_FUZZ_TARGETS  targets to run, space-separated (all; further arguments win)
#   K8S_DEV_FUZZ_JOBS     parallel fuzzing jobs (1)
#   K8S_DEV_FUZZ_DEV      1: debug build (2.5x less CPU to build, ~25x fewer executions a second)
#   CARGO_TARGET_DIR      build directory (fuzz/target)
set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${FUZZ_DIR}/.." && pwd)"
ALL_TARGETS=(kubeconfig dockerfile settings)
SECONDS_TO_FUZZ="${K8S_DEV_FUZZ_SECONDS:-30}"
read -r -a TARGETS <<<"${K8S_DEV_FUZZ_TARGETS:-${ALL_TARGETS[*]}}"
JOBS="${K8S_DEV_FUZZ_JOBS:-1}"
# Optimised by default: measured here, a debug build needs 110 s of CPU instead of 270 s but
# then runs ~90 inputs a second instead of ~2200, too few for a 30 s smoke to mean much.
PROFILE=()
[[ "${K8S_DEV_FUZZ_DEV:-0}" != 1 ]] || PROFILE=(--dev)

usage() {
  cat <<USAGE
Usage: $(basename "$0") [SECONDS [TARGET...]]

Builds each fuzz target with cargo-fuzz and runs it for SECONDS (default 30) from a seed
corpus of the repository's fixtures. Targets: ${ALL_TARGETS[*]} (default: all). Exit 0: no
crash found.

Environment:
  K8S_DEV_FUZZ_SECONDS  how long to fuzz each target (30)
  K8S_DEV_FUZZ_TARGETS  targets to run, space-separated (all)
  K8S_DEV_FUZZ_JOBS     parallel fuzzing jobs (1)
  K8S_DEV_FUZZ_DEV      1: debug build (quicker to build, far fewer executions a second)
  CARGO_TARGET_DIR      build directory (fuzz/target)
USAGE
}

die() { echo "error: $*" >&2; exit 1; }

# One seed per (target fixture, new fixture, flag): FLAG TARGET \0 NEW \0 CONTEXT.
seed_kubeconfig() { # dir
  local dir="$1" target new flag n=0 context
  mkdir -p "${dir}"
  for target in "${ROOT}"/helper/tests/fixtures/kubeconfig-*.yaml /dev/null; do
    for new in "${ROOT}"/helper/tests/fixtures/kubeconfig-*.yaml; do
      context="$(sed -n 's/^current-context: *//p' "${new}" | head -n1)"
      for flag in 0 1; do
        {
          printf '%b' "\\x0${flag}"
          cat "${target}"
          printf '\0'
          cat "${new}"
          printf '\0%s' "${context:-k3d-openshell-dev}"
        } >"${dir}/seed-$((n += 1))"
      done
    done
  done
  # Several files (KUBECONFIG=a:b): two fixtures joined by \x1e as the target; flag bit 1 puts
  # new entries in the last file instead of the first.
  local fixtures="${ROOT}/helper/tests/fixtures"
  for new in "${fixtures}"/kubeconfig-*.yaml; do
    context="$(sed -n 's/^current-context: *//p' "${new}" | head -n1)"
    for flag in 0 1 2 3; do
      {
        printf '%b' "\\x0${flag}"
        cat "${fixtures}/kubeconfig-user.yaml"
        printf '\x1e'
        cat "${fixtures}/kubeconfig-shared-cluster.yaml"
        printf '\0'
        cat "${new}"
        printf '\0%s' "${context:-k3d-dev}"
      } >"${dir}/seed-$((n += 1))"
    done
  done
  echo "${n}"
}

# One seed per (Dockerfile, platform byte): PLATFORM DOCKERFILE \0 BUILD_ARGS.
seed_dockerfile() { # dir
  local dir="$1" file platform n=0
  mkdir -p "${dir}"
  for file in "${ROOT}"/deploy/docker/Dockerfile.* "${ROOT}"/helper/tests/fixtures/image-*/Dockerfile*; do
    [[ -f "${file}" ]] || continue
    for platform in 0 1 2 3; do
      {
        printf '%b' "\\x0${platform}"
        cat "${file}"
        printf '\0BASE=localhost:5000/busybox:dev\nVERSION=1.2\n'
      } >"${dir}/seed-$((n += 1))"
    done
  done
  echo "${n}"
}

# Lines of INDEX=VALUE (INDEX picks a setting of the table; `\n` in a value is a newline): for
# each index a plain value, and the injections: bash arithmetic, YAML through k3d's env
# expansion, a quote in a registry name, an option.
seed_settings() { # dir
  local dir="$1" i n=0 value
  # shellcheck disable=SC2016 # the command substitution is the payload, never expanded
  local values=(openshell-dev 5000 1 180s localhost:5000 127.0.0.1 deploy/helm/openshell
    'HOME[$(touch /tmp/x)]' 'k3d\nvolumes: [/:/host]' 'reg":5000' '--kubeconfig=/tmp/x' 'two')
  mkdir -p "${dir}"
  for ((i = 0; i < 64; i++)); do
    for value in "${values[@]}"; do
      n=$((n + 1))
      printf '%d=%s\n' "${i}" "${value}" >"${dir}/seed-${n}"
    done
  done
  echo "${n}"
}

fuzz_one() { # target
  local target="$1" corpus="${FUZZ_DIR}/corpus/$1" seeds
  case "${target}" in
    kubeconfig) seeds="$(seed_kubeconfig "${corpus}")" ;;
    dockerfile) seeds="$(seed_dockerfile "${corpus}")" ;;
    settings) seeds="$(seed_settings "${corpus}")" ;;
    *)
      echo "error: unknown fuzz target ${target}; expected one of: ${ALL_TARGETS[*]} (K8S_DEV_FUZZ_TARGETS or the arguments)" >&2
      exit 2
      ;;
  esac
  echo "[fuzz] ${seeds} seeds; fuzzing ${target} for ${SECONDS_TO_FUZZ}s" >&2
  if ! cargo fuzz run ${PROFILE[@]+"${PROFILE[@]}"} --sanitizer none --jobs "${JOBS}" "${target}" "${corpus}" -- \
    -max_total_time="${SECONDS_TO_FUZZ}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
    echo "error: the ${target} fuzz target failed; replay with: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run ${PROFILE[*]:-} --sanitizer none ${target} artifacts/${target}/<file>)" >&2
    exit 1
  fi
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *[!0-9]*) usage >&2; exit 2 ;;
    *) SECONDS_TO_FUZZ="$1"; shift ;;
  esac
  if (($#)); then TARGETS=("$@"); fi
  cargo fuzz --version >/dev/null 2>&1 || die "cargo-fuzz not found. Run: cargo install cargo-fuzz --locked"
  cd "${FUZZ_DIR}"
  export RUSTC_BOOTSTRAP=1
  local target
  for target in "${TARGETS[@]}"; do fuzz_one "${target}"; done
}

main "$@"
