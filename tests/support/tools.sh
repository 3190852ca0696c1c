#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Real binaries for the tests, built from their Go modules at pinned versions and cached by
# version, so CI runs the tools users run instead of stand-ins: helm, k3d, kind, skaffold and
# kubectl at the versions mise.toml pins for users (one pin each, read from there), and the
# test-only components pinned in tests/tools/versions.env (etcd, the Kubernetes servers and
# kubelet, kwok, containerd). Release downloads from GitHub are unreachable where CI runs; the Go
# module proxy is not.
#
# helm, kind and kwok build with `go install <module>@<version>`. The others build through a
# small wrapper module under tests/tools/<tool>/ (`pin` writes them): skaffold has replace and
# exclude directives, which `go install` refuses, so its wrapper repeats them; etcd's server
# module replaces its siblings by relative paths; k8s.io/kubernetes requires its staging modules
# at v0.0.0, so its wrapper replaces each with its published v0.x twin; and `go install k3d@v`
# asks the proxy for k3d's version list (to check for a deprecation notice), which the proxy
# CI uses refuses with 403, while a build inside a module asks for nothing beyond go.sum. The Kubernetes commands are stamped with their version through -ldflags:
# unstamped servers report v0.0.0-master, which breaks Helm's kubeVersion checks.
#
# Layout of the cache ($K8S_DEV_TOOLS_CACHE): gomod/ (GOMODCACHE), gocache/ (GOCACHE),
# bin/<tool>-<version>/ (the binaries; present only once complete), logs/<tool>-<version>.log.
#
# Needs: go (the version the wrapper modules' go lines ask for), the Go module proxy, jq for `pin`.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${SCRIPT_DIR}/../.." && pwd)"
TOOLS_DIR="${ROOT}/tests/tools"
CACHE="${K8S_DEV_TOOLS_CACHE:-${HOME}/.cache/k8s-dev-tools}"
NICE="${K8S_DEV_TOOLS_NICE:-10}"

# Every tool; `build` and `env` cover them all without arguments (what CI needs). kind is for
# tests/python/test_kind.py (its own decoding and validation of deploy/kind/cluster.yaml); `node`
# is kubelet and kube-proxy (tests/support/node.sh).
ALL_TOOLS=(helm k3d kind kwok skaffold kubectl etcd kubernetes node containerd)
DEFAULT_TOOLS=("${ALL_TOOLS[@]}")
K8S_SERVERS=(kube-apiserver kube-controller-manager kube-scheduler)
K8S_NODE=(kubelet kube-proxy)

usage() {
  cat <<USAGE
Usage: $(basename "$0") <command> [tool...]

Commands:
  build [tool...]  build what is not cached yet, then print the shell exports (like env)
  env [tool...]    print exports putting the cached tools first on PATH; tools not built yet
                   are named on stderr and left out
  path TOOL        print the directory holding TOOL's binaries; exit 1 when not built
  status           each tool, its pinned version and whether it is built
  versions         each tool and its pinned version
  pin [tool...]    rewrite the wrapper modules (tests/tools/<tool>/go.mod, go.sum) from the pins
                   (k3d, skaffold, etcd, kubernetes, kubectl); commit the result

Tools: ${ALL_TOOLS[*]} (default: ${DEFAULT_TOOLS[*]})
  kubernetes = ${K8S_SERVERS[*]}; node = ${K8S_NODE[*]}

Versions: helm, k3d, kind, skaffold, kubectl from mise.toml [tools]; the others from
tests/tools/versions.env.

Environment:
  K8S_DEV_TOOLS_CACHE  cache root (default: \$HOME/.cache/k8s-dev-tools)
  K8S_DEV_TOOLS_NICE   nice level of the builds (default: 10)
  GOPROXY              Go module proxy (Go's default)
USAGE
}

log() { echo "[tools] $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }
usage_error() { echo "error: $*" >&2; usage >&2; exit 2; }

# --- versions -----------------------------------------------------------------------------------

# The version mise.toml pins for an aqua tool, e.g. mise_pin aqua:helm/helm -> 3.21.4.
mise_pin() { # key
  local pin
  pin="$(awk -v key="\"$1\"" '
    /^\[/ { in_tools = ($0 ~ /^\[tools\]/) }
    in_tools && $1 == key { gsub(/"/, "", $3); print $3 }' "${ROOT}/mise.toml")"
  [[ -n "${pin}" ]] || die "mise.toml [tools] has no \"$1\" pin; add it (the kit pins the tools users run there)"
  echo "v${pin#v}"
}

versions_pin() { # NAME
  local value
  value="$(sed -n "s/^$1=//p" "${TOOLS_DIR}/versions.env")"
  [[ -n "${value}" ]] || die "tests/tools/versions.env has no $1; add it"
  echo "${value}"
}

version_of() { # tool
  case "$1" in
    helm) mise_pin aqua:helm/helm ;;
    k3d) mise_pin aqua:k3d-io/k3d ;;
    skaffold) mise_pin aqua:GoogleContainerTools/skaffold ;;
    kubectl) mise_pin aqua:kubernetes/kubernetes/kubectl ;;
    kubernetes | node) versions_pin KUBERNETES_VERSION ;;
    etcd) versions_pin ETCD_VERSION ;;
    kwok) versions_pin KWOK_VERSION ;;
    kind) mise_pin aqua:kubernetes-sigs/kind ;;
    containerd) versions_pin CONTAINERD_VERSION ;;
    *) usage_error "unknown tool '$1'; expected one of: ${ALL_TOOLS[*]}" ;;
  esac
}

# kubelet and kube-proxy come from the same module and version as the servers, so they share
# one directory and one `go build`.
bin_dir() { # tool
  local name="$1"
  [[ "${name}" != node ]] || name=kubernetes
  echo "${CACHE}/bin/${name}-$(version_of "$1")"
}

binaries_of() { # tool
  case "$1" in
    kubernetes) echo "${K8S_SERVERS[*]}" ;;
    node) echo "${K8S_NODE[*]}" ;;
    kwok) echo "kwok ${KWOK_STAGES}" ;;
    containerd) echo "containerd containerd-shim-runc-v2 ctr" ;;
    *) echo "$1" ;;
  esac
}

is_built() { # tool
  local dir b
  dir="$(bin_dir "$1")"
  for b in $(binaries_of "$1"); do [[ -e "${dir}/${b}" ]] || return 1; done
}

# --- building -----------------------------------------------------------------------------------

go_env() {
  command -v go >/dev/null 2>&1 || die "go not found; install Go (the wrapper modules' go lines name the minimum) and retry"
  export GOMODCACHE="${CACHE}/gomod" GOCACHE="${CACHE}/gocache"
  # -modcacherw: a read-only module cache cannot be deleted by a plain rm -rf of the cache.
  # GOTOOLCHAIN=local: a too-old Go fails naming the version instead of fetching another one.
  export GOFLAGS="-modcacherw -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0
}

# The -X flags that make a Kubernetes binary report VERSION (component-base for the servers,
# client-go for kubectl's client version).
k8s_ldflags() { # version
  local v="$1" minor pkg flags=""
  minor="$(echo "${v}" | cut -d. -f2)"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X ${pkg}.gitVersion=${v} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor} -X ${pkg}.gitTreeState=archive"
  done
  echo "${flags}"
}

# The Kubernetes minor helm was compiled against (its Makefile stamps it; `go install` does not),
# which is the default .Capabilities.KubeVersion of `helm template` and `helm lint`.
helm_ldflags() { # version
  local v="$1" gomod client minor
  gomod="$(go mod download -json "helm.sh/helm/v3@${v}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  client="$(awk '$1 == "k8s.io/client-go" { print $2 }' "${gomod}")"
  minor="$(echo "${client}" | cut -d. -f2)"
  local p=helm.sh/helm/v3
  echo "-X ${p}/internal/version.version=${v} -X ${p}/internal/version.gitTreeState=clean" \
    "-X ${p}/pkg/lint/rules.k8sVersionMajor=1 -X ${p}/pkg/lint/rules.k8sVersionMinor=${minor}" \
    "-X ${p}/pkg/chartutil.k8sVersionMajor=1 -X ${p}/pkg/chartutil.k8sVersionMinor=${minor}"
}

# kwok ships no stages built in: the harness's config is the stage files of its module that make a
# node Ready and post its status every ~20 s, and make pods Ready, complete (Jobs) and go away when
# deleted. Not the lease heartbeat: kwok holds no lease for a node it manages by annotation, and
# the controller manager then marks the node's pods NotReady. The file's name changes with the
# choice, so a cached kwok gets the new one.
KWOK_STAGES=kwok-stages-heartbeat.yaml
kwok_stages() { # version
  local dir f
  dir="$(go mod download -json "sigs.k8s.io/kwok@$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [[ -f "${dir}/kustomize/stage/${f}" ]] || die "kwok $1 has no kustomize/stage/${f}; update kwok_stages in tools.sh"
    echo "---"
    cat "${dir}/kustomize/stage/${f}"
  done
}

# The version a wrapper module requires of its upstream module; must equal the pin.
check_wrapper() { # tool, module path, version
  local gomod="${TOOLS_DIR}/$1/go.mod" have
  [[ -f "${gomod}" ]] || die "${gomod#"${ROOT}/"} is missing; run: tests/support/tools.sh pin $1"
  have="$(awk -v m="$2" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' "${gomod}")"
  [[ "${have}" == "$3" ]] \
    || die "${gomod#"${ROOT}/"} requires $2 ${have:-nothing}, the pin is $3; run: tests/support/tools.sh pin $1"
}

# Runs a build under nice, its output in the tool's log, and reports wall and CPU time (the
# machine is shared: CPU time is what a build costs).
timed() { # log, command...
  local logfile="$1" start=${SECONDS} timing rc=0
  shift
  timing="$(mktemp)"
  if [[ -x /usr/bin/time ]]; then
    nice -n "${NICE}" /usr/bin/time -o "${timing}" -f '%e %U %S %M' "$@" >>"${logfile}" 2>&1 || rc=$?
  else
    nice -n "${NICE}" "$@" >>"${logfile}" 2>&1 || rc=$?
    echo "$((SECONDS - start)) ? ? ?" >"${timing}"
  fi
  local wall user sys rss
  # On failure time(1) writes a "Command exited with non-zero status" line first.
  read -r wall user sys rss < <(tail -n1 "${timing}") || true
  rm -f "${timing}"
  # The last line of the log, read by build_tool: wall, user, sys seconds, peak RSS in KB.
  echo "wall ${wall}s user ${user} sys ${sys} maxrss_kb ${rss} exit ${rc}" >>"${logfile}"
  return "${rc}"
}

build_tool() { # tool
  local tool="$1" version dir tmp logfile ldflags="" wrapper="" tags="" pkgs=() b
  version="$(version_of "${tool}")"
  dir="$(bin_dir "${tool}")"
  mkdir -p "${CACHE}/bin" "${CACHE}/logs"
  logfile="${CACHE}/logs/${tool}-${version}.log"
  : >"${logfile}"
  tmp="$(mktemp -d "${CACHE}/bin/.build-${tool}.XXXXXX")"
  case "${tool}" in
    helm) ldflags="$(helm_ldflags "${version}")"; pkgs=("helm.sh/helm/v3/cmd/helm@${version}") ;;
    k3d)
      wrapper=k3d
      check_wrapper k3d github.com/k3d-io/k3d/v5 "${version}"
      ldflags="-X github.com/k3d-io/k3d/v5/version.Version=${version}"
      pkgs=(github.com/k3d-io/k3d/v5)
      ;;
    kind) pkgs=("sigs.k8s.io/kind@${version}") ;;
    kwok) pkgs=("sigs.k8s.io/kwok/cmd/kwok@${version}") ;;
    containerd)
      # Without cgo: no btrfs snapshotter (its C headers), as containerd's static release builds.
      tags="no_btrfs"
      ldflags="-X github.com/containerd/containerd/v2/version.Version=${version}"
      pkgs=("github.com/containerd/containerd/v2/cmd/containerd@${version}"
        "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@${version}"
        "github.com/containerd/containerd/v2/cmd/ctr@${version}")
      ;;
    skaffold)
      wrapper=skaffold
      check_wrapper skaffold github.com/GoogleContainerTools/skaffold/v2 "${version}"
      ldflags="-X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=${version}"
      # The tags of skaffold's own Linux release build (its Makefile).
      tags="timetzdata osusergo netgo static_build release"
      pkgs=(github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold)
      ;;
    etcd)
      wrapper=etcd
      check_wrapper etcd go.etcd.io/etcd/server/v3 "${version}"
      pkgs=(go.etcd.io/etcd/server/v3)
      ;;
    kubectl)
      wrapper=kubectl
      check_wrapper kubectl k8s.io/kubernetes "${version}"
      ldflags="$(k8s_ldflags "${version}")"
      pkgs=(k8s.io/kubernetes/cmd/kubectl)
      ;;
    kubernetes | node)
      wrapper=kubernetes
      check_wrapper kubernetes k8s.io/kubernetes "${version}"
      ldflags="$(k8s_ldflags "${version}")"
      # One `go build` for every missing command: the packages they share compile once.
      for b in "${K8S_SERVERS[@]}" "${K8S_NODE[@]}"; do
        if [[ " ${BUILD_SET} " == *" ${b} "* && ! -x "${dir}/${b}" ]]; then pkgs+=("k8s.io/kubernetes/cmd/${b}"); fi
      done
      ;;
  esac
  log "building ${tool} ${version} (log: ${logfile})"
  local rc=0
  if [[ -z "${wrapper}" ]]; then
    GOBIN="${tmp}" timed "${logfile}" go install -trimpath -tags "${tags}" -ldflags "-s -w ${ldflags}" "${pkgs[@]}" || rc=$?
  else
    local out="${tmp}/"
    # Module paths ending in a major version: name the binary, not the /vN element.
    case "${tool}" in etcd | k3d) out="${tmp}/${tool}" ;; esac
    (cd "${TOOLS_DIR}/${wrapper}" && timed "${logfile}" go build -trimpath -tags "${tags}" \
      -ldflags "-s -w ${ldflags}" -o "${out}" "${pkgs[@]}") || rc=$?
  fi
  if ((rc == 0)) && [[ "${tool}" == kwok ]]; then kwok_stages "${version}" >"${tmp}/${KWOK_STAGES}" || rc=$?; fi
  if ((rc != 0)); then
    rm -rf "${tmp}"
    tail -n 20 "${logfile}" >&2
    die "building ${tool} ${version} failed (exit ${rc}); full log: ${logfile}"
  fi
  # The directory appears only when complete, so an interrupted build is never taken as cached.
  mkdir -p "${dir}"
  for b in "${tmp}"/*; do mv -f "${b}" "${dir}/"; done
  rmdir "${tmp}"
  log "built ${tool} ${version}: $(tail -n1 "${logfile}" | awk '{ printf "wall %s, CPU %.0fs, peak RSS %d MB", $2, $4 + $6, $8 / 1024 }')"
}

# Tools named on the command line, with aliases expanded and duplicates dropped.
select_tools() { # tool...
  local t seen=" " out=()
  (($#)) || set -- "${DEFAULT_TOOLS[@]}"
  for t in "$@"; do
    version_of "${t}" >/dev/null
    [[ "${seen}" == *" ${t} "* ]] || out+=("${t}")
    seen+="${t} "
  done
  echo "${out[*]}"
}

cmd_build() {
  local tools t
  tools="$(select_tools "$@")"
  go_env
  # The Kubernetes commands asked for, so kubernetes and node build in one `go build`.
  BUILD_SET=""
  for t in ${tools}; do
    case "${t}" in kubernetes | node) BUILD_SET+=" $(binaries_of "${t}")" ;; esac
  done
  local k8s_done=0
  for t in ${tools}; do
    if is_built "${t}"; then continue; fi
    if [[ "${t}" == kubernetes || "${t}" == node ]]; then
      ((k8s_done)) && continue
      k8s_done=1
    fi
    build_tool "${t}"
  done
  # shellcheck disable=SC2086 # one tool per word
  cmd_env ${tools}
}

cmd_env() {
  local tools t dirs=""
  tools="$(select_tools "$@")"
  for t in ${tools}; do
    if is_built "${t}"; then
      [[ ":${dirs}:" == *":$(bin_dir "${t}"):"* ]] || dirs+="$(bin_dir "${t}"):"
    else
      log "${t} $(version_of "${t}") is not built; run: tests/support/tools.sh build ${t}"
    fi
  done
  printf 'export PATH=%q\n' "${dirs}${PATH}"
  # Skaffold asks the internet for a newer release on every run otherwise.
  echo "export SKAFFOLD_UPDATE_CHECK=false"
}

cmd_path() { # tool
  (($# == 1)) || usage_error "path takes one tool"
  version_of "$1" >/dev/null
  is_built "$1" || die "$1 $(version_of "$1") is not built; run: tests/support/tools.sh build $1"
  bin_dir "$1"
}

cmd_status() {
  local t
  for t in "${ALL_TOOLS[@]}"; do
    if is_built "${t}"; then
      echo "${t} $(version_of "${t}"): built ($(bin_dir "${t}"))"
    else
      echo "${t} $(version_of "${t}"): not built"
    fi
  done
}

cmd_versions() {
  local t
  for t in "${ALL_TOOLS[@]}"; do echo "${t} $(version_of "${t}")"; done
}

# --- pin: the wrapper modules -------------------------------------------------------------------

# The go.mod file of MODULE@VERSION, downloaded through the proxy.
upstream_gomod() { # module@version
  local gomod
  gomod="$(go mod download -json "$1" | jq -r .GoMod)"
  [[ -f "${gomod}" ]] || die "downloading $1 from the Go module proxy failed; check GOPROXY"
  echo "${gomod}"
}

new_wrapper() { # tool, comment, go version
  local dir="${TOOLS_DIR}/$1"
  mkdir -p "${dir}"
  rm -f "${dir}/go.sum"
  {
    echo "// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors"
    echo "// SPDX-License-Identifier: Apache-2.0"
    echo "//"
    echo "// Written by tests/support/tools.sh pin $1; do not edit. $2"
    echo
    echo "module k8s-dev.local/tests/tools/$1"
    echo
    echo "go $3"
  } >"${dir}/go.mod"
}

# A wrapper that requires MODULE@VERSION and repeats its replace and exclude directives
# (those pointing at directories of its own repository cannot be repeated and are left out).
pin_module_wrapper() { # tool, module, package, why
  local tool="$1" m="$2" pkg="$3" v json edits=()
  v="$(version_of "${tool}")"
  json="$(go mod edit -json "$(upstream_gomod "${m}@${v}")")"
  new_wrapper "${tool}" "$4" "$(jq -r .Go <<<"${json}")"
  mapfile -t edits < <(jq -r '
    (.Replace // [])[] | select(.New.Version != null)
    | "-replace=\(.Old.Path)\(if .Old.Version then "@" + .Old.Version else "" end)=\(.New.Path)@\(.New.Version)"' <<<"${json}")
  mapfile -t -O "${#edits[@]}" edits < <(jq -r '(.Exclude // [])[] | "-exclude=\(.Path)@\(.Version)"' <<<"${json}")
  (
    cd "${TOOLS_DIR}/${tool}"
    if ((${#edits[@]})); then go mod edit "${edits[@]}"; fi
    go get -tool "${pkg}@${v}"
    go mod tidy
  )
}

# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with directories
# its module zip leaves out; each is published as k8s.io/<name> v0.<minor>.<patch>.
pin_kubernetes_module() { # wrapper, version, command...
  local wrapper="$1" v="$2" gomod json edits=() staging cmd
  shift 2
  gomod="$(upstream_gomod "k8s.io/kubernetes@${v}")"
  json="$(go mod edit -json "${gomod}")"
  staging="v0.${v#v1.}"
  new_wrapper "${wrapper}" "k8s.io/kubernetes ${v} with each staging module replaced by its published ${staging} twin." \
    "$(jq -r .Go <<<"${json}")"
  mapfile -t edits < <(jq -r --arg s "${staging}" \
    '(.Replace // [])[] | select(.New.Path | startswith("./staging/")) | "-replace=\(.Old.Path)=\(.Old.Path)@\($s)"' <<<"${json}")
  # Its godebug defaults too (e.g. default=go1.24): they change runtime behaviour (x509, http).
  # `go mod edit -json` does not show them.
  sed -n '/^godebug /p' "${gomod}" >>"${TOOLS_DIR}/${wrapper}/go.mod"
  local tools=()
  for cmd in "$@"; do tools+=("k8s.io/kubernetes/cmd/${cmd}@${v}"); done
  (cd "${TOOLS_DIR}/${wrapper}" && go mod edit "${edits[@]}" && go get -tool "${tools[@]}" && go mod tidy)
}

cmd_pin() {
  local t
  (($#)) || set -- k3d skaffold etcd kubernetes kubectl
  command -v jq >/dev/null 2>&1 || die "jq not found; apt-get install jq"
  go_env
  for t in "$@"; do
    case "${t}" in
      skaffold)
        pin_module_wrapper skaffold github.com/GoogleContainerTools/skaffold/v2 github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold \
          "skaffold's replace and exclude directives, repeated: \`go install\` refuses a module that has them, and without the client-go replace the resolver picks a client-go skaffold does not compile with."
        ;;
      etcd)
        pin_module_wrapper etcd go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3 \
          "etcd's server module replaces its sibling modules by relative paths, which only resolve inside etcd's repository."
        ;;
      k3d)
        pin_module_wrapper k3d github.com/k3d-io/k3d/v5 github.com/k3d-io/k3d/v5 \
          "\`go install k3d@version\` asks the proxy for k3d's version list, which some proxies refuse (403); a module build does not."
        ;;
      kubernetes | node) pin_kubernetes_module kubernetes "$(version_of kubernetes)" "${K8S_SERVERS[@]}" "${K8S_NODE[@]}" ;;
      kubectl) pin_kubernetes_module kubectl "$(version_of kubectl)" kubectl ;;
      helm | kind | kwok | containerd) log "${t} needs no wrapper module (go install ${t}@version)"; continue ;;
      *) usage_error "unknown tool '${t}'; expected one of: ${ALL_TOOLS[*]}" ;;
    esac
    log "pinned tests/tools/${t/node/kubernetes}/go.mod at $(version_of "${t}")"
  done
}

main() {
  local cmd="${1:-}"
  (($#)) && shift
  case "${cmd}" in
    build) cmd_build "$@" ;;
    env) cmd_env "$@" ;;
    path) cmd_path "$@" ;;
    status) cmd_status ;;
    versions) cmd_versions ;;
    pin) cmd_pin "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
