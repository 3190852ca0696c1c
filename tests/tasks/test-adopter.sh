#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# The adopter test: the README's "Adopting in OpenShell" section, run line by line in a throwaway
# repository of OpenShell's shape (tests/adopter/fixture.sh: an existing [vars], [task_config]
# and [env] with RUSTC_WRAPPER=sccache and a repo-local KUBECONFIG, its own tool pins, a
# .dockerignore, the staging layout, a RUN-step Dockerfile, its own gateway runner and
# chart-directory Skaffold config), through real mise with the recording fakes of
# k3d/helm/skaffold and CI's engines and registry. The test reads the section's code blocks from
# README.md and fails on a line it does not run, so the README says only what was run here:
#
#   block 1  the kit vendored with git subtree (this checkout's HEAD: commit what you test)
#   block 2  merged into the tables mise.toml already has (the naive form is a TOML error)
#   block 3  up, bootstrap (Agent Sandbox-shaped CRDs from a URL, its controller waited for),
#            sync (staging layout, engine-built prefix, the RUSTC_WRAPPER rule with sccache
#            missing and present), gateway (the repository's own runner through mise, under
#            the repository's KUBECONFIG), watch (the kit's skaffold.yaml from the repository
#            root, then the repository's own from its chart directory), down
#
# Offline stand-ins come from the environment, which the README's get_env lines let win: the
# manifest URL from a local HTTP server, the supervisor's base from the registry. Last, the
# per-worktree cluster name a developer on the fixture's branch gets.
#
# Environment: K8S_DEV_TEST_DOCKER_HOST (missing: skip), K8S_DEV_TEST_NO_SKIP=1 (a skip fails).
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0") [test...]"
}

# mise itself (not a task) in TASK_DIR; stdout, stderr and the exit code in OUT, ERR and RC.
run_mise() {
  RC=0
  (cd "${TASK_DIR}" && mise "$@") >"${SANDBOX}/out" 2>"${SANDBOX}/err" || RC=$?
  OUT="$(cat "${SANDBOX}/out")"
  ERR="$(cat "${SANDBOX}/err")"
}

# Code block N (1-based) of the README's "Adopting in OpenShell" section.
readme_block() { # n
  python3 - "${ROOT}/README.md" "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
section = text.split("\n## Adopting in OpenShell\n", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```[a-z]*\n(.*?)```", section, re.S)
print(blocks[int(sys.argv[2]) - 1], end="")
PY
}

# The fixture with the kit vendored and adopted as the README's blocks 1 and 2 say.
adopter_repo() {
  REPO="${SANDBOX}/openshell"
  "${ROOT}/tests/adopter/fixture.sh" "${REPO}"
  local vendor
  vendor="$(readme_block 1)"
  [[ "${vendor}" == "git subtree add --prefix tools/k8s-dev <kit repository> <ref> --squash" ]] \
    || { fail "README block 1 is not the one vendoring line this test runs: ${vendor}"; return 1; }
  # This checkout's HEAD commit: uncommitted changes of this worktree are not in it.
  git -C "${REPO}" -c user.name=k8s-dev -c user.email=k8s-dev@localhost \
    subtree add -q --prefix tools/k8s-dev "${ROOT}" HEAD --squash >/dev/null 2>&1 \
    || { fail "git subtree add of the kit"; return 1; }
  # Block 2 into the existing tables: a key the table has is replaced, any other is added.
  readme_block 2 >"${SANDBOX}/adopt.toml"
  python3 - "${REPO}/mise.toml" "${SANDBOX}/adopt.toml" <<'PY' || { fail "README block 2 does not merge: $(cat "${SANDBOX}/merge.err")"; return 1; }
import re, sys
path, block = sys.argv[1], open(sys.argv[2]).read()
lines = open(path).read().splitlines()
table = None
for line in block.splitlines():
    if not line.strip():
        continue
    header = re.fullmatch(r"\[(.+)\]", line.strip())
    if header:
        table = header.group(0)
        if table not in lines:
            sys.exit("README table %s is not in the fixture's mise.toml" % table)
        continue
    key = line.split("=", 1)[0].strip()
    start = lines.index(table)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    existing = [i for i in range(start + 1, end) if lines[i].split("=", 1)[0].strip() == key]
    if existing:
        lines[existing[0]] = line
    else:
        lines.insert(start + 1, line)
open(path, "w").write("\n".join(lines) + "\n")
PY
  git -C "${REPO}" -c user.name=k8s-dev -c user.email=k8s-dev@localhost commit -qam "Adopt k8s-dev"
  export MISE_TRUSTED_CONFIG_PATHS="${ROOT}:${REPO}"
  TASK_DIR="${REPO}"
}

# A README line, run as written in the repository: stdout, stderr and the exit code in OUT,
# ERR and RC.
run_line() { # line
  RC=0
  (cd "${REPO}" && bash -c "$1") >"${SANDBOX}/out" 2>"${SANDBOX}/err" || RC=$?
  OUT="$(cat "${SANDBOX}/out")"
  ERR="$(cat "${SANDBOX}/err")"
}

# A README line that runs until interrupted: started as its own process group, output to LOG,
# until a line matches REGEX; the group's PID in LINE_PID.
start_line() { # line, log, regex
  start_background line "${REPO}" "$2" bash -c "$1"
  LINE_PID="${BG_PID}"
  await_output "$2" "$3" "${LINE_PID}" 600 || true
}

# Ctrl-C to the line's process group; its exit code in RC.
stop_line() {
  local i
  kill -INT -- "-${LINE_PID}" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "${LINE_PID}" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-${LINE_PID}" 2>/dev/null || true
  RC=0
  wait "${LINE_PID}" 2>/dev/null || RC=$?
}

# A stand-in for the sccache an OpenShell developer installs through mise (offline, mise installs
# nothing): it records the crate it compiles and runs the compiler it is given.
fake_sccache_on_path() {
  mkdir -p "${SANDBOX}/bin"
  cat >"${SANDBOX}/bin/sccache" <<'SH'
#!/bin/sh
for a in "$@"; do case "${prev}" in --crate-name) echo "$a" >>"${K8S_DEV_FAKE_STATE}/sccache.crates" ;; esac; prev="$a"; done
exec "$@"
SH
  chmod +x "${SANDBOX}/bin/sccache"
  export PATH="${SANDBOX}/bin:${PATH}"
}

# An HTTP server on a free loopback port serving DIR; prints its port.
serve_dir() { # dir
  local port
  port="$(free_port)"
  (cd "$1" && exec python3 -m http.server "${port}" --bind 127.0.0.1) >"${SANDBOX}/http.log" 2>&1 &
  echo $! >"${SANDBOX}/http.pid"
  for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:${port}/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "${port}"
}

# BuildKit's TARGETARCH for this host.
host_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) uname -m ;;
  esac
}

publish_field() { # image name, python expression over the publish report `r`
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
    "${K8S_DEV_STATE_DIR}/publish-$1.json" "$2"
}

test_mise_config_merges_into_existing_tables() {
  sandbox_setup
  adopter_repo || return 0
  run_mise tasks ls
  assert_ok "mise loads the adopted mise.toml"
  local task
  for task in k8s:dev:up k8s:dev:bootstrap k8s:dev:sync k8s:dev:gateway k8s:dev:watch gateway; do
    assert_contains "${OUT}" "${task} " "task ${task} is listed"
  done
  assert_not_contains "${OUT}" "k8s:dev:bench" "the kit-internal bench task is not an adopter's task"
  run_mise run -n k8s:dev:status
  assert_contains "${ERR}" "tools/k8s-dev/tasks/scripts/k8s-dev.sh status" "tasks find their scripts through vars.k8s_dev_dir"
  run_mise env --shell bash
  assert_contains "${OUT}" "K8S_DEV_GATEWAY_LINKAGE=dynamic" "the README's [env] lines reach the tasks' environment"

  # Two top-level lines instead, next to the existing tables, are a duplicate-key error.
  local naive="${SANDBOX}/naive"
  mkdir -p "${naive}"
  "${ROOT}/tests/adopter/fixture.sh" "${naive}/repo"
  { printf 'vars = { k8s_dev_dir = "tools/k8s-dev" }\n'
    printf 'task_config.includes = ["tasks/*.toml", "tools/k8s-dev/tasks/k8s-dev.toml"]\n'
    cat "${naive}/repo/mise.toml"; } >"${naive}/mise.toml"
  mv "${naive}/mise.toml" "${naive}/repo/mise.toml"
  MISE_TRUSTED_CONFIG_PATHS="${naive}/repo" TASK_DIR="${naive}/repo" run_mise tasks ls
  assert_contains "${ERR}" "duplicate key" "separate vars/task_config lines next to the existing tables do not parse"
}

check_up() {
  local kc="${REPO}/kubeconfig"
  assert_ok "up in the adopter's tree"
  assert_contains "$(kubectl --kubeconfig "${kc}" config get-contexts -o name 2>&1)" "k3d-${K8S_DEV_CLUSTER}" \
    "up merges into the repository's KUBECONFIG (one file, set by its mise.toml)"
  assert_eq "k3d-${K8S_DEV_CLUSTER}" "$(kubectl --kubeconfig "${kc}" config current-context)" "and makes the cluster current there"
  assert_mode "${kc}" 600 "the repository's kubeconfig is private"
  # The fake k3d's client certificate is no real key, which the gateway's TLS stack (unlike
  # kubectl against the plain-HTTP fake API) refuses to load: a token stands in for it.
  local user="admin@k3d-${K8S_DEV_CLUSTER}"
  kubectl --kubeconfig "${kc}" config unset "users.${user}.client-certificate-data" >/dev/null
  kubectl --kubeconfig "${kc}" config unset "users.${user}.client-key-data" >/dev/null
  kubectl --kubeconfig "${kc}" config set-credentials "${user}" --token=fake >/dev/null
}

check_bootstrap() { # line
  local kc="${REPO}/kubeconfig" api upgrade
  api="$(kubectl --kubeconfig "${kc}" config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
  # The controller rolls out once bootstrap says it waits for it (the fake API holds it until then).
  start_line "$1" "${SANDBOX}/bootstrap.log" "waiting up to .* for rollout of deployment/agent-sandbox-controller"
  curl -fsS -X POST "${api}/_fake/hold?path=/apis/apps/v1/namespaces/agent-sandbox-system/deployments/agent-sandbox-controller&hold=false" >/dev/null
  RC=0
  wait "${LINE_PID}" || RC=$?
  ERR="$(cat "${SANDBOX}/bootstrap.log")"
  assert_ok "bootstrap in the adopter's tree: CRDs from a URL, sync, the repository's chart"
  assert_eq True "$(kubectl --kubeconfig "${kc}" get crd sandboxes.agents.x-k8s.io \
    -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" "the Agent Sandbox CRD from the URL is Established"
  assert_contains "${ERR}" "rollout of deployment/agent-sandbox-controller in agent-sandbox-system" \
    "bootstrap waited for the manifest's controller to roll out"
  upgrade="$(calls helm 'c["argv"][0] == "upgrade"' | tail -n1)"
  assert_contains "${upgrade}" "upgrade --install openshell deploy/helm/openshell" "bootstrap installs the repository's own chart"
  assert_contains "${upgrade}" "--values ${REPO}/tools/k8s-dev/deploy/values/dev.yaml --values ${REPO}/target/k8s-dev/values.yaml" \
    "with the kit's dev values and the values of the settings, nothing added to the chart directory"
  assert_eq "1" "$(kubectl --kubeconfig "${kc}" get statefulset openshell -n openshell -o jsonpath='{.status.updatedReplicas}')" \
    "bootstrap waited for statefulset/openshell"
  assert_eq "" "$(git -C "${REPO}" status --porcelain -- deploy tools)" \
    "the repository's deploy/ and the vendored kit are untouched (staged binaries are gitignored)"
  # From now on the controller runs: the manifest a later apply reads holds it no more.
  sed -i '/fake-kube-api\/hold/d' "${SANDBOX}/www/manifest.yaml"
}

check_sync() { # line
  local staged bin
  staged="${REPO}/deploy/docker/.build/prebuilt-binaries/$(host_arch)"
  # No sccache on PATH (mise offline installs nothing): the repository's RUSTC_WRAPPER=sccache
  # is dropped, saying so once.
  run_line "$1"
  assert_ok "sync in the adopter's tree without sccache"
  assert_eq 1 "$(grep -c 'RUSTC_WRAPPER=sccache is not installed; building without it' <<<"${ERR}")" \
    "sync says once that it builds without the repository's missing RUSTC_WRAPPER"
  for bin in openshell-gateway openshell-sandbox; do
    if [[ -x "${staged}/${bin}" ]]; then pass "${bin} is staged in deploy/docker/.build/prebuilt-binaries/$(host_arch)/"; else fail "no ${staged}/${bin}"; fi
  done
  if file "${staged}/openshell-gateway" | grep -q 'dynamically linked'; then
    pass "the gateway links glibc dynamically (K8S_DEV_GATEWAY_LINKAGE=dynamic): no +crt-static forced"
  else
    fail "the gateway is not dynamically linked: $(file "${staged}/openshell-gateway")"
  fi
  if file "${staged}/openshell-sandbox" | grep -Eq 'statically linked|static-pie linked'; then
    pass "the supervisor stays static"
  else
    fail "the supervisor is not static: $(file "${staged}/openshell-sandbox")"
  fi
  assert_eq "False True" "$(publish_field openshell-supervisor 'r["prefix"]["built"], r["unchanged"]' | tr -d '(),')" \
    "the supervisor's RUN prefix built by bootstrap's sync is reused from the registry, nothing pushed"
  assert_eq "" "$(git -C "${REPO}" status --porcelain -- deploy)" "the staging directory stays out of git"

  # With sccache installed, the wrapper is used and nothing is said.
  fake_sccache_on_path
  sed -i 's/seconds until SIGTERM or SIGINT/seconds until SIGTERM or SIGINT (edited)/' "${REPO}/crates/openshell-sandbox/src/main.rs"
  run_line "$1"
  assert_ok "sync in the adopter's tree with sccache"
  assert_not_contains "${ERR}" "RUSTC_WRAPPER" "a wrapper that runs is used without a word"
  assert_contains "$(cat "${K8S_DEV_FAKE_STATE}/sccache.crates" 2>/dev/null)" "openshell_sandbox" "the changed crate compiled through it"
  assert_eq "True False" "$(publish_field openshell-supervisor 'r["bytes_uploaded"] > 0, r["prefix"]["built"]' | tr -d '(),')" \
    "the changed supervisor goes on top of the cached prefix, no engine build"
  git -C "${REPO}" checkout -q -- crates
}

check_gateway() { # line
  local log="${SANDBOX}/gateway.log" port body="" listening
  port="$(free_port)"
  K8S_DEV_GATEWAY_PORT="${port}" start_line "$1" "${log}" "^Gateway: "
  listening="$(grep '^Gateway: ' "${log}" || true)"
  assert_eq "Gateway: http://127.0.0.1:${port} (listening)" "${listening}" \
    "k8s:dev:gateway starts the repository's runner through mise and prints where it listens"
  for _ in $(seq 1 20); do
    body="$(curl -sS "http://127.0.0.1:${port}/readyz" 2>&1 || true)"
    [[ "${body}" == *'"ready"'* ]] && break
    sleep 0.5
  done
  assert_eq '{"status":"ready"}' "${body}" "the out-of-cluster gateway lists sandbox pods in the kit's cluster"
  assert_contains "$(cat "${log}")" "namespace: openshell" "the runner got the sandbox namespace"
  stop_line
  if [[ "${RC}" == 0 || "${RC}" == 130 ]]; then pass "Ctrl-C ends the gateway (exit ${RC})"; else fail "gateway: exit ${RC}: $(cat "${log}")"; fi
}

check_watch() { # line
  local log="${SANDBOX}/watch.log" upgrade cwd
  start_line "$1" "${log}" "Watching for changes"
  assert_contains "$(cat "${log}")" "Watching for changes" "watch: Skaffold built, pushed and deployed in the adopter's tree"
  cwd="$(python3 -c 'import json,sys
for line in open(sys.argv[1]):
    c = json.loads(line)
    if c["tool"] == "skaffold": print(c["cwd"], c["argv"][2])' "${K8S_DEV_FAKE_STATE}/calls.jsonl" | tail -n1)"
  assert_eq "${REPO} ${REPO}/tools/k8s-dev/skaffold.yaml" "${cwd}" "watch runs the kit's skaffold.yaml from the repository root"
  upgrade="$(calls helm '("install" in c["argv"] or "upgrade" in c["argv"]) and "--kube-context" in c["argv"]' | tail -n1)"
  # As the real Skaffold: `install` of a new release, `upgrade` of one (bootstrap made it).
  assert_contains "${upgrade}" "openshell ${REPO}/deploy/helm/openshell --namespace openshell" "the repository's chart"
  assert_contains "${upgrade}" "-f ${REPO}/tools/k8s-dev/deploy/values/dev.yaml -f ${REPO}/target/k8s-dev/values.yaml " \
    "with the kit's values"
  assert_contains "${upgrade}" "--set image.repository=$(setting K8S_DEV_REGISTRY_PULL)/openshell-gateway" "pods pull by the registry's in-cluster name"
  stop_line
  assert_contains "$(cat "${log}")" "Cleaning up..." "watch: Ctrl-C cleans up"
}

check_own_skaffold() { # line
  local log="${SANDBOX}/own-watch.log" chart="${REPO}/deploy/helm/openshell" upgrade
  start_line "$1" "${log}" "Watching for changes"
  assert_contains "$(cat "${log}")" "Watching for changes" "watch with the repository's own Skaffold config"
  assert_contains "$(cat "${K8S_DEV_FAKE_STATE}/docker-build-image.calls" 2>/dev/null)" \
    "gateway localhost:${K8S_DEV_REGISTRY_PORT}/openshell_gateway:fake-1 ${REPO}" \
    "its own build script ran in its context (../../.. of the chart directory)"
  upgrade="$(calls helm '("install" in c["argv"] or "upgrade" in c["argv"]) and "--kube-context" in c["argv"]' | tail -n1)"
  assert_contains "${upgrade}" "openshell ${chart} --namespace openshell" "its chart resolved from the chart directory, K8S_DEV_SKAFFOLD_DIR"
  assert_contains "${upgrade}" "-f ${chart}/values.yaml -f ${chart}/ci/values-skaffold.yaml " "and its values files"
  stop_line
}

test_readme_adoption_runs_in_an_openshell_shaped_tree() {
  if [[ -z "${K8S_DEV_TEST_DOCKER_HOST:-}" || -z "${K8S_DEV_TEST_REGISTRY:-}" ]]; then
    skip "adopter loop: not set: K8S_DEV_TEST_DOCKER_HOST and K8S_DEV_TEST_REGISTRY"
    return 0
  fi
  sandbox_setup
  adopter_repo || return 0
  export DOCKER_HOST="${K8S_DEV_TEST_DOCKER_HOST}"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
  # The state directory stays in the repository (target/k8s-dev), its default, while cargo
  # builds into the shared target directory.
  export K8S_DEV_STATE_DIR="${REPO}/target/k8s-dev"
  local base line www="${SANDBOX}/www" port
  base="$(busybox_base "${K8S_DEV_TEST_REGISTRY}")" || { fail "publishing the busybox base"; return 0; }
  # Offline: the supervisor's base from the registry (its Dockerfile takes it from an ARG), and
  # the Agent Sandbox manifest from a local server instead of GitHub.
  export K8S_DEV_SUPERVISOR_BUILD_ARGS="SUPERVISOR_BASE_IMAGE=${base}"
  mkdir -p "${www}"
  cp "${ROOT}/tests/data/agent-sandbox-manifest.yaml" "${www}/manifest.yaml"
  port="$(serve_dir "${www}")"
  export K8S_DEV_CRDS="http://127.0.0.1:${port}/manifest.yaml"
  while IFS= read -r line; do
    [[ -n "${line}" ]] || continue
    echo "--- ${line}"
    case "${line}" in
      "mise run k8s:dev:up") run_line "${line}" && check_up ;;
      "mise run k8s:dev:bootstrap") check_bootstrap "${line}" ;;
      "mise run k8s:dev:sync") check_sync "${line}" ;;
      "mise run k8s:dev:gateway") check_gateway "${line}" ;;
      "mise run k8s:dev:watch") check_watch "${line}" ;;
      "K8S_DEV_SKAFFOLD_FILE=deploy/helm/openshell/skaffold.yaml K8S_DEV_SKAFFOLD_DIR=deploy/helm/openshell mise run k8s:dev:watch")
        check_own_skaffold "${line}"
        ;;
      "mise run k8s:dev:down")
        run_line "${line}"
        assert_ok "down in the adopter's tree"
        ;;
      *) fail "README line not run by this test: ${line}" ;;
    esac
  done < <(readme_block 3)

  # A worktree user's cluster is named from the branch as OpenShell's helm:k3s tasks name it.
  assert_eq "openshell-dev-k8s-dev-trial" "$(cd "${REPO}" && env -u K8S_DEV_CLUSTER K8S_DEV_CLUSTER_PER_WORKTREE=1 \
    "${K8S_DEV_HELPER}" settings --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["K8S_DEV_CLUSTER"]["value"])')" \
    "per worktree, branch feature/adopt/K8s-Dev_Trial gets cluster openshell-dev-k8s-dev-trial"
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(mise_config_merges_into_existing_tables readme_adoption_runs_in_an_openshell_shaped_tree)
  run_tests "$@"
}

main "$@"
