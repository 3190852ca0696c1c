# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
"""The Helm chart, offline: lint and render with Helm's own library for the default values,
values.dev.yaml and every ci/values-*.yaml, validate what renders against the Kubernetes
schema, and check the parts the dev loop relies on."""

import re
import unittest

import kubernetes_validate

import support as s


def dev_render():
    return s.manifests(s.render(s.values(s.DEV_VALUES)))


class RendersEverywhere(unittest.TestCase):
    def variants(self):
        yield "defaults", {}
        yield "values.dev.yaml", s.values(s.DEV_VALUES)
        files = s.ci_values_files()
        self.assertGreaterEqual(len(files), 1, "no ci/values-*.yaml lint variants")
        for path in files:
            yield f"ci/{path.name}", s.values(path)
            # The variants are also meant to stack on the dev values, as Skaffold does.
            yield f"values.dev.yaml + ci/{path.name}", s.values(s.DEV_VALUES, path)

    def test_lint_strict_reports_no_errors_or_warnings(self):
        for label, vals in self.variants():
            with self.subTest(label):
                report = s.lint(vals)
                self.assertEqual(report["errors"], [], label)
                serious = [m for m in report["messages"] if m["severity"] >= 2]
                self.assertEqual(serious, [], label)
                self.assertEqual(report["total_charts_linted"], 1)

    def test_rendered_manifests_pass_kubernetes_validate_strict(self):
        for label, vals in self.variants():
            with self.subTest(label):
                objects = s.manifests(s.render(vals))
                kinds = sorted(o["kind"] for o in objects)
                for kind in ["Deployment", "Role", "RoleBinding", "Service"]:
                    self.assertIn(kind, kinds, label)
                for obj in objects:
                    s.validate(obj)

    def test_validation_has_teeth(self):
        deployment = s.find(dev_render(), "Deployment")
        s.container(deployment)["imagee"] = "typo"
        with self.assertRaises(kubernetes_validate.ValidationError) as caught:
            s.validate(deployment)
        self.assertIn("imagee", str(caught.exception))


class DevValues(unittest.TestCase):
    """values.dev.yaml: what `k8s:dev:bootstrap` installs on the k3d cluster."""

    def setUp(self):
        self.objects = dev_render()
        self.deployment = s.find(self.objects, "Deployment", "openshell")
        self.gateway = s.container(self.deployment)

    def test_service_is_nodeport_30051_for_the_k3d_load_balancer(self):
        service = s.find(self.objects, "Service", "openshell")
        self.assertEqual(service["spec"]["type"], "NodePort")
        http = next(p for p in service["spec"]["ports"] if p["name"] == "http")
        self.assertEqual((http["port"], http["nodePort"], http["targetPort"]), (8080, 30051, "http"))
        health = next(p for p in service["spec"]["ports"] if p["name"] == "health")
        self.assertEqual((health["port"], health["targetPort"]), (8081, "health"))
        self.assertNotIn("nodePort", health)

    def test_images_come_from_the_dev_registry_and_are_always_pulled(self):
        self.assertEqual(self.gateway["image"], "openshell-registry:5000/openshell-gateway:dev")
        self.assertEqual(self.gateway["imagePullPolicy"], "Always")
        env = s.env(self.gateway)
        self.assertEqual(env["OPENSHELL_SUPERVISOR_IMAGE"], "openshell-registry:5000/openshell-supervisor:dev")
        self.assertEqual(env["OPENSHELL_SANDBOX_IMAGE"], "openshell-registry:5000/openshell-supervisor:dev")
        self.assertEqual(env["OPENSHELL_SUPERVISOR_IMAGE_PULL_POLICY"], "Always")
        self.assertEqual(env["OPENSHELL_SANDBOX_IMAGE_PULL_POLICY"], "Always")

    def test_gateway_env_selects_the_kubernetes_driver_and_namespace(self):
        env = s.env(self.gateway)
        self.assertEqual(env["OPENSHELL_DRIVERS"], "kubernetes")
        self.assertEqual(env["OPENSHELL_SANDBOX_NAMESPACE"], "openshell")
        self.assertEqual(env["OPENSHELL_BIND_ADDRESS"], "0.0.0.0")
        self.assertEqual((env["OPENSHELL_GATEWAY_PORT"], env["OPENSHELL_HEALTH_PORT"]), ("8080", "8081"))

    def test_probes_use_the_health_port(self):
        ports = {p["name"]: p["containerPort"] for p in self.gateway["ports"]}
        self.assertEqual(ports, {"http": 8080, "health": 8081})
        self.assertEqual(self.gateway["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "health"})
        self.assertEqual(self.gateway["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "health"})

    def test_gateway_runs_as_non_root_with_the_release_service_account(self):
        spec = self.deployment["spec"]["template"]["spec"]
        self.assertTrue(spec["securityContext"]["runAsNonRoot"])
        self.assertEqual(spec["securityContext"]["runAsUser"], 65532)
        self.assertFalse(self.gateway["securityContext"]["allowPrivilegeEscalation"])
        self.assertEqual(self.gateway["securityContext"]["capabilities"]["drop"], ["ALL"])
        sa = s.find(self.objects, "ServiceAccount")
        self.assertEqual(spec["serviceAccountName"], sa["metadata"]["name"])

    def test_rbac_is_a_role_on_pods_in_the_sandbox_namespace(self):
        self.assertFalse([o for o in self.objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")])
        role = s.find(self.objects, "Role")
        self.assertEqual(role["metadata"]["namespace"], "openshell")
        self.assertEqual(
            role["rules"],
            [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "list", "watch", "delete"]}],
        )
        binding = s.find(self.objects, "RoleBinding")
        self.assertEqual(binding["metadata"]["namespace"], "openshell")
        self.assertEqual(binding["roleRef"], {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]})
        self.assertEqual(
            binding["subjects"],
            [{"kind": "ServiceAccount", "name": self.deployment["spec"]["template"]["spec"]["serviceAccountName"], "namespace": "openshell"}],
        )

    def test_no_namespace_object_when_sandboxes_share_the_release_namespace(self):
        self.assertFalse([o for o in self.objects if o["kind"] == "Namespace"])

    def test_deployment_is_what_the_rollout_setting_names(self):
        # README: K8S_DEV_ROLLOUT defaults to deployment/openshell for this chart.
        self.assertEqual(self.deployment["metadata"]["name"], "openshell")
        selector = self.deployment["spec"]["selector"]["matchLabels"]
        service = s.find(self.objects, "Service")
        self.assertEqual(service["spec"]["selector"], selector)

    def test_notes_say_how_to_reach_the_gateway(self):
        notes = s.render(s.values(s.DEV_VALUES))["openshell/templates/NOTES.txt"]
        self.assertIn("node port 30051", notes)
        self.assertIn("export GATEWAY=http://127.0.0.1:8080", notes)
        self.assertIn("rollout status deployment/openshell", notes)


class DefaultValues(unittest.TestCase):
    def setUp(self):
        self.objects = s.manifests(s.render({}))
        self.gateway = s.container(s.find(self.objects, "Deployment"))
        self.app_version = s.load_yaml(s.CHART / "Chart.yaml")["appVersion"]

    def test_service_is_cluster_ip_without_a_node_port(self):
        service = s.find(self.objects, "Service")
        self.assertEqual(service["spec"]["type"], "ClusterIP")
        self.assertFalse([p for p in service["spec"]["ports"] if "nodePort" in p])

    def test_empty_tags_mean_app_version(self):
        self.assertEqual(self.gateway["image"], f"openshell-gateway:{self.app_version}")
        self.assertEqual(self.gateway["imagePullPolicy"], "IfNotPresent")
        env = s.env(self.gateway)
        self.assertEqual(env["OPENSHELL_SUPERVISOR_IMAGE"], f"openshell-supervisor:{self.app_version}")

    def test_empty_pull_policies_fall_back(self):
        env = s.env(self.gateway)
        # The supervisor follows the gateway's policy; the sandbox keeps the gateway's default.
        self.assertEqual(env["OPENSHELL_SUPERVISOR_IMAGE_PULL_POLICY"], "IfNotPresent")
        self.assertNotIn("OPENSHELL_SANDBOX_IMAGE_PULL_POLICY", env)

    def test_app_version_matches_the_workspace_version(self):
        cargo = (s.ROOT / "Cargo.toml").read_text(encoding="utf-8")
        workspace_version = re.search(r'^version = "([^"]+)"', cargo, re.M).group(1)
        self.assertEqual(self.app_version, workspace_version)


class ValueSemantics(unittest.TestCase):
    def deployment_env(self, vals):
        return s.env(s.container(s.find(s.manifests(s.render(vals)), "Deployment")))

    def test_supervisor_tag_follows_the_gateway_tag(self):
        env = self.deployment_env({"image": {"tag": "abc"}})
        self.assertEqual(env["OPENSHELL_SUPERVISOR_IMAGE"], "openshell-supervisor:abc")
        env = self.deployment_env({"image": {"tag": "abc"}, "supervisor": {"image": {"tag": "xyz"}}})
        self.assertEqual(env["OPENSHELL_SUPERVISOR_IMAGE"], "openshell-supervisor:xyz")

    def test_supervisor_pull_policy_overrides_the_gateways(self):
        env = self.deployment_env({"image": {"pullPolicy": "Always"}, "supervisor": {"image": {"pullPolicy": "Never"}}})
        self.assertEqual(env["OPENSHELL_SUPERVISOR_IMAGE_PULL_POLICY"], "Never")

    def test_sandbox_image_can_differ_from_the_supervisor(self):
        env = self.deployment_env({"server": {"sandboxImage": "base:1"}})
        self.assertEqual(env["OPENSHELL_SANDBOX_IMAGE"], "base:1")
        self.assertEqual(env["OPENSHELL_SUPERVISOR_IMAGE"], "openshell-supervisor:0.1.0")

    def test_node_port_is_ignored_unless_the_type_is_nodeport(self):
        service = s.find(s.manifests(s.render({"service": {"nodePort": 30051}})), "Service")
        self.assertEqual(service["spec"]["type"], "ClusterIP")
        self.assertFalse([p for p in service["spec"]["ports"] if "nodePort" in p])

    def test_separate_sandbox_namespace_gets_namespace_role_and_binding(self):
        objects = s.manifests(s.render({"server": {"sandboxNamespace": "sandboxes"}}))
        namespace = s.find(objects, "Namespace")
        self.assertEqual(namespace["metadata"]["name"], "sandboxes")
        self.assertEqual(s.find(objects, "Role")["metadata"]["namespace"], "sandboxes")
        binding = s.find(objects, "RoleBinding")
        self.assertEqual(binding["metadata"]["namespace"], "sandboxes")
        self.assertEqual(binding["subjects"][0]["namespace"], "openshell")
        env = s.env(s.container(s.find(objects, "Deployment")))
        self.assertEqual(env["OPENSHELL_SANDBOX_NAMESPACE"], "sandboxes")

    def test_sandbox_namespace_creation_can_be_left_to_others(self):
        objects = s.manifests(
            s.render({"server": {"sandboxNamespace": "sandboxes", "createSandboxNamespace": False}})
        )
        self.assertFalse([o for o in objects if o["kind"] == "Namespace"])
        self.assertEqual(s.find(objects, "Role")["metadata"]["namespace"], "sandboxes")

    def test_empty_sandbox_namespace_is_the_release_namespace(self):
        objects = s.manifests(s.render({}, namespace="elsewhere"))
        self.assertEqual(s.find(objects, "Role")["metadata"]["namespace"], "elsewhere")
        self.assertFalse([o for o in objects if o["kind"] == "Namespace"])

    def test_existing_service_account_is_bound_and_not_created(self):
        objects = s.manifests(s.render({"serviceAccount": {"create": False, "name": "gateway"}}))
        self.assertFalse([o for o in objects if o["kind"] == "ServiceAccount"])
        self.assertEqual(s.find(objects, "RoleBinding")["subjects"][0]["name"], "gateway")

    def test_extra_env_is_appended(self):
        env = self.deployment_env({"server": {"extraEnv": [{"name": "RUST_BACKTRACE", "value": "1"}]}})
        self.assertEqual(env["RUST_BACKTRACE"], "1")


KEY = re.compile(r"^(\s*)([A-Za-z0-9_.-]+):")


class ValuesAreDocumented(unittest.TestCase):
    """helm-docs reads `# --` comments; every key of values.yaml must have one."""

    def undocumented(self, text):
        missing, lines = [], text.splitlines()
        for i, line in enumerate(lines):
            if not KEY.match(line):
                continue
            j, comments = i - 1, []
            while j >= 0 and lines[j].strip().startswith("#"):
                comments.append(lines[j].strip())
                j -= 1
            # A map whose children carry the docs (e.g. `image:`) needs none of its own.
            child = next((l for l in lines[i + 1 :] if l.strip() and not l.strip().startswith("#")), "")
            is_parent = line.rstrip().endswith(":") and len(child) - len(child.lstrip()) > len(line) - len(line.lstrip())
            if not any(c.startswith("# --") for c in comments) and not is_parent:
                missing.append(line.strip())
        return missing

    def test_every_value_has_a_helm_docs_comment(self):
        text = (s.CHART / "values.yaml").read_text(encoding="utf-8")
        self.assertEqual(self.undocumented(text), [])

    def test_the_check_notices_a_missing_comment(self):
        self.assertEqual(self.undocumented("a:\n  # -- ok\n  b: 1\n  c: 2\n"), ["c: 2"])


if __name__ == "__main__":
    unittest.main()
