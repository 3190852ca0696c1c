#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Start the stand-in gateway on the host with the Kubernetes driver, the way OpenShell's
# `mise run gateway -- --driver kubernetes` (its tasks/scripts/gateway.sh) starts its
# openshell-gateway: build the binary, write a gateway config (mode 0600) into a state
# directory, then exec the gateway with --config, --bind-address, --port, --log-level,
# --drivers, --disable-tls and --db-url. Same task name, options and OPENSHELL_* variables, so
# the kit's "gateway command" is one string for either tree. The cluster comes from KUBECONFIG.
#
# Needs: cargo. Environment (OpenShell's runner's names and defaults unless noted):
#   OPENSHELL_SERVER_PORT        gateway port (8080)
#   OPENSHELL_BIND_ADDRESS       listen address (127.0.0.1)
#   OPENSHELL_GATEWAY_NAME       gateway name, [A-Za-z0-9._-]+ (kubernetes-dev)
#   OPENSHELL_SANDBOX_NAMESPACE  namespace of sandbox pods (kubernetes-dev)
#   OPENSHELL_SANDBOX_IMAGE      sandbox image (empty: the supervisor image; OpenShell's
#                                default is its community base image)
#   OPENSHELL_SANDBOX_IMAGE_PULL_POLICY  sandbox pull policy (IfNotPresent)
#   OPENSHELL_SANDBOX_IMAGE_PULL_SECRETS  comma-separated Secrets sandbox pods pull with (none;
#                                the name OpenShell's Kubernetes driver binary reads; its runner
#                                has no such variable, see docs/openshell-adoption.md)
#   OPENSHELL_SUPERVISOR_IMAGE   supervisor image sandboxes copy the binary from (no default;
#                                OpenShell's runner has no such variable, see
#                                docs/openshell-adoption.md)
#   OPENSHELL_LOG_LEVEL          log level (info)
#   OPENSHELL_GATEWAY_STATE_DIR  config and database directory (<repo>/.cache/gateway-kubernetes)
#   OPENSHELL_DRIVERS            driver, instead of --driver (kubernetes)
#   CARGO_TARGET_DIR             where cargo builds (<repo>/target)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

usage() {
  cat <<'USAGE'
Usage: mise run gateway [-- --driver kubernetes]

Start the stand-in gateway on the host with the Kubernetes driver (the only driver it has),
plaintext HTTP, unauthenticated local users, against the cluster of KUBECONFIG.

Options:
  --driver DRIVER  kubernetes (or k8s)
  -h, --help       show this help

Environment: OPENSHELL_SERVER_PORT (8080), OPENSHELL_BIND_ADDRESS (127.0.0.1),
OPENSHELL_GATEWAY_NAME, OPENSHELL_SANDBOX_NAMESPACE (kubernetes-dev), OPENSHELL_SANDBOX_IMAGE,
OPENSHELL_SANDBOX_IMAGE_PULL_POLICY (IfNotPresent), OPENSHELL_SANDBOX_IMAGE_PULL_SECRETS,
OPENSHELL_SUPERVISOR_IMAGE,
OPENSHELL_LOG_LEVEL (info), OPENSHELL_GATEWAY_STATE_DIR, OPENSHELL_DRIVERS.
USAGE
}

usage_error() {
  echo "error: $*" >&2
  exit 2
}

normalize_driver() { # value
  case "$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" in
    kubernetes | k8s) echo kubernetes ;;
    "") usage_error "empty driver value; use --driver kubernetes" ;;
    *) usage_error "unsupported driver '$1': the stand-in gateway has only the kubernetes driver; use --driver kubernetes" ;;
  esac
}

port_in_use() { # port
  (echo >"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1
}

# Only the keys the stand-in reads (it rejects unknown ones); OpenShell's runner also writes
# gateway_jwt paths from `generate-certs`, which the stand-in does not have.
write_config() { # path
  install -m 600 /dev/null "$1"
  {
    printf '[openshell]\nversion = 1\n\n[openshell.gateway]\n'
    printf 'compute_drivers = ["kubernetes"]\n'
    if [[ -n "${SANDBOX_IMAGE}" ]]; then printf 'default_image = "%s"\n' "${SANDBOX_IMAGE}"; fi
    if [[ -n "${SUPERVISOR_IMAGE}" ]]; then printf 'supervisor_image = "%s"\n' "${SUPERVISOR_IMAGE}"; fi
    printf 'disable_tls = true\n\n[openshell.gateway.auth]\nallow_unauthenticated_users = true\n\n'
    printf '[openshell.drivers.kubernetes]\nnamespace = "%s"\nimage_pull_policy = "%s"\n' \
      "${SANDBOX_NAMESPACE}" "${SANDBOX_IMAGE_PULL_POLICY}"
    if [[ -n "${SANDBOX_IMAGE_PULL_SECRETS}" ]]; then
      printf 'image_pull_secrets = ["%s"]\n' "${SANDBOX_IMAGE_PULL_SECRETS//,/\", \"}"
    fi
    # Kubernetes < 1.35 (the kit's k3s is 1.32) has no image volumes by default.
    printf 'supervisor_sideload_method = "init-container"\n'
  } >"$1"
}

main() {
  local driver=""
  while (($#)); do
    case "$1" in
      --driver)
        (($# >= 2)) || usage_error "--driver needs a value; use --driver kubernetes"
        driver="$(normalize_driver "$2")"
        shift 2
        ;;
      --driver=*)
        driver="$(normalize_driver "${1#--driver=}")"
        shift
        ;;
      -h | --help) usage; return 0 ;;
      *) usage_error "unknown gateway option '$1'; see --help" ;;
    esac
  done
  if [[ -n "${driver}" && -n "${OPENSHELL_DRIVERS:-}" ]]; then
    usage_error "use either --driver or OPENSHELL_DRIVERS, not both"
  fi
  if [[ -z "${driver}" ]]; then driver="$(normalize_driver "${OPENSHELL_DRIVERS:-kubernetes}")"; fi

  local port="${OPENSHELL_SERVER_PORT:-8080}"
  local name="${OPENSHELL_GATEWAY_NAME:-${driver}-dev}"
  local state_dir="${OPENSHELL_GATEWAY_STATE_DIR:-${ROOT}/.cache/gateway-${driver}}"
  local bind="${OPENSHELL_BIND_ADDRESS:-127.0.0.1}"
  local log_level="${OPENSHELL_LOG_LEVEL:-info}"
  SANDBOX_NAMESPACE="${OPENSHELL_SANDBOX_NAMESPACE:-${driver}-dev}"
  SANDBOX_IMAGE="${OPENSHELL_SANDBOX_IMAGE:-}"
  SANDBOX_IMAGE_PULL_POLICY="${OPENSHELL_SANDBOX_IMAGE_PULL_POLICY:-IfNotPresent}"
  SUPERVISOR_IMAGE="${OPENSHELL_SUPERVISOR_IMAGE:-}"
  SANDBOX_IMAGE_PULL_SECRETS="${OPENSHELL_SANDBOX_IMAGE_PULL_SECRETS:-}"
  SANDBOX_IMAGE_PULL_SECRETS="${SANDBOX_IMAGE_PULL_SECRETS// /}"
  [[ "${SANDBOX_IMAGE_PULL_SECRETS}" =~ ^[a-z0-9.,-]*$ ]] \
    || usage_error "OPENSHELL_SANDBOX_IMAGE_PULL_SECRETS=${SANDBOX_IMAGE_PULL_SECRETS}: use Secret names (lower-case letters, digits, '-', '.'), comma-separated"

  [[ "${name}" =~ ^[A-Za-z0-9._-]+$ ]] \
    || usage_error "OPENSHELL_GATEWAY_NAME=${name}: use only letters, digits, dots, underscores and dashes"
  if ! [[ "${port}" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    usage_error "OPENSHELL_SERVER_PORT=${port}: not a port number (1-65535)"
  fi
  if port_in_use "${port}"; then
    echo "error: port ${port} is already in use; free it or set OPENSHELL_SERVER_PORT" >&2
    exit 2
  fi

  echo "Building openshell-gateway..." >&2
  (cd "${ROOT}" && cargo build --quiet -p openshell-server --bin openshell-gateway) >&2
  local bin="${CARGO_TARGET_DIR:-${ROOT}/target}/debug/openshell-gateway"
  [[ -x "${bin}" ]] || { echo "error: expected the gateway binary at ${bin}; check CARGO_TARGET_DIR" >&2; exit 1; }

  mkdir -p "${state_dir}"
  local config="${state_dir}/gateway.toml"
  write_config "${config}"

  cat >&2 <<INFO
Starting standalone ${driver} gateway...
  gateway:   ${name}
  endpoint:  http://127.0.0.1:${port}
  bind:      ${bind}:${port}
  namespace: ${SANDBOX_NAMESPACE}
  state dir: ${state_dir}
INFO
  exec "${bin}" \
    --config "${config}" \
    --bind-address "${bind}" \
    --port "${port}" \
    --log-level "${log_level}" \
    --drivers "${driver}" \
    --disable-tls \
    --db-url "sqlite:${state_dir}/gateway.db?mode=rwc"
}

main "$@"
