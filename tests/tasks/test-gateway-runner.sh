#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Tests of the stand-in's gateway runner, `mise run gateway -- --driver kubernetes` (the same
# command as OpenShell's): it builds and starts the real gateway with a config file it writes
# privately, on the port OPENSHELL_SERVER_PORT names, TLS off; bad input fails before anything
# starts. No cluster or engine: the gateway serves /healthz without one.
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0") [test...]"
}

runner_env() {
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
  export OPENSHELL_GATEWAY_STATE_DIR="${SANDBOX}/gateway-state"
  export KUBECONFIG="${SANDBOX}/no-kubeconfig"
}

test_starts_the_gateway_with_its_config() {
  sandbox_setup
  runner_env
  local port log="${SANDBOX}/runner.log" pid body=""
  port="$(free_port)"
  start_background runner "${ROOT}" "${log}" env OPENSHELL_SERVER_PORT="${port}" \
    OPENSHELL_SANDBOX_NAMESPACE=sandboxes OPENSHELL_SUPERVISOR_IMAGE=reg:5000/openshell-supervisor:dev \
    mise run -q gateway -- --driver kubernetes
  pid="${BG_PID}"
  await_output "${log}" "^listening: " "${pid}" 300 || true
  assert_contains "$(cat "${log}")" "listening: api http://127.0.0.1:${port}" \
    "the gateway listens where OPENSHELL_SERVER_PORT says"
  assert_contains "$(cat "${log}")" "endpoint:  http://127.0.0.1:${port}" "the runner prints the endpoint"
  assert_contains "$(cat "${log}")" "TLS disabled" "the runner turns TLS off"
  body="$(curl -fsS "http://127.0.0.1:${port}/healthz" 2>&1 || true)"
  assert_eq '{"status":"ok"}' "${body}" "the gateway answers /healthz"
  local config="${OPENSHELL_GATEWAY_STATE_DIR}/gateway.toml"
  assert_mode "${config}" 600 "the gateway config is private"
  assert_contains "$(cat "${config}")" 'namespace = "sandboxes"' "the config names the sandbox namespace"
  assert_contains "$(cat "${config}")" 'supervisor_image = "reg:5000/openshell-supervisor:dev"' \
    "the config names the supervisor image"
  assert_contains "$(cat "${config}")" "allow_unauthenticated_users = true" "local users need no login"
  kill -TERM -- "-${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  assert_contains "$(cat "${log}")" "received SIGTERM, shutting down" "the gateway stops on SIGTERM"
}

test_bad_input_fails_before_starting() {
  sandbox_setup
  runner_env
  run_task gateway -- --driver podman
  assert_eq 1 "$((RC != 0))" "an unsupported driver fails"
  assert_contains "${ERR}" "error: unsupported driver 'podman': the stand-in gateway has only the kubernetes driver; use --driver kubernetes" \
    "the error names the fix"
  OPENSHELL_DRIVERS=kubernetes run_task gateway -- --driver kubernetes
  assert_contains "${ERR}" "use either --driver or OPENSHELL_DRIVERS, not both" "driver given twice fails"
  OPENSHELL_GATEWAY_NAME="bad name" run_task gateway
  assert_contains "${ERR}" "OPENSHELL_GATEWAY_NAME=bad name: use only letters" "a bad gateway name fails"
  local port
  port="$(free_port)"
  hold_port "${port}"
  OPENSHELL_SERVER_PORT="${port}" run_task gateway -- --driver kubernetes
  assert_contains "${ERR}" "error: port ${port} is already in use; free it or set OPENSHELL_SERVER_PORT" \
    "a busy port fails naming the variable"
  assert_not_contains "${ERR}" "Building openshell-gateway" "nothing is built after bad input"
  release_port "${port}"
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(starts_the_gateway_with_its_config bad_input_fails_before_starting)
  run_tests "$@"
}

main "$@"
