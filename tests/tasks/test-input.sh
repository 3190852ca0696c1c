#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Bad input to the cluster tasks, through real mise: each case must exit non-zero with one
# `error:` line that names the fix, and change nothing on disk. Extends test-k8s-dev.sh (which
# has the first bad names and ports) with:
#   names            more invalid cluster names, for up and down
#   ports            non-numbers, out of range, privileged registry port, a bad bind address
#   docker_host      DOCKER_HOST that is unreachable, refused or ssh://
#   no_engine        no engine anywhere; an unknown K8S_DEV_ENGINE
#   missing_tools    k3d, kubectl, cargo (with and without a helper) missing from PATH
#   bad_kubeconfig   malformed ~/.kube/config, KUBECONFIG naming a directory: the file is left
#                    alone, and up completes once it is fixed
#   read_only_kube   a read-only ~/.kube, as uid 65534 (root ignores permissions)
#   injection        settings that would run code in bash arithmetic, add YAML through k3d's
#                    env expansion, break the mirror config's quotes or pass as options
# Prints PASS/FAIL/SKIP lines.
#
# Environment: K8S_DEV_TEST_DOCKER_HOST (engine socket; unset skips the cases that get past
# the engine check), K8S_DEV_TEST_NO_SKIP=1 (a skip fails).
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0") [test-name...]   (default: all; see main for names)"
}

REAL_HOME="${HOME}"

# Every path under the sandbox's HOME and TMPDIR with its mode and size: "nothing changed on
# disk" is this listing, before and after.
# mise keeps its own data under ~/.local/share/mise; that is not the kit's doing.
disk_state() {
  (cd "${SANDBOX}" && find home tmp -path home/.local -prune -o -printf '%p %m %s\n' 2>/dev/null | sort)
}

# A failed run: exit 1, the last stderr line one `error:` line containing NEEDLE, no k3d call
# that creates or starts anything, and the disk as it was.
assert_refused() { # what, needle, disk state before
  assert_eq 1 "${RC}" "$1: exits 1"
  local last
  last="$(printf '%s\n' "${ERR}" | grep -v '^\[k8s:dev:' | tail -n1)"
  assert_contains "${last}" "error: " "$1: ends with an error: line"
  assert_contains "${last}" "$2" "$1: the error names the fix"
  assert_eq 1 "$(printf '%s\n' "${ERR}" | grep -c '^error: ')" "$1: exactly one error line"
  assert_eq "" "$(calls k3d 'c["argv"][1] in ("create", "start", "delete")')" "$1: nothing created, started or deleted"
  assert_eq "$3" "$(disk_state)" "$1: nothing changed on disk"
}

# PATH without the named programs: each PATH directory holding one is replaced by a directory
# of links to everything else in it.
path_without() { # program...
  local dir new=() prog hide shadow entry dirs
  IFS=: read -r -a dirs <<<"${PATH}"
  for dir in "${dirs[@]}"; do
    hide=0
    for prog in "$@"; do [[ -e "${dir}/${prog}" ]] && hide=1; done
    if ((hide)); then
      mkdir -p "${SANDBOX}/shadow"
      shadow="$(mktemp -d "${SANDBOX}/shadow/XXXXXX")"
      for entry in "${dir}"/*; do
        for prog in "$@"; do [[ "${entry##*/}" == "${prog}" ]] && continue 2; done
        ln -s "${entry}" "${shadow}/"
      done
      new+=("${shadow}")
    else
      new+=("${dir}")
    fi
  done
  (IFS=:; echo "${new[*]}")
}

test_names() {
  sandbox_setup
  local before name verb
  before="$(disk_state)"
  for name in UPPER -lead trail- a..b "two words" "ünicode" "$(printf 'y%.0s' $(seq 40))"; do
    for verb in up down; do
      K8S_DEV_CLUSTER="${name}" run_task "k8s:dev:${verb}"
      assert_refused "cluster name '${name}', ${verb}" "set K8S_DEV_CLUSTER to lower-case letters, digits and '-' (at most 32)" "${before}"
    done
  done
  for name in Upper_Case a_b; do
    K8S_DEV_CLUSTER="${name}" run_task k8s:dev:down
    assert_refused "cluster name '${name}', down" "set K8S_DEV_CLUSTER" "${before}"
  done
}

test_ports() {
  sandbox_setup
  use_docker "bad ports" || return 0
  local before
  before="$(disk_state)"
  K8S_DEV_API_PORT=abc run_task k8s:dev:up
  assert_refused "API port abc" "port 'abc' is not a number; set K8S_DEV_API_PORT to a port from 1024 to 65535" "${before}"
  K8S_DEV_LB_PORT=0 run_task k8s:dev:up
  assert_refused "load balancer port 0" "port 0 is out of range; set K8S_DEV_LB_PORT to a port from 1024 to 65535" "${before}"
  K8S_DEV_API_PORT=65536 run_task k8s:dev:up
  assert_refused "API port 65536" "port 65536 is out of range; set K8S_DEV_API_PORT" "${before}"
  K8S_DEV_REGISTRY_PORT=443 run_task k8s:dev:up
  assert_refused "registry port 443" "port 443 is privileged; set K8S_DEV_REGISTRY_PORT to a port from 1024 to 65535" "${before}"
  K8S_DEV_BIND_ADDRESS=localhost run_task k8s:dev:up
  assert_refused "bind address localhost" "K8S_DEV_BIND_ADDRESS" "${before}"
}

test_docker_host() {
  sandbox_setup
  local before
  before="$(disk_state)"
  DOCKER_HOST="unix://${SANDBOX}/nothing/docker.sock" run_task k8s:dev:up
  assert_refused "DOCKER_HOST to a missing socket" "DOCKER_HOST=unix://${SANDBOX}/nothing/docker.sock: " "${before}"
  assert_contains "${ERR}" "unset DOCKER_HOST" "DOCKER_HOST to a missing socket: the fix says unset it"
  DOCKER_HOST="tcp://127.0.0.1:$(free_port)" run_task k8s:dev:up
  assert_refused "DOCKER_HOST tcp, refused" "connection refused" "${before}"
  DOCKER_HOST="ssh://dev@build-host" run_task k8s:dev:up
  assert_refused "DOCKER_HOST ssh://" "ssh://dev@build-host" "${before}"
  DOCKER_HOST="ssh://dev@build-host" run_task k8s:dev:down
  assert_refused "DOCKER_HOST ssh://, down" "ssh://dev@build-host" "${before}"
}

test_no_engine() {
  local sock
  for sock in /var/run/docker.sock /run/docker.sock /run/podman/podman.sock; do
    if [[ -S "${sock}" ]]; then
      skip "no engine: this machine has ${sock}"
      return 0
    fi
  done
  sandbox_setup
  export XDG_RUNTIME_DIR="${SANDBOX}/run"
  mkdir -p "${XDG_RUNTIME_DIR}"
  local before
  before="$(disk_state)"
  run_task k8s:dev:up
  # A dead socket (or anything else) left at a well-known path is named in parentheses between
  # the two halves; the fix follows either way.
  assert_refused "no engine at all" "no container engine answered" "${before}"
  assert_contains "${ERR}" "; start one: " "no engine at all: the error says how to start one"
  K8S_DEV_ENGINE=nerdctl run_task k8s:dev:up
  assert_refused "K8S_DEV_ENGINE=nerdctl" "K8S_DEV_ENGINE" "${before}"
  assert_contains "${ERR}" "docker" "K8S_DEV_ENGINE=nerdctl: the valid values are named"
}

test_missing_tools() {
  sandbox_setup
  local before saved="${PATH}"
  before="$(disk_state)"
  PATH="$(path_without k3d)" run_task k8s:dev:up
  assert_refused "k3d missing" "k3d not found. Run: mise install" "${before}"
  PATH="$(path_without kubectl)" run_task k8s:dev:up
  assert_refused "kubectl missing" "kubectl not found. Run: mise install" "${before}"
  # No helper installed and no cargo to build one.
  PATH="$(path_without cargo k8s-dev-helper)" K8S_DEV_HELPER="" run_task k8s:dev:up
  assert_refused "cargo and helper missing" "cargo is missing to build it. Install Rust (https://rustup.rs)" "${before}"
  # A helper, but no cargo for the images: sync names what to install.
  PATH="$(path_without cargo)" run_task k8s:dev:sync
  assert_refused "cargo missing for sync" "cargo not found. Install Rust (https://rustup.rs)" "${before}"
  PATH="${saved}"
}

seed_kubeconfig() { # text
  mkdir -p "${HOME}/.kube"
  chmod 700 "${HOME}/.kube"
  printf '%s' "$1" >"${HOME}/.kube/config"
  chmod 600 "${HOME}/.kube/config"
}

test_bad_kubeconfig() {
  sandbox_setup
  use_docker "bad kubeconfig" || return 0
  local bad=$'apiVersion: v1\nclusters: [\n  - name: mine\n'
  seed_kubeconfig "${bad}"
  run_task k8s:dev:up
  assert_eq 1 "${RC}" "malformed ~/.kube/config: up exits 1"
  assert_contains "${ERR}" "error: checking kubeconfig " "malformed ~/.kube/config: the check is named"
  assert_eq "" "$(calls k3d 'c["argv"][1] in ("create", "start")')" "malformed ~/.kube/config: found before anything is created"
  assert_contains "${ERR}" "${HOME}/.kube/config is not a valid kubeconfig: invalid YAML" "malformed ~/.kube/config: the file is named"
  assert_contains "${ERR}" "fix: repair it or move it aside" "malformed ~/.kube/config: the fix is named"
  if printf '%s' "${bad}" | cmp -s - "${HOME}/.kube/config"; then
    pass "malformed ~/.kube/config: the user's file is byte-identical"
  else
    fail "malformed ~/.kube/config was changed: $(cat "${HOME}/.kube/config")"
  fi
  local left=() f
  for f in "${HOME}"/.kube/* "${HOME}"/.kube/.[!.]*; do
    [[ -e "${f}" && "${f##*/}" != "k3d-${K8S_DEV_CLUSTER}.yaml" ]] && left+=("${f##*/}")
  done
  assert_eq "config" "${left[*]}" "malformed ~/.kube/config: no backup, temp or lock file next to it"
  rm "${HOME}/.kube/config"
  run_task k8s:dev:up
  assert_ok "once the file is moved aside, up completes"
  assert_eq 1 "$(calls k3d 'c["argv"][:2] == ["cluster", "create"]' | wc -l)" "the fixed up creates the cluster once"

  mkdir -p "${SANDBOX}/kubedir"
  KUBECONFIG="${SANDBOX}/kubedir" run_task k8s:dev:up
  assert_eq 1 "${RC}" "KUBECONFIG is a directory: up exits 1"
  assert_contains "${ERR}" "kubeconfig ${SANDBOX}/kubedir is a directory; fix: point KUBECONFIG or the flag at a file inside it" \
    "KUBECONFIG is a directory: named with the fix"
  assert_eq "" "$(ls -A "${SANDBOX}/kubedir")" "KUBECONFIG is a directory: nothing written into it"
}

# A unix socket owned by uid 65534 that forwards to the Docker engine, so `nobody` can drive
# the engine without changing the shared engine's permissions. Exits by itself after 600 s.
nobody_engine_socket() { # path, upstream socket path
  python3 - "$@" <<'PY' &
import os, socket, sys, threading, time
path, upstream = sys.argv[1:]
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
os.chown(path, 65534, 65534)
os.chmod(path, 0o600)
srv.listen(16)
srv.settimeout(1)

def pump(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass

deadline = time.time() + 600
while time.time() < deadline:
    try:
        c, _ = srv.accept()
    except OSError:
        continue
    u = socket.socket(socket.AF_UNIX)
    u.connect(upstream)
    threading.Thread(target=pump, args=(c, u), daemon=True).start()
    threading.Thread(target=pump, args=(u, c), daemon=True).start()
PY
  echo $! >"${SANDBOX}/nobody-engine.pid"
  local i
  for ((i = 0; i < 50; i++)); do [[ -S "$1" ]] && return 0; sleep 0.1; done
  return 1
}

as_nobody() { # command...
  setpriv --reuid 65534 --regid 65534 --clear-groups -- "$@"
}

test_read_only_kube() {
  if [[ "$(id -u)" != 0 ]] || ! command -v setpriv >/dev/null; then
    skip "read-only ~/.kube: needs root and setpriv to run the task as uid 65534"
    return 0
  fi
  export RUSTUP_HOME="${RUSTUP_HOME:-${REAL_HOME}/.rustup}" CARGO_HOME="${CARGO_HOME:-${REAL_HOME}/.cargo}"
  sandbox_setup
  use_docker "read-only ~/.kube" || return 0
  seed_kubeconfig $'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\ncurrent-context: ""\n'
  share_helper
  chown -R 65534:65534 "${SANDBOX}"
  chmod 500 "${HOME}/.kube"
  chmod 755 "${SANDBOX}"
  local engine="${DOCKER_HOST}"
  nobody_engine_socket "${SANDBOX}/docker.sock" "${engine#unix://}" || { fail "read-only ~/.kube: no forwarding socket"; return 0; }
  export DOCKER_HOST="unix://${SANDBOX}/docker.sock"
  local before
  before="$(cd "${HOME}/.kube" && stat -c '%a %U' . && ls -lA --time-style=+ && cat config)"
  RC=0
  (cd "${ROOT}" && as_nobody mise run -q k8s:dev:up) >"${SANDBOX}/out" 2>"${SANDBOX}/err" || RC=$?
  ERR="$(cat "${SANDBOX}/err")"
  assert_eq 1 "${RC}" "read-only ~/.kube: up exits 1"
  assert_contains "${ERR}" "directory ${HOME}/.kube is not writable (" "read-only ~/.kube: the directory is named"
  assert_contains "${ERR}" "fix: make it writable or choose another kubeconfig file" "read-only ~/.kube: the fix is named"
  assert_eq "" "$(calls k3d 'c["argv"][1] in ("create", "start")')" "read-only ~/.kube: found before anything is created"
  assert_eq "${before}" "$(cd "${HOME}/.kube" && stat -c '%a %U' . && ls -lA --time-style=+ && cat config)" "read-only ~/.kube: nothing in it changed"
  chmod 700 "${HOME}/.kube"
  RC=0
  (cd "${ROOT}" && as_nobody mise run -q k8s:dev:up) >"${SANDBOX}/out" 2>"${SANDBOX}/err" || RC=$?
  ERR="$(cat "${SANDBOX}/err")"
  assert_ok "once ~/.kube is writable, up completes as uid 65534"
  assert_eq "65534 600" "$(stat -c '%u %a' "${HOME}/.kube/config")" "the merged kubeconfig belongs to the user, 0600"
  # The sandbox cleanup removes the test network through the engine itself, not the forwarder.
  export DOCKER_HOST="${engine}"
}

test_injection() {
  sandbox_setup
  local before marker="${SANDBOX}/tmp/pwned"
  before="$(disk_state)"
  K8S_DEV_AGENTS="HOME[\$(touch ${marker})]" run_task k8s:dev:up
  assert_refused "K8S_DEV_AGENTS with a command substitution" "set K8S_DEV_AGENTS to a whole number from 0 to 9" "${before}"
  if [[ -e "${marker}" ]]; then fail "K8S_DEV_AGENTS ran code"; else pass "K8S_DEV_AGENTS ran no code"; fi
  K8S_DEV_AGENTS=two run_task k8s:dev:up
  assert_refused "K8S_DEV_AGENTS=two" "K8S_DEV_AGENTS: 'two' is not a whole number" "${before}"
  K8S_DEV_NETWORK=$'k3d\nvolumes:\n  - volume: /:/host' run_task k8s:dev:up
  assert_refused "a newline in K8S_DEV_NETWORK (YAML through k3d's env expansion)" "set K8S_DEV_NETWORK to" "${before}"
  K8S_DEV_NODEPORT=$'30051\n  - port: 0.0.0.0:2375:2375' run_task k8s:dev:up
  assert_refused "a newline in K8S_DEV_NODEPORT (a port past the bind address)" "set K8S_DEV_NODEPORT to" "${before}"
  K8S_DEV_REGISTRY_PULL='reg":5000' run_task k8s:dev:up
  assert_refused "a quote in the pull name (the mirror config)" "set K8S_DEV_REGISTRY_PULL to" "${before}"
  K8S_DEV_CLUSTER=--help run_task k8s:dev:down
  assert_refused "a cluster name that is an option" "starts with '-'" "${before}"
  K8S_DEV_CRDS=--kubeconfig=/tmp/x run_task k8s:dev:bootstrap
  assert_refused "a CRD path that is an option" "set K8S_DEV_CRDS to" "${before}"
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(names ports docker_host no_engine missing_tools bad_kubeconfig read_only_kube injection)
  run_tests "$@"
}

main "$@"
