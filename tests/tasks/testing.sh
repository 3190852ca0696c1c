#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Shared harness of the task tests (tests/tasks/test-*.sh). Source it; do not run it.
# Each test gets a sandbox: a temporary HOME, the recording fakes of k3d/helm/skaffold first on
# PATH (tests/fakes), free ports for the API, load balancer and registry, and the fakes' state
# directory. Real mise runs the real tasks; engine tests use K8S_DEV_TEST_DOCKER_HOST /
# K8S_DEV_TEST_PODMAN_HOST and skip without them (fail under K8S_DEV_TEST_NO_SKIP=1).
#
# API: pass, fail, skip, assert_eq, assert_ok, assert_contains, assert_not_contains, assert_mode, finish,
#      sandbox_setup, sandbox_cleanup, run_task TASK [ARGS], calls TOOL [PYTHON-EXPR], free_port,
#      engine_host docker|podman, use_docker WHAT, engine_sandbox WHAT, hold_port PORT, release_port PORT,
#      run_tests, setting NAME, lock_free, start_background NAME DIR LOG COMMAND...,
#      await_output LOG REGEX PID SECONDS, await_line FILE REGEX SECONDS, standin_registry_image,
#      use_kind ENGINE, kind_cleanup, seed_user_kubeconfig, kubeconfig_contexts FILE,
#      busybox_base REGISTRY, assert_schema_valid SCHEMA FILE WHAT, interrupt_background PID SECONDS,
#      assert_ctrl_c_ends PID SECONDS LOG NAME, logging_wrapper WRAPPER LOG PROGRAM, share_helper

if [[ -n "${_K8S_DEV_TESTING_LOADED:-}" ]]; then
  return 0
fi
_K8S_DEV_TESTING_LOADED=1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FAILURES=0
PASSES=0

pass() { PASSES=$((PASSES + 1)); echo "PASS: $*"; }
fail() { FAILURES=$((FAILURES + 1)); echo "FAIL: $*"; }
# A skip is a failure when CI asked for every engine test to run.
skip() {
  if [[ "${K8S_DEV_TEST_NO_SKIP:-}" == 1 ]]; then
    fail "$* (K8S_DEV_TEST_NO_SKIP=1 forbids skipping)"
  else
    echo "SKIP: $*"
  fi
}

assert_eq() { # want, got, what
  if [[ "$1" == "$2" ]]; then pass "$3"; else fail "$3: want [$1], got [$2]"; fi
}
# A task run (see run_task) that must have succeeded; its stderr is shown only on failure.
assert_ok() { # what
  if [[ "${RC}" == 0 ]]; then pass "$1"; else fail "$1: exit ${RC}, stderr: ${ERR}"; fi
}
# FILE validates against tests/data/schemas/SCHEMA (check-jsonschema); a failure carries its
# findings.
assert_schema_valid() { # schema file name, file, what
  local findings
  if findings="$(check-jsonschema --schemafile "${ROOT}/tests/data/schemas/$1" "$2" 2>&1)"; then
    pass "$3"
  else
    fail "$3: ${findings}"
  fi
}

assert_contains() { # haystack, needle, what
  if [[ "$1" == *"$2"* ]]; then pass "$3"; else fail "$3: [$2] not in: $1"; fi
}
assert_not_contains() { # haystack, needle, what
  if [[ "$1" != *"$2"* ]]; then pass "$3"; else fail "$3: [$2] unexpectedly in: $1"; fi
}
assert_mode() { # file, octal mode, what
  local mode
  mode="$(stat -c %a "$1" 2>/dev/null || stat -f %Lp "$1")"
  assert_eq "$2" "${mode}" "$3"
}

finish() {
  echo "${PASSES} passed, ${FAILURES} failed"
  [[ "${FAILURES}" == 0 ]]
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Another program holding a port on 127.0.0.1 (for busy-port tests), until release_port or the
# sandbox cleanup stops it by its PID file. Returns once the port is really held.
hold_port() { # port
  python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(300)' \
    "$1" &
  echo $! >"${SANDBOX}/hold-$1.pid"
  local i
  for ((i = 0; i < 50; i++)); do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.2)' "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "could not hold port $1"
}
release_port() { # port
  kill "$(cat "${SANDBOX}/hold-$1.pid")" 2>/dev/null || true
  rm -f "${SANDBOX}/hold-$1.pid"
}

# Wait (bounded) until FILE has a line matching the extended regex; 1 on timeout.
await_line() { # file, regex, seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    if grep -Eq "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

engine_host() { # docker|podman -> its socket, or empty
  case "$1" in
    docker) echo "${K8S_DEV_TEST_DOCKER_HOST:-}" ;;
    podman) echo "${K8S_DEV_TEST_PODMAN_HOST:-}" ;;
  esac
}

# The helper under test: built once from this workspace.
build_helper() {
  if [[ -z "${K8S_DEV_HELPER:-}" ]]; then
    (cd "${ROOT}" && cargo build --quiet -p k8s-dev-helper) || return 1
    K8S_DEV_HELPER="${CARGO_TARGET_DIR:-${ROOT}/target}/debug/k8s-dev-helper"
  fi
  export K8S_DEV_HELPER
}

# The helper under test copied into the sandbox, for a test that runs the tasks as another user:
# the build directory may be where that user cannot enter (CI keeps it under root's ~/.cache).
share_helper() {
  mkdir -p "${SANDBOX}/bin"
  cp "${K8S_DEV_HELPER}" "${SANDBOX}/bin/k8s-dev-helper"
  export K8S_DEV_HELPER="${SANDBOX}/bin/k8s-dev-helper"
}

# A fresh sandbox; every K8S_DEV_* setting a test does not set gets a private value so tests
# never touch the developer's cluster, kubeconfig or ports.
sandbox_setup() {
  SANDBOX="$(mktemp -d "${TMPDIR:-/tmp}/k8s-dev-test.XXXXXX")"
  # The toolchain stays where it is installed when HOME moves.
  export RUSTUP_HOME="${RUSTUP_HOME:-${HOME}/.rustup}" CARGO_HOME="${CARGO_HOME:-${HOME}/.cargo}"
  export HOME="${SANDBOX}/home"
  mkdir -p "${HOME}"
  export K8S_DEV_FAKE_STATE="${SANDBOX}/fakes"
  export TMPDIR="${SANDBOX}/tmp"
  mkdir -p "${TMPDIR}"
  local venv_bin
  venv_bin="$("${ROOT}/tests/support/python-env.sh")"
  export PATH="${ROOT}/tests/fakes:${venv_bin}:${PATH}"
  # Independent settings only: the push and pull names, the context and the kubeconfig paths
  # are derived from these by the helper, as they are for a user who sets one of them.
  export K8S_DEV_CLUSTER="t$$-${RANDOM}"
  export K8S_DEV_NETWORK="k8s-dev-test-$$"
  export K8S_DEV_REGISTRY_NAME="reg-$$"
  export K8S_DEV_API_PORT K8S_DEV_LB_PORT K8S_DEV_REGISTRY_PORT
  K8S_DEV_API_PORT="$(free_port)"
  K8S_DEV_LB_PORT="$(free_port)"
  K8S_DEV_REGISTRY_PORT="$(free_port)"
  export K8S_DEV_TIMEOUT=30s
  unset KUBECONFIG K8S_DEV_CONTEXT DOCKER_HOST DOCKER_CONTEXT K8S_DEV_ENGINE CONTAINER_ENGINE \
    K8S_DEV_REGISTRY K8S_DEV_REGISTRY_PULL XDG_STATE_HOME
  # The per-user up/down lock lands here, not in the developer's runtime directory.
  export XDG_RUNTIME_DIR="${SANDBOX}/run"
  mkdir -m 700 "${XDG_RUNTIME_DIR}"
  # Tests read output as text; mise colours it under CI=true unless told not to.
  export NO_COLOR=1
  # Real mise, offline: the pinned aqua tools cannot be downloaded here and the fakes stand in.
  export MISE_OFFLINE=1 MISE_TASK_RUN_AUTO_INSTALL=false MISE_TRUSTED_CONFIG_PATHS="${ROOT}"
  export MISE_CACHE_DIR="${SANDBOX}/mise-cache" MISE_STATE_DIR="${SANDBOX}/mise-state"
  trap sandbox_cleanup EXIT
}

# Point the tasks at the Docker engine of K8S_DEV_TEST_DOCKER_HOST; without one, say why the
# test skips and return 1.
use_docker() { # what
  local host
  host="$(engine_host docker)"
  if [[ -z "${host}" ]]; then
    skip "$1: no docker socket (K8S_DEV_TEST_DOCKER_HOST)"
    return 1
  fi
  export DOCKER_HOST="${host}"
}

# A sandbox on that engine, with SANDBOX/bin first on PATH for a test's own stubs; returns 1
# after a skip line when there is no engine.
engine_sandbox() { # what
  sandbox_setup
  use_docker "$1" || return 1
  mkdir -p "${SANDBOX}/bin"
  export PATH="${SANDBOX}/bin:${PATH}"
}

# The image of the kit's own registry container (kind and k3s; K8S_DEV_REGISTRY_IMAGE), built on
# the engine of DOCKER_HOST, which cannot pull: Debian's docker-registry (distribution 2.8, the
# registry:2 of Docker Hub) with the libraries it links, FROM scratch, serving on :5000 as
# registry:2 does. Prints the image name.
STANDIN_REGISTRY_IMAGE=k8s-dev-test-registry:1
standin_registry_image() {
  if ! docker image inspect "${STANDIN_REGISTRY_IMAGE}" >/dev/null 2>&1; then
    local ctx lib
    ctx="$(mktemp -d "${TMPDIR:-/tmp}/registry-image.XXXXXX")"
    mkdir -p "${ctx}/rootfs/bin" "${ctx}/rootfs/etc/docker/registry" "${ctx}/rootfs/var/lib/registry"
    cp /usr/bin/docker-registry "${ctx}/rootfs/bin/registry"
    for lib in $(ldd /usr/bin/docker-registry | grep -o '/[^ ]*'); do
      mkdir -p "${ctx}/rootfs$(dirname "${lib}")"
      cp -L "${lib}" "${ctx}/rootfs${lib}"
    done
    cat >"${ctx}/rootfs/etc/docker/registry/config.yml" <<'CONFIG'
version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
CONFIG
    cat >"${ctx}/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
VOLUME /var/lib/registry
EXPOSE 5000
ENTRYPOINT ["/bin/registry"]
CMD ["serve", "/etc/docker/registry/config.yml"]
DOCKERFILE
    # --no-cache: dockerd 20.10's legacy builder can reuse a COPY layer whose files differ.
    docker build --no-cache -q -t "${STANDIN_REGISTRY_IMAGE}" "${ctx}" >/dev/null || {
      rm -rf "${ctx}"
      return 1
    }
    rm -rf "${ctx}"
  fi
  echo "${STANDIN_REGISTRY_IMAGE}"
}

# A sandbox for the kind provider on ENGINE (docker|podman) with the fake kind, whose nodes are
# real containers; returns 1 after a skip line when there is no such engine. The node image is
# the fake's stand-in under a tag (the fake never pulls a digest), the registry image the
# stand-in above.
use_kind() { # docker|podman
  local host
  host="$(engine_host "$1")"
  if [[ -z "${host}" ]]; then
    skip "kind on $1: no $1 socket (K8S_DEV_TEST_$(echo "$1" | tr "[:lower:]" "[:upper:]")_HOST)"
    return 1
  fi
  export DOCKER_HOST="${host}" K8S_DEV_PROVIDER=kind K8S_DEV_KIND_IMAGE=k8s-dev-kind-stand-in-node:1
  K8S_DEV_REGISTRY_IMAGE="$(standin_registry_image)" || { fail "kind on $1: building the registry image"; return 1; }
  export K8S_DEV_REGISTRY_IMAGE
  KIND_ENGINE="$1"
}

# Remove what the fake kind and the kit made on the engine for this sandbox: the fake's node
# containers (by its state) and the registry container (by its test name).
kind_cleanup() {
  [[ -n "${KIND_ENGINE:-}" ]] || return 0
  local engine_env=(KIND_EXPERIMENTAL_PROVIDER=)
  [[ "${KIND_ENGINE}" != podman ]] || engine_env=(KIND_EXPERIMENTAL_PROVIDER=podman "CONTAINER_HOST=${DOCKER_HOST}")
  env "${engine_env[@]}" kind _fake-cleanup >/dev/null 2>&1 || true
  docker rm --force --volumes "${K8S_DEV_REGISTRY_NAME}" >/dev/null 2>&1 || true
}

# Stop what the fakes started (registries, fake APIs) by their recorded PIDs, remove the test
# network, then the sandbox.
sandbox_cleanup() {
  [[ -n "${SANDBOX:-}" && -d "${SANDBOX}" ]] || return 0
  kind_cleanup
  local f pid
  for f in "${K8S_DEV_FAKE_STATE}"/registries/*.json "${K8S_DEV_FAKE_STATE}"/clusters/*.json; do
    [[ -e "${f}" ]] || continue
    pid="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("pid") or "")' "${f}")"
    if [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null; then kill "${pid}" 2>/dev/null || true; fi
  done
  for f in "${SANDBOX}"/*.pid; do
    [[ -e "${f}" ]] || continue
    pid="$(cat "${f}")"
    if kill -0 "${pid}" 2>/dev/null; then kill "${pid}" 2>/dev/null || true; fi
  done
  if [[ -n "${DOCKER_HOST:-}" ]]; then docker network rm "${K8S_DEV_NETWORK}" >/dev/null 2>&1 || true; fi
  rm -rf "${SANDBOX}"
}

# A setting's value as the helper resolves it in the sandbox (derived ones included).
setting() { # name
  "${K8S_DEV_HELPER}" settings --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]]["value"] or "")' "$1"
}

# A FROM-scratch busybox image (sh, mkdir, test) in REGISTRY: the offline stand-in for the
# supervisor's base, whose RUN step the engine then builds. The same content each time, so
# publishing it again pushes nothing; prints its reference.
busybox_base() { # registry
  local rootfs applet ref="$1/k8s-dev-test-busybox:1"
  rootfs="$(mktemp -d "${TMPDIR:-/tmp}/busybox.XXXXXX")"
  mkdir -p "${rootfs}/bin"
  cp /bin/busybox "${rootfs}/bin/busybox"
  for applet in sh mkdir test; do ln -s busybox "${rootfs}/bin/${applet}"; done
  "${K8S_DEV_HELPER}" image publish --base scratch --file "${rootfs}/bin:/bin" --tag "${ref}" \
    --compression gzip >/dev/null 2>&1 || { rm -rf "${rootfs}"; return 1; }
  rm -rf "${rootfs}"
  echo "${ref}"
}

# Whether nobody holds the up/down lock (a flock on its file; a missing file is free too).
lock_free() {
  python3 - "$(setting K8S_DEV_LOCK_FILE)" <<'PY'
import fcntl, os, sys
if not os.path.exists(sys.argv[1]):
    sys.exit(0)
with open(sys.argv[1]) as f:
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(1)
PY
}

# Run a mise task from TASK_DIR (default: the repository root); stdout, stderr and the exit
# code land in OUT, ERR and RC.
# shellcheck disable=SC2034 # OUT, ERR and RC are read by the sourcing test
run_task() {
  local out="${SANDBOX}/out" err="${SANDBOX}/err"
  RC=0
  (cd "${TASK_DIR:-${ROOT}}" && mise run -q "$@") >"${out}" 2>"${err}" || RC=$?
  OUT="$(cat "${out}")"
  ERR="$(cat "${err}")"
}

# COMMAND... in DIR in the background as the leader of its own process group (as a terminal runs
# a foreground job, so `kill -- -PID` reaches everything it started), output to LOG; its PID goes
# to BG_PID and to SANDBOX/NAME.pid, where the sandbox cleanup finds it.
start_background() { # name, dir, log, command...
  local name="$1" dir="$2" log="$3"
  shift 3
  (cd "${dir}" && exec setsid "$@") >"${log}" 2>&1 &
  BG_PID=$!
  echo "${BG_PID}" >"${SANDBOX}/${name}.pid"
}

# Ctrl-C to a task started with setsid (start_background), as a terminal sends it to the
# foreground group; then wait for it, at most SECONDS, killing the group when it outlives them.
# Sets RC to its exit status; returns 1 when it had to be killed.
interrupt_background() { # pid, seconds
  local i
  RC=0
  kill -INT -- "-$1" 2>/dev/null || true
  for ((i = 0; i < $2 * 5; i++)); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$1" 2>/dev/null; then
    kill -KILL -- "-$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    return 1
  fi
  wait "$1" || RC=$?
}

# interrupt_background, judged: NAME's Ctrl-C must end the task within SECONDS, with exit 0 or
# 130 (SIGINT); otherwise a failure quoting LOG's last lines.
assert_ctrl_c_ends() { # pid, seconds, log, name
  if ! interrupt_background "$1" "$2"; then
    fail "$4: Ctrl-C did not end it within $2 s"
  elif [[ "${RC}" == 0 || "${RC}" == 130 ]]; then
    pass "$4: Ctrl-C ends the task (exit ${RC})"
  else
    fail "$4: Ctrl-C exit ${RC}: $(tail -n 5 "$3")"
  fi
}

# An executable WRAPPER that appends its arguments to LOG, then execs PROGRAM with them.
logging_wrapper() { # wrapper, log, program
  printf '#!/bin/sh\necho "$*" >>"%s"\nexec "%s" "$@"\n' "$2" "$3" >"$1"
  chmod +x "$1"
}

# Wait until LOG has a line matching REGEX (grep -E), at most SECONDS, or until PID has exited.
await_output() { # log, regex, pid, seconds
  local i
  for ((i = 0; i < $4 * 2; i++)); do
    if grep -Eq "$2" "$1" 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || break
    sleep 0.5
  done
  grep -Eq "$2" "$1" 2>/dev/null
}

seed_user_kubeconfig() { # a cluster of the user's own that must survive up and down
  mkdir -p "${HOME}/.kube"
  cat >"${HOME}/.kube/config" <<'KC'
apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {server: "https://other.example:6443"}
contexts:
- name: other
  context: {cluster: other, user: other}
current-context: other
preferences: {}
users:
- name: other
  user: {token: other-token}
KC
  chmod 600 "${HOME}/.kube/config"
}

kubeconfig_contexts() { # file -> context names, one per line
  python3 -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1])) or {}; print("\n".join(c["name"] for c in d.get("contexts") or []))' "$1"
}

# Calls a fake recorded, one JSON object per line; EXPR (Python, over `c`) filters them, e.g.
# calls k3d 'c["argv"][:2] == ["cluster", "create"]'.
calls() { # tool, [expr]
  python3 - "${K8S_DEV_FAKE_STATE}/calls.jsonl" "$1" "${2:-True}" <<'PY'
import json, sys
path, tool, expr = sys.argv[1:]
try:
    lines = open(path).read().splitlines()
except FileNotFoundError:
    lines = []
for line in lines:
    c = json.loads(line)
    if c["tool"] == tool and eval(expr, {}, {"c": c}):
        print(" ".join(c["argv"]))
PY
}

# The main loop of every test file: build the helper, then run each named test (`name` or
# `name arg…`, calling test_<name>) in its own subshell, so sandboxes, traps and exports never
# leak from one test into the next. Names come from the command line, else DEFAULT_TESTS.
run_tests() { # [test...]
  build_helper
  local tests=("$@") t words failed=0
  ((${#tests[@]})) || tests=("${DEFAULT_TESTS[@]}")
  for t in "${tests[@]}"; do
    echo "--- ${t}"
    read -r -a words <<<"${t}"
    ("test_${words[0]}" "${words[@]:1}" && finish) || failed=1
  done
  return "${failed}"
}
