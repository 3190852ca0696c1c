#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
#
# Remote mode end to end (issue #13, item 3): a shared cluster (the fake Kubernetes API behind a
# context of the user's kubeconfig) and a team registry behind TLS (a CA made here) with htpasswd
# (docker-registry), whose login is in the user's Docker config. The host pushes to the
# registry's address, pods pull it by another name (K8S_DEV_REGISTRY_PULL). Checked: sync
# publishes both images there (the supervisor's engine-built prefix too) with the login and the
# CA of K8S_DEV_REGISTRY_CERTS; bootstrap makes the image pull secret in the release and sandbox
# namespaces, keyed by the pull name, and installs the chart with it, the pull names and a
# ClusterIP Service (a fixed NodePort would collide between users); watch hands Skaffold the same
# values and asks for plain HTTP only for K8S_DEV_INSECURE_REGISTRIES; the password appears in no
# output, argument list or file the tasks wrote.
#
# Environment: K8S_DEV_TEST_DOCKER_HOST, K8S_DEV_TEST_REGISTRY, K8S_DEV_TEST_DOCKER_CERTS_D
# (tests/support/engines.sh) and docker-registry and openssl on PATH; missing ones skip,
# K8S_DEV_TEST_NO_SKIP=1 (a skip fails).
set -euo pipefail

# shellcheck source=SCRIPTDIR/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/testing.sh"

usage() {
  echo "Usage: $(basename "$0") [test...]"
}

USER_NAME=k8s-dev-ci
PASSWORD="pw-$$-${RANDOM}${RANDOM}-secret"

# A CA and a certificate for 127.0.0.1 in DIR (ca.crt, server.crt, server.key).
make_pki() { # dir
  local dir="$1"
  mkdir -p "${dir}"
  (cd "${dir}" \
    && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
      -days 2 -subj "/CN=k8s-dev remote test CA" -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign \
    && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
      -subj /CN=127.0.0.1 \
    && printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >server.ext \
    && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
      -extfile server.ext) >/dev/null 2>&1
}

# docker-registry with TLS and htpasswd on a free port; REGISTRY is its address.
start_registry() {
  local dir="${SANDBOX}/registry" port
  make_pki "${dir}" || { fail "making the registry's CA and certificate"; return 1; }
  # bcrypt, the only htpasswd format distribution reads (Debian's libcrypt has it).
  python3 -W ignore -c 'import crypt,sys; print("%s:%s" % (sys.argv[1], crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))))' \
    "${USER_NAME}" "${PASSWORD}" >"${dir}/htpasswd"
  port="$(free_port)"
  REGISTRY="127.0.0.1:${port}"
  cat >"${dir}/config.yml" <<YAML
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: ${dir}/data}, delete: {enabled: true}}
http:
  addr: ${REGISTRY}
  tls: {certificate: ${dir}/server.crt, key: ${dir}/server.key}
auth:
  htpasswd: {realm: k8s-dev-test, path: ${dir}/htpasswd}
YAML
  (exec setsid docker-registry serve "${dir}/config.yml") >"${dir}/registry.log" 2>&1 &
  echo $! >"${SANDBOX}/registry.pid"
  local i
  for ((i = 0; i < 100; i++)); do
    curl -sS --cacert "${dir}/ca.crt" "https://${REGISTRY}/v2/" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "docker-registry did not start: $(cat "${dir}/registry.log")"
  return 1
}

# The user's login (Docker's config.json auths) and the CA, as a certs.d directory for the helper
# and in the test dockerd's certs.d for the engine-built prefix.
trust_and_log_in() {
  export DOCKER_CONFIG="${HOME}/.docker"
  mkdir -p "${DOCKER_CONFIG}"
  (umask 077 && printf '{"auths":{"%s":{"auth":"%s"}}}\n' "${REGISTRY}" \
    "$(printf '%s:%s' "${USER_NAME}" "${PASSWORD}" | base64 -w0)" >"${DOCKER_CONFIG}/config.json")
  export K8S_DEV_REGISTRY_CERTS="${SANDBOX}/certs.d"
  mkdir -p "${K8S_DEV_REGISTRY_CERTS}/${REGISTRY}" "${K8S_DEV_TEST_DOCKER_CERTS_D}/${REGISTRY}"
  cp "${SANDBOX}/registry/ca.crt" "${K8S_DEV_REGISTRY_CERTS}/${REGISTRY}/ca.crt"
  cp "${SANDBOX}/registry/ca.crt" "${K8S_DEV_TEST_DOCKER_CERTS_D}/${REGISTRY}/ca.crt"
}

# The shared cluster: the fake API as context `shared` of the user's kubeconfig.
start_cluster() {
  python3 "${ROOT}/tests/support/fake-kube-api.py" --port 0 --kubeconfig-out "${SANDBOX}/shared.yaml" \
    --name shared --pid-file "${SANDBOX}/api.pid" >"${SANDBOX}/api.out" 2>&1 &
  local i
  for ((i = 0; i < 100; i++)); do [[ -s "${SANDBOX}/api.pid" ]] && break; sleep 0.1; done
  mkdir -p "${HOME}/.kube"
  cp "${SANDBOX}/shared.yaml" "${HOME}/.kube/config"
  chmod 600 "${HOME}/.kube/config"
}

# A manifest digest in the TLS registry, with the login; "none" when absent.
remote_digest() { # repository, tag
  curl -fsSI --cacert "${SANDBOX}/registry/ca.crt" -u "${USER_NAME}:${PASSWORD}" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "https://${REGISTRY}/v2/$1/manifests/$2" 2>/dev/null \
    | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p' | grep . || echo none
}

# The password (or its base64 forms) nowhere in what the tasks printed, recorded or wrote.
assert_secret_kept() { # what
  local found
  found="$(grep -rlF -e "${PASSWORD}" -e "$(printf '%s:%s' "${USER_NAME}" "${PASSWORD}" | base64 -w0)" \
    "${SANDBOX}/out" "${SANDBOX}/err" "${K8S_DEV_FAKE_STATE}" "${K8S_DEV_STATE_DIR}" "${K8S_DEV_IMAGE_CONTEXT}" 2>/dev/null || true)"
  assert_eq "" "${found}" "$1: the password is in no output, recorded call or file the tasks wrote"
}

test_sync_bootstrap_and_watch_against_a_shared_cluster_and_a_tls_registry_with_a_login() {
  local missing="" tool
  for tool in K8S_DEV_TEST_DOCKER_HOST K8S_DEV_TEST_REGISTRY K8S_DEV_TEST_DOCKER_CERTS_D; do
    [[ -n "${!tool:-}" ]] || missing+=" ${tool}"
  done
  for tool in docker-registry openssl; do command -v "${tool}" >/dev/null 2>&1 || missing+=" ${tool}"; done
  if [[ -n "${missing}" ]]; then skip "remote mode: missing:${missing}"; return 0; fi
  sandbox_setup
  export DOCKER_HOST="${K8S_DEV_TEST_DOCKER_HOST}"
  start_registry || return 0
  trust_and_log_in
  start_cluster
  local base pull
  base="$(busybox_base "${K8S_DEV_TEST_REGISTRY}")" || { fail "publishing the busybox base"; return 0; }
  pull="registry.internal:${REGISTRY#*:}"
  export K8S_DEV_CONTEXT=shared K8S_DEV_REGISTRY="${REGISTRY}" K8S_DEV_REGISTRY_PULL="${pull}"
  export K8S_DEV_SANDBOX_NAMESPACE=sandboxes K8S_DEV_SUPERVISOR_BUILD_ARGS="SUPERVISOR_BASE_IMAGE=${base}"
  export K8S_DEV_IMAGE_CONTEXT="${SANDBOX}/context" K8S_DEV_STATE_DIR="${SANDBOX}/state"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${ROOT}/target}"
  mkdir -p "${K8S_DEV_IMAGE_CONTEXT}"

  run_task k8s:dev:sync
  assert_ok "remote sync publishes to the TLS registry with the user's login and K8S_DEV_REGISTRY_CERTS"
  local image
  for image in openshell-gateway openshell-supervisor; do
    if [[ "$(remote_digest "${image}" dev)" == sha256:* ]]; then pass "${image}:dev is in the TLS registry"; else fail "${image}:dev is not in ${REGISTRY}"; fi
  done
  assert_secret_kept "sync"

  K8S_DEV_SKIP_SYNC=1 run_task k8s:dev:bootstrap
  assert_ok "remote bootstrap against the shared cluster"
  local ns key
  for ns in openshell sandboxes; do
    assert_eq "kubernetes.io/dockerconfigjson" "$(kubectl --context shared get secret k8s-dev-pull -n "${ns}" -o jsonpath='{.type}')" \
      "the pull secret is in the ${ns} namespace"
    key="$(kubectl --context shared get secret k8s-dev-pull -n "${ns}" -o jsonpath='{.data.\.dockerconfigjson}' \
      | base64 -d | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["auths"]))')"
    assert_eq "${pull}" "${key}" "its login is keyed by the name pods pull by (${ns})"
  done
  local upgrade
  upgrade="$(calls helm 'c["argv"][0] == "upgrade"' | tail -n1)"
  assert_contains "${upgrade}" "--kube-context shared --namespace openshell --create-namespace --values ${ROOT}/deploy/values/dev.yaml --values ${K8S_DEV_STATE_DIR}/values.yaml " \
    "helm gets the shared context and the kit's values after the dev values"
  assert_contains "${upgrade}" "--set image.repository=${pull}/openshell-gateway " "the gateway is pulled by the pull name"
  local statefulset
  statefulset="$(kubectl --context shared get statefulset openshell -n openshell -o json)"
  local tag
  tag="$(sed -n 's/^K8S_DEV_GATEWAY_TAG=//p' "${K8S_DEV_STATE_DIR}/images.env")"
  assert_eq "k8s-dev-pull ${pull}/openshell-gateway:${tag}" \
    "$(python3 -c 'import json,sys; s=json.load(sys.stdin)["spec"]["template"]["spec"]; print(s["imagePullSecrets"][0]["name"], s["containers"][0]["image"])' <<<"${statefulset}")" \
    "the gateway pod pulls with the secret, by the pull name, the content tag sync pushed"
  assert_eq "ClusterIP None sandboxes k8s-dev-pull" "$(python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))["openshell/openshell"]["values"]
print(v["service"]["type"], v["service"].get("nodePort"), v["server"]["sandboxNamespace"], v["server"]["sandboxImagePullSecrets"][0]["name"])' \
    "${K8S_DEV_FAKE_STATE}/helm-releases.json")" \
    "on a shared cluster the Service is ClusterIP (no NodePort to collide), sandboxes pull with the secret"
  assert_secret_kept "bootstrap"

  # watch: a stub Skaffold that records what it is handed.
  mkdir -p "${SANDBOX}/bin"
  cat >"${SANDBOX}/bin/skaffold" <<'SH'
#!/usr/bin/env bash
printf '%s\n' "$*" >"${K8S_DEV_FAKE_STATE}/skaffold.argv"
cp "${K8S_DEV_KIT_VALUES}" "${K8S_DEV_FAKE_STATE}/skaffold.values.yaml"
SH
  chmod +x "${SANDBOX}/bin/skaffold"
  PATH="${SANDBOX}/bin:${PATH}" run_task k8s:dev:watch
  assert_ok "remote watch"
  assert_eq "dev --filename ${ROOT}/skaffold.yaml --default-repo ${REGISTRY} --kube-context shared" \
    "$(cat "${K8S_DEV_FAKE_STATE}/skaffold.argv")" "Skaffold pushes to the registry's address; no --insecure-registry for a TLS registry"
  assert_contains "$(cat "${K8S_DEV_FAKE_STATE}/skaffold.values.yaml")" 'imagePullSecrets:
  - name: "k8s-dev-pull"' "Skaffold's values file lists the pull secret"
  PATH="${SANDBOX}/bin:${PATH}" K8S_DEV_INSECURE_REGISTRIES="plain.lan:5000, other.lan" run_task k8s:dev:watch
  assert_contains "$(cat "${K8S_DEV_FAKE_STATE}/skaffold.argv")" "--insecure-registry plain.lan:5000 --insecure-registry other.lan" \
    "a registry listed in K8S_DEV_INSECURE_REGISTRIES is Skaffold's --insecure-registry"
  assert_secret_kept "watch"

  # Without a login for the registry, nothing is made and the chart gets no secret.
  rm -f "${DOCKER_CONFIG}/config.json"
  K8S_DEV_SKIP_SYNC=1 K8S_DEV_PULL_SECRET=other-pull run_task k8s:dev:bootstrap
  assert_ok "remote bootstrap without a login"
  assert_eq "" "$(kubectl --context shared get secret other-pull -n openshell --ignore-not-found -o name)" "no pull secret without a login"
  assert_not_contains "$(cat "${K8S_DEV_STATE_DIR}/values.yaml")" "PullSecrets" "and none in the chart's values"
  rm -rf "${K8S_DEV_TEST_DOCKER_CERTS_D:?}/${REGISTRY}"
}

main() {
  case "${1:-}" in -h | --help) usage; return 0 ;; esac
  DEFAULT_TESTS=(sync_bootstrap_and_watch_against_a_shared_cluster_and_a_tls_registry_with_a_login)
  run_tests "$@"
}

main "$@"
