#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Create (once) the Python virtualenv the chart and schema checks use, and print its bin
# directory. Re-installs only when tests/requirements.txt changes. Needs python3 with venv and
# access to PyPI on the first run.
#
# Environment:
#   K8S_DEV_VENV  virtualenv directory (default: <repo>/.cache/venv)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${K8S_DEV_VENV:-${ROOT}/.cache/venv}"
REQUIREMENTS="${ROOT}/tests/requirements.txt"

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Creates the test virtualenv if needed and prints its bin directory.

Environment:
  K8S_DEV_VENV  virtualenv directory (default: <repo>/.cache/venv)
USAGE
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; exit 2 ;;
  esac
  local stamp="${VENV}/.requirements.sha256" want
  want="$(sha256sum "${REQUIREMENTS}" | cut -d' ' -f1)"
  if [[ ! -x "${VENV}/bin/python" ]]; then
    echo "[python-env] creating ${VENV}" >&2
    python3 -m venv "${VENV}" >&2
  fi
  if [[ "$(cat "${stamp}" 2>/dev/null || true)" != "${want}" ]]; then
    echo "[python-env] installing ${REQUIREMENTS}" >&2
    "${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${REQUIREMENTS}" >&2
    echo "${want}" >"${stamp}"
  fi
  echo "${VENV}/bin"
}

main "$@"
