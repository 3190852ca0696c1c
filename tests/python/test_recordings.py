# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
"""The recording fakes (tests/fakes) against what the real k3d, helm and skaffold printed
(tests/data/recorded, made by record.sh from the binaries tests/support/tools.sh builds): the
same bytes on stdout and stderr and the same exit code for every recorded case a fake replays,
k3d's log lines in both of its formats, and k3d's JSON objects field for field."""

import glob
import http.server
import importlib.machinery
import importlib.util
import json
import os
import pathlib
import re
import socketserver
import subprocess
import sys
import tempfile
import threading
import unittest

import support as s

FAKES = s.ROOT / "tests" / "fakes"
RECORDED = s.ROOT / "tests" / "data" / "recorded"
sys.path.insert(0, str(FAKES))
import recorded  # noqa: E402


def case(tool, name):
    return json.loads((RECORDED / tool / (name + ".json")).read_text(encoding="utf-8"))


def normalise(text):
    """Times differ from run to run: logrus's time= field and its seconds-since-start."""
    text = re.sub(r'time="[^"]*"', 'time="T"', text)
    return re.sub(r"(\x1b\[0m)\[\d{4}\]", r"\1[T]", text)


class _Ping(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200 if self.path.endswith("/_ping") else 404)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args):
        pass


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):  # BaseHTTPRequestHandler wants a (host, port) client address
        sock, _ = super().get_request()
        return sock, ("local", 0)

    def handle_error(self, request, client_address):
        pass  # a client that hangs up after the status line


class FakeEngine:
    """A socket that answers Docker's /_ping, which is all k3d asks before listing nothing."""

    def __enter__(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "docker.sock")
        self.server = _UnixHTTPServer(self.path, _Ping)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return "unix://" + self.path

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.dir.cleanup()


def run_fake(tool, argv, env):
    state = tempfile.mkdtemp()
    full = dict(os.environ, K8S_DEV_FAKE_STATE=state, **env)
    return subprocess.run([sys.executable, str(FAKES / tool)] + argv, env=full, capture_output=True, text=True,
                          timeout=60)


class K3dLogLines(unittest.TestCase):
    def test_the_fakes_format_every_recorded_k3d_log_line_as_k3d_did(self):
        checked = 0
        for path in sorted(glob.glob(str(RECORDED / "k3d" / "*.json"))):
            c = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
            os.environ["LOG_COLORS"] = c["env"].get("LOG_COLORS") or "true"
            try:
                for line in (c["stdout"] + c["stderr"]).splitlines():
                    parsed = recorded.k3d_parse(line)
                    if parsed:
                        self.assertEqual(normalise(line), normalise(recorded.k3d_line(*parsed)), path)
                        checked += 1
            finally:
                del os.environ["LOG_COLORS"]
        self.assertGreater(checked, 30, "recordings with k3d log lines")


class FakeK3dReplaysTheRealOne(unittest.TestCase):
    # Cases the fake reproduces from an empty state, with the recorded names.
    CASES = {
        "version": ["version"],
        "cluster-list-none": ["cluster", "list", "-o", "json"],
        "registry-list-none": ["registry", "list", "-o", "json"],
        "cluster-list-missing": ["cluster", "list", "rec-cluster", "-o", "json"],
        "registry-list-missing": ["registry", "list", "rec-registry", "-o", "json"],
        "registry-delete-missing": ["registry", "delete", "rec-registry"],
        "cluster-delete-missing": ["cluster", "delete", "rec-cluster"],
        "kubeconfig-get-missing": ["kubeconfig", "get", "rec-cluster"],
        "node-list-none": ["node", "list", "-o", "json"],
    }

    def assert_replays(self, name, argv, env):
        for colors, suffix in (("false", ""), ("true", "-colors")):
            with self.subTest(case=name, colors=colors):
                want = case("k3d", name + suffix)
                self.assertEqual(want["argv"][1:], argv)
                got = run_fake("k3d", argv, dict(env, LOG_COLORS=colors))
                self.assertEqual((want["exit"], normalise(want["stdout"]), normalise(want["stderr"])),
                                 (got.returncode, normalise(got.stdout), normalise(got.stderr)))

    def test_outputs_and_exit_codes_match_the_recordings(self):
        with FakeEngine() as host:
            for name, argv in self.CASES.items():
                self.assert_replays(name, argv, {"DOCKER_HOST": host})

    def test_without_an_engine_it_fails_as_k3d_does(self):
        self.assert_replays("cluster-list-no-engine", ["cluster", "list", "rec-cluster", "-o", "json"],
                            {"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
        self.assert_replays("registry-list-no-engine", ["registry", "list", "rec-registry", "-o", "json"],
                            {"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
        self.assert_replays("node-list-no-engine", ["node", "list", "-o", "json"],
                            {"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
        self.assert_replays("kubeconfig-get-no-engine", ["kubeconfig", "get", "rec-cluster"],
                            {"DOCKER_HOST": "unix:///nonexistent/docker.sock"})


class FakeK3dNodeList(unittest.TestCase):
    """`k3d node list -o json`, which up and down read, from the fake's state as the fake's own
    commands leave it, against the real k3d's listing of the same situation (recorded over a
    cluster of the stand-in images with the kit's separate registry)."""

    @staticmethod
    def comparable(stdout):
        """What the engine chooses differently each run: container IPs and the order of env."""
        nodes = json.loads(stdout) or []
        for node in nodes:
            if node["IP"]["IP"]:
                node["IP"]["IP"] = "10.0.0.1"
            node["env"] = sorted(node.get("env") or [])
        return nodes

    def listing(self, recorded_case, cluster=None, registry=True):
        want = case("k3d", recorded_case)
        v = want["vars"]
        recorded_nodes = json.loads(want["stdout"]) or []
        reg = next((n for n in recorded_nodes if n["role"] == "registry"), None)
        with tempfile.TemporaryDirectory() as state, FakeEngine() as host:
            def save(kind, name, obj):
                os.makedirs(os.path.join(state, kind), exist_ok=True)
                pathlib.Path(state, kind, name + ".json").write_text(json.dumps(obj))
            if cluster is not None:
                save("clusters", v["CLUSTER"], dict({"agents": 1, "network": v["NETWORK"], "api_host": "127.0.0.1",
                                                     "api_port": int(v["API_PORT"])}, **cluster))
            if registry:
                save("registries", v["NAME"], {"port": int(v["PORT"]), "host_ip": "127.0.0.1", "network": v["NETWORK"],
                                               "created": reg["created"], "pid": os.getpid()})
            got = subprocess.run([sys.executable, str(FAKES / "k3d"), "node", "list", "-o", "json"], capture_output=True,
                                 text=True, timeout=60, env=dict(os.environ, K8S_DEV_FAKE_STATE=state, DOCKER_HOST=host))
        self.assertEqual((0, ""), (got.returncode, got.stderr), recorded_case)
        self.assertEqual(got.stdout, json.dumps(json.loads(got.stdout), separators=(",", ":")) + "\n", "compact")
        self.assertEqual(self.comparable(want["stdout"]), self.comparable(got.stdout), recorded_case)

    def test_a_running_cluster_beside_the_registry(self):
        self.listing("node-list", cluster={"pid": os.getpid()})

    def test_a_stopped_load_balancer_with_the_servers_running(self):
        # After `k3d node stop k3d-<cluster>-serverlb`: the fake API (the published API port) is
        # down, the servers run.
        self.listing("node-list-lb-stopped", cluster={"pid": None, "stopped_nodes": ["k3d-rec-cluster-serverlb"]})

    def test_a_stopped_agent(self):
        self.listing("node-list-partial", cluster={"pid": os.getpid(), "stopped_nodes": ["k3d-rec-cluster-agent-0"]})

    def test_a_stopped_cluster(self):
        self.listing("node-list-stopped", cluster={"pid": None})

    def test_the_registry_alone(self):
        self.listing("node-list-registry")

    def test_nothing(self):
        self.listing("node-list-none", registry=False)


def load_fake_k3d():
    os.environ.setdefault("K8S_DEV_FAKE_STATE", tempfile.mkdtemp())
    loader = importlib.machinery.SourceFileLoader("fake_k3d", str(FAKES / "k3d"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("fake_k3d", loader))
    loader.exec_module(module)
    return module


class FakeK3dObjects(unittest.TestCase):
    def test_a_stopped_registry_is_the_recorded_object(self):
        k3d = load_fake_k3d()
        want = json.loads(case("k3d", "registry-list-stopped")["stdout"])[0]
        port = want["portMappings"]["5000/tcp"][0]["HostPort"]
        got = k3d.registry_node("rec-registry", {"port": int(port), "host_ip": "127.0.0.1", "network": "k3d-rec-net",
                                                 "created": want["created"], "pid": None})
        self.assertEqual(want, got)

    def test_a_stopped_cluster_is_the_recorded_object(self):
        k3d = load_fake_k3d()
        want = json.loads(case("k3d", "cluster-list-stopped")["stdout"])[0]
        api_port = int(want["nodes"][0]["runtimeLabels"].get("k3d.server.api.port")
                       or case("k3d", "cluster-list-stopped")["vars"]["API_PORT"])
        got = k3d.cluster_obj("rec-cluster", {"agents": 1, "network": "k3d-rec-net", "api_host": "127.0.0.1",
                                              "api_port": api_port, "pid": None}, "cluster-list")
        for obj in (want, got):  # k3d lists nodes in the engine's order, which varies
            obj["nodes"].sort(key=lambda n: n["name"])
        self.assertEqual(want, got)

    def test_listings_are_compact_json_like_k3d(self):
        for name in ("registry-list", "cluster-list", "cluster-list-all", "node-list"):
            stdout = case("k3d", name)["stdout"]
            self.assertEqual(stdout, json.dumps(json.loads(stdout), separators=(",", ":")) + "\n", name)


class FakeHelmAndSkaffold(unittest.TestCase):
    def assert_same(self, tool, name, argv, **values):
        want = case(tool, name)
        got = run_fake(tool, argv, {})
        self.assertEqual(
            (want["exit"], recorded.substitute(want["stdout"], want["vars"], values),
             recorded.substitute(want["stderr"], want["vars"], values)),
            (got.returncode, got.stdout, got.stderr), name)

    def test_helm_version_and_missing_release_errors(self):
        self.assert_same("helm", "version", ["version"])
        with tempfile.TemporaryDirectory() as d:
            kubeconfig = os.path.join(d, "config")
            pathlib.Path(kubeconfig).write_text("apiVersion: v1\nkind: Config\n")
            self.assert_same("helm", "get-all-missing", ["get", "all", "openshell", "-n", "x"])
            self.assert_same("helm", "uninstall-missing", ["uninstall", "web", "-n", "x"], RELEASE="web")

    def test_skaffold_version_and_unknown_command(self):
        self.assert_same("skaffold", "version", ["version"])
        self.assert_same("skaffold", "unknown-command", ["frobnicate"])


if __name__ == "__main__":
    unittest.main()
