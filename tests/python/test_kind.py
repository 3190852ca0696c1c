# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
"""The kind cluster config: deploy/kind/cluster.yaml and the renderings k8s-dev-helper makes of
it (tests/data/kind/rendered/, kept equal to the renderer's output by the Rust suite) are valid
against the schema derived from kind's v1alpha4 types, hold the settings' defaults, and pass
the real kind CLI's own decoding and validation where that binary is built."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest

import jsonschema

import support as s

TEMPLATE = s.ROOT / "deploy" / "kind" / "cluster.yaml"
RENDERED = sorted((s.ROOT / "tests" / "data" / "kind" / "rendered").glob("*.yaml"))
SCHEMA = s.SCHEMAS / "kind-v1alpha4.schema.json"


def mise_pin(tool):
    """The version mise.toml pins for an aqua tool, as tests/support/tools.sh reads it: the one
    source of the tool's version for users, CI's build and these tests."""
    text = (s.ROOT / "mise.toml").read_text(encoding="utf-8")
    match = re.search(r'^"aqua:%s" = "([^"]+)"$' % re.escape(tool), text, re.M)
    if not match:
        raise AssertionError(f"mise.toml [tools] does not pin {tool}")
    return "v" + match.group(1)


KIND_VERSION = mise_pin("kubernetes-sigs/kind")


def schema_errors(config):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return [e.message for e in validator.iter_errors(config)]


class Schema(unittest.TestCase):
    def test_the_template_and_every_rendering_are_valid(self):
        self.assertGreaterEqual(len(RENDERED), 4)
        for path in [TEMPLATE, *RENDERED]:
            with self.subTest(path=path.name):
                config = s.load_yaml(path)
                self.assertEqual((config["apiVersion"], config["kind"]), ("kind.x-k8s.io/v1alpha4", "Cluster"))
                self.assertEqual(schema_errors(config), [])

    def test_schema_rejects_what_kind_rejects(self):
        def edited(edit):
            config = s.load_yaml(TEMPLATE)
            edit(config)
            return config

        def misspelt(c):
            c["nodes"][0]["extraPortMapping"] = c["nodes"][0].pop("extraPortMappings")

        def cluster(key, value):
            return lambda c: c.__setitem__(key, value)

        def mapping(key, value):
            return lambda c: c["nodes"][0]["extraPortMappings"][0].__setitem__(key, value)

        cases = {
            "unknown field (strict decoding)": misspelt,
            "port as a string (int32 field)": mapping("hostPort", "8080"),
            "port out of range": mapping("hostPort", 70000),
            "listen address not an IP": mapping("listenAddress", "localhost"),
            "unknown protocol": mapping("protocol", "QUIC"),
            "unknown role": lambda c: c["nodes"][1].__setitem__("role", "master"),
            "no control plane": lambda c: c["nodes"].pop(0),
            "older apiVersion": cluster("apiVersion", "kind.x-k8s.io/v1alpha3"),
            "name kind refuses": cluster("name", "Openshell_Dev"),
            "unknown kube-proxy mode": lambda c: c["networking"].__setitem__("kubeProxyMode", "userspace"),
        }
        for why, edit in cases.items():
            with self.subTest(why):
                self.assertNotEqual(schema_errors(edited(edit)), [], why)

    def test_schema_accepts_what_kind_defaults(self):
        # An empty node list and lower-case protocols are fine for kind (defaults, upper-casing).
        config = s.load_yaml(TEMPLATE)
        config["nodes"][0]["extraPortMappings"][0]["protocol"] = "tcp"
        self.assertEqual(schema_errors(config), [])
        self.assertEqual(schema_errors({"apiVersion": "kind.x-k8s.io/v1alpha4", "kind": "Cluster"}), [])


class Defaults(unittest.TestCase):
    """The template is the rendering at the settings' defaults: the Rust suite renders it from the
    helper's settings table (`provider::kind` tests) and compares."""

    def test_nodes_are_pinned_by_digest(self):
        for node in s.load_yaml(TEMPLATE)["nodes"]:
            self.assertRegex(node["image"], r"^kindest/node:v1\.3[2-4]\.\d+@sha256:[0-9a-f]{64}$")

    def test_kind_is_pinned_in_mise_next_to_k3d(self):
        self.assertEqual((mise_pin("k3d-io/k3d")[:2], KIND_VERSION[:3]), ("v5", "v0."))
        # tools.sh builds what mise.toml pins; versions.env keeps only test-only components.
        versions = (s.ROOT / "tests" / "tools" / "versions.env").read_text(encoding="utf-8")
        self.assertNotIn("KIND_VERSION", versions)
        built = subprocess.run([str(s.ROOT / "tests" / "support" / "tools.sh"), "versions"],
                               capture_output=True, text=True, check=True).stdout
        self.assertIn(f"kind {KIND_VERSION}\n", built)


def find_kind():
    """The real kind binary at the kit's pin: $K8S_DEV_TEST_KIND, the tools cache
    (tests/support/tools.sh's layout), or `kind` on PATH. Returns (path, why not)."""
    cache = pathlib.Path(os.environ.get("K8S_DEV_TOOLS_CACHE") or pathlib.Path.home() / ".cache" / "k8s-dev-tools")
    candidates = [os.environ.get("K8S_DEV_TEST_KIND"), cache / "bin" / f"kind-{KIND_VERSION}" / "kind", shutil.which("kind")]
    for candidate in filter(None, candidates):
        candidate = str(candidate)
        if not os.access(candidate, os.X_OK):
            continue
        version = subprocess.run([candidate, "version"], capture_output=True, text=True, timeout=30).stdout
        if version.startswith(f"kind {KIND_VERSION} "):
            return candidate, None
    return None, (f"no kind {KIND_VERSION} binary: set K8S_DEV_TEST_KIND, or build it with "
                  f"GOBIN=<dir> go install sigs.k8s.io/kind@{KIND_VERSION}")


# What kind sees of an engine in this check: a docker that answers `-v` (kind's detection),
# `info` and `ps` (no nodes), has
# every image, and refuses the first network call, so kind stops right after its config checks
# and never creates anything or pulls the ~500 MB node image. Each call is logged.
DOCKER_STUB = """#!/bin/sh
printf '%s\\n' "$*" >> "${0%/*}/calls.log"
case "$1" in
  -v) echo "Docker version 28.2.2, build e6534b4" ;;
  info) echo '{"CgroupDriver":"systemd","CgroupVersion":"2","MemoryLimit":true,"PidsLimit":true,"CPUShares":true,"SecurityOptions":["name=seccomp,profile=builtin","name=cgroupns"]}' ;;
  ps) ;;
  inspect) ;;
  *) echo "docker stub: stopping after kind's config checks" >&2; exit 1 ;;
esac
"""


class RealKind(unittest.TestCase):
    """kind's own decoding (strict) and validation run on the files, up to the node image."""

    @classmethod
    def setUpClass(cls):
        cls.kind, why = find_kind()
        if cls.kind is None:
            if os.environ.get("K8S_DEV_TEST_NO_SKIP") == "1":
                raise AssertionError(f"K8S_DEV_TEST_NO_SKIP=1 but {why}")
            raise unittest.SkipTest(why)

    def create(self, config_text, *args):
        with tempfile.TemporaryDirectory() as tmp:
            stub = pathlib.Path(tmp, "bin")
            stub.mkdir()
            (stub / "docker").write_text(DOCKER_STUB)
            (stub / "docker").chmod(0o755)
            config = pathlib.Path(tmp, "cluster.yaml")
            config.write_text(config_text)
            # Only the stub on PATH: kind would otherwise fall back to a podman it finds.
            env = {"PATH": str(stub), "HOME": tmp}
            res = subprocess.run([self.kind, "create", "cluster", "--config", str(config),
                                  "--kubeconfig", str(pathlib.Path(tmp, "kubeconfig")), *args],
                                 capture_output=True, text=True, env=env, timeout=120)
            calls = (stub / "calls.log").read_text() if (stub / "calls.log").exists() else ""
            return res, calls

    def test_kind_accepts_the_template_and_every_rendering(self):
        for path in [TEMPLATE, *RENDERED]:
            with self.subTest(path=path.name):
                config = s.load_yaml(path)
                res, calls = self.create(path.read_text())
                self.assertEqual(res.returncode, 1, res.stderr)
                # Past decoding, the name check (kind looks for existing nodes of that name),
                # validation, and the node image: stopped at the network.
                self.assertIn(f'Creating cluster "{config["name"]}" ...', res.stderr)
                self.assertIn("ERROR: failed to create cluster: failed to ensure docker network", res.stderr)
                self.assertIn(f"ps -a --filter label=io.x-k8s.kind.cluster={config['name']}", calls)
                for image in {n["image"] for n in config["nodes"]}:
                    self.assertIn(f"inspect --type=image {image}", calls)

    def test_kind_refuses_a_misspelt_field_before_anything_runs(self):
        text = TEMPLATE.read_text().replace("extraPortMappings:", "extraPortMapping:")
        res, calls = self.create(text)
        self.assertEqual(res.returncode, 1)
        self.assertIn("ERROR: failed to create cluster: unable to decode config", res.stderr)
        self.assertIn("field extraPortMapping not found in type v1alpha4.Node", res.stderr)
        self.assertEqual(calls, "-v\n", "only kind's engine detection ran")

    def test_kind_refuses_a_name_its_validation_rejects(self):
        res, _ = self.create(TEMPLATE.read_text(), "--name", "Bad_Name")
        self.assertEqual(res.returncode, 1)
        self.assertIn("'Bad_Name' is not a valid cluster name", res.stderr)
        self.assertNotIn("Creating cluster", res.stderr)


if __name__ == "__main__":
    unittest.main()
