#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Private container engines for the test suite: a rootful Podman API service, a dockerd and a
# plain-HTTP OCI registry, all with their state under one directory so nothing touches the
# machine's own Docker or Podman setup. Used by .ci/run; on a Linux laptop without engines it
# gives the engine-backed tests something real to talk to. Every daemon runs under setsid with
# a PID file and is stopped by that PID only.
#
# Registry CAs: dockerd reads them only from /etc/docker/certs.d (moby's registry.CertsDir; the
# rootless path is no option for a root daemon), so it runs in a mount namespace of its own in
# which ${STATE}/docker/etc is /etc/docker; the Podman service runs with HOME=${STATE}/podman/home,
# whose .config/containers/certs.d containers/image searches first. A test trusts a registry for
# one engine by writing DIR/HOST:PORT/ca.crt under K8S_DEV_TEST_DOCKER_CERTS_D or
# K8S_DEV_TEST_PODMAN_CERTS_D; the machine's /etc/docker and /etc/containers are never written.
#
# Needs (Debian): podman runc netavark aardvark-dns docker.io docker-registry busybox-static.
#
# Environment:
#   K8S_DEV_ENGINES_STATE    state directory (default: /tmp/k8s-dev-engines)
#   K8S_DEV_ENGINES_REGISTRY registry port on 127.0.0.1 (default: 5000)
#   K8S_DEV_ENGINES_TIMEOUT  seconds to wait for each daemon (default: 60)
set -euo pipefail

STATE="${K8S_DEV_ENGINES_STATE:-/tmp/k8s-dev-engines}"
REGISTRY_PORT="${K8S_DEV_ENGINES_REGISTRY:-5000}"
TIMEOUT="${K8S_DEV_ENGINES_TIMEOUT:-60}"
DAEMONS=(podman dockerd registry)

usage() {
  cat <<USAGE
Usage: $(basename "$0") <command>

Commands:
  up      start podman, dockerd and the registry (idempotent), wait until each answers,
          then print the test environment as shell exports
  env     print the test environment as shell exports
  status  say which daemons are running
  down    stop the daemons by their PID files (idempotent); images are kept
  purge   down, unmount leftovers and delete the state directory

Environment:
  K8S_DEV_ENGINES_STATE     state directory (default: /tmp/k8s-dev-engines)
  K8S_DEV_ENGINES_REGISTRY  registry port on 127.0.0.1 (default: 5000)
  K8S_DEV_ENGINES_TIMEOUT   seconds to wait for each daemon (default: 60)
USAGE
}

log() { echo "[engines] $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

# shellcheck source=SCRIPTDIR/daemons.sh
source "$(dirname "${BASH_SOURCE[0]}")/daemons.sh"

wait_until() { # name, command...
  local name="$1" deadline
  shift
  deadline=$(( $(date +%s) + TIMEOUT ))
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) >= deadline )); then
      tail -n 20 "${STATE}/${name}.log" >&2 || true
      die "${name} did not answer within ${TIMEOUT}s; log: ${STATE}/${name}.log"
    fi
    sleep 0.2
  done
}

write_configs() {
  mkdir -p "${STATE}"/{podman/root,podman/run,podman/tmp,podman/networks,docker/data,docker/exec,registry/data}
  mkdir -p "${STATE}/docker/etc/certs.d" "${STATE}/podman/home/.config/containers/certs.d"
  # runc + cgroupfs: crun and systemd cgroups do not work in containers without systemd; the
  # explicit ulimits avoid needing CAP_SYS_RESOURCE to raise the defaults.
  cat >"${STATE}/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${STATE}/podman/events.log"
tmp_dir = "${STATE}/podman/tmp"

[network]
network_backend = "netavark"
network_config_dir = "${STATE}/podman/networks"
CONF
  cat >"${STATE}/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "${STATE}/podman/root"
runroot = "${STATE}/podman/run"
CONF
  cat >"${STATE}/registries.conf" <<CONF
unqualified-search-registries = []
short-name-mode = "permissive"

[[registry]]
location = "localhost:${REGISTRY_PORT}"
insecure = true

[[registry]]
location = "127.0.0.1:${REGISTRY_PORT}"
insecure = true
CONF
  # No bridge/iptables: the sandbox has no netfilter privileges; tests use --network host.
  cat >"${STATE}/daemon.json" <<CONF
{
  "data-root": "${STATE}/docker/data",
  "exec-root": "${STATE}/docker/exec",
  "pidfile": "${STATE}/docker/dockerd.pid",
  "hosts": ["unix://${STATE}/docker.sock"],
  "containerd-namespace": "k8s-dev-engines",
  "containerd-plugins-namespace": "k8s-dev-engines-plugins",
  "iptables": false,
  "ip-forward": false,
  "ip-masq": false,
  "bridge": "none",
  "storage-driver": "overlay2",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "shutdown-timeout": 3,
  "log-level": "warn"
}
CONF
  cat >"${STATE}/registry.yml" <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${STATE}/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${REGISTRY_PORT}
CONF
}

podman_env() {
  export CONTAINERS_CONF="${STATE}/containers.conf"
  export CONTAINERS_STORAGE_CONF="${STATE}/storage.conf"
  export CONTAINERS_REGISTRIES_CONF="${STATE}/registries.conf"
}

start_daemon() { # name, command...
  local name="$1"
  shift
  if daemon_alive "${STATE}/${name}.pid"; then
    log "${name} already running (pid $(cat "${STATE}/${name}.pid"))"
    return 0
  fi
  daemon_start "${STATE}/${name}.pid" "${STATE}/${name}.log" "$@"
}

# The marker that a daemon has a certs.d directory of its own (see the header; cmd_env offers
# the directory only then) is written by the daemon's own start command, so it describes the
# running daemon: one started by an older engines.sh has none, and `down` removes it.
DOCKER_MARKER="${STATE}/docker/etc/.private"
PODMAN_MARKER="${STATE}/podman/home/.private"

# dockerd with ${STATE}/docker/etc as its /etc/docker (see the header). unshare without --fork
# execs, as does sh, so the PID file still names dockerd. Without /etc/docker to mount over (no
# docker.io package) or without unshare, dockerd runs as before and no CA directory is offered.
start_dockerd() {
  if [[ -d /etc/docker ]] && command -v unshare >/dev/null; then
    # shellcheck disable=SC2016 # expanded by the inner sh
    start_daemon dockerd unshare --mount --propagation slave \
      sh -c 'mount --bind "$1" /etc/docker && touch "$3" && exec dockerd --config-file "$2"' \
      sh "${STATE}/docker/etc" "${STATE}/daemon.json" "${DOCKER_MARKER}"
  else
    start_daemon dockerd dockerd --config-file "${STATE}/daemon.json"
  fi
}

# The Podman API service with HOME=${STATE}/podman/home (its certs.d; see the header).
start_podman() {
  # shellcheck disable=SC2016 # expanded by the inner sh
  (podman_env && export HOME="${STATE}/podman/home" && start_daemon podman \
    sh -c 'touch "$1" && shift && exec "$@"' sh "${PODMAN_MARKER}" \
    podman system service --time=0 "unix://${STATE}/podman.sock")
}

cmd_env() {
  # Only for daemons started with them (an older engines.sh did not): see the header.
  if [[ -f "${DOCKER_MARKER}" ]]; then
    echo "export K8S_DEV_TEST_DOCKER_CERTS_D=${STATE}/docker/etc/certs.d"
  fi
  if [[ -f "${PODMAN_MARKER}" ]]; then
    echo "export K8S_DEV_TEST_PODMAN_CERTS_D=${STATE}/podman/home/.config/containers/certs.d"
  fi
  cat <<ENV
export K8S_DEV_ENGINES_STATE=${STATE}
export K8S_DEV_TEST_DOCKER_HOST=unix://${STATE}/docker.sock
export K8S_DEV_TEST_PODMAN_HOST=unix://${STATE}/podman.sock
export K8S_DEV_TEST_REGISTRY=127.0.0.1:${REGISTRY_PORT}
export CONTAINERS_CONF=${STATE}/containers.conf
export CONTAINERS_STORAGE_CONF=${STATE}/storage.conf
export CONTAINERS_REGISTRIES_CONF=${STATE}/registries.conf
ENV
}

cmd_up() {
  command -v podman >/dev/null || die "podman not found. Run: apt-get install podman runc netavark aardvark-dns"
  command -v dockerd >/dev/null || die "dockerd not found. Run: apt-get install docker.io"
  command -v docker-registry >/dev/null || die "docker-registry not found. Run: apt-get install docker-registry"
  write_configs
  start_podman
  start_dockerd
  start_daemon registry docker-registry serve "${STATE}/registry.yml"
  wait_until podman curl -fsS --unix-socket "${STATE}/podman.sock" http://d/_ping
  wait_until dockerd curl -fsS --unix-socket "${STATE}/docker.sock" http://d/_ping
  wait_until registry curl -fsS "http://127.0.0.1:${REGISTRY_PORT}/v2/"
  log "podman, dockerd and registry 127.0.0.1:${REGISTRY_PORT} are up (state: ${STATE})"
  cmd_env
}

stop_by_pidfile() { daemon_stop "$1" "${STATE}/$1.pid" 20; }

cmd_down() {
  # Podman containers live under conmon, not the API service, and dockerd waits 10s per
  # container whose PID 1 ignores SIGTERM: stop containers first with a short grace period.
  if daemon_alive "${STATE}/podman.pid"; then
    timeout 30 podman --url "unix://${STATE}/podman.sock" stop --all -t 2 >/dev/null 2>&1 || true
  fi
  if daemon_alive "${STATE}/dockerd.pid"; then
    local ids
    ids="$(DOCKER_HOST="unix://${STATE}/docker.sock" timeout 30 docker ps -q 2>/dev/null || true)"
    if [[ -n "${ids}" ]]; then
      # shellcheck disable=SC2086 # one container id per word
      DOCKER_HOST="unix://${STATE}/docker.sock" timeout 30 docker stop -t 2 ${ids} >/dev/null 2>&1 || true
    fi
  fi
  local name
  for name in "${DAEMONS[@]}"; do stop_by_pidfile "${name}"; done
  rm -f "${STATE}/podman.sock" "${STATE}/docker.sock" "${DOCKER_MARKER}" "${PODMAN_MARKER}"
}

cmd_purge() {
  cmd_down
  # Podman's overlay binds and dockerd's netns mount outlive the daemons.
  unmount_below "${STATE}"
  rm -rf "${STATE}"
  log "purged ${STATE}"
}

cmd_status() {
  local name
  for name in "${DAEMONS[@]}"; do daemon_status "${name}" "${STATE}/${name}.pid"; done
}

main() {
  case "${1:-}" in
    up) cmd_up ;;
    env) cmd_env ;;
    status) cmd_status ;;
    down) cmd_down ;;
    purge) cmd_purge ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
