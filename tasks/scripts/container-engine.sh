#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Container engine selection for the k8s-dev tasks. Source it; do not run it. The decision
# (Docker or Podman, which socket) is k8s-dev-helper's (`k8s-dev-helper engine`), so this file
# only applies it: after sourcing, DOCKER_HOST, DOCKER_SOCK (what k3d bind-mounts into its tools
# container), K8S_DEV_ENGINE and CONTAINER_ENGINE are exported for k3d, Skaffold and the CLIs.
# bash 3.2 compatible (macOS).
#
# API (names follow OpenShell's tasks/scripts/container-engine.sh where they overlap):
#   ce ARGS...              run the engine CLI against the chosen socket (docker or podman)
#   ce_is_podman            whether the engine is Podman
#   ce_helper ARGS...       k8s-dev-helper, from helper.sh
#
# Environment:
#   K8S_DEV_ENGINE / CONTAINER_ENGINE  docker|podman: restrict detection to one engine
#   DOCKER_HOST                        used as is when set (an unreachable one is an error)
#   K8S_DEV_HELPER                     path of k8s-dev-helper (see helper.sh)
#   CONTAINER_ENGINE_QUIET=1           no "[container-engine] using …" line on stderr

if [[ -n "${_CONTAINER_ENGINE_LOADED:-}" ]]; then
  return 0
fi
_CONTAINER_ENGINE_LOADED=1

# shellcheck source=SCRIPTDIR/helper.sh
source "$(dirname "${BASH_SOURCE[0]}")/helper.sh"

_ce_die() {
  echo "error: $*" >&2
  exit 1
}

ce_is_podman() { [[ "${K8S_DEV_ENGINE}" == "podman" ]]; }

# Podman's CLI talks to the same socket with --url (also on macOS, where it reaches the
# machine's API); without it, the docker CLI speaks the compatible API to either engine.
ce() {
  if ce_is_podman && command -v podman >/dev/null 2>&1; then
    podman --url "${DOCKER_HOST}" "$@"
  elif command -v docker >/dev/null 2>&1; then
    docker "$@"
  else
    _ce_die "neither the docker nor the podman CLI is installed; install one to manage ${K8S_DEV_ENGINE} containers"
  fi
}

_ce_init() {
  require_helper
  local exports
  exports="$(ce_helper engine)" || exit 1
  eval "${exports}"
  export DOCKER_HOST DOCKER_SOCK K8S_DEV_ENGINE
  CONTAINER_ENGINE="${K8S_DEV_ENGINE}"
  export CONTAINER_ENGINE
  if [[ "${CONTAINER_ENGINE_QUIET:-}" != "1" ]]; then
    echo "[container-engine] using ${K8S_DEV_ENGINE} at ${DOCKER_HOST} (override with K8S_DEV_ENGINE=docker|podman or DOCKER_HOST)" >&2
  fi
}

_ce_init
