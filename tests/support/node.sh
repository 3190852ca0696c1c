#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# A real node for the control plane of tests/support/cluster.sh: containerd 2 (built by
# tools.sh, on its own socket and root so Docker keeps its own), runc and the CNI plugins from
# Debian, a pause image built here from busybox and pushed to the engines' registry, and the
# kubelet (cgroupfs, like containerd) registering as node "k8s-dev-node". Pods scheduled to it
# really pull and run. Every process runs under setsid with a PID file, stopped by PID.
#
# `up` prints each step; when the machine cannot run a node (cgroups, mounts, netfilter), it
# stops at the step that failed with that component's log tail, so the reason is on record.
#
# Needs: cluster.sh up (K8S_DEV_CLUSTER_STATE), the engines' registry (K8S_DEV_TEST_REGISTRY,
# K8S_DEV_TEST_PODMAN_HOST to build the pause image), tools.sh build node containerd, runc and
# containernetworking-plugins (Debian), busybox-static, openssl, curl.
#
# Environment:
#   K8S_DEV_NODE_STATE  state directory (default: /tmp/k8s-dev-node)
#   K8S_DEV_NODE_NAME   node name (default: k8s-dev-node)
#   K8S_DEV_CLUSTER_STATE, K8S_DEV_TEST_REGISTRY, K8S_DEV_TEST_PODMAN_HOST  as above
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${K8S_DEV_NODE_STATE:-/tmp/k8s-dev-node}"
NODE="${K8S_DEV_NODE_NAME:-k8s-dev-node}"
CLUSTER="${K8S_DEV_CLUSTER_STATE:-/tmp/k8s-dev-cluster}"
CNI_BIN=/usr/lib/cni
POD_CIDR=10.244.0.0/24
BRIDGE=k8sdev0
TAINT=k8s-dev.test/real-node=true:NoSchedule
DAEMONS=(containerd kubelet)

usage() {
  sed -n '3,21p' "$0" | sed 's/^# \{0,1\}//'
  echo "Usage: $(basename "$0") up|env|down|status   (up prints the exports, like env)"
}

log() { echo "[node] $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

# shellcheck source=SCRIPTDIR/daemons.sh
source "${SCRIPT_DIR}/daemons.sh"

tool_dir() { # tool
  "${SCRIPT_DIR}/tools.sh" path "$1" 2>/dev/null || die "$1 is not built; run: tests/support/tools.sh build $1"
}

start() { # name, command...
  local name="$1"
  shift
  daemon_start "${STATE}/${name}.pid" "${STATE}/${name}.log" "$@"
}

# Wait until CHECK succeeds, failing with the component's log tail when it exits or times out.
await() { # name, seconds, check command...
  local name="$1" deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ! daemon_alive "${STATE}/${name}.pid"; then
      tail -n 25 "${STATE}/${name}.log" >&2
      die "${name} exited; log: ${STATE}/${name}.log"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 25 "${STATE}/${name}.log" >&2
      die "${name} not ready after $((deadline - SECONDS + $2))s; log: ${STATE}/${name}.log"
    fi
    sleep 0.5
  done
}

# The node's client certificate (CN system:node:NAME, O system:nodes) from the harness CA.
node_kubeconfig() {
  local pki="${CLUSTER}/pki" server
  [[ -f "${pki}/ca.key" ]] || die "no control plane at ${CLUSTER}; run: tests/support/cluster.sh up"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "${STATE}/node.key" 2>/dev/null
  openssl req -new -key "${STATE}/node.key" -subj "/O=system:nodes/CN=system:node:${NODE}" -out "${STATE}/node.csr" 2>/dev/null
  printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"${STATE}/node.ext"
  openssl x509 -req -in "${STATE}/node.csr" -CA "${pki}/ca.crt" -CAkey "${pki}/ca.key" -CAcreateserial -days 30 \
    -extfile "${STATE}/node.ext" -out "${STATE}/node.crt" 2>/dev/null
  server="https://127.0.0.1:$(sed -n 's/^API_PORT=//p' "${CLUSTER}/ports.env")"
  (
    umask 077
    cat >"${STATE}/node.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: harness, cluster: {server: "${server}", certificate-authority-data: $(base64 -w0 "${pki}/ca.crt")}}]
users: [{name: node, user: {client-certificate-data: $(base64 -w0 "${STATE}/node.crt"), client-key-data: $(base64 -w0 "${STATE}/node.key")}}]
contexts: [{name: node, context: {cluster: harness, user: node}}]
current-context: node
KC
  )
}

# pause: waits for SIGTERM (busybox's sh, FROM scratch), pushed to the engines' registry.
pause_image() {
  local dir
  dir="$(mktemp -d)"
  mkdir -p "${dir}/rootfs/bin"
  cp /bin/busybox "${dir}/rootfs/bin/busybox"
  ln -s busybox "${dir}/rootfs/bin/sh"
  ln -s busybox "${dir}/rootfs/bin/sleep"
  printf 'FROM scratch\nCOPY rootfs/ /\nENTRYPOINT ["/bin/sh", "-c", "trap \\"exit 0\\" TERM INT; while :; do sleep 1; done"]\n' \
    >"${dir}/Containerfile"
  podman --url "${K8S_DEV_TEST_PODMAN_HOST}" build -q -t "${PAUSE}" "${dir}" >/dev/null
  podman --url "${K8S_DEV_TEST_PODMAN_HOST}" push -q "${PAUSE}" >/dev/null
  rm -rf "${dir}"
}

write_configs() {
  mkdir -p "${STATE}"/{containerd/root,containerd/state,net.d,kubelet,certs.d/"${K8S_DEV_TEST_REGISTRY}"}
  cat >"${STATE}/certs.d/${K8S_DEV_TEST_REGISTRY}/hosts.toml" <<TOML
server = "http://${K8S_DEV_TEST_REGISTRY}"
[host."http://${K8S_DEV_TEST_REGISTRY}"]
  capabilities = ["pull", "resolve"]
TOML
  cat >"${STATE}/containerd.toml" <<TOML
version = 3
root = "${STATE}/containerd/root"
state = "${STATE}/containerd/state"
[grpc]
  address = "${STATE}/containerd.sock"
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "${PAUSE}"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "${STATE}/certs.d"
[plugins."io.containerd.cri.v1.runtime"]
  # The kubelet asks for oom_score_adj -998 for every pod sandbox; lowering it needs
  # CAP_SYS_RESOURCE, which this machine does not grant ("runc create failed: can't get final
  # child's PID from pipe: EOF"). Clamp it to containerd's own, as for rootless containerd.
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
      SystemdCgroup = false
      BinaryName = "$(command -v runc)"
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["${CNI_BIN}"]
    conf_dir = "${STATE}/net.d"
TOML
  cat >"${STATE}/net.d/10-k8s-dev.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "k8s-dev",
 "plugins": [{"type": "bridge", "bridge": "${BRIDGE}", "isGateway": true, "ipMasq": true,
              "ipam": {"type": "host-local", "ranges": [[{"subnet": "${POD_CIDR}"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
             {"type": "portmap", "capabilities": {"portMappings": true}},
             {"type": "loopback"}]}
JSON
  cat >"${STATE}/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://${STATE}/containerd.sock
failSwapOn: false
failCgroupV1: false
address: 127.0.0.1
port: $(free_port)
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${HEALTHZ_PORT}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: ${CLUSTER}/pki/ca.crt}
authorization: {mode: AlwaysAllow}
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
enforceNodeAllocatable: []
podCIDR: ${POD_CIDR}
resolvConf: /etc/resolv.conf
YAML
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

node_ready() {
  kubectl --kubeconfig "${CLUSTER}/admin.kubeconfig" get node "${NODE}" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True
}

cmd_up() {
  [[ -n "${K8S_DEV_TEST_REGISTRY:-}" && -n "${K8S_DEV_TEST_PODMAN_HOST:-}" ]] \
    || die "K8S_DEV_TEST_REGISTRY/K8S_DEV_TEST_PODMAN_HOST not set; eval \"\$(tests/support/engines.sh up)\""
  command -v runc >/dev/null || die "runc not found; apt-get install runc"
  [[ -x "${CNI_BIN}/bridge" ]] || die "CNI plugins not in ${CNI_BIN}; apt-get install containernetworking-plugins"
  local containerd_dir k8s_dir
  containerd_dir="$(tool_dir containerd)"
  k8s_dir="$(tool_dir node)"
  mkdir -p "${STATE}"
  PAUSE="${K8S_DEV_TEST_REGISTRY}/k8s-dev-pause:1"
  HEALTHZ_PORT="$(free_port)"
  log "step 1/5: pause image ${PAUSE}"
  pause_image
  log "step 2/5: configs and the node's certificate"
  write_configs
  node_kubeconfig
  log "step 3/5: containerd $("${containerd_dir}/containerd" --version | awk '{print $3}') on ${STATE}/containerd.sock"
  start containerd env PATH="${containerd_dir}:${PATH}" "${containerd_dir}/containerd" --config "${STATE}/containerd.toml"
  await containerd 30 test -S "${STATE}/containerd.sock"
  log "step 4/5: kubelet $("${k8s_dir}/kubelet" --version | awk '{print $2}') as ${NODE}"
  # Tainted: only pods that ask for this node (nodeName) run here, so the kwok-backed tests'
  # pods keep landing on the fake node.
  start kubelet "${k8s_dir}/kubelet" --config "${STATE}/kubelet.yaml" --kubeconfig "${STATE}/node.kubeconfig" \
    --root-dir "${STATE}/kubelet" --cert-dir "${STATE}/kubelet/pki" --hostname-override "${NODE}" \
    --node-ip "$(hostname -I | awk '{print $1}')" --register-with-taints "${TAINT}"
  await kubelet 60 curl -fsS "http://127.0.0.1:${HEALTHZ_PORT}/healthz"
  log "step 5/5: node ${NODE} Ready"
  await kubelet 120 node_ready
  log "node ${NODE} is Ready (state ${STATE})"
  cmd_env
}

cmd_env() {
  daemon_alive "${STATE}/kubelet.pid" || die "no node runs from ${STATE}; run: tests/support/node.sh up"
  cat <<ENV
export K8S_DEV_NODE_STATE=${STATE}
export K8S_DEV_TEST_NODE=${NODE}
export K8S_DEV_TEST_NODE_TAINT=${TAINT}
ENV
}

# Pods first, through the kubelet (so CNI releases their addresses and rules), then the daemons
# by PID, then whatever outlived them: runc shims (by the PID files containerd keeps), mounts
# under the state directory, the bridge.
cmd_down() {
  local i f
  if daemon_alive "${STATE}/kubelet.pid" && [[ -f "${CLUSTER}/admin.kubeconfig" ]]; then
    kubectl --kubeconfig "${CLUSTER}/admin.kubeconfig" delete pods --all-namespaces --field-selector "spec.nodeName=${NODE}" \
      --timeout=60s >/dev/null 2>&1 || true
    kubectl --kubeconfig "${CLUSTER}/admin.kubeconfig" delete node "${NODE}" --timeout=30s >/dev/null 2>&1 || true
  fi
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    name="${DAEMONS[i]}"
    daemon_stop "${name}" "${STATE}/${name}.pid"
  done
  for f in "${STATE}"/containerd/state/io.containerd.runtime.v2.task/*/*/{init,shim}.pid; do
    [[ -s "${f}" ]] && daemon_stop "shim process" "${f}"
  done
  unmount_below "${STATE}"
  ip link del "${BRIDGE}" 2>/dev/null || true
}

cmd_status() {
  local name
  for name in "${DAEMONS[@]}"; do daemon_status "${name}" "${STATE}/${name}.pid"; done
}

main() {
  case "${1:-}" in
    up) cmd_up ;;
    env) cmd_env ;;
    down) cmd_down ;;
    status) cmd_status ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
