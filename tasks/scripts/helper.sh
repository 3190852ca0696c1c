#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Finds k8s-dev-helper for the task scripts. Source it; do not run it. bash 3.2 compatible.
#
# API:
#   require_helper     set and export K8S_DEV_HELPER: $K8S_DEV_HELPER, else k8s-dev-helper on
#                      PATH, else a release build of this kit's workspace (rebuilt when stale)
#   ce_helper ARGS...  run it
#   ce_cargo CMD...    run a cargo command (`cargo build …`, `cargo zigbuild …`) under the
#                      caller's rustc wrapper when it runs, else without it, saying so once
#
# Environment:
#   K8S_DEV_HELPER     path of k8s-dev-helper
#   CARGO_TARGET_DIR   where the workspace build goes (default: <kit>/target)
#   RUSTC_WRAPPER, CARGO_BUILD_RUSTC_WRAPPER   the wrapper cargo runs rustc through

if [[ -n "${_K8S_DEV_HELPER_LOADED:-}" ]]; then
  return 0
fi
_K8S_DEV_HELPER_LOADED=1

_HELPER_KIT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

_helper_die() {
  echo "error: $*" >&2
  exit 1
}

# Newest-wins check: rebuild the workspace helper only when one of its sources is newer than the
# binary (tests and examples do not count), so tasks pay cargo's start-up cost only after the
# helper changed. The binary is touched after each build: cargo does not relink when nothing
# that goes into it changed, which would leave the check stale forever.
_helper_stale() {
  local bin="$1"
  [[ -x "${bin}" ]] || return 0
  [[ -n "$(find "${_HELPER_KIT_DIR}/helper/src" "${_HELPER_KIT_DIR}/helper/Cargo.toml" \
    "${_HELPER_KIT_DIR}/Cargo.toml" "${_HELPER_KIT_DIR}/Cargo.lock" -newer "${bin}" -print -quit 2>/dev/null)" ]]
}

# The rustc wrapper rule. An adopter's mise [env] may set RUSTC_WRAPPER=sccache (OpenShell's
# does) on machines without sccache, where every cargo call then fails before compiling
# ("could not execute process `sccache …` (never executed)"). A wrapper that runs is used as
# given; one that does not is dropped (RUSTC_WRAPPER set and empty also overrides a cargo
# config's build.rustc-wrapper), with one line saying so per task. A wrapper only a cargo config
# names is not visible here: cargo's own "never executed" error for it triggers one retry
# without it.
_HELPER_WRAPPER_SAID=""
_helper_wrapper_note() { # what, value
  [[ -n "${_HELPER_WRAPPER_SAID}" ]] && return 0
  _HELPER_WRAPPER_SAID=1
  echo "[k8s-dev] $1=$2 is not installed; building without it (install it to cache builds)" >&2
}

ce_cargo() { # command...
  local name=RUSTC_WRAPPER wrapper="${RUSTC_WRAPPER:-}"
  if [[ -z "${wrapper}" && -n "${CARGO_BUILD_RUSTC_WRAPPER:-}" ]]; then
    name=CARGO_BUILD_RUSTC_WRAPPER wrapper="${CARGO_BUILD_RUSTC_WRAPPER}"
  fi
  if [[ -n "${wrapper}" ]]; then
    if command -v "${wrapper%% *}" >/dev/null 2>&1; then
      "$@"
      return
    fi
    _helper_wrapper_note "${name}" "${wrapper}"
    RUSTC_WRAPPER="" CARGO_BUILD_RUSTC_WRAPPER="" "$@"
    return
  fi
  # No wrapper in the environment: cargo's stderr is copied aside to spot a config's missing
  # one. Through the copy cargo no longer sees a terminal: on one, it keeps colour and progress.
  local err rc=0 term=()
  err="$(mktemp "${TMPDIR:-/tmp}/k8s-dev-cargo.XXXXXX")"
  if [[ -t 2 ]]; then
    term=(env "CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-always}"
      "CARGO_TERM_PROGRESS_WHEN=${CARGO_TERM_PROGRESS_WHEN:-always}"
      "CARGO_TERM_PROGRESS_WIDTH=${CARGO_TERM_PROGRESS_WIDTH:-$(tput cols 2>/dev/null || echo 80)}")
  fi
  # stderr through tee, stdout as it was (fd 3); cargo's status through a file, so neither the
  # caller's errexit nor a missing pipefail can lose it.
  {
    (
      if ${term[@]+"${term[@]}"} "$@"; then rc=0; else rc=$?; fi
      echo "${rc}" >"${err}.rc"
    ) 2>&1 1>&3 3>&- | tee "${err}" >&2
  } 3>&1
  rc="$(cat "${err}.rc" 2>/dev/null || echo 1)"
  rm -f "${err}.rc"
  # shellcheck disable=SC2016 # the backticks are cargo's quoting, not a command
  if ((rc != 0)) && grep -q 'could not execute process `.*(never executed)' "${err}"; then
    # shellcheck disable=SC2016
    wrapper="$(sed -n 's/.*could not execute process `\([^ `]*\).*/\1/p' "${err}" | head -n 1)"
    rm -f "${err}"
    _helper_wrapper_note "build.rustc-wrapper" "${wrapper}"
    RUSTC_WRAPPER="" "$@"
    return
  fi
  rm -f "${err}"
  return "${rc}"
}

# Build the helper, saying first why and for how long: a fresh clone's first task otherwise
# looks hung for minutes. cargo's progress shows on a terminal; in logs (CI, mise's captured
# output) it stays quiet. A binary that is up to date is never rebuilt, so later runs say nothing.
_helper_build() { # bin
  local why="this is the first run here; it takes a few minutes (about 3 on 2 cores) and happens once"
  [[ ! -x "$1" ]] || why="its sources changed since the last build; usually under a minute"
  echo "[k8s-dev] building k8s-dev-helper (release) from ${_HELPER_KIT_DIR}: ${why}. Install it to skip this: cargo install --path ${_HELPER_KIT_DIR}/helper" >&2
  local quiet=--quiet
  if [[ -t 2 ]]; then quiet=""; fi
  ce_cargo cargo build ${quiet:+"${quiet}"} --release --manifest-path "${_HELPER_KIT_DIR}/Cargo.toml" -p k8s-dev-helper >&2 \
    || _helper_die "building k8s-dev-helper failed (see above)"
  touch "$1"
}

require_helper() {
  if [[ -n "${K8S_DEV_HELPER:-}" ]]; then
    [[ -x "${K8S_DEV_HELPER}" ]] || _helper_die "K8S_DEV_HELPER=${K8S_DEV_HELPER} is not an executable file"
    export K8S_DEV_HELPER
    return 0
  fi
  if command -v k8s-dev-helper >/dev/null 2>&1; then
    K8S_DEV_HELPER="$(command -v k8s-dev-helper)"
    export K8S_DEV_HELPER
    return 0
  fi
  [[ -f "${_HELPER_KIT_DIR}/helper/Cargo.toml" ]] \
    || _helper_die "k8s-dev-helper not found. Run: cargo install --path <k8s-dev>/helper"
  command -v cargo >/dev/null 2>&1 \
    || _helper_die "k8s-dev-helper is not installed and cargo is missing to build it. Install Rust (https://rustup.rs) or k8s-dev-helper"
  # Release: the helper is on every task's path (a 200-context kubeconfig merge takes 14 ms
  # released, 33 ms in a debug build; bench/results/latest.md), and it rarely changes.
  local bin="${CARGO_TARGET_DIR:-${_HELPER_KIT_DIR}/target}/release/k8s-dev-helper"
  if _helper_stale "${bin}"; then
    _helper_build "${bin}"
  fi
  K8S_DEV_HELPER="${bin}"
  export K8S_DEV_HELPER
}

ce_helper() {
  "${K8S_DEV_HELPER}" "$@"
}
