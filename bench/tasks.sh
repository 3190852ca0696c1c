#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Measure the fixed costs around the loop: a no-op `mise run k8s:dev:up` against a cluster that
# is already up (and the script alone, one traced run split by command, and the helper processes
# it starts, counted by a wrapper that logs each exec; on the fakes, and with the real k3d on
# Podman when the control plane of tests/support/cluster.sh is up), `k8s-dev-helper engine`, a kubeconfig merge into 200 contexts (helper/examples/bench_engine.rs and
# bench_merge.rs, debug build, and the release build the tasks run when built) and the overhead of
# `mise run` for an empty task. Prints figures on stderr; asserts nothing.
#
# `up` runs exactly as in the task tests (tests/tasks/testing.sh): a sandbox HOME, the
# recording fakes of k3d/helm/skaffold first on PATH, a fake Kubernetes API, the real helper,
# kubectl, mise and engine. The fake k3d is Python, so each k3d call costs its interpreter
# start and imports (~40 ms); the real k3d's figure is measured beside it.
#
# Needs: mise, kubectl, python3, docker-registry (the fakes), the test virtualenv
# (tests/support/python-env.sh), engines from `eval "$(tests/support/engines.sh up)"`.
#
# Environment:
#   K8S_DEV_TEST_DOCKER_HOST  dockerd socket (no-op up and engine on Docker; skipped without)
#   K8S_DEV_TEST_PODMAN_HOST  Podman API socket (no-op up and engine on Podman; skipped without)
#   K8S_DEV_TEST_KUBECONFIG   the control plane's kubeconfig (no-op up with the real k3d)
#   K8S_DEV_BENCH_RUNS        measured runs of up and mise (default: 5), after one unmeasured run
#   K8S_DEV_BENCH_OUT         JSON-lines file the figures are appended to (see bench/lib.sh)
#   K8S_DEV_BENCH_RELEASE_HELPER  when set, the release build's examples are measured too
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/../tests/tasks/testing.sh
source "${BENCH_ROOT}/tests/tasks/testing.sh"
# shellcheck source=SCRIPTDIR/../tests/support/real-k3d.sh
source "${BENCH_ROOT}/tests/support/real-k3d.sh"

RUNS="${K8S_DEV_BENCH_RUNS:-5}"
ENGINE_RUNS=30
BUILD_DIR="${CARGO_TARGET_DIR:-${BENCH_ROOT}/target}"

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Times a no-op k8s:dev:up (fakes, real engine), k8s-dev-helper engine, a 200-context
kubeconfig merge and mise run of an empty task.

Environment:
  K8S_DEV_TEST_DOCKER_HOST  dockerd socket (no-op up and engine on Docker; skipped without)
  K8S_DEV_TEST_PODMAN_HOST  Podman API socket (no-op up and engine on Podman; skipped without)
  K8S_DEV_TEST_KUBECONFIG   the control plane's kubeconfig (no-op up with the real k3d)
  K8S_DEV_BENCH_RUNS        measured runs of up and mise (default: 5)
  K8S_DEV_BENCH_OUT         JSON-lines file the figures are appended to
  K8S_DEV_BENCH_RELEASE_HELPER  when set, the release build's examples are measured too
USAGE
}

elapsed_ms() { # command... : its wall time in ms; its output is discarded, a failure is fatal
  local start
  start=$(now_ms)
  "$@" >/dev/null 2>"${SANDBOX}/last.err" || { cat "${SANDBOX}/last.err" >&2; bench_die "$* failed"; }
  echo $(($(now_ms) - start))
}

mise_up() { (cd "${BENCH_ROOT}" && mise run -q k8s:dev:up); }

# Helper processes one no-op `mise run k8s:dev:up` starts: K8S_DEV_HELPER points at a wrapper
# that logs each exec of the helper before it execs the helper itself. Counted in runs of their
# own, so the wrapper's cost never enters the timings.
count_helpers() { # helper -> number of helper processes of one no-op up
  local log="${SANDBOX}/helper-execs.log" wrapper="${SANDBOX}/k8s-dev-helper-counting"
  logging_wrapper "${wrapper}" "${log}" "$1"
  : >"${log}"
  K8S_DEV_HELPER="${wrapper}" mise_up >/dev/null 2>"${SANDBOX}/last.err" \
    || { cat "${SANDBOX}/last.err" >&2; bench_die "counted no-op up failed"; }
  wc -l <"${log}" | tr -d ' '
}
script_up() { (cd "${BENCH_ROOT}" && tasks/scripts/k8s-dev.sh up); }

# Where one no-op up spends its time: a trace with timestamps, each line's time charged to the
# command it started, summed per helper subcommand, k3d, kubectl and the shell itself.
breakdown() { # engine
  local trace="${SANDBOX}/trace" top
  (cd "${BENCH_ROOT}" && bash -c 'PS4="+ \${EPOCHREALTIME} "; set -x; . tasks/scripts/k8s-dev.sh up' \
    >/dev/null 2>"${trace}") || bench_die "traced up failed: $(tail -n 5 "${trace}")"
  top="$(awk '
    $1 ~ /^\++$/ && $2 ~ /^[0-9]+\.[0-9]+$/ {
      if (key != "") spent[key] += ($2 - t) * 1000
      cmd = $3; sub(/.*\//, "", cmd)
      if (cmd == "k8s-dev-helper" || cmd == "k3d") key = cmd " " $4 " " $5
      else if (cmd == "kubectl" || cmd == "find" || cmd == "mktemp") key = cmd
      else key = "bash (builtins, sourcing)"
      t = $2
    }
    END { for (k in spent) { name = k; sub(/ +$/, "", name); printf "%d ms %s\n", spent[k], name } }' "${trace}" \
    | sort -rn | head -n 8 | paste -sd';' - | sed 's/;/; /g')"
  note "no-op up on $1, one traced run of k8s-dev.sh up, time per command: ${top}"
}

# The first up in the sandbox, one unmeasured no-op up, then RUNS no-op ups through mise and
# RUNS of the script alone, recorded as PREFIX.mise and PREFIX.script.
time_noop_up() { # prefix, label
  local run mise_ms=() script_ms=()
  run_task k8s:dev:up
  [[ "${RC}" == 0 ]] || bench_die "first up ($2) failed: ${ERR}"
  elapsed_ms mise_up >/dev/null
  for ((run = 1; run <= RUNS; run++)); do
    mise_ms+=("$(elapsed_ms mise_up)")
    script_ms+=("$(elapsed_ms script_up)")
  done
  record "$1.mise" ms "$2: mise run k8s:dev:up" "${mise_ms[@]}"
  record "$1.script" ms "$2: tasks/scripts/k8s-dev.sh up" "${script_ms[@]}"
}

# Run in a subshell: the sandbox changes HOME, PATH and TMPDIR, and its EXIT trap stops the
# fakes' registry and API.
bench_noop_up() { # engine
  local engine="$1" host
  host="$(engine_host "${engine}")"
  sandbox_setup
  export DOCKER_HOST="${host}"
  # As the task tests run it (build_helper): the workspace debug build, named up front.
  export K8S_DEV_HELPER="${HELPER}"
  time_noop_up "tasks.noop_up.${engine}" "no-op up on ${engine}"
  local run counts=()
  for ((run = 1; run <= 3; run++)); do counts+=("$(count_helpers "${HELPER}")"); done
  record "tasks.noop_up.${engine}.helper_processes" processes "no-op up on ${engine}: helper processes started" "${counts[@]}"
  note "no-op up on ${engine}, helper processes of one run: $(paste -sd';' "${SANDBOX}/helper-execs.log" | sed 's/;/; /g')"
  breakdown "${engine}"
}

# The same no-op up with the real k3d 5.9.0 on Podman instead of the fake: its cluster made by
# k3d from the stand-in images of tests/support/k3d-standins.sh, its API the real control plane
# (tests/support/real-k3d.sh, as test-real-k3d.sh uses it). What a user's no-op up costs, less
# the real k3s. Run in a subshell: the sandbox's EXIT trap deletes the cluster and registry.
bench_noop_up_real_k3d() {
  local what="no-op up, real k3d on Podman"
  if [[ -z "${K8S_DEV_TEST_PODMAN_HOST:-}" || -z "${K8S_DEV_TEST_KUBECONFIG:-}" ]]; then
    skipped "${what}" "needs K8S_DEV_TEST_PODMAN_HOST (tests/support/engines.sh up) and K8S_DEV_TEST_KUBECONFIG (tests/support/cluster.sh up)"
    return 0
  fi
  local said="${TMPDIR:-/tmp}/k8s-dev-bench-k3d.$$"
  if ! k3d_sandbox "${what}" >"${said}" 2>&1; then
    skipped "${what}" "$(grep -m1 -E '^(SKIP|FAIL):' "${said}" | sed 's/^[A-Z]*: //')"
    rm -f "${said}"
    return 0
  fi
  rm -f "${said}"
  export K8S_DEV_HELPER="${HELPER}"
  time_noop_up tasks.noop_up.real_k3d_podman "${what}"
  breakdown "podman with the real k3d"
}

# mise's own cost: an empty task in a copy of this project's mise config (its [env] templates
# and tool pins), and in an empty config for comparison.
bench_mise() {
  local project="${SANDBOX}/project" bare="${SANDBOX}/bare" run with=() without=()
  mkdir -p "${project}/tasks" "${bare}"
  cp "${BENCH_ROOT}/mise.toml" "${project}/"
  cp "${BENCH_ROOT}"/tasks/*.toml "${project}/tasks/"
  printf '[tasks."bench:empty"]\nrun = ":"\n' >"${project}/mise.local.toml"
  printf '[tasks."bench:empty"]\nrun = ":"\n' >"${bare}/mise.toml"
  export MISE_TRUSTED_CONFIG_PATHS="${project}:${bare}"
  (cd "${project}" && elapsed_ms mise run -q bench:empty >/dev/null)
  (cd "${bare}" && elapsed_ms mise run -q bench:empty >/dev/null)
  for ((run = 1; run <= RUNS * 2; run++)); do
    with+=("$(cd "${project}" && elapsed_ms mise run -q bench:empty)")
    without+=("$(cd "${bare}" && elapsed_ms mise run -q bench:empty)")
  done
  record tasks.mise_empty_task ms "mise run of an empty task, this project's config" "${with[@]}"
  record tasks.mise_empty_task_bare ms "mise run of an empty task, empty config" "${without[@]}"
}

# One example's --json lines, recorded as this bench's figures PREFIX.<name>.
example_figures() { # profile, example, prefix, label, args...
  local profile="$1" example="$2" prefix="$3" label="$4" out line name samples
  shift 4
  out="$("${BUILD_DIR}/${profile}/examples/${example}" "$@" --json 2>"${SANDBOX}/last.err")" \
    || { cat "${SANDBOX}/last.err" >&2; bench_die "${example} (${profile}) failed"; }
  while IFS= read -r line; do
    name="$(sed -n 's/^{"name":"\([^"]*\)".*/\1/p' <<<"${line}")"
    samples="$(sed -n 's/.*"samples":\[\([^]]*\)\].*/\1/p' <<<"${line}" | tr ',' ' ')"
    [[ -n "${name}" && -n "${samples}" ]] \
      || bench_die "${example} (${profile}) printed no figure but '${line}'; rebuild it: cargo build -p k8s-dev-helper --examples"
    # shellcheck disable=SC2086 # samples are numbers separated by spaces
    record "${prefix}.${name}" ms "${label} (${name//_/ })" ${samples}
  done <<<"${out}"
}

bench_helper() {
  local profile engine host profiles=(debug)
  if [[ -n "${K8S_DEV_BENCH_RELEASE_HELPER:-}" ]]; then profiles+=(release); fi
  for profile in "${profiles[@]}"; do
    if [[ ! -x "${BUILD_DIR}/${profile}/examples/bench_merge" ]]; then
      skipped "${profile} helper figures" "no ${profile} build of the examples: cargo build -p k8s-dev-helper --bins --examples$([[ ${profile} == release ]] && echo ' --release')"
      continue
    fi
    for engine in docker podman; do
      host="$(engine_host "${engine}")"
      [[ -n "${host}" ]] || continue
      DOCKER_HOST="${host}" example_figures "${profile}" bench_engine "tasks.engine.${profile}" \
        "k8s-dev-helper engine, ${profile}" "${ENGINE_RUNS}" --name "${engine}"
    done
    example_figures "${profile}" bench_merge "tasks.merge.${profile}" "merge into 200 contexts, ${profile}"
  done
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; exit 2 ;;
  esac
  command -v mise >/dev/null 2>&1 || bench_die "mise not found; see https://mise.jdx.dev"
  (cd "${BENCH_ROOT}" && cargo build --quiet -p k8s-dev-helper --bins --examples) || bench_die "building the helper failed"
  HELPER="$(helper_debug)"
  local engine
  for engine in docker podman; do
    if [[ -n "$(engine_host "${engine}")" ]]; then
      (bench_noop_up "${engine}")
    else
      skipped "no-op up on ${engine}" "K8S_DEV_TEST_$(tr '[:lower:]' '[:upper:]' <<<"${engine}")_HOST is not set"
    fi
  done
  (bench_noop_up_real_k3d)
  (sandbox_setup && bench_helper && bench_mise)
}

main "$@"
