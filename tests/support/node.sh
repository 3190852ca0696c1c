#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# A real node for the control plane of tests/support/cluster.sh: containerd 2 (built by
# tools.sh, on its own socket and root so Docker keeps its own), runc and the CNI plugins from
# Debian, a pause image built here from busybox and pushed to the engines' registry, the
# kubelet (cgroupfs, like containerd) registering as node "k8s-dev-node", and kube-proxy
# (iptables mode) so Services and NodePorts of pods on it answer from this host. Pods scheduled
# to it really pull and run. Every process runs under setsid with a PID file, stopped by PID.
#
# kube-proxy's iptables chains (KUBE-SERVICES, KUBE-NODEPORTS, ...) are global to the host, so
# one kube-proxy runs per host: it holds a lock (K8S_DEV_NODE_PROXY_LOCK) for its lifetime.
# A second node on the same host runs without one and says so (K8S_DEV_TEST_NODE_PROXY is
# then empty); `down` removes kube-proxy's chains only when this node's kube-proxy made them.
# kube-proxy also sets net.ipv4.conf.all.route_localnet=1 (NodePorts on 127.0.0.1).
#
# Pods reach the API server, which listens on 127.0.0.1 only, through the `kubernetes` Service:
# a forwarder on the node's address (tests/support/tcp-forward.py) and an EndpointSlice of that
# Service naming it (cluster.sh runs no endpoint reconciler), so in-cluster clients (the
# gateway's kube driver, its /readyz) work.
#
# `up` prints each step; when the machine cannot run a node (cgroups, mounts, netfilter), it
# stops at the step that failed with that component's log tail, so the reason is on record.
#
# Needs: cluster.sh up (K8S_DEV_CLUSTER_STATE), the engines' registry (K8S_DEV_TEST_REGISTRY,
# K8S_DEV_TEST_PODMAN_HOST to build the pause image), tools.sh build node containerd, runc,
# containernetworking-plugins and iptables (Debian), busybox-static, openssl, curl, flock.
#
# Environment:
#   K8S_DEV_NODE_STATE       state directory (default: /tmp/k8s-dev-node)
#   K8S_DEV_NODE_NAME        node name (default: k8s-dev-node)
#   K8S_DEV_NODE_POD_CIDR    the node's pod CIDR, also kube-proxy's cluster CIDR (default: 10.244.0.0/24)
#   K8S_DEV_NODE_BRIDGE      the CNI bridge's name, at most 15 characters (default: k8sdev0)
#   K8S_DEV_NODE_PROXY_LOCK  the host-wide kube-proxy lock (default: /run/lock/k8s-dev-kube-proxy.lock)
#   K8S_DEV_CLUSTER_STATE, K8S_DEV_TEST_REGISTRY, K8S_DEV_TEST_PODMAN_HOST  as above
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${K8S_DEV_NODE_STATE:-/tmp/k8s-dev-node}"
NODE="${K8S_DEV_NODE_NAME:-k8s-dev-node}"
CLUSTER="${K8S_DEV_CLUSTER_STATE:-/tmp/k8s-dev-cluster}"
CNI_BIN=/usr/lib/cni
POD_CIDR="${K8S_DEV_NODE_POD_CIDR:-10.244.0.0/24}"
BRIDGE="${K8S_DEV_NODE_BRIDGE:-k8sdev0}"
PROXY_LOCK="${K8S_DEV_NODE_PROXY_LOCK:-/run/lock/k8s-dev-kube-proxy.lock}"
TAINT=k8s-dev.test/real-node=true:NoSchedule
DAEMONS=(containerd kubelet kube-proxy api-forward)

usage() {
  sed -n '3,36p' "$0" | sed 's/^# \{0,1\}//'
  echo "Usage: $(basename "$0") up|env|down|status|restart-containerd   (up prints the exports, like env)"
  echo "  restart-containerd  stop containerd by its PID (SIGTERM, as a service manager does) and start"
  echo "                      it again on the same config; containers keep running under their shims."
  echo "                      The old log is kept as containerd.log.<unix time>."
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

# A kubeconfig of the harness API server for a client certificate (CN, O) signed by its CA.
client_kubeconfig() { # name, subject
  local pki="${CLUSTER}/pki" server name="$1"
  [[ -f "${pki}/ca.key" ]] || die "no control plane at ${CLUSTER}; run: tests/support/cluster.sh up"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "${STATE}/${name}.key" 2>/dev/null
  openssl req -new -key "${STATE}/${name}.key" -subj "$2" -out "${STATE}/${name}.csr" 2>/dev/null
  printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"${STATE}/${name}.ext"
  openssl x509 -req -in "${STATE}/${name}.csr" -CA "${pki}/ca.crt" -CAkey "${pki}/ca.key" -CAcreateserial -days 30 \
    -extfile "${STATE}/${name}.ext" -out "${STATE}/${name}.crt" 2>/dev/null
  server="https://127.0.0.1:$(sed -n 's/^API_PORT=//p' "${CLUSTER}/ports.env")"
  (
    umask 077
    cat >"${STATE}/${name}.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: harness, cluster: {server: "${server}", certificate-authority-data: $(base64 -w0 "${pki}/ca.crt")}}]
users: [{name: ${name}, user: {client-certificate-data: $(base64 -w0 "${STATE}/${name}.crt"), client-key-data: $(base64 -w0 "${STATE}/${name}.key")}}]
contexts: [{name: ${name}, context: {cluster: harness, user: ${name}}}]
current-context: ${name}
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
# The API server reaches the kubelet at the node's address (kubectl logs, exec).
address: ${NODE_IP}
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
cgroupRoot: /${NODE}
YAML
}

# iptables mode; conntrack.maxPerCore 0 leaves the host's nf_conntrack_max alone. Local
# traffic is told apart by the pod CIDR, which is the node's.
write_proxy_config() {
  PROXY_HEALTHZ="127.0.0.1:$(free_port)"
  cat >"${STATE}/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: ${STATE}/kube-proxy.kubeconfig}
hostnameOverride: ${NODE}
clusterCIDR: ${POD_CIDR}
healthzBindAddress: ${PROXY_HEALTHZ}
metricsBindAddress: 127.0.0.1:$(free_port)
conntrack: {maxPerCore: 0}
iptables: {localhostNodePorts: true}
YAML
}

# kube-proxy under the host-wide lock, held by kube-proxy itself (the fd survives exec) so it
# is released however kube-proxy ends. Not fatal: without it the node runs pods but not
# Services; the reason goes to the state (kube-proxy.reason) and the log.
PROXY_LOCKED_EXIT=75
start_proxy() { # kube-proxy binary
  rm -f "${STATE}/kube-proxy.reason" "${STATE}/kube-proxy.owner"
  write_proxy_config
  # shellcheck disable=SC2016 # expanded by the inner shell
  start kube-proxy bash -c 'exec 9<>"$1"; flock -n 9 || { echo "kube-proxy lock $1 is held by: $(cat "$1")"; exit '"${PROXY_LOCKED_EXIT}"'; }
    echo "$2 (pid $$)" >"$1"; shift 2; exec "$@"' _ "${PROXY_LOCK}" "${STATE}" "$1" --config "${STATE}/kube-proxy.yaml"
  local deadline=$((SECONDS + 60)) reason=""
  until curl -fsS "http://${PROXY_HEALTHZ}/healthz" >/dev/null 2>&1; do
    if ! daemon_alive "${STATE}/kube-proxy.pid"; then
      reason="$(grep -m1 -E 'lock .* is held by|^E[0-9]{4}|error|Error' "${STATE}/kube-proxy.log" || tail -n 1 "${STATE}/kube-proxy.log")"
      break
    fi
    if ((SECONDS >= deadline)); then
      reason="not healthy after 60s: $(tail -n 1 "${STATE}/kube-proxy.log")"
      daemon_stop kube-proxy "${STATE}/kube-proxy.pid"
      break
    fi
    sleep 0.5
  done
  if [[ -n "${reason}" ]]; then
    echo "${reason}" >"${STATE}/kube-proxy.reason"
    log "kube-proxy is not running, so Services of this node do not answer: ${reason} (log: ${STATE}/kube-proxy.log)"
    return 0
  fi
  echo "${PROXY_HEALTHZ}" >"${STATE}/kube-proxy.owner"
  log "kube-proxy $("$1" --version | awk '{print $2}') (iptables, cluster CIDR ${POD_CIDR}) healthy on ${PROXY_HEALTHZ}"
}

# kube-proxy's chains, removed only by the node whose kube-proxy made them, under the lock so
# that no other node's kube-proxy is writing them meanwhile.
cleanup_proxy_rules() {
  [[ -f "${STATE}/kube-proxy.owner" ]] || return 0
  local dir
  dir="$(tool_dir node)"
  if flock -n "${PROXY_LOCK}" "${dir}/kube-proxy" --cleanup >>"${STATE}/kube-proxy.log" 2>&1; then
    log "removed kube-proxy's iptables chains"
  else
    log "kube-proxy --cleanup did not run (lock held or failed); see ${STATE}/kube-proxy.log"
  fi
  rm -f "${STATE}/kube-proxy.owner"
}

# Each node's pods under its own cgroup root (/NODE/kubepods): a kubelet kills every process in
# a pod cgroup under its root that it does not know, so two nodes on one host sharing the default
# /kubepods kill each other's containers (exit 137 a second after start). The kubelet wants the
# root to exist, in every hierarchy (cgroup v1 has one per controller).
cgroup_dirs() {
  local d
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    echo "/sys/fs/cgroup/${NODE}"
    return
  fi
  for d in /sys/fs/cgroup/*/; do
    [[ -L "${d%/}" ]] || echo "${d}${NODE}"
  done
}

# The API server for pods: NODE_IP:<port> forwarded to its loopback address, published as the
# `kubernetes` Service's endpoint (port name https, as the Service's).
API_SLICE="kubernetes-${NODE}"
start_api_forward() {
  local api_port
  api_port="$(sed -n 's/^API_PORT=//p' "${CLUSTER}/ports.env")"
  rm -f "${STATE}/api-forward.port"
  start api-forward python3 "${SCRIPT_DIR}/tcp-forward.py" "${NODE_IP}" "127.0.0.1:${api_port}" \
    --port-file "${STATE}/api-forward.port"
  await api-forward 15 test -s "${STATE}/api-forward.port"
  kubectl --kubeconfig "${CLUSTER}/admin.kubeconfig" apply -f - >/dev/null <<SLICE || die "publishing the API server's endpoint failed; is the control plane up?"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${API_SLICE}
  namespace: default
  labels: {kubernetes.io/service-name: kubernetes, endpointslice.kubernetes.io/managed-by: node.sh.k8s-dev.test}
addressType: IPv4
endpoints: [{addresses: ["${NODE_IP}"], conditions: {ready: true}}]
ports: [{name: https, port: $(cat "${STATE}/api-forward.port"), protocol: TCP}]
SLICE
  log "API server reachable from pods: kubernetes Service -> ${NODE_IP}:$(cat "${STATE}/api-forward.port") -> 127.0.0.1:${api_port}"
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
  command -v flock >/dev/null || die "flock not found; apt-get install util-linux"
  ((${#BRIDGE} <= 15)) || die "K8S_DEV_NODE_BRIDGE=${BRIDGE} is longer than 15 characters; give a shorter interface name"
  [[ "${POD_CIDR}" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/[0-9]+$ ]] \
    || die "K8S_DEV_NODE_POD_CIDR=${POD_CIDR} is not an IPv4 CIDR; give one like 10.244.0.0/24"
  [[ -x "${CNI_BIN}/bridge" ]] || die "CNI plugins not in ${CNI_BIN}; apt-get install containernetworking-plugins"
  local containerd_dir k8s_dir
  containerd_dir="$(tool_dir containerd)"
  k8s_dir="$(tool_dir node)"
  mkdir -p "${STATE}"
  PAUSE="${K8S_DEV_TEST_REGISTRY}/k8s-dev-pause:1"
  NODE_IP="$(hostname -I | awk '{print $1}')"
  [[ -n "${NODE_IP}" ]] || die "this host has no IPv4 address (hostname -I); the node needs one for its pods"
  HEALTHZ_PORT="$(free_port)"
  log "step 1/6: pause image ${PAUSE}"
  pause_image
  log "step 2/6: configs and the node's and kube-proxy's certificates"
  write_configs
  client_kubeconfig node "/O=system:nodes/CN=system:node:${NODE}"
  # system:kube-proxy is bound to the built-in system:node-proxier role.
  client_kubeconfig kube-proxy "/CN=system:kube-proxy"
  # shellcheck disable=SC2046 # one directory per line, no spaces
  mkdir -p $(cgroup_dirs)
  log "step 3/6: containerd $("${containerd_dir}/containerd" --version | awk '{print $3}') on ${STATE}/containerd.sock"
  start containerd env PATH="${containerd_dir}:${PATH}" "${containerd_dir}/containerd" --config "${STATE}/containerd.toml"
  await containerd 30 test -S "${STATE}/containerd.sock"
  log "step 4/6: kubelet $("${k8s_dir}/kubelet" --version | awk '{print $2}') as ${NODE}"
  # Tainted: only pods that ask for this node (nodeName) run here, so the kwok-backed tests'
  # pods keep landing on the fake node.
  start kubelet "${k8s_dir}/kubelet" --config "${STATE}/kubelet.yaml" --kubeconfig "${STATE}/node.kubeconfig" \
    --root-dir "${STATE}/kubelet" --cert-dir "${STATE}/kubelet/pki" --hostname-override "${NODE}" \
    --node-ip "${NODE_IP}" --register-with-taints "${TAINT}"
  await kubelet 60 curl -fsS "http://127.0.0.1:${HEALTHZ_PORT}/healthz"
  log "step 5/6: node ${NODE} Ready"
  await kubelet 120 node_ready
  log "step 6/6: kube-proxy (iptables, lock ${PROXY_LOCK}) and the API server for pods"
  start_proxy "${k8s_dir}/kube-proxy"
  start_api_forward
  log "node ${NODE} is Ready (state ${STATE})"
  cmd_env
}

cmd_env() {
  daemon_alive "${STATE}/kubelet.pid" || die "no node runs from ${STATE}; run: tests/support/node.sh up"
  cat <<ENV
export K8S_DEV_NODE_STATE=${STATE}
export K8S_DEV_TEST_NODE=${NODE}
export K8S_DEV_TEST_NODE_TAINT=${TAINT}
export K8S_DEV_TEST_NODE_PROXY=$(daemon_alive "${STATE}/kube-proxy.pid" && cat "${STATE}/kube-proxy.owner" 2>/dev/null)
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
    kubectl --kubeconfig "${CLUSTER}/admin.kubeconfig" delete endpointslice "${API_SLICE}" -n default --ignore-not-found >/dev/null 2>&1 || true
    kubectl --kubeconfig "${CLUSTER}/admin.kubeconfig" delete node "${NODE}" --timeout=30s >/dev/null 2>&1 || true
  fi
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    name="${DAEMONS[i]}"
    daemon_stop "${name}" "${STATE}/${name}.pid"
  done
  cleanup_proxy_rules
  for f in "${STATE}"/containerd/state/io.containerd.runtime.v2.task/*/*/{init,shim}.pid; do
    [[ -s "${f}" ]] && daemon_stop "shim process" "${f}"
  done
  # Shims whose task directory is gone (their container was killed from outside) keep running
  # with no PID file left; they name this node's containerd socket, which no other node has.
  local pid
  for pid in $(pgrep -f -- "-address ${STATE}/containerd.sock" || true); do
    kill -TERM "${pid}" 2>/dev/null && log "stopped orphaned shim (pid ${pid})"
  done
  unmount_below "${STATE}"
  ip link del "${BRIDGE}" 2>/dev/null || true
  # The cgroups the kubelet made under this node's root, deepest first (empty by now).
  for f in $(cgroup_dirs); do
    if [[ -d "${f}" ]]; then find "${f}" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
}

# containerd down and up again, for the fault tests: by PID, on the same config and socket, its
# log moved aside (a start truncates it) so what happened before the restart stays readable.
cmd_restart_containerd() {
  daemon_alive "${STATE}/containerd.pid" || die "no containerd runs from ${STATE}; run: tests/support/node.sh up"
  local containerd_dir
  containerd_dir="$(tool_dir containerd)"
  daemon_stop containerd "${STATE}/containerd.pid"
  mv -f "${STATE}/containerd.log" "${STATE}/containerd.log.$(date +%s)"
  start containerd env PATH="${containerd_dir}:${PATH}" "${containerd_dir}/containerd" --config "${STATE}/containerd.toml"
  await containerd 30 "${containerd_dir}/ctr" --address "${STATE}/containerd.sock" version
  log "containerd restarted (pid $(cat "${STATE}/containerd.pid"))"
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
    restart-containerd) cmd_restart_containerd ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
