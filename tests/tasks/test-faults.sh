#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Fault tests of the tasks, through real mise, the real helper and kubectl, the recording fake
# k3d (real registry process, fake Kubernetes API) and the real Docker engine:
#   sigint_during_up     Ctrl-C while `up` waits for the API server: non-zero exit, nothing of
#                        the run left behind, and the next `up` recovers the created cluster
#   concurrent_up        two `up` at once: one registry, one cluster, both succeed
#   stale_lock           the lock of a SIGKILLed holder is free at once; a live holder makes
#                        `up` wait a bounded time, naming its pid and user
#   other_user           a second local user cannot hold or plant this user's lock (the old lock
#                        in /tmp let another user's live pid stall `up` forever); skips unless root
#   registry_dies_in_sync  the registry killed part-way through `sync`: a clear error, no tag
#                        on a half-pushed image, no images.env; after a restart `sync` works
# Prints PASS/FAIL/SKIP lines.
#
# Environment: K8S_DEV_TEST_DOCKER_HOST (engine socket; unset skips), K8S_DEV_TEST_NO_SKIP=1
# (a skip fails).
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0") [test-name...]   (default: all; see main for names)"
}

# `mise run -q TASK` in the background as the leader of its own process group, as a terminal
# runs a foreground job; its PID (= the group) goes to PID, its output to SANDBOX/NAME.{out,err}.
start_task() { # name, task
  (cd "${ROOT}" && exec setsid mise run -q "$2") >"${SANDBOX}/$1.out" 2>"${SANDBOX}/$1.err" &
  PID=$!
}

# Wait for a background task, at most SECONDS (then it is killed: a hang fails); its exit code
# lands in TASK_RC (124 when it had to be killed).
finish_task() { # pid, seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  TASK_RC=0
  if kill -0 "$1" 2>/dev/null; then
    kill -KILL -- "-$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    TASK_RC=124
    return
  fi
  wait "$1" || TASK_RC=$?
}

# Processes still in process group PGID, one "pid command" per line.
group_members() { # pgid
  ps -eo pid=,pgid=,args= | awk -v g="$1" '$2 == g { $2 = ""; print }'
}

fake_api_readyz() { # true|false
  curl -fsS -X POST "http://127.0.0.1:${K8S_DEV_API_PORT}/_fake/readyz?ready=$1" >/dev/null
}

test_sigint_during_up() {
  engine_sandbox "SIGINT during up" || return 0
  # k3d that, right after creating the cluster, makes its API server answer /readyz with 500,
  # so `up` blocks in `wait apiserver` as it would on a slow first start.
  cat >"${SANDBOX}/bin/k3d" <<SH
#!/usr/bin/env bash
"${ROOT}/tests/fakes/k3d" "\$@" || exit \$?
if [[ "\${1:-} \${2:-}" == "cluster create" ]]; then
  curl -fsS -X POST "http://127.0.0.1:\${K8S_DEV_API_PORT}/_fake/readyz?ready=false" >/dev/null
fi
SH
  chmod +x "${SANDBOX}/bin/k3d"

  start_task up1 k8s:dev:up
  local pgid="${PID}"
  if await_line "${SANDBOX}/up1.err" "waiting up to .* for apiserver" 120; then
    pass "up waits for the API server that is not ready"
  else
    fail "up never reached its apiserver wait: $(cat "${SANDBOX}/up1.err")"
  fi
  kill -INT -- "-${pgid}"
  finish_task "${pgid}" 60
  if [[ "${TASK_RC}" != 0 && "${TASK_RC}" != 124 ]]; then
    pass "Ctrl-C during the wait: up exits non-zero (${TASK_RC})"
  else
    fail "Ctrl-C during the wait: up exited ${TASK_RC}: $(cat "${SANDBOX}/up1.err")"
  fi
  assert_not_contains "$(cat "${SANDBOX}/up1.err")" "RkFLRS1" "Ctrl-C: no credential in the interrupted output"
  local left="" i
  for ((i = 0; i < 50; i++)); do
    left="$(group_members "${pgid}")"
    [[ -n "${left}" ]] || break
    sleep 0.1
  done
  assert_eq "" "${left}" "Ctrl-C: no process of the interrupted up is left (mise, bash, helper, kubectl)"
  if lock_free; then
    pass "Ctrl-C: the up/down lock is released"
  else
    fail "Ctrl-C: the up/down lock is still held ($(cat "$(setting K8S_DEV_LOCK_FILE)" 2>/dev/null))"
  fi

  fake_api_readyz true
  run_task k8s:dev:up
  assert_ok "after Ctrl-C, a rerun of up succeeds"
  assert_contains "${OUT}" "was running" "the rerun finds the cluster the interrupted up created"
  assert_eq 1 "$(calls k3d 'c["argv"][:2] == ["cluster", "create"]' | wc -l)" "the rerun creates no second cluster"
  assert_eq 1 "$(calls k3d 'c["argv"][:2] == ["registry", "create"]' | wc -l)" "the rerun creates no second registry"
  assert_eq "k3d-${K8S_DEV_CLUSTER}" "$(kubectl config current-context)" "the rerun leaves the cluster's context current"
  if kubectl --kubeconfig "${HOME}/.kube/k3d-${K8S_DEV_CLUSTER}.yaml" get --raw=/readyz >/dev/null 2>&1; then
    pass "the cluster answers through the kubeconfig the rerun wrote"
  else
    fail "the cluster does not answer after the rerun"
  fi
}

test_concurrent_up() {
  engine_sandbox "concurrent up" || return 0
  # k3d that holds `cluster create` until the test says so: the second `up` then surely
  # arrives while the first holds the lock.
  cat >"${SANDBOX}/bin/k3d" <<SH
#!/usr/bin/env bash
if [[ "\${1:-} \${2:-}" == "cluster create" ]]; then
  for _ in \$(seq 1 600); do [[ -e "${SANDBOX}/release" ]] && break; sleep 0.1; done
fi
exec "${ROOT}/tests/fakes/k3d" "\$@"
SH
  chmod +x "${SANDBOX}/bin/k3d"

  start_task first k8s:dev:up
  local first="${PID}"
  await_line "${SANDBOX}/first.err" "creating cluster" 120 || fail "the first up never reached cluster create: $(cat "${SANDBOX}/first.err")"
  start_task second k8s:dev:up
  local second="${PID}"
  if await_line "${SANDBOX}/second.err" "waiting up to 10m for another k8s-dev up/down \\(pid [0-9]+, user $(id -un), up of cluster ${K8S_DEV_CLUSTER}\\) to finish" 120; then
    pass "the second up waits for the first, naming its pid and user"
  else
    fail "the second up did not wait: $(cat "${SANDBOX}/second.err")"
  fi
  touch "${SANDBOX}/release"
  finish_task "${first}" 180
  assert_eq 0 "${TASK_RC}" "the first up succeeds"
  finish_task "${second}" 180
  assert_eq 0 "${TASK_RC}" "the second up succeeds"
  assert_contains "$(cat "${SANDBOX}/second.out")" "(k3d-${K8S_DEV_CLUSTER}, was running)" "the second up finds the cluster running"
  assert_eq 1 "$(calls k3d 'c["argv"][:2] == ["cluster", "create"]' | wc -l)" "two ups at once: one cluster created"
  assert_eq 1 "$(calls k3d 'c["argv"][:2] == ["registry", "create"]' | wc -l)" "two ups at once: one registry created"
  assert_eq "k3d-${K8S_DEV_CLUSTER}" "$(python3 -c 'import sys,yaml; print("\n".join(c["name"] for c in yaml.safe_load(open(sys.argv[1]))["contexts"]))' "${HOME}/.kube/config")" \
    "two ups at once: one context in the kubeconfig"
  if lock_free; then pass "the lock is free afterwards"; else fail "the lock is still held"; fi
}

# Hold the up/down lock from another process (as `up` holds it: a flock on the open file) until
# the file READY appears; its PID goes to HOLDER.
hold_lock() { # lock file, ready file, [setpriv args...]
  local lock="$1" ready="$2"
  shift 2
  "$@" python3 -c '
import fcntl, os, sys, time
f = open(sys.argv[1], "a+")
fcntl.flock(f, fcntl.LOCK_EX)
f.truncate(0); f.write("pid=%d user=%s what=up of cluster held-by-test\n" % (os.getpid(), sys.argv[3])); f.flush()
open(sys.argv[2], "w").close()
time.sleep(300)' "${lock}" "${ready}" "$(id -un)" &
  HOLDER=$!
  local i
  for ((i = 0; i < 100; i++)); do [[ -e "${ready}" ]] && return 0; sleep 0.1; done
  return 1
}

test_stale_lock() {
  engine_sandbox "stale lock" || return 0
  local lock
  lock="$(setting K8S_DEV_LOCK_FILE)"
  (umask 077 && mkdir -p "${lock%/*}")
  # A holder killed with SIGKILL (a crashed up): the kernel drops its lock with it.
  hold_lock "${lock}" "${SANDBOX}/held" || { fail "could not hold the lock"; return 0; }
  kill -KILL "${HOLDER}"
  wait "${HOLDER}" 2>/dev/null || true
  run_task k8s:dev:up
  assert_ok "up succeeds right after the lock's holder was killed"
  assert_not_contains "${ERR}" "waiting up to" "up did not wait for a dead holder"

  # A live holder: up waits (bounded) and names it.
  rm -f "${SANDBOX}/held"
  hold_lock "${lock}" "${SANDBOX}/held" || { fail "could not hold the lock"; return 0; }
  echo "${HOLDER}" >"${SANDBOX}/holder.pid"
  K8S_DEV_LOCK_TIMEOUT=2s run_task k8s:dev:up
  assert_eq 1 "${RC}" "up with the lock held elsewhere gives up after K8S_DEV_LOCK_TIMEOUT"
  assert_contains "${ERR}" "waiting up to 2s for another k8s-dev up/down (pid ${HOLDER}, user $(id -un)," \
    "the wait names the holder's pid and user"
  assert_contains "${ERR}" "timed out after 2s waiting for the up/down lock ${lock}: held by pid ${HOLDER}" \
    "the error names the holder"
  assert_contains "${ERR}" "raise K8S_DEV_LOCK_TIMEOUT" "the error names the setting"
  kill "${HOLDER}" 2>/dev/null || true
}

# The lock of another local user must neither stall nor steer this user's up. Needs root (to add
# the user and run as it); CI runs as root, so there it always runs.
test_other_user() {
  if [[ "$(id -u)" != 0 ]] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
    skip "second local user: needs root, useradd and setpriv to add a user and run as it"
    return 0
  fi
  engine_sandbox "second local user" || return 0
  local user="k8sdev$$" uid lock
  useradd --no-create-home --shell /usr/sbin/nologin "${user}" || { fail "useradd ${user}"; return 0; }
  uid="$(id -u "${user}")"
  # The user goes with the sandbox, after its processes (stopped by the sandbox's cleanup).
  local tmp_lock="/tmp/k8s-dev-${K8S_DEV_CLUSTER}.lock"
  # shellcheck disable=SC2064 # the names are fixed now
  trap "sandbox_cleanup; userdel -f ${user} 2>/dev/null || true; rm -rf '${tmp_lock}'" EXIT
  lock="$(setting K8S_DEV_LOCK_FILE)"

  # The old attack: a lock directory in /tmp naming a live process of the other user (kill -0
  # says EPERM, which was read as "dead", and the takeover mv failed in sticky /tmp: up spun).
  setpriv --reuid "${uid}" --regid "${uid}" --clear-groups sleep 300 &
  echo $! >"${SANDBOX}/other-sleep.pid"
  setpriv --reuid "${uid}" --regid "${uid}" --clear-groups mkdir "${tmp_lock}"
  setpriv --reuid "${uid}" --regid "${uid}" --clear-groups sh -c "echo $(cat "${SANDBOX}/other-sleep.pid") >'${tmp_lock}/pid'"
  # The other user holding its own up/down lock, in its own runtime directory (the sandbox
  # may be passed through, not read).
  chmod 711 "${SANDBOX}"
  (umask 077 && mkdir -p "${SANDBOX}/other-run/k8s-dev")
  chown -R "${uid}" "${SANDBOX}/other-run"
  hold_lock "${SANDBOX}/other-run/k8s-dev/up.lock" "${SANDBOX}/other-run/held" \
    setpriv --reuid "${uid}" --regid "${uid}" --clear-groups \
    || { fail "the other user could not hold its lock"; return 0; }
  echo "${HOLDER}" >"${SANDBOX}/other-holder.pid"
  K8S_DEV_LOCK_TIMEOUT=5s run_task k8s:dev:up
  assert_ok "up succeeds while another user holds its own lock and a lock in /tmp"
  assert_not_contains "${ERR}" "waiting up to" "up never waits for another user's lock"
  rm -rf "${tmp_lock}"
  kill "$(cat "${SANDBOX}/other-sleep.pid")" "${HOLDER}" 2>/dev/null || true

  # Our lock is out of the other user's reach: the directory is ours, 0700.
  assert_eq "$(id -u) 700" "$(stat -c '%u %a' "${lock%/*}")" "the lock directory is the user's own, mode 0700"
  if setpriv --reuid "${uid}" --regid "${uid}" --clear-groups sh -c "exec 9<>'${lock}'" 2>/dev/null; then
    fail "the other user could open this user's lock file"
  else
    pass "the other user cannot open this user's lock file"
  fi
  # A lock directory that is not ours is refused rather than used.
  chown "${uid}" "${lock%/*}"
  run_task k8s:dev:up
  assert_eq 1 "${RC}" "a lock directory owned by another user: up exits 1"
  assert_contains "${ERR}" "belongs to uid ${uid}, not to you" "the error names the owner"
  chown "$(id -u)" "${lock%/*}"
}

# A TCP proxy that forwards to 127.0.0.1:UPSTREAM and, after CUT request bytes, forwards no more,
# SIGKILLs VICTIM (the registry), drops every connection and stops listening. Writes its port
# to PORTFILE. Exits by itself after the cut or after 300 s.
cutting_proxy() { # portfile, upstream, cut, victim
  python3 - "$@" <<'PY'
import os, signal, socket, sys, threading, time
port_file, upstream, cut_after, victim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
sent, lock, conns, done = [0], threading.Lock(), [], threading.Event()

def cut():
    if done.is_set():
        return
    done.set()
    try:
        os.kill(victim, signal.SIGKILL)
    except OSError:
        pass
    for c in conns:
        try:
            c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    srv.close()

def pump(src, dst, counted):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if counted:
                with lock:
                    allowed = max(0, min(len(data), cut_after - sent[0]))
                    sent[0] += len(data)
                dst.sendall(data[:allowed])
                if sent[0] >= cut_after:
                    cut()
                    return
            else:
                dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass

with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
srv.settimeout(0.5)
deadline = time.time() + 300
while not done.is_set() and time.time() < deadline:
    try:
        client, _ = srv.accept()
    except (socket.timeout, OSError):
        continue
    server = socket.create_connection(("127.0.0.1", upstream))
    conns.extend([client, server])
    threading.Thread(target=pump, args=(client, server, True), daemon=True).start()
    threading.Thread(target=pump, args=(server, client, False), daemon=True).start()
time.sleep(0.2)
PY
}

# "absent", "complete" or "broken: ..." for REPO:TAG on the registry at 127.0.0.1:PORT.
tag_state() { # port, repo, tag
  python3 - "$@" <<'PY'
import json, sys, urllib.error, urllib.request
port, repo, tag = sys.argv[1:]
base = "http://127.0.0.1:%s/v2/%s" % (port, repo)
req = urllib.request.Request("%s/manifests/%s" % (base, tag), headers={"Accept": (
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")})
try:
    manifest = json.load(urllib.request.urlopen(req, timeout=10))
except urllib.error.HTTPError as e:
    print("absent" if e.code == 404 else "broken: manifest HTTP %d" % e.code)
    sys.exit()
for blob in [manifest["config"]["digest"]] + [l["digest"] for l in manifest["layers"]]:
    try:
        urllib.request.urlopen(urllib.request.Request("%s/blobs/%s" % (base, blob), method="HEAD"), timeout=10)
    except urllib.error.HTTPError as e:
        print("broken: blob %s HTTP %d" % (blob, e.code))
        sys.exit()
print("complete")
PY
}

test_registry_dies_in_sync() {
  engine_sandbox "registry dies during sync" || return 0
  # Both components built from the small supervisor crate into a FROM-scratch image in OpenShell's
  # staging layout: the subject is the publish, not cargo or the engine.
  export K8S_DEV_GATEWAY_PACKAGE=openshell-sandbox K8S_DEV_GATEWAY_BIN=openshell-sandbox
  # shellcheck disable=SC2016 # a Dockerfile variable
  printf '%s\n' 'FROM scratch' 'ARG TARGETARCH' \
    'COPY deploy/docker/.build/prebuilt-binaries/${TARGETARCH}/openshell-sandbox /openshell-sandbox' \
    >"${SANDBOX}/Dockerfile.small"
  export K8S_DEV_GATEWAY_DOCKERFILE="${SANDBOX}/Dockerfile.small" K8S_DEV_SUPERVISOR_DOCKERFILE="${SANDBOX}/Dockerfile.small"
  export K8S_DEV_IMAGE_CONTEXT="${SANDBOX}/context"
  mkdir -p "${K8S_DEV_IMAGE_CONTEXT}"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}/k8s-dev-test-faults"
  rm -rf "${CARGO_TARGET_DIR}/k8s-dev"
  run_task k8s:dev:up
  assert_ok "up (for sync)"
  local registry_pid proxy_port
  registry_pid="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "${K8S_DEV_FAKE_STATE}/registries/${K8S_DEV_REGISTRY_NAME}.json")"
  cutting_proxy "${SANDBOX}/proxy.port" "${K8S_DEV_REGISTRY_PORT}" 60000 "${registry_pid}" &
  echo $! >"${SANDBOX}/proxy.pid"
  await_line "${SANDBOX}/proxy.port" "^[0-9]+$" 30 || fail "the proxy did not start"
  proxy_port="$(cat "${SANDBOX}/proxy.port")"

  K8S_DEV_REGISTRY="127.0.0.1:${proxy_port}" run_task k8s:dev:sync
  assert_eq 1 "${RC}" "sync with the registry killed mid-push exits 1"
  assert_contains "${ERR}" "error: reaching registry 127.0.0.1:${proxy_port}: " "the error names the registry"
  assert_contains "${ERR}" "is the registry running? mise run k8s:dev:up" "the error names the fix"
  assert_eq 1 "$(grep -c '^error: ' <<<"${ERR}")" "sync says it in one line"
  assert_eq "" "${OUT}" "sync prints no image after a failure"
  if [[ ! -e "${CARGO_TARGET_DIR}/k8s-dev/images.env" ]]; then
    pass "a failed sync records no images for bootstrap"
  else
    fail "images.env written by a failed sync: $(cat "${CARGO_TARGET_DIR}/k8s-dev/images.env")"
  fi
  # Dead, or a zombie nobody reaps (the fake k3d that started it has exited).
  if [[ "$(ps -o stat= -p "${registry_pid}" 2>/dev/null || true)" == Z* ]] || ! kill -0 "${registry_pid}" 2>/dev/null; then
    pass "the registry process is gone"
  else
    fail "the registry was not killed by the proxy"
  fi

  # The registry comes back with its storage; every tag is absent or a complete image.
  docker-registry serve "${K8S_DEV_FAKE_STATE}/registries/${K8S_DEV_REGISTRY_NAME}.yml" \
    >>"${SANDBOX}/registry2.log" 2>&1 &
  echo $! >"${SANDBOX}/registry2.pid"
  local i
  for ((i = 0; i < 100; i++)); do curl -fsS "http://127.0.0.1:${K8S_DEV_REGISTRY_PORT}/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
  local repo tag state upper
  for repo in openshell-gateway openshell-supervisor; do
    state="$(tag_state "${K8S_DEV_REGISTRY_PORT}" "${repo}" dev)"
    if [[ "${state}" == absent || "${state}" == complete ]]; then
      pass "after the cut, ${repo}:dev is ${state}, never half-pushed"
    else
      fail "after the cut, ${repo}:dev is ${state}"
    fi
  done

  run_task k8s:dev:sync
  assert_ok "with the registry back, sync succeeds"
  for repo in openshell-gateway openshell-supervisor; do
    upper="$(echo "${repo#openshell-}" | tr '[:lower:]' '[:upper:]')"
    tag="$(sed -n "s/^K8S_DEV_${upper}_TAG=//p" "${CARGO_TARGET_DIR}/k8s-dev/images.env")"
    assert_eq complete "$(tag_state "${K8S_DEV_REGISTRY_PORT}" "${repo}" dev)" "after the rerun ${repo}:dev is complete"
    assert_eq complete "$(tag_state "${K8S_DEV_REGISTRY_PORT}" "${repo}" "${tag}")" "after the rerun ${repo}:${tag} is complete"
  done
  rm -rf "${CARGO_TARGET_DIR}/k8s-dev"
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(sigint_during_up concurrent_up stale_lock other_user registry_dies_in_sync)
  run_tests "$@"
}

main "$@"
