# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
"""The recording fake of kind (tests/fakes/kind) against what the real kind v0.33.0 printed
(tests/data/recorded/kind): for every recorded case, the fake run the same way on a private
engine gives the same stdout, stderr and exit code, with this run's names, ports and paths in
place of the recording's `vars`. Its clusters are real containers, so the checks also run the
engine: kind's names, labels, network and published ports, stop/start, and the API behind it.

Needs the engines of tests/support/engines.sh (K8S_DEV_TEST_DOCKER_HOST, K8S_DEV_TEST_PODMAN_HOST);
skips without them, fails under K8S_DEV_TEST_NO_SKIP=1."""

import json
import os
import pathlib
import random
import re
import socket
import stat
import subprocess
import sys
import tempfile
import unittest

import yaml

import support as s
from test_kind import schema_errors

FAKE = s.ROOT / "tests" / "fakes" / "kind"
RECORDED = s.ROOT / "tests" / "data" / "recorded" / "kind"
DEFAULTS = s.ROOT / "tests" / "data" / "kind" / "rendered" / "defaults.yaml"
CGROUP = "cgroup v1 is deprecated in Kubernetes and will not be supported in a future kind release, please upgrade to cgroup v2\n"


def engine_host(var):
    value = os.environ.get(var)
    if not value:
        why = f"{var} is not set; start engines with `eval \"$(tests/support/engines.sh up)\"`"
        if os.environ.get("K8S_DEV_TEST_NO_SKIP") == "1":
            raise AssertionError(f"K8S_DEV_TEST_NO_SKIP=1 but {why}")
        raise unittest.SkipTest(why)
    return value


def case(name):
    return json.loads((RECORDED / f"{name}.json").read_text(encoding="utf-8"))


def substitute(text, was, values):
    """As the fake does: longest first, only where the old value stands alone."""
    for key in sorted(values, key=lambda k: -len(was.get(k, ""))):
        if was.get(key):
            pattern = r"(?<![A-Za-z0-9])%s(?![A-Za-z0-9])" % re.escape(was[key])
            text = re.sub(pattern, lambda _m: str(values[key]), text)
    return text


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Fake:
    """One fake-kind world: its state directory, engine and temporary directory."""

    def __init__(self, env):
        self.tmp = tempfile.TemporaryDirectory()
        self.env = dict(os.environ, K8S_DEV_FAKE_STATE=os.path.join(self.tmp.name, "state"), HOME=self.tmp.name,
                        **env)
        self.env.pop("KUBECONFIG", None)
        self.env.pop("KIND_CLUSTER_NAME", None)

    def run(self, *argv, env=None):
        return subprocess.run([sys.executable, str(FAKE), *argv], capture_output=True, text=True,
                              env=dict(self.env, **(env or {})), timeout=120)

    def engine(self, *argv):
        tool = "podman" if self.env.get("KIND_EXPERIMENTAL_PROVIDER") == "podman" else "docker"
        return subprocess.run([tool, *argv], capture_output=True, text=True, env=self.env, timeout=60)

    def cgroup_v1(self):
        if self.env.get("KIND_EXPERIMENTAL_PROVIDER") == "podman":
            info = json.loads(self.engine("info", "--format", "json").stdout)
            return info["host"]["cgroupVersion"] != "v2"
        return json.loads(self.engine("info", "--format", "{{json .}}").stdout)["CgroupVersion"] != "2"

    def close(self):
        self.run("_fake-cleanup")
        self.tmp.cleanup()


class Conformance:
    """Shared checks; subclasses pick the engine."""

    provider_env = {}

    def setUp(self):
        self.fake = Fake(self.engine_env())
        self.addCleanup(self.fake.close)
        self.cluster = "t%d-%d" % (os.getpid(), random.randrange(1 << 20))

    def assert_replays(self, name, argv, values, result=None, fix=lambda text: text):
        c = case(name)
        res = result or self.fake.run(*argv)
        values = dict(values, TMP=self.fake.tmp.name)
        want_err = fix(substitute(c["stderr"], c["vars"], values))
        if CGROUP in want_err and not self.fake.cgroup_v1():
            want_err = want_err.replace(CGROUP, "")
        self.assertEqual((res.stdout, res.stderr, res.returncode),
                         (fix(substitute(c["stdout"], c["vars"], values)), want_err, c["exit"]), name)

    def write_config(self, **changes):
        config = s.load_yaml(DEFAULTS)
        for node in config["nodes"]:
            node["image"] = changes.get("image", node["image"])
        config["networking"]["apiServerPort"] = changes.get("api_port", 6550)
        config["nodes"][0]["extraPortMappings"][0]["hostPort"] = changes.get("host_port", 8080)
        path = pathlib.Path(self.fake.tmp.name, "cluster.yaml")
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def test_cases_without_a_cluster_replay_kind(self):
        values = {"CLUSTER": self.cluster}
        prefix = "podman-" if self.provider_env else ""
        self.assert_replays(prefix + "get-clusters-none", ["get", "clusters"], values)
        if self.provider_env:
            return
        self.assert_replays("version", ["version"], values)
        self.assert_replays("get-nodes-none", ["get", "nodes", "--name", self.cluster], values)
        self.assert_replays("get-nodes-all-none", ["get", "nodes", "--all-clusters"], values)
        self.assert_replays("get-kubeconfig-missing", ["get", "kubeconfig", "--name", self.cluster], values)
        kubeconfig = os.path.join(self.fake.tmp.name, "kubeconfig")
        self.assert_replays("delete-cluster-missing",
                            ["delete", "cluster", "--name", self.cluster, "--kubeconfig", kubeconfig], values)

    def test_create_with_the_pinned_digest_fails_as_kind_does_offline(self):
        kubeconfig = os.path.join(self.fake.tmp.name, "kubeconfig")
        name = ("podman-" if self.provider_env else "") + "create-stops-at-node-image"
        self.assert_replays(name, ["create", "cluster", "--config", str(DEFAULTS), "--name", self.cluster,
                                   "--kubeconfig", kubeconfig], {"CLUSTER": self.cluster})
        self.assertEqual(self.fake.run("get", "clusters").stdout, "", "nothing was created")

    def test_a_cluster_lives_like_kinds(self):
        api_port, host_port = free_port(), free_port()
        image = "kindest/node:k8s-dev-fake"
        config = self.write_config(image=image, api_port=api_port, host_port=host_port)
        kubeconfig = os.path.join(self.fake.tmp.name, "kubeconfig")
        res = self.fake.run("create", "cluster", "--config", str(config), "--name", self.cluster,
                            "--kubeconfig", kubeconfig)
        self.assertEqual(res.returncode, 0, res.stderr)
        warnings = {CGROUP.strip(), "using podman due to KIND_EXPERIMENTAL_PROVIDER", "enabling experimental podman provider"}
        lines = [line for line in res.stderr.splitlines() if line not in warnings]
        self.assertEqual(lines[:3], [f'Creating cluster "{self.cluster}" ...',
                                     f" • Ensuring node image ({image}) 🖼️  ...", f" ✓ Ensuring node image ({image}) 🖼️"])
        self.assertIn(f'Set kubectl context to "kind-{self.cluster}"', lines)
        self.assertIn(f"kubectl cluster-info --context kind-{self.cluster} --kubeconfig {kubeconfig}", lines)
        self.assertEqual(stat.S_IMODE(os.stat(kubeconfig).st_mode), 0o600)
        kept = pathlib.Path(self.fake.env["K8S_DEV_FAKE_STATE"], "kind", "configs", self.cluster + ".yaml")
        self.assertEqual(kept.read_text(), config.read_text())
        self.assertEqual(schema_errors(yaml.safe_load(kept.read_text())), [])

        nodes = [f"{self.cluster}-control-plane", f"{self.cluster}-worker"]
        inspected = json.loads(self.fake.engine("inspect", *nodes).stdout)
        labels = [(c["Config"]["Labels"]["io.x-k8s.kind.cluster"], c["Config"]["Labels"]["io.x-k8s.kind.role"])
                  for c in inspected]
        self.assertEqual(labels, [(self.cluster, "control-plane"), (self.cluster, "worker")])
        self.assertEqual(inspected[0]["HostConfig"]["PortBindings"]["6443/tcp"],
                         [{"HostIp": "127.0.0.1", "HostPort": str(api_port)}])
        self.assertEqual(inspected[0]["HostConfig"]["PortBindings"]["30051/tcp"],
                         [{"HostIp": "127.0.0.1", "HostPort": str(host_port)}])
        nodes_api = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "get", "nodes", "-o", "name"],
                                   capture_output=True, text=True, timeout=60)
        self.assertEqual(nodes_api.stdout.split(), ["node/" + n for n in nodes], nodes_api.stderr)
        return kubeconfig, {"CLUSTER": self.cluster, "API_PORT": api_port, "HOST_PORT": host_port}


class OnDocker(Conformance, unittest.TestCase):
    def engine_env(self):
        return {"DOCKER_HOST": engine_host("K8S_DEV_TEST_DOCKER_HOST")}

    # Recorded on dockerd only.
    def test_create_refuses_what_kinds_decoding_and_validation_refuse(self):
        broken = pathlib.Path(self.fake.tmp.name, "misspelt.yaml")
        broken.write_text(DEFAULTS.read_text().replace("extraPortMappings:", "extraPortMapping:"))
        self.assert_replays("create-misspelt-field",
                            ["create", "cluster", "--config", str(broken), "--name", self.cluster],
                            {"CLUSTER": self.cluster})
        self.assert_replays("create-invalid-name",
                            ["create", "cluster", "--config", str(DEFAULTS), "--name", "Bad_Name"], {})

    def test_no_engine_is_kinds_error_with_the_engines_message(self):
        sock = f"unix://{self.fake.tmp.name}/nothing.sock"
        res = self.fake.run("get", "clusters", env={"DOCKER_HOST": sock})
        self.assert_replays("no-engine-get-clusters", [], {}, result=res)

    def test_a_cluster_lives_like_kinds(self):
        kubeconfig, values = super().test_a_cluster_lives_like_kinds()
        # The API is plain HTTP: the fake's one difference in kubeconfigs.
        http = lambda text: re.sub(r"https://(127\.0\.0\.1|[a-z0-9.-]+-control-plane):", r"http://\1:", text)  # noqa: E731
        self.assert_replays("get-clusters", ["get", "clusters"], values)
        self.assert_replays("get-nodes", ["get", "nodes", "--name", self.cluster], values)
        self.assert_replays("get-kubeconfig", ["get", "kubeconfig", "--name", self.cluster], values, fix=http)
        self.assert_replays("get-kubeconfig-internal", ["get", "kubeconfig", "--name", self.cluster, "--internal"],
                            values, fix=http)
        self.assert_replays("create-exists", ["create", "cluster", "--config", str(DEFAULTS), "--name", self.cluster],
                            values)

        nodes = [f"{self.cluster}-control-plane", f"{self.cluster}-worker"]
        self.fake.engine("stop", "-t", "1", *nodes)
        self.assert_replays("get-clusters-stopped", ["get", "clusters"], values)
        container = json.loads(self.fake.engine("inspect", nodes[0]).stdout)[0]["Id"]
        self.assert_replays("get-kubeconfig-stopped", ["get", "kubeconfig", "--name", self.cluster],
                            dict(values, CONTAINER_ID=container))
        self.fake.engine("start", *nodes)
        ready = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "get", "--raw", "/readyz",
                                "--request-timeout", "10s"], capture_output=True, text=True, timeout=60)
        self.assertEqual(ready.stdout, "ok", "the API comes back with the container")

        mine = os.path.join(self.fake.tmp.name, "kubeconfig")
        pathlib.Path(mine).write_text((RECORDED / "delete-cluster.kubeconfig").read_text())
        self.assert_replays("export-kubeconfig", ["export", "kubeconfig", "--name", self.cluster, "--kubeconfig", mine],
                            values)
        was = case("export-kubeconfig")["vars"]
        self.assertEqual(yaml.safe_load(pathlib.Path(mine).read_text()), yaml.safe_load(
            http(substitute((RECORDED / "export-kubeconfig.kubeconfig").read_text(), was, values))))
        self.assert_replays("delete-cluster", ["delete", "cluster", "--name", self.cluster, "--kubeconfig", mine],
                            values)
        self.assertEqual(yaml.safe_load(pathlib.Path(mine).read_text()),
                         yaml.safe_load((RECORDED / "delete-cluster.kubeconfig").read_text()))
        self.assertEqual(self.fake.engine("ps", "-a", "-q", "--filter", f"name={self.cluster}-").stdout, "")


class OnPodman(Conformance, unittest.TestCase):
    provider_env = {"KIND_EXPERIMENTAL_PROVIDER": "podman"}

    def engine_env(self):
        return dict(self.provider_env, CONTAINER_HOST=engine_host("K8S_DEV_TEST_PODMAN_HOST"))

    def test_a_cluster_lives_like_kinds(self):
        _, values = super().test_a_cluster_lives_like_kinds()
        res = self.fake.run("delete", "cluster", "--name", self.cluster)
        self.assertEqual(res.stderr.splitlines()[:3], [
            "using podman due to KIND_EXPERIMENTAL_PROVIDER", "enabling experimental podman provider",
            f'Deleting cluster "{values["CLUSTER"]}" ...'])
        self.assertEqual(res.returncode, 0)


if __name__ == "__main__":
    unittest.main()
