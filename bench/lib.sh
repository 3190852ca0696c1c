#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Shared functions of the bench scripts (bench/*.sh). Source it; do not run it.
#
# A figure is a named list of samples. `record` prints its min / median / max on stderr and,
# when K8S_DEV_BENCH_OUT names a file, appends it there as one JSON line
# ({"kind":"figure","name":…,"unit":…,"label":…,"samples":[…]}), which bench/report.py turns
# into bench/results/. `skipped` and `note` add lines of kind "skip" and "note" the same way.
# Names and labels are written as given: keep them free of `"` and `\`.
#
# API: bench_log, bench_die, now_ms, record NAME UNIT LABEL SAMPLE..., skipped WHAT REASON,
#      note TEXT, median SAMPLE..., quietly COMMAND..., docker_ ARGS..., podman_ ARGS...,
#      have_docker, have_podman, have_registry, helper_debug

if [[ -n "${_K8S_DEV_BENCH_LIB_LOADED:-}" ]]; then
  return 0
fi
_K8S_DEV_BENCH_LIB_LOADED=1

BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

bench_log() { echo "[bench] $*" >&2; }
bench_die() { echo "error: $*" >&2; exit 1; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The lower middle of an even count: a sample that was measured, never an average of two.
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

_bench_emit() { # JSON line
  if [[ -n "${K8S_DEV_BENCH_OUT:-}" ]]; then echo "$1" >>"${K8S_DEV_BENCH_OUT}"; fi
}

record() { # name, unit, label, sample...
  local name="$1" unit="$2" label="$3" sorted
  shift 3
  (($#)) || bench_die "record ${name}: no samples"
  sorted="$(printf '%s\n' "$@" | sort -g | paste -sd' ' -)"
  bench_log "$(printf '%-62s min %7s  median %7s  max %7s %s  (n=%d)' "${label}" \
    "${sorted%% *}" "$(median "$@")" "${sorted##* }" "${unit}" "$#")"
  _bench_emit "$(printf '{"kind":"figure","name":"%s","unit":"%s","label":"%s","samples":[%s]}' \
    "${name}" "${unit}" "${label}" "$(IFS=,; echo "$*")")"
}

skipped() { # what, reason
  bench_log "skipped: $1 ($2)"
  _bench_emit "$(printf '{"kind":"skip","what":"%s","reason":"%s"}' "$1" "$2")"
}

note() { # text
  bench_log "note: $1"
  _bench_emit "$(printf '{"kind":"note","text":"%s"}' "$1")"
}

# Run a command with its stderr shown only when it fails (the docker CLI warns about its legacy
# builder on every build).
quietly() { # command...
  local err="${TMPDIR:-/tmp}/k8s-dev-bench.$$.err"
  if "$@" 2>"${err}"; then
    rm -f "${err}"
    return 0
  fi
  cat "${err}" >&2
  rm -f "${err}"
  bench_die "$* failed"
}

docker_() { DOCKER_HOST="${K8S_DEV_TEST_DOCKER_HOST}" docker "$@"; }
podman_() { podman --url "${K8S_DEV_TEST_PODMAN_HOST}" "$@"; }

have_registry() { [[ -n "${K8S_DEV_TEST_REGISTRY:-}" ]]; }
have_docker() { [[ -n "${K8S_DEV_TEST_DOCKER_HOST:-}" ]] && command -v docker >/dev/null 2>&1; }
have_podman() { [[ -n "${K8S_DEV_TEST_PODMAN_HOST:-}" ]] && command -v podman >/dev/null 2>&1; }

# busybox on scratch as REF (with sh, mkdir and test: a RUN step's shell), published by HELPER
# itself so no engine is needed for it, its files staged in DIR. gzip, because Docker 20.10
# cannot pull zstd layers.
busybox_base() { # ref, dir
  local applet
  mkdir -p "$2/bin"
  cp "$(command -v busybox)" "$2/bin/busybox"
  for applet in sh mkdir test; do ln -sf busybox "$2/bin/${applet}"; done
  quietly "${HELPER}" image publish --base scratch --file "$2/bin:/bin" \
    --env PATH=/bin --compression gzip --no-cache --tag "$1" >/dev/null
}

# The helper's workspace debug build (an upper bound: the tasks build the faster release one), brought
# up to date here; K8S_DEV_HELPER overrides it. Prints its path.
helper_debug() {
  if [[ -n "${K8S_DEV_HELPER:-}" ]]; then
    echo "${K8S_DEV_HELPER}"
    return 0
  fi
  (cd "${BENCH_ROOT}" && cargo build --quiet -p k8s-dev-helper >&2) || bench_die "building k8s-dev-helper failed"
  echo "${CARGO_TARGET_DIR:-${BENCH_ROOT}/target}/debug/k8s-dev-helper"
}
