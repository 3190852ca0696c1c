#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# The daemons of the test harness scripts (engines.sh, cluster.sh, node.sh): each runs under
# setsid with a PID file and its output in a log, and is stopped by that PID only. Source it;
# do not run it. The sourcing script defines log().
#
# API:
#   daemon_alive PIDFILE                   the process runs (a zombie nobody reaped does not)
#   daemon_start PIDFILE LOGFILE CMD...    start CMD unless PIDFILE's process runs
#   daemon_stop NAME PIDFILE [SECONDS]     SIGTERM, SIGKILL after SECONDS (10), remove PIDFILE
#   daemon_status NAME PIDFILE [DETAIL]    "NAME: running (pid N[, DETAIL])" or "NAME: stopped"
#   unmount_below DIR                      unmount what daemons left mounted under DIR

if [[ -n "${_K8S_DEV_DAEMONS_LOADED:-}" ]]; then
  return 0
fi
_K8S_DEV_DAEMONS_LOADED=1

daemon_alive() { # pid file
  local pid
  [[ -s "$1" ]] || return 1
  pid="$(cat "$1")"
  kill -0 "${pid}" 2>/dev/null && [[ "$(ps -o stat= -p "${pid}" 2>/dev/null)" != Z* ]]
}

# `setsid cmd &` in a non-interactive shell execs without forking, so $! is the daemon's PID.
daemon_start() { # pid file, log file, command...
  local pidfile="$1" logfile="$2"
  shift 2
  daemon_alive "${pidfile}" && return 0
  setsid "$@" >"${logfile}" 2>&1 </dev/null &
  echo "$!" >"${pidfile}"
}

daemon_status() { # name, pid file, [detail]
  if daemon_alive "$2"; then
    echo "$1: running (pid $(cat "$2")${3:+, $3})"
  else
    echo "$1: stopped"
  fi
}

daemon_stop() { # name, pid file, [grace seconds]
  local name="$1" pidfile="$2" grace="${3:-10}" pid i
  [[ -s "${pidfile}" ]] || return 0
  pid="$(cat "${pidfile}")"
  if daemon_alive "${pidfile}"; then
    kill -TERM "${pid}" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      daemon_alive "${pidfile}" || break
      sleep 0.1
    done
    if daemon_alive "${pidfile}"; then
      log "${name} (pid ${pid}) ignored SIGTERM for ${grace}s; sending SIGKILL"
      kill -KILL "${pid}" 2>/dev/null || true
      sleep 0.2
    fi
    log "stopped ${name} (pid ${pid})"
  fi
  rm -f "${pidfile}"
}

# Mounts a daemon made (overlay binds, network namespaces, pod volumes) outlive it; deepest first,
# lazily when busy.
unmount_below() { # dir
  local mount
  { findmnt -rn -o TARGET | grep -F "$1/" || true; } | sort -r | while read -r mount; do
    umount "${mount}" 2>/dev/null || umount -l "${mount}" || true
  done
}
