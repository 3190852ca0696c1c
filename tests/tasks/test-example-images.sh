#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# The stand-in's Dockerfiles in OpenShell's shape (deploy/docker/Dockerfile.gateway and
# .supervisor) publish with k8s-dev-helper from OpenShell's staging layout: the binaries at
# deploy/docker/.build/prebuilt-binaries/<TARGETARCH>/ under a repository-root context, the
# gateway's base from a build-arg (default scratch), the supervisor's RUN step built once by
# the engine (--engine-prefix) and every new binary published daemonlessly on top. The images
# are run with Docker. This is what `k8s:dev:sync` does (test-workload.sh runs it).
#
# Environment: K8S_DEV_TEST_DOCKER_HOST and K8S_DEV_TEST_REGISTRY (missing ones skip),
# K8S_DEV_TEST_NO_SKIP=1 (a skip fails).
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0") [test...]"
}

# BuildKit's TARGETARCH for this host.
target_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) uname -m ;;
  esac
}

# Static builds of both binaries, as sync makes them, staged where OpenShell's Dockerfiles look.
stage_binaries() { # context dir
  local target var bin
  target="$(rustc -vV | sed -n 's/^host: //p')"
  var="CARGO_TARGET_$(echo "${target}" | tr 'a-z.-' 'A-Z__')_RUSTFLAGS"
  export "${var}=-C target-feature=+crt-static"
  (cd "${ROOT}" && cargo build --quiet --target "${target}" -p openshell-server -p openshell-sandbox) || return 1
  STAGED="$1/deploy/docker/.build/prebuilt-binaries/$(target_arch)"
  mkdir -p "${STAGED}"
  for bin in openshell-gateway openshell-sandbox; do
    cp "${CARGO_TARGET_DIR:-${ROOT}/target}/${target}/debug/${bin}" "${STAGED}/${bin}"
  done
}

publish_field() { # report file, python expression over `r`
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

test_openshell_shaped_images_publish_from_the_staging_layout() {
  local missing=""
  [[ -n "${K8S_DEV_TEST_DOCKER_HOST:-}" ]] || missing+=" K8S_DEV_TEST_DOCKER_HOST"
  [[ -n "${K8S_DEV_TEST_REGISTRY:-}" ]] || missing+=" K8S_DEV_TEST_REGISTRY"
  if [[ -n "${missing}" ]]; then skip "example images: not set:${missing}"; return 0; fi
  sandbox_setup
  export DOCKER_HOST="${K8S_DEV_TEST_DOCKER_HOST}"
  local reg="${K8S_DEV_TEST_REGISTRY}" ctx="${SANDBOX}/context" out rc
  local base gw="${reg}/test-$$-openshell-gateway" sup="${reg}/test-$$-openshell-supervisor"
  rc=0
  "${K8S_DEV_HELPER}" image publish --dockerfile "${ROOT}/deploy/docker/Dockerfile.gateway" --context "${SANDBOX}" \
    --tag "${gw}:dev" >/dev/null 2>"${SANDBOX}/missing.err" || rc=$?
  assert_eq 1 "${rc}" "a missing staged binary fails"
  assert_eq 1 "$(wc -l <"${SANDBOX}/missing.err")" "with one line"
  assert_contains "$(cat "${SANDBOX}/missing.err")" "deploy/docker/.build/prebuilt-binaries/$(target_arch)/openshell-gateway" \
    "naming the staged path it looked for"
  stage_binaries "${ctx}" || { fail "building the binaries"; return 0; }
  base="$(busybox_base "${K8S_DEV_TEST_REGISTRY}")" || { fail "publishing the busybox base"; return 0; }

  rc=0
  "${K8S_DEV_HELPER}" image publish --dockerfile "${ROOT}/deploy/docker/Dockerfile.gateway" --context "${ctx}" \
    --tag "${gw}:dev" --compression gzip --json >"${SANDBOX}/gw.json" 2>"${SANDBOX}/gw.err" || rc=$?
  assert_eq 0 "${rc}" "the gateway publishes daemonlessly from the staging layout (default base: scratch)"
  ((rc == 0)) || cat "${SANDBOX}/gw.err"
  out="$(docker run --rm --pull always "${gw}:dev" --version 2>&1)"
  assert_contains "${out}" "openshell-gateway 0.1.0" "the gateway image runs its binary"
  out="$(docker run --rm "${gw}:dev" 2>&1 || true)"
  assert_contains "${out}" "--tls-cert is required when TLS is enabled" "the image's CMD keeps TLS on, as OpenShell's"

  rc=0
  "${K8S_DEV_HELPER}" image publish --dockerfile "${ROOT}/deploy/docker/Dockerfile.gateway" --context "${ctx}" \
    --build-arg "GATEWAY_BASE_IMAGE=${base}" --tag "${gw}:on-busybox" --compression gzip >/dev/null 2>&1 || rc=$?
  assert_eq 0 "${rc}" "GATEWAY_BASE_IMAGE replaces the base"
  out="$(docker run --rm --pull always --entrypoint /bin/sh "${gw}:on-busybox" -c 'test -x /bin/busybox && /usr/local/bin/openshell-gateway --version' 2>&1)"
  assert_contains "${out}" "openshell-gateway 0.1.0" "the gateway runs on the build-arg's base"

  rc=0
  "${K8S_DEV_HELPER}" image publish --dockerfile "${ROOT}/deploy/docker/Dockerfile.supervisor" --context "${ctx}" \
    --build-arg "SUPERVISOR_BASE_IMAGE=${base}" --tag "${sup}:dev" >/dev/null 2>"${SANDBOX}/sup.err" || rc=$?
  assert_eq 4 "${rc}" "without --engine-prefix the supervisor's RUN step asks for an engine (exit 4)"
  assert_contains "$(cat "${SANDBOX}/sup.err")" "RUN needs a container engine" "the error names the RUN step"

  rc=0
  "${K8S_DEV_HELPER}" image publish --dockerfile "${ROOT}/deploy/docker/Dockerfile.supervisor" --context "${ctx}" \
    --build-arg "SUPERVISOR_BASE_IMAGE=${base}" --engine-prefix --tag "${sup}:dev" --compression gzip \
    --json >"${SANDBOX}/sup1.json" 2>"${SANDBOX}/sup.err" || rc=$?
  assert_eq 0 "${rc}" "the supervisor publishes on an engine-built prefix"
  ((rc == 0)) || cat "${SANDBOX}/sup.err"
  assert_eq True "$(publish_field "${SANDBOX}/sup1.json" 'r["prefix"]["built"]')" "the first publish builds the prefix"
  out="$(docker run --rm --pull always --entrypoint /bin/sh "${sup}:dev" -c 'test -d /opt/openshell/bin && /openshell-sandbox --version' 2>&1)"
  assert_contains "${out}" "openshell-sandbox 0.1.0" "the supervisor image has the RUN step's result and the binary"

  # A new binary: the prefix comes from the registry, only the binary's layer is pushed.
  printf '\n' >>"${STAGED}/openshell-sandbox"
  rc=0
  "${K8S_DEV_HELPER}" image publish --dockerfile "${ROOT}/deploy/docker/Dockerfile.supervisor" --context "${ctx}" \
    --build-arg "SUPERVISOR_BASE_IMAGE=${base}" --engine-prefix --tag "${sup}:dev" --compression gzip \
    --json >"${SANDBOX}/sup2.json" 2>/dev/null || rc=$?
  assert_eq 0 "${rc}" "a changed supervisor publishes again"
  assert_eq "False True" "$(publish_field "${SANDBOX}/sup2.json" 'r["prefix"]["built"], r["bytes_uploaded"] > 0' | tr -d '(),')" \
    "after a change no engine runs and the new layer is pushed"
  # OpenShell's mise [env] sets DOCKER_BUILDKIT=1; a docker CLI without buildx then refuses
  # every build, and the prefix is built with its legacy builder instead. (Another build arg is
  # another prefix, so this one is built, not found in the registry.)
  rc=0
  DOCKER_BUILDKIT=1 "${K8S_DEV_HELPER}" image publish --dockerfile "${ROOT}/deploy/docker/Dockerfile.supervisor" --context "${ctx}" \
    --build-arg "SUPERVISOR_BASE_IMAGE=${base}" --build-arg "UNUSED=$$" --engine-prefix --tag "${sup}:buildkit" \
    --compression gzip --json >"${SANDBOX}/sup3.json" 2>"${SANDBOX}/sup3.err" || rc=$?
  assert_eq 0 "${rc}" "with DOCKER_BUILDKIT=1 the supervisor's prefix still builds"
  ((rc == 0)) || cat "${SANDBOX}/sup3.err"
  assert_eq True "$(publish_field "${SANDBOX}/sup3.json" 'r["prefix"]["built"]')" "the prefix was built by the engine"
  if ! docker buildx version >/dev/null 2>&1; then
    assert_contains "$(cat "${SANDBOX}/sup3.err")" "docker has no buildx; building with its legacy builder" \
      "without buildx the helper says it used the legacy builder"
  fi
  local ref
  for ref in "${gw}:dev" "${gw}:on-busybox" "${sup}:dev" "${sup}:buildkit"; do docker image rm -f "${ref}" >/dev/null 2>&1 || true; done
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(openshell_shaped_images_publish_from_the_staging_layout)
  run_tests "$@"
}

main "$@"
