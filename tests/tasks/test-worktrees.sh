#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Tests of per-worktree clusters (K8S_DEV_CLUSTER_PER_WORKTREE=1): two git worktrees of a
# throwaway repository, each with the repo-local KUBECONFIG OpenShell sets, bring up their own
# clusters side by side (fake k3d, real helper, real Docker engine): named from their branches as
# OpenShell's helm-k3s-local.sh names them, on host ports derived from those names, sharing one
# registry, each merged into its own kubeconfig file. A branch whose name is too long for k3d
# stops up with OpenShell's fix. Prints PASS/FAIL/SKIP lines.
#
# Environment: K8S_DEV_TEST_DOCKER_HOST (a missing one skips), K8S_DEV_TEST_NO_SKIP=1.
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0") [test-name...]   (default: all; see main for names)"
}

git_quiet() { # dir, git args...
  local dir="$1"
  shift
  GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t \
    GIT_COMMITTER_EMAIL=t@example.invalid git -C "${dir}" "$@" >/dev/null 2>&1
}

# A repository with two worktrees on the given branches: SANDBOX/one and SANDBOX/two.
two_worktrees() { # branch one, branch two
  mkdir -p "${SANDBOX}/one"
  git_quiet "${SANDBOX}/one" init -b "$1" && git_quiet "${SANDBOX}/one" commit --allow-empty -m init \
    && git_quiet "${SANDBOX}/one" worktree add -b "$2" "${SANDBOX}/two"
}

# The kit's up/down/status from a worktree, as its tasks run them (the kit vendored elsewhere),
# with the worktree's own KUBECONFIG.
in_worktree() { # dir, verb, args...
  local dir="$1"
  shift
  RC=0
  (cd "${dir}" && KUBECONFIG="${dir}/kubeconfig" bash "${ROOT}/tasks/scripts/k8s-dev.sh" "$@") \
    >"${SANDBOX}/out" 2>"${SANDBOX}/err" || RC=$?
  OUT="$(cat "${SANDBOX}/out")"
  ERR="$(cat "${SANDBOX}/err")"
}

worktree_setting() { # dir, name
  (cd "$1" && KUBECONFIG="$1/kubeconfig" "${K8S_DEV_HELPER}" settings --json) \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]]["value"] or "")' "$2"
}

test_two_worktrees_two_clusters() {
  sandbox_setup
  use_docker "two worktrees" || return 0
  # The per-worktree names and ports come from the branches: no fixed name or port of the sandbox.
  unset K8S_DEV_CLUSTER K8S_DEV_API_PORT K8S_DEV_LB_PORT
  export K8S_DEV_CLUSTER_PER_WORKTREE=1
  local one="feature/Left_$$" two="fix/right-$$"
  two_worktrees "${one}" "${two}" || { fail "two worktrees: git worktree add"; return 0; }
  local name1="openshell-dev-left-$$" name2="openshell-dev-right-$$"
  assert_eq "${name1} ${name2}" "$(worktree_setting "${SANDBOX}/one" K8S_DEV_CLUSTER) $(worktree_setting "${SANDBOX}/two" K8S_DEV_CLUSTER)" \
    "each worktree's cluster is named from its branch as OpenShell names it"
  local api1 api2 lb1 lb2
  api1="$(worktree_setting "${SANDBOX}/one" K8S_DEV_API_PORT)" api2="$(worktree_setting "${SANDBOX}/two" K8S_DEV_API_PORT)"
  lb1="$(worktree_setting "${SANDBOX}/one" K8S_DEV_LB_PORT)" lb2="$(worktree_setting "${SANDBOX}/two" K8S_DEV_LB_PORT)"
  if [[ "${api1}" != "${api2}" && "${lb1}" != "${lb2}" ]] && ((api1 >= 16550 && api1 <= 17549 && lb2 >= 18100 && lb2 <= 19099)); then
    pass "the two clusters get their own API and gateway ports, from the per-worktree ranges (${api1}/${lb1}, ${api2}/${lb2})"
  else
    fail "per-worktree ports: ${api1}/${lb1} and ${api2}/${lb2}"
  fi

  in_worktree "${SANDBOX}/one" up
  assert_ok "worktree one: up"
  in_worktree "${SANDBOX}/two" up
  assert_ok "worktree two: up, beside the first"
  assert_contains "${OUT}" "(was running)" "worktree two: the registry is the one the first up made"
  assert_eq 1 "$(calls k3d 'c["argv"][:2] == ["registry", "create"]' | wc -l)" "one registry serves both worktrees"
  assert_eq "${name1}:${api1}:${lb1}:30051 ${name2}:${api2}:${lb2}:30051" \
    "$(for n in "${name1}" "${name2}"; do python3 -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1])); print("%s:%s:%s" % (d["metadata"]["name"], d["kubeAPI"]["hostPort"], d["ports"][0]["port"].split(":", 1)[1].split("@")[0]))' "${K8S_DEV_FAKE_STATE}/configs/${n}.yaml"; done | paste -sd' ' -)" \
    "k3d created each cluster on its own ports"
  assert_eq "k3d-${name1}|k3d-${name2}" "$(kubeconfig_contexts "${SANDBOX}/one/kubeconfig")|$(kubeconfig_contexts "${SANDBOX}/two/kubeconfig")" \
    "each worktree's KUBECONFIG (one file, repo-local) holds its own cluster"
  assert_mode "${SANDBOX}/one/kubeconfig" 600 "the repo-local kubeconfig is 0600"
  if [[ ! -e "${HOME}/.kube/config" ]]; then pass "the default ${HOME}/.kube/config is left alone"; else fail "${HOME}/.kube/config was written"; fi
  in_worktree "${SANDBOX}/one" status --json
  assert_eq "${name1} running ${SANDBOX}/one/kubeconfig" \
    "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["cluster"]["name"], d["cluster"]["state"], d["kubeconfig"]["default_file"])' "${OUT}")" \
    "worktree one: status reports its own cluster and kubeconfig"

  in_worktree "${SANDBOX}/one" down
  assert_ok "worktree one: down"
  assert_eq "cluster delete ${name1}" "$(calls k3d 'c["argv"][:2] == ["cluster", "delete"]')" "down deletes only its worktree's cluster"
  in_worktree "${SANDBOX}/two" status --json
  assert_eq "running" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["cluster"]["state"])' "${OUT}")" \
    "the other worktree's cluster still runs"
  in_worktree "${SANDBOX}/two" down --registry
  assert_ok "worktree two: down --registry"
}

test_branch_too_long_for_k3d() {
  sandbox_setup
  unset K8S_DEV_CLUSTER
  export K8S_DEV_CLUSTER_PER_WORKTREE=1
  two_worktrees "feature/a-very-long-branch-name-for-testing" "short" || { fail "long branch: git"; return 0; }
  in_worktree "${SANDBOX}/one" up
  assert_eq 1 "${RC}" "long branch: up exits 1"
  assert_eq "error: K8S_DEV_CLUSTER: cluster name 'openshell-dev-a-very-long-branch-name-for-testing' derived from branch 'feature/a-very-long-branch-name-for-testing' (K8S_DEV_CLUSTER_PER_WORKTREE=1) has 49 characters, k3d allows at most 32; set K8S_DEV_CLUSTER=openshell-dev-a-very-long-branch to name this worktree's cluster (or use a shorter branch name)" \
    "$(grep '^error:' <<<"${ERR}")" "long branch: one line with OpenShell's truncation as the fix"
  assert_eq "" "$(calls k3d)" "long branch: no k3d call at all"
  K8S_DEV_CLUSTER=openshell-dev-a-very-long-branch in_worktree "${SANDBOX}/one" status --json
  assert_eq "openshell-dev-a-very-long-branch" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["cluster"]["name"])' "${OUT}")" \
    "long branch: the suggested K8S_DEV_CLUSTER is taken"
  K8S_DEV_PROVIDER=kind in_worktree "${SANDBOX}/one" status --json
  assert_eq "openshell-dev-a-very-long-branch-name-for-testing" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["cluster"]["name"])' "${OUT}")" \
    "long branch: kind takes the 49-character name"
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(branch_too_long_for_k3d two_worktrees_two_clusters)
  run_tests "$@"
}

main "$@"
