#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Run every test suite of the kit: the Rust workspace (unit tests and the helper's CLI and
# engine tests), the shell tests of the mise tasks (tests/tasks/test-*.sh, real mise and
# kubectl with recording fakes of k3d/skaffold/helm), and the Python checks of the chart and
# config files (tests/python, offline Helm library and schemas). `mise run test` calls this.
#
# Engine-backed tests use the engines named by K8S_DEV_TEST_DOCKER_HOST,
# K8S_DEV_TEST_PODMAN_HOST and K8S_DEV_TEST_REGISTRY; cluster-backed tests the control plane named
# by K8S_DEV_TEST_KUBECONFIG and K8S_DEV_TEST_CONTEXT with the real tools on PATH or in the tools
# cache; each skips, saying why, when what it needs is missing. With K8S_DEV_TEST_NO_SKIP=1 (set by
# .ci/run) every such skip is a failure. `tests/support/engines.sh up` and
# `tests/support/cluster.sh up` start them and print those variables; `tests/support/tools.sh
# build` builds the tools.
#
# Environment:
#   K8S_DEV_TEST_DOCKER_HOST  dockerd socket for engine tests (unix:///...)
#   K8S_DEV_TEST_PODMAN_HOST  Podman API socket for engine tests (unix:///...)
#   K8S_DEV_TEST_REGISTRY     plain-HTTP registry host:port for publish/sync tests
#   K8S_DEV_TEST_KUBECONFIG   admin kubeconfig of tests/support/cluster.sh's control plane
#   K8S_DEV_TEST_CONTEXT      its context
#   K8S_DEV_CLUSTER_STATE     its state directory (fault tests kill and restart its API server)
#   K8S_DEV_TEST_NO_SKIP      1: a skipped engine or cluster test fails the run
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUITES=(rust shell python)

usage() {
  cat <<USAGE
Usage: $(basename "$0") [suite...]

Suites: ${SUITES[*]} (default: all). Prints a summary; exits 1 when any suite fails.

Environment:
  K8S_DEV_TEST_DOCKER_HOST  dockerd socket for engine tests (unix:///...)
  K8S_DEV_TEST_PODMAN_HOST  Podman API socket for engine tests (unix:///...)
  K8S_DEV_TEST_REGISTRY     plain-HTTP registry host:port for publish/sync tests
  K8S_DEV_TEST_KUBECONFIG   admin kubeconfig of tests/support/cluster.sh's control plane
  K8S_DEV_TEST_CONTEXT      its context
  K8S_DEV_CLUSTER_STATE     its state directory (fault tests kill and restart its API server)
  K8S_DEV_TEST_NO_SKIP      1: a skipped engine or cluster test fails the run
USAGE
}

suite_rust() {
  cargo test --workspace --locked
}

suite_shell() {
  local test failed=0 start times=()
  for test in "${ROOT}"/tests/tasks/test-*.sh; do
    [[ -e "${test}" ]] || continue
    echo "--- ${test#"${ROOT}/"}" >&2
    start=${SECONDS}
    bash "${test}" || failed=1
    times+=("$((SECONDS - start))s ${test#"${ROOT}/"}")
  done
  # Where the suite's time goes, for the README's CI figures.
  echo "--- shell files by time" >&2
  printf '%s\n' "${times[@]}" | sort -rn >&2
  return "${failed}"
}

suite_python() {
  local bin
  bin="$("${ROOT}/tests/support/python-env.sh")"
  PATH="${bin}:${PATH}" python -m unittest discover -s "${ROOT}/tests/python" -p 'test_*.py' -v
}

main() {
  local suites=() suite start status failed=0 summary=()
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      rust | shell | python) suites+=("$1") ;;
      *) usage >&2; exit 2 ;;
    esac
    shift
  done
  ((${#suites[@]})) || suites=("${SUITES[@]}")
  cd "${ROOT}"
  for suite in "${suites[@]}"; do
    echo "=== ${suite}" >&2
    start=${SECONDS}
    if "suite_${suite}"; then status=PASS; else status=FAIL; failed=1; fi
    summary+=("${status} ${suite} ($((SECONDS - start))s)")
  done
  echo "=== summary" >&2
  printf '%s\n' "${summary[@]}" >&2
  return "${failed}"
}

main "$@"
