# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
"""The stand-in's Helm chart, offline: lint and render with Helm's own library for the dev
values and every ci/values-*.yaml, validate what renders against the Kubernetes schema, and
check that it keeps the shape of OpenShell's chart (StatefulSet `openshell`, a gateway TOML
config from the same value keys, the Agent Sandbox preflight) and what the dev loop relies on."""

import re
import unittest

import helm_python
import kubernetes_validate

import support as s


def dev_render():
    return s.manifests(s.render(s.values(s.DEV_VALUES)))


def render_error(vals):
    """The message of a render that must fail."""
    try:
        s.render(vals)
    except helm_python.HelmError as e:  # HelmRenderError carries Go's message
        return str(e)
    raise AssertionError("the render succeeded")


class RendersEverywhere(unittest.TestCase):
    def variants(self):
        yield "dev values", s.values(s.DEV_VALUES)
        files = s.ci_values_files()
        self.assertGreaterEqual(len(files), 1, "no ci/values-*.yaml lint variants")
        for path in files:
            yield f"ci/{path.name}", s.values(path)
            # The variants are also meant to stack on the dev values, as Skaffold does.
            yield f"dev values + ci/{path.name}", s.values(s.DEV_VALUES, path)

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
                for kind in ["ConfigMap", "Role", "RoleBinding", "Service", "StatefulSet"]:
                    self.assertIn(kind, kinds, label)
                for obj in objects:
                    s.validate(obj)

    def test_every_config_renders_a_gateway_toml(self):
        for label, vals in self.variants():
            with self.subTest(label):
                config = s.gateway_config(s.manifests(s.render(vals)))
                self.assertEqual(config["openshell"]["version"], 1)
                self.assertIs(config["openshell"]["gateway"]["disable_tls"], True)

    def test_validation_has_teeth(self):
        workload = s.find(dev_render(), "StatefulSet")
        s.container(workload)["imagee"] = "typo"
        with self.assertRaises(kubernetes_validate.ValidationError) as caught:
            s.validate(workload)
        self.assertIn("imagee", str(caught.exception))


class ChartDefaults(unittest.TestCase):
    """OpenShell's defaults: a live install needs Agent Sandbox, and TLS is on."""

    def test_preflight_fails_the_render_without_agent_sandbox(self):
        message = render_error({"server": {"disableTls": True}})
        self.assertIn("neither agents.x-k8s.io/v1beta1 nor agents.x-k8s.io/v1alpha1 is served", message)
        self.assertIn("set agentSandbox.preflight.enabled=false only for offline rendering", message)

    def test_tls_on_fails_the_render_with_the_fix(self):
        message = render_error({"agentSandbox": {"preflight": {"enabled": False}}})
        self.assertIn("server.disableTls=false", message)
        self.assertIn("set server.disableTls=true", message)

    def test_other_sideload_methods_and_replicas_are_refused(self):
        message = render_error(s.values(s.OFFLINE, {"supervisor": {"sideloadMethod": "image-volume"}}))
        self.assertIn("only copies the supervisor with an init container", message)
        message = render_error(s.values(s.OFFLINE, {"replicaCount": 2}))
        self.assertIn("single-replica StatefulSet", message)

    def test_offline_defaults_are_cluster_ip_with_app_version_tags(self):
        objects = s.manifests(s.render(s.OFFLINE))
        app_version = s.load_yaml(s.CHART / "Chart.yaml")["appVersion"]
        service = s.find(objects, "Service")
        self.assertEqual(service["spec"]["type"], "ClusterIP")
        self.assertFalse([p for p in service["spec"]["ports"] if "nodePort" in p])
        gateway = s.container(s.find(objects, "StatefulSet"))
        self.assertEqual(gateway["image"], f"openshell-gateway:{app_version}")
        self.assertEqual(gateway["imagePullPolicy"], "IfNotPresent")
        driver = s.gateway_config(objects)["openshell"]["drivers"]["kubernetes"]
        # The supervisor follows the gateway's policy; the sandbox keeps Kubernetes' default.
        self.assertEqual(driver["supervisor_image_pull_policy"], "IfNotPresent")
        self.assertNotIn("image_pull_policy", driver)
        self.assertEqual(
            s.gateway_config(objects)["openshell"]["gateway"]["supervisor_image"],
            f"openshell-supervisor:{app_version}",
        )
        self.assertNotIn("auth", s.gateway_config(objects)["openshell"]["gateway"])

    def test_app_version_matches_the_workspace_version(self):
        cargo = (s.ROOT / "Cargo.toml").read_text(encoding="utf-8")
        workspace_version = re.search(r'^version = "([^"]+)"', cargo, re.M).group(1)
        self.assertEqual(s.load_yaml(s.CHART / "Chart.yaml")["appVersion"], workspace_version)


class DevValues(unittest.TestCase):
    """deploy/values/dev.yaml on the stand-in: what `k8s:dev:bootstrap` installs."""

    def setUp(self):
        self.objects = dev_render()
        self.workload = s.find(self.objects, "StatefulSet", "openshell")
        self.gateway = s.container(self.workload)
        self.config = s.gateway_config(self.objects)["openshell"]

    def test_service_is_nodeport_30051_for_the_k3d_load_balancer(self):
        service = s.find(self.objects, "Service", "openshell")
        self.assertEqual(service["spec"]["type"], "NodePort")
        self.assertEqual(
            service["spec"]["ports"],
            [{"name": "grpc", "port": 8080, "targetPort": "grpc", "protocol": "TCP", "nodePort": 30051}],
        )

    def test_images_come_from_the_dev_registry_and_are_always_pulled(self):
        self.assertEqual(self.gateway["image"], "openshell-registry:5000/openshell-gateway:dev")
        self.assertEqual(self.gateway["imagePullPolicy"], "Always")
        self.assertEqual(self.config["gateway"]["supervisor_image"], "openshell-registry:5000/openshell-supervisor:dev")
        self.assertNotIn("default_image", self.config["gateway"])
        driver = self.config["drivers"]["kubernetes"]
        self.assertEqual((driver["image_pull_policy"], driver["supervisor_image_pull_policy"]), ("Always", "Always"))

    def test_tls_is_off_and_local_users_need_no_login(self):
        self.assertIs(self.config["gateway"]["disable_tls"], True)
        self.assertEqual(self.config["gateway"]["auth"], {"allow_unauthenticated_users": True})
        self.assertEqual(
            self.config["drivers"]["kubernetes"]["grpc_endpoint"],
            "http://openshell.openshell.svc.cluster.local:8080",
        )

    def test_gateway_reads_the_config_file_and_listens_on_the_service_ports(self):
        self.assertEqual(
            self.gateway["args"],
            ["--config", "/etc/openshell/gateway.toml", "--db-url", "sqlite:/var/openshell/openshell.db"],
        )
        self.assertNotIn("env", self.gateway)
        self.assertEqual(self.config["gateway"]["bind_address"], "0.0.0.0:8080")
        self.assertEqual(self.config["gateway"]["health_bind_address"], "0.0.0.0:8081")
        self.assertEqual(self.config["gateway"]["compute_drivers"], ["kubernetes"])
        self.assertEqual(self.config["gateway"]["sandbox_namespace"], "openshell")
        self.assertEqual(self.config["drivers"]["kubernetes"]["supervisor_sideload_method"], "init-container")
        mounts = {m["name"]: m["mountPath"] for m in self.gateway["volumeMounts"]}
        self.assertEqual(mounts, {"openshell-data": "/var/openshell", "gateway-config": "/etc/openshell"})

    def test_a_config_change_rolls_the_pod(self):
        annotation = self.workload["spec"]["template"]["metadata"]["annotations"]["checksum/gateway-config"]
        changed = s.find(
            s.manifests(s.render(s.values(s.DEV_VALUES, {"server": {"logLevel": "debug"}}))), "StatefulSet"
        )
        self.assertNotEqual(annotation, changed["spec"]["template"]["metadata"]["annotations"]["checksum/gateway-config"])

    def test_probes_use_the_health_port(self):
        ports = {p["name"]: p["containerPort"] for p in self.gateway["ports"]}
        self.assertEqual(ports, {"grpc": 8080, "health": 8081})
        for probe, path in [("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]:
            self.assertEqual(self.gateway[probe]["httpGet"], {"path": path, "port": "health"}, probe)

    def test_gateway_runs_as_openshells_non_root_user_with_the_release_service_account(self):
        spec = self.workload["spec"]["template"]["spec"]
        self.assertEqual(spec["securityContext"], {"fsGroup": 1000})
        self.assertTrue(self.gateway["securityContext"]["runAsNonRoot"])
        self.assertEqual(self.gateway["securityContext"]["runAsUser"], 1000)
        self.assertFalse(self.gateway["securityContext"]["allowPrivilegeEscalation"])
        self.assertEqual(self.gateway["securityContext"]["capabilities"]["drop"], ["ALL"])
        sa = s.find(self.objects, "ServiceAccount")
        self.assertEqual(spec["serviceAccountName"], sa["metadata"]["name"])

    def test_statefulset_keeps_its_data_on_a_claim(self):
        claims = self.workload["spec"]["volumeClaimTemplates"]
        self.assertEqual([c["metadata"]["name"] for c in claims], ["openshell-data"])
        self.assertEqual(self.workload["spec"]["serviceName"], "openshell")

    def test_rbac_is_a_role_on_pods_in_the_sandbox_namespace(self):
        self.assertFalse([o for o in self.objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")])
        role = s.find(self.objects, "Role")
        self.assertEqual(role["metadata"]["namespace"], "openshell")
        self.assertEqual(
            role["rules"],
            [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "list", "watch", "delete"]}],
        )
        binding = s.find(self.objects, "RoleBinding")
        self.assertEqual(binding["roleRef"], {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]})
        self.assertEqual(
            binding["subjects"],
            [{"kind": "ServiceAccount", "name": self.workload["spec"]["template"]["spec"]["serviceAccountName"], "namespace": "openshell"}],
        )

    def test_statefulset_is_what_the_rollout_setting_names(self):
        # K8S_DEV_ROLLOUT defaults to statefulset/openshell, OpenShell's and the stand-in's.
        self.assertEqual(self.workload["metadata"]["name"], "openshell")
        service = s.find(self.objects, "Service")
        self.assertEqual(service["spec"]["selector"], self.workload["spec"]["selector"]["matchLabels"])

    def test_notes_say_how_to_reach_the_gateway(self):
        notes = s.render(s.values(s.DEV_VALUES))["helm-chart/templates/NOTES.txt"]
        self.assertIn("node port 30051", notes)
        self.assertIn("export GATEWAY=http://127.0.0.1:8080", notes)
        self.assertIn("rollout status statefulset/openshell", notes)


class ValueSemantics(unittest.TestCase):
    def config(self, vals, namespace=s.NAMESPACE):
        return s.gateway_config(s.manifests(s.render(s.values(s.OFFLINE, vals), namespace=namespace)))["openshell"]

    def test_supervisor_tag_follows_the_gateway_tag(self):
        self.assertEqual(self.config({"image": {"tag": "abc"}})["gateway"]["supervisor_image"], "openshell-supervisor:abc")
        config = self.config({"image": {"tag": "abc"}, "supervisor": {"image": {"tag": "xyz"}}})
        self.assertEqual(config["gateway"]["supervisor_image"], "openshell-supervisor:xyz")

    def test_supervisor_pull_policy_overrides_the_gateways(self):
        config = self.config({"image": {"pullPolicy": "Always"}, "supervisor": {"image": {"pullPolicy": "Never"}}})
        self.assertEqual(config["drivers"]["kubernetes"]["supervisor_image_pull_policy"], "Never")

    def test_sandbox_image_can_differ_from_the_supervisor(self):
        config = self.config({"server": {"sandboxImage": "base:1"}})
        self.assertEqual(config["gateway"]["default_image"], "base:1")
        self.assertEqual(config["gateway"]["supervisor_image"], "openshell-supervisor:0.1.0")

    def test_node_port_is_ignored_unless_the_type_is_nodeport(self):
        service = s.find(s.manifests(s.render(s.values(s.OFFLINE, {"service": {"nodePort": 30051}}))), "Service")
        self.assertEqual(service["spec"]["type"], "ClusterIP")
        self.assertFalse([p for p in service["spec"]["ports"] if "nodePort" in p])

    def test_separate_sandbox_namespace_gets_role_binding_and_config(self):
        objects = s.manifests(s.render(s.values(s.OFFLINE, {"server": {"sandboxNamespace": "sandboxes"}})))
        self.assertFalse([o for o in objects if o["kind"] == "Namespace"])
        self.assertEqual(s.find(objects, "Role")["metadata"]["namespace"], "sandboxes")
        binding = s.find(objects, "RoleBinding")
        self.assertEqual(binding["metadata"]["namespace"], "sandboxes")
        self.assertEqual(binding["subjects"][0]["namespace"], "openshell")
        self.assertEqual(s.gateway_config(objects)["openshell"]["gateway"]["sandbox_namespace"], "sandboxes")

    def test_pull_secrets_reach_the_gateway_pod_and_sandbox_pods_as_in_openshells_chart(self):
        objects = s.manifests(s.render(s.values(s.OFFLINE, {
            "imagePullSecrets": [{"name": "k8s-dev-pull"}],
            "server": {"sandboxImagePullSecrets": [{"name": "k8s-dev-pull"}, {"name": "other"}]}})))
        statefulset = s.find(objects, "StatefulSet")
        self.assertEqual(statefulset["spec"]["template"]["spec"]["imagePullSecrets"], [{"name": "k8s-dev-pull"}])
        self.assertEqual(s.gateway_config(objects)["openshell"]["drivers"]["kubernetes"]["image_pull_secrets"],
                         ["k8s-dev-pull", "other"])
        self.assertNotIn("image_pull_secrets", self.config({})["drivers"]["kubernetes"])

    def test_empty_sandbox_namespace_is_the_release_namespace(self):
        self.assertEqual(self.config({}, namespace="elsewhere")["gateway"]["sandbox_namespace"], "elsewhere")

    def test_explicit_grpc_endpoint_wins(self):
        config = self.config({"server": {"grpcEndpoint": "http://host.openshell.internal:8080"}})
        self.assertEqual(config["drivers"]["kubernetes"]["grpc_endpoint"], "http://host.openshell.internal:8080")

    def test_existing_service_account_is_bound_and_not_created(self):
        objects = s.manifests(s.render(s.values(s.OFFLINE, {"serviceAccount": {"create": False, "name": "gateway"}})))
        self.assertFalse([o for o in objects if o["kind"] == "ServiceAccount"])
        self.assertEqual(s.find(objects, "RoleBinding")["subjects"][0]["name"], "gateway")


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
