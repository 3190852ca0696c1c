#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Write a throwaway git repository in the shape of NVIDIA/OpenShell into DIR, for the adopter
# test (tests/tasks/test-adopter.sh). Nothing in it is OpenShell's: it is written from the facts
# in /work/shared/upstream/openshell.md and docs/openshell-adoption.md, with this kit's stand-in
# (example/, deploy/) as its Rust crates, Dockerfiles and chart, which carry OpenShell's names:
#
#   mise.toml           min_version, [settings] experimental + lockfile, its own tool pins
#                       (kubectl 1.36, helm 4.2, skaffold 2.20, k3d on macOS only, sccache),
#                       [env] with a repo-local KUBECONFIG and RUSTC_WRAPPER=sccache, an existing
#                       [vars] and [task_config] includes = ["tasks/*.toml"]
#   Cargo.toml          workspace of crates/openshell-server (binary openshell-gateway) and
#                       crates/openshell-sandbox
#   deploy/docker/      Dockerfile.gateway / .supervisor reading
#                       deploy/docker/.build/prebuilt-binaries/<arch>/ (repository root context,
#                       a .dockerignore there as OpenShell's, the staging directory gitignored)
#   deploy/helm/openshell/   the chart (StatefulSet openshell) and a skaffold.yaml written to run
#                       from that directory (context ../../.., chartPath .), whose build script
#                       tasks/scripts/docker-build-image.sh stands in for OpenShell's (push: false)
#   tasks/gateway.toml  `mise run gateway -- --driver kubernetes` (tasks/scripts/gateway.sh)
#
# The repository is committed on branch feature/adopt/K8s-Dev_Trial, as a developer's worktree
# would be. The kit is not vendored here: the test does that, as the README says.
set -euo pipefail

KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

usage() {
  echo "Usage: $(basename "$0") DIR   (DIR must not exist)"
}

write_mise_toml() {
  cat <<'TOML'
# An OpenShell-shaped mise configuration (written for the k8s-dev adopter test).
min_version = { soft = "2026.4.25" }

redactions = ["*_TOKEN", "*_PASSWORD"]

[settings]
experimental = true

lockfile = true

[tools]
kubectl = { version = "1.36.1", version_prefix = "v" }
helm = { version = "4.2.0", version_prefix = "v" }
skaffold = { version = "2.20.0", os = ["linux", "macos"], version_prefix = "v" }
# k3d stays off Linux: Linux Kubernetes work uses kind or an existing cluster.
k3d = { version = "5.8.3", os = ["macos"] }

[tools."github:mozilla/sccache"]
version = "0.16.0"

[env]
KUBECONFIG = "{{config_root}}/kubeconfig"
RUSTC_WRAPPER = "sccache"
SCCACHE_DIR = "{{ get_env(name='SCCACHE_DIR', default=config_root ~ '/.cache/sccache') }}"
DOCKER_BUILDKIT = "1"

[vars]
python_paths = "python/ tasks/scripts/*.py"

[task_config]
includes = ["tasks/*.toml"]
TOML
}

write_skaffold() {
  cat <<'YAML'
# Run from this directory (`mise run helm:skaffold:dev` has dir = deploy/helm/openshell):
# relative paths below resolve against the working directory.
apiVersion: skaffold/v4beta14
kind: Config
metadata:
  name: openshell
build:
  local:
    push: false
  tagPolicy:
    gitCommit: {}
  artifacts:
    - image: openshell/gateway
      context: ../../..
      custom:
        buildCommand: tasks/scripts/docker-build-image.sh gateway
        dependencies:
          paths: [Cargo.toml, Cargo.lock, crates/**, deploy/docker/Dockerfile.gateway]
    - image: openshell/supervisor
      context: ../../..
      custom:
        buildCommand: tasks/scripts/docker-build-image.sh supervisor
        dependencies:
          paths: [Cargo.toml, Cargo.lock, crates/**, deploy/docker/Dockerfile.supervisor]
deploy:
  helm:
    releases:
      - name: openshell
        chartPath: .
        namespace: openshell
        createNamespace: true
        valuesFiles: [values.yaml, ci/values-skaffold.yaml]
        setValueTemplates:
          image.repository: '{{.IMAGE_REPO_openshell_gateway}}'
          image.tag: '{{.IMAGE_TAG_openshell_gateway}}'
          supervisor.image.repository: '{{.IMAGE_REPO_openshell_supervisor}}'
          supervisor.image.tag: '{{.IMAGE_TAG_openshell_supervisor}}'
YAML
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") usage >&2; exit 2 ;;
  esac
  local dir="$1"
  [[ ! -e "${dir}" ]] || { echo "error: ${dir} exists; pass a new directory" >&2; exit 1; }
  mkdir -p "${dir}"/{crates,deploy/docker,deploy/helm,tasks/scripts}
  write_mise_toml >"${dir}/mise.toml"

  # The stand-in's crates under OpenShell's crate names and paths.
  cp -r "${KIT}/example/gateway" "${dir}/crates/openshell-server"
  cp -r "${KIT}/example/supervisor" "${dir}/crates/openshell-sandbox"
  cp "${KIT}/example/build_info.rs" "${dir}/crates/build_info.rs"
  sed 's|^members = .*|members = ["crates/openshell-server", "crates/openshell-sandbox"]|' \
    "${KIT}/Cargo.toml" >"${dir}/Cargo.toml"
  # The same dependency versions, so a shared CARGO_TARGET_DIR reuses their builds.
  cp "${KIT}/Cargo.lock" "${dir}/Cargo.lock"

  cp "${KIT}/deploy/docker/Dockerfile.gateway" "${KIT}/deploy/docker/Dockerfile.supervisor" "${dir}/deploy/docker/"
  cp -r "${KIT}/deploy/helm/openshell" "${dir}/deploy/helm/openshell"
  write_skaffold >"${dir}/deploy/helm/openshell/skaffold.yaml"

  cp "${KIT}/example/scripts/gateway.sh" "${dir}/tasks/scripts/gateway.sh"
  # OpenShell's docker-build-image.sh builds and loads the image into the local engine; its
  # Skaffold config does not push. The stand-in records the call: the adopter test checks that
  # the opt-in runs it from the chart directory's context, not what it builds.
  cat >"${dir}/tasks/scripts/docker-build-image.sh" <<'SH'
#!/usr/bin/env bash
# Stand-in for OpenShell's image build script, as its Skaffold custom builder calls it.
set -euo pipefail
printf '%s %s %s\n' "$1" "${IMAGE:-}" "${PWD}" >>"${K8S_DEV_FAKE_STATE:-/tmp}/docker-build-image.calls"
SH
  chmod +x "${dir}/tasks/scripts/docker-build-image.sh"
  cat >"${dir}/tasks/gateway.toml" <<'TOML'
["gateway"]
description = "Run a standalone gateway with the Kubernetes driver"
run = "bash tasks/scripts/gateway.sh"
TOML
  printf '/target\n/kubeconfig\n/.cache\ndeploy/docker/.build/\n' >"${dir}/.gitignore"
  printf '.git\n.gitignore\ntarget\n.cache\n' >"${dir}/.dockerignore"

  git -C "${dir}" init -q -b feature/adopt/K8s-Dev_Trial
  git -C "${dir}" add -A
  git -C "${dir}" -c user.name=k8s-dev -c user.email=k8s-dev@localhost commit -q -m "OpenShell-shaped fixture"
}

main "$@"
