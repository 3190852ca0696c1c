#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Local images that stand in for the ones k3d pulls from Docker Hub and ghcr.io, which no
# registry here serves, so the real k3d can create, start, stop and delete the kit's cluster and
# registry on a real engine. Only k3s itself is missing: the "k3s" image prints the log lines k3d
# waits for ("k3s is up and running", "Successfully registered node", "Cluster dns configmap"),
# writes the kubeconfig and CoreDNS manifest k3d reads, and sleeps; the load balancer passes
# port 6443 on to a real API server (tests/support/cluster.sh, through the address given); the
# registry is Debian's docker-registry (Distribution 2.8). All are FROM scratch with Debian's
# static busybox.
#
# Needs: podman (the engine: k3d's node containers are privileged, which this machine's dockerd
# cannot start without CAP_SYS_RESOURCE), busybox-static, docker-registry, kubectl, python3.
#
# Usage:
#   k3d-standins.sh registry ENGINE              docker.io/library/registry:2
#   k3d-standins.sh cluster ENGINE KUBECONFIG UPSTREAM [TAG]
#       k3s, load balancer and tools images tagged localhost/k8s-dev-standin-*:TAG (default
#       test); KUBECONFIG is what the server hands k3d (its server is rewritten by k3d), UPSTREAM
#       the HOST:PORT the load balancer forwards 6443 to. Prints the exports that make k3d and
#       the kit use them (K8S_DEV_K3S_IMAGE, K3D_IMAGE_LOADBALANCER, K3D_IMAGE_TOOLS).
# ENGINE is the Podman API URL (unix://…).
set -euo pipefail

usage() {
  sed -n '15,23p' "$0" | sed 's/^# \{0,1\}//'
}

die() { echo "error: $*" >&2; exit 1; }

# A FROM-scratch root with busybox and every applet it has, into DIR/rootfs.
busybox_root() { # dir
  local root="$1/rootfs" applet
  mkdir -p "${root}/bin" "${root}/tmp" "${root}/etc" "${root}/var/log" "${root}/run" "${root}/root"
  [[ -x /bin/busybox ]] || die "/bin/busybox not found; apt-get install busybox-static"
  cp /bin/busybox "${root}/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ -e "${root}/bin/${applet}" ]] || ln -s busybox "${root}/bin/${applet}"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"${root}/etc/passwd"
}

build() { # engine, dir, tag, entrypoint
  printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nENTRYPOINT ["%s"]\n' "$4" >"$2/Containerfile"
  podman --url "$1" build -q -f "$2/Containerfile" -t "$3" "$2" >/dev/null
}

cmd_registry() { # engine
  local engine="$1" dir lib
  command -v docker-registry >/dev/null || die "docker-registry not found; apt-get install docker-registry"
  dir="$(mktemp -d)"
  mkdir -p "${dir}/rootfs/bin" "${dir}/rootfs/etc/docker/registry" "${dir}/rootfs/var/lib/registry" "${dir}/rootfs/tmp"
  cp "$(command -v docker-registry)" "${dir}/rootfs/bin/registry"
  for lib in $(ldd "$(command -v docker-registry)" | grep -o '/[^ ]*'); do
    mkdir -p "${dir}/rootfs$(dirname "${lib}")"
    cp "${lib}" "${dir}/rootfs${lib}"
  done
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\nhttp:\n  addr: :5000\n' \
    >"${dir}/rootfs/etc/docker/registry/config.yml"
  printf 'FROM scratch\nCOPY rootfs/ /\nEXPOSE 5000\nENTRYPOINT ["/bin/registry"]\nCMD ["serve", "/etc/docker/registry/config.yml"]\n' \
    >"${dir}/Containerfile"
  podman --url "${engine}" build -q -f "${dir}/Containerfile" -t docker.io/library/registry:2 "${dir}" >/dev/null
  rm -rf "${dir}"
}

cmd_cluster() { # engine, kubeconfig, upstream, [tag]
  local engine="$1" kubeconfig="$2" upstream="$3" tag="${4:-test}" dir
  [[ -f "${kubeconfig}" ]] || die "kubeconfig ${kubeconfig} not found"
  [[ "${upstream}" == *:* ]] || die "upstream '${upstream}' is not HOST:PORT"
  dir="$(mktemp -d)"
  mkdir -p "${dir}"/{k3s,lb,tools}
  busybox_root "${dir}/k3s"
  mkdir -p "${dir}/k3s/rootfs/standin"
  # The names k3s gives its kubeconfig entries, which k3d renames (pkg/client/kubeconfig.go);
  # JSON is YAML to k3d's parser.
  kubectl --kubeconfig "${kubeconfig}" config view --raw --minify --flatten -o json | python3 -c '
import json, sys
kc = json.load(sys.stdin)
print(json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "default",
                  "clusters": [{"name": "default", "cluster": kc["clusters"][0]["cluster"]}],
                  "users": [{"name": "default", "user": kc["users"][0]["user"]}],
                  "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}]}))
' >"${dir}/k3s/rootfs/standin/kubeconfig.yaml"
  cat >"${dir}/k3s/rootfs/standin/coredns.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: coredns
  namespace: kube-system
data:
  NodeHosts: ""
YAML
  cat >"${dir}/k3s/rootfs/bin/k3s" <<'SH'
#!/bin/sh
# Stand-in for k3s (server|agent): what k3d reads and waits for, then nothing.
mkdir -p /output /var/lib/rancher/k3s/server/manifests /etc/rancher/k3s
case "$1" in
  server)
    cp /standin/kubeconfig.yaml "${K3S_KUBECONFIG_OUTPUT:-/output/kubeconfig.yaml}"
    cp /standin/coredns.yaml /var/lib/rancher/k3s/server/manifests/coredns.yaml
    echo "Running kube-apiserver (k8s-dev stand-in)"
    echo "Containerd is now running"
    echo "k3s is up and running"
    sleep 1
    echo "Cluster dns configmap updated (k8s-dev stand-in)"
    ;;
  agent) echo "Successfully registered node (k8s-dev stand-in)" ;;
esac
exec sleep 2147483647
SH
  # k3d's entrypoint hooks rewrite Docker's DNS rules and uncordon the node with kubectl; the
  # stand-ins record those calls (the kit reads the registry ConfigMap apply from them).
  printf '#!/bin/sh\nexit 0\n' >"${dir}/k3s/rootfs/bin/iptables-save"
  printf '#!/bin/sh\ncat >/dev/null\nexit 0\n' >"${dir}/k3s/rootfs/bin/iptables-restore"
  printf '#!/bin/sh\necho "$*" >>/var/log/kubectl-calls.log\nexit 0\n' >"${dir}/k3s/rootfs/bin/kubectl"
  chmod +x "${dir}/k3s/rootfs/bin/k3s" "${dir}/k3s/rootfs/bin/iptables-save" "${dir}/k3s/rootfs/bin/iptables-restore" \
    "${dir}/k3s/rootfs/bin/kubectl"
  build "${engine}" "${dir}/k3s" "localhost/k8s-dev-standin-k3s:${tag}" /bin/k3s

  busybox_root "${dir}/lb"
  mkdir -p "${dir}/lb/rootfs/etc/confd"
  cat >"${dir}/lb/rootfs/bin/proxy" <<SH
#!/bin/sh
# Stand-in for k3d-proxy (nginx): the API port goes to a real API server; the log line is
# what k3d waits for.
echo "start worker processes (k8s-dev stand-in)"
exec nc -ll -p 6443 -e nc ${upstream%:*} ${upstream##*:}
SH
  chmod +x "${dir}/lb/rootfs/bin/proxy"
  build "${engine}" "${dir}/lb" "localhost/k8s-dev-standin-proxy:${tag}" /bin/proxy

  busybox_root "${dir}/tools"
  printf '#!/bin/sh\nexec sleep 2147483647\n' >"${dir}/tools/rootfs/bin/tools"
  chmod +x "${dir}/tools/rootfs/bin/tools"
  build "${engine}" "${dir}/tools" "localhost/k8s-dev-standin-tools:${tag}" /bin/tools
  rm -rf "${dir}"
  cat <<ENV
export K8S_DEV_K3S_IMAGE=localhost/k8s-dev-standin-k3s:${tag}
export K3D_IMAGE_LOADBALANCER=localhost/k8s-dev-standin-proxy:${tag}
export K3D_IMAGE_TOOLS=localhost/k8s-dev-standin-tools:${tag}
ENV
}

main() {
  local cmd="${1:-}"
  (($#)) && shift
  case "${cmd}" in
    registry) (($# == 1)) || { usage >&2; exit 2; }; cmd_registry "$@" ;;
    cluster) (($# == 3 || $# == 4)) || { usage >&2; exit 2; }; cmd_cluster "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
