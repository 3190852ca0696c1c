# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
"""deploy/values/dev.yaml drives OpenShell's chart and the stand-in's alike: rendered with
Helm's Go library against the stand-in always, and against OpenShell's real chart from a
snapshot of NVIDIA/OpenShell when one is on this machine (the test says so when it is not).
Nothing of OpenShell is kept in this repository: the chart is extracted to a temporary
directory for the run.

Environment:
  K8S_DEV_OPENSHELL_SRC  an OpenShell checkout, or a bare git directory whose HEAD is read
                         (default: /work/.mirror/NVIDIA+OpenShell/repo)
"""

import io
import os
import pathlib
import subprocess
import tarfile
import tempfile
import unittest

import helm_python

import support as s

OPENSHELL_SRC = os.environ.get("K8S_DEV_OPENSHELL_SRC", "/work/.mirror/NVIDIA+OpenShell/repo")
CHART_PATH = "deploy/helm/openshell"
# Read by OpenShell's Service template but not declared in its values.yaml.
UNDECLARED_BUT_READ = {"service.nodePort": ".Values.service.nodePort"}


def key_paths(tree, prefix=""):
    """Dotted paths of the leaves of a values tree."""
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from key_paths(value, path + ".")
        else:
            yield path


def has_path(tree, path):
    for key in path.split("."):
        if not isinstance(tree, dict) or key not in tree:
            return False
        tree = tree[key]
    return True


def extract_openshell_chart(dest):
    """OpenShell's chart into dest; returns its directory, or None with the reason."""
    src = pathlib.Path(OPENSHELL_SRC)
    if (src / CHART_PATH / "Chart.yaml").is_file():
        return src / CHART_PATH, None
    if not (src / "HEAD").is_file():
        return None, f"no OpenShell snapshot at {src} (set K8S_DEV_OPENSHELL_SRC to a checkout or git dir)"
    try:
        archive = subprocess.run(
            ["git", "-C", str(src), "archive", "--format=tar", "HEAD", CHART_PATH],
            check=True, capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        return None, f"cannot read {CHART_PATH} from {src}: {e}"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return pathlib.Path(dest) / CHART_PATH, None


def render_error(vals, chart):
    try:
        s.render(vals, chart=chart)
    except helm_python.HelmError as e:
        return str(e)
    raise AssertionError("the render succeeded")


def assert_probed_every_second(case, objects):
    """The dev loop's wait after the container starts: startup, then readiness, at 1 s ticks."""
    gateway = s.container(s.find(objects, "StatefulSet", "openshell"))
    case.assertEqual((gateway["startupProbe"]["periodSeconds"], gateway["readinessProbe"]["periodSeconds"]), (1, 1))


class StandIn(unittest.TestCase):
    def test_every_key_is_one_of_the_stand_ins_values(self):
        chart_values = s.load_yaml(s.CHART / "values.yaml")
        for path in key_paths(s.load_yaml(s.DEV_VALUES)):
            self.assertTrue(has_path(chart_values, path), path)

    def test_a_new_gateway_pod_is_probed_every_second_until_ready(self):
        assert_probed_every_second(self, s.manifests(s.render(s.values(s.DEV_VALUES), chart=s.CHART)))

    def test_with_the_preflight_on_the_render_needs_agent_sandbox(self):
        message = render_error(s.values(s.DEV_VALUES, {"agentSandbox": {"preflight": {"enabled": True}}}), s.CHART)
        self.assertIn("neither agents.x-k8s.io/v1beta1 nor agents.x-k8s.io/v1alpha1 is served", message)


class OpenShellChart(unittest.TestCase):
    """The same file on OpenShell's own chart (NVIDIA/OpenShell deploy/helm/openshell)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="k8s-dev-openshell-chart-")
        cls.chart, reason = extract_openshell_chart(cls.tmp.name)
        if cls.chart is None:
            cls.tmp.cleanup()
            raise unittest.SkipTest(reason)
        cls.objects = s.manifests(s.render(s.values(s.DEV_VALUES), chart=cls.chart))
        cls.config = s.gateway_config(cls.objects)["openshell"]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_every_key_is_one_of_openshells_values(self):
        chart_values = s.load_yaml(self.chart / "values.yaml")
        templates = "".join(p.read_text(encoding="utf-8") for p in (self.chart / "templates").iterdir())
        for path in key_paths(s.load_yaml(s.DEV_VALUES)):
            with self.subTest(path):
                if path in UNDECLARED_BUT_READ:
                    self.assertIn(UNDECLARED_BUT_READ[path], templates)
                else:
                    self.assertTrue(has_path(chart_values, path), path)

    def test_renders_the_gateway_statefulset_from_the_dev_registry(self):
        workload = s.find(self.objects, "StatefulSet", "openshell")
        gateway = s.container(workload)
        self.assertEqual(gateway["image"], "openshell-registry:5000/openshell-gateway:dev")
        self.assertEqual(gateway["imagePullPolicy"], "Always")
        for obj in self.objects:
            s.validate(obj)

    def test_a_new_gateway_pod_is_probed_every_second_until_ready(self):
        assert_probed_every_second(self, self.objects)

    def test_service_is_nodeport_30051(self):
        service = s.find(self.objects, "Service", "openshell")
        self.assertEqual(service["spec"]["type"], "NodePort")
        grpc = next(p for p in service["spec"]["ports"] if p["name"] == "grpc")
        self.assertEqual((grpc["port"], grpc["nodePort"]), (8080, 30051))

    def test_tls_is_off_and_local_users_need_no_login(self):
        self.assertIs(self.config["gateway"]["disable_tls"], True)
        self.assertNotIn("tls", self.config["gateway"])
        self.assertEqual(self.config["gateway"]["auth"], {"allow_unauthenticated_users": True})
        mounts = [m["name"] for m in s.container(s.find(self.objects, "StatefulSet"))["volumeMounts"]]
        self.assertNotIn("tls-cert", mounts)
        self.assertTrue(self.config["drivers"]["kubernetes"]["grpc_endpoint"].startswith("http://"))

    def test_sandboxes_get_the_dev_supervisor_always_pulled(self):
        self.assertEqual(self.config["gateway"]["supervisor_image"], "openshell-registry:5000/openshell-supervisor:dev")
        driver = self.config["drivers"]["kubernetes"]
        self.assertEqual((driver["image_pull_policy"], driver["supervisor_image_pull_policy"]), ("Always", "Always"))

    def test_the_preflight_means_the_same_on_both_charts(self):
        on = s.values(s.DEV_VALUES, {"agentSandbox": {"preflight": {"enabled": True}}})
        message = render_error(on, self.chart)
        self.assertIn("neither agents.x-k8s.io/v1beta1 nor agents.x-k8s.io/v1alpha1 is served", message)


if __name__ == "__main__":
    unittest.main()
