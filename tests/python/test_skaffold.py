# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
"""skaffold.yaml, offline: valid against Skaffold's v4beta11 schema, tree-agnostic (its globs
match in this repository and in an OpenShell-shaped one, every path comes from the environment
the watch task exports), and its templates, expanded the way Skaffold does (the environment when
the config is read, the build results at deploy), render the chart with the images just built
under the registry's in-cluster name."""

import copy
import glob
import json
import os
import re
import subprocess
import tempfile
import unittest

import jsonschema

import support as s

ARTIFACTS = {"gateway": "openshell-gateway", "supervisor": "openshell-supervisor"}
BUILD_SCRIPT = "tasks/scripts/k8s-dev.sh"
# pkg/skaffold/schema/latest/config.go: the helm release fields tagged skaffold:"template".
TEMPLATED = ("name", "chartPath", "valuesFiles", "namespace", "version", "setValues", "setValueTemplates")
PULL = "openshell-registry:5000"


def task_env(kit_values):
    """What `k8s-dev.sh watch` exports for the templates, with the default settings."""
    return {"K8S_DEV_RELEASE": "openshell", "K8S_DEV_NAMESPACE": "openshell", "K8S_DEV_CHART": str(s.CHART),
            "K8S_DEV_VALUES": str(s.DEV_VALUES), "K8S_DEV_KIT_VALUES": str(kit_values), "K8S_DEV_REGISTRY_PULL": PULL}


def skaffold():
    return s.load_yaml(s.SKAFFOLD)


def schema_errors(config):
    schema = json.loads((s.SCHEMAS / "skaffold-v4beta11.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    return list(validator.iter_errors(config))


def sanitize(image):
    """Skaffold's key suffix for an artifact: `.`, `-`, `/`, `:` become `_`."""
    return re.sub(r"[.\-/:]", "_", image)


def template_vars(builds):
    """The per-artifact keys Skaffold defines for setValueTemplates (pkg/skaffold/helm/args.go),
    for builds given as {artifact image: (repo, tag, digest)}; digest is "" when not pushed."""
    out = {}
    for image, (repo, tag, digest) in builds.items():
        suffix = "_" + sanitize(image)
        full = f"{repo}:{tag}" + (f"@{digest}" if digest else "")
        for key, value in {
            "IMAGE_NAME": image,
            "DIGEST": full,
            "IMAGE_REPO": repo,
            "IMAGE_TAG": tag,
            "IMAGE_DIGEST": digest,
            "IMAGE_FULLY_QUALIFIED": full,
        }.items():
            out[key + suffix] = value
    return out


ACTION = re.compile(r"{{(.*?)}}")


def expand(template, variables):
    """Go text/template restricted to `{{.NAME}}`; anything else fails, so a template this
    stand-in cannot evaluate is never passed as checked. Missing keys give `<no value>`."""

    def one(match):
        action = match.group(1).strip()
        if not re.fullmatch(r"\.[A-Za-z_][A-Za-z0-9_]*", action):
            raise AssertionError(f"template action {{{{{action}}}}} is beyond this test's evaluator")
        return str(variables.get(action[1:], "<no value>"))

    return ACTION.sub(one, template)


def read_time(release, env):
    """The release as Skaffold holds it after reading the config: each templated field expanded
    from the environment, or kept as written when that leaves `<no value>` (tags/templates.go)."""
    def one(value):
        if isinstance(value, list):
            return [one(v) for v in value]
        if isinstance(value, dict):
            return {k: one(v) for k, v in value.items()}
        out = expand(value, env)
        return value if "<no value>" in out else out
    release = copy.deepcopy(release)
    for key in TEMPLATED:
        if key in release:
            release[key] = one(release[key])
    return release


def set_values(release, builds):
    """What Skaffold passes as `--set k=v` for the release's setValueTemplates."""
    merged = {}
    for key, template in sorted(release["setValueTemplates"].items()):
        value = expand(template, template_vars(builds))
        if value.endswith("@"):
            value = value[:-1]
        merged = s.merge(merged, s.helm_python.parse_set_string(f"{key}={value}"))
    return merged


class Schema(unittest.TestCase):
    def test_validates_against_the_v4beta11_schema(self):
        config = skaffold()
        self.assertEqual((config["apiVersion"], config["kind"]), ("skaffold/v4beta11", "Config"))
        self.assertEqual(schema_errors(config), [])

    def test_schema_rejects_a_misspelt_field(self):
        config = skaffold()
        custom = config["build"]["artifacts"][0]["custom"]
        custom["buildCmd"] = custom.pop("buildCommand")
        self.assertNotEqual(schema_errors(config), [])


class Build(unittest.TestCase):
    def setUp(self):
        self.config = skaffold()
        self.artifacts = {a["image"]: a for a in self.config["build"]["artifacts"]}

    def test_opening_comment_says_how_to_run_it(self):
        head = s.SKAFFOLD.read_text(encoding="utf-8").split("apiVersion:")[0]
        self.assertIn("mise run k8s:dev:watch", head)
        self.assertIn("--default-repo localhost:5000", head)

    def test_images_are_pushed_to_the_registry(self):
        self.assertIs(self.config["build"]["local"]["push"], True)
        self.assertIn("tagPolicy", self.config["build"])

    def test_two_custom_artifacts_call_the_kits_image_verb_from_any_tree(self):
        self.assertEqual(sorted(self.artifacts), sorted(ARTIFACTS.values()))
        for component, image in ARTIFACTS.items():
            artifact = self.artifacts[image]
            # Default context: the working directory, the repository root.
            self.assertNotIn("context", artifact)
            self.assertEqual(artifact["custom"]["buildCommand"],
                             f'"${{K8S_DEV_KIT_DIR}}/{BUILD_SCRIPT}" image {component}')

    def test_no_path_of_one_tree_is_written_in_it(self):
        text = s.SKAFFOLD.read_text(encoding="utf-8").split("apiVersion:")[1]
        for tree_path in ["example/", "crates/", "deploy/helm/", "deploy/values/", "tools/k8s-dev"]:
            self.assertNotIn(tree_path, text)

    def dependency_patterns(self):
        for image, artifact in self.artifacts.items():
            for pattern in artifact["custom"]["dependencies"]["paths"]:
                yield image, pattern

    def test_every_dependency_glob_matches_here_and_in_an_openshell_shaped_tree(self):
        # Skaffold refuses a pattern that matches nothing (build/list/list.go).
        with tempfile.TemporaryDirectory() as tmp:
            fixture = os.path.join(tmp, "openshell")
            subprocess.run([str(s.ROOT / "tests/adopter/fixture.sh"), fixture], check=True,
                           stdout=subprocess.DEVNULL)
            for tree in [str(s.ROOT), fixture]:
                for image, pattern in self.dependency_patterns():
                    with self.subTest(tree=tree, image=image, path=pattern):
                        self.assertTrue(glob.glob(os.path.join(tree, pattern), recursive=True), pattern)

    def test_dependencies_cover_sources_manifests_and_dockerfiles_not_build_output(self):
        for image, artifact in self.artifacts.items():
            deps = artifact["custom"]["dependencies"]
            self.assertLessEqual({"**/*.rs", "**/Cargo.toml", "Cargo.lock", "deploy/docker/**"}, set(deps["paths"]))
            self.assertLessEqual({"target/**", "deploy/docker/.build/**"}, set(deps["ignore"]), image)

    def test_build_script_exists(self):
        self.assertTrue((s.ROOT / BUILD_SCRIPT).is_file())

    def test_openshell_shaped_dockerfiles_use_its_staging_layout(self):
        staged = "deploy/docker/.build/prebuilt-binaries/${TARGETARCH}"
        gateway = (s.ROOT / "deploy/docker/Dockerfile.gateway").read_text(encoding="utf-8")
        self.assertTrue(gateway.startswith("# syntax=docker/dockerfile:1.4\n"))
        self.assertIn("ARG GATEWAY_BASE_IMAGE=scratch\nFROM ${GATEWAY_BASE_IMAGE} AS gateway", gateway)
        self.assertIn(f"COPY {staged}/openshell-gateway /usr/local/bin/openshell-gateway", gateway)
        self.assertIn('CMD ["--bind-address", "0.0.0.0", "--port", "8080"]', gateway)
        self.assertLessEqual(set(instructions(gateway)), DAEMONLESS)

        supervisor = (s.ROOT / "deploy/docker/Dockerfile.supervisor").read_text(encoding="utf-8")
        steps = instructions(supervisor)
        self.assertIn("FROM ${SUPERVISOR_BASE_IMAGE} AS supervisor", supervisor)
        self.assertIn(f"COPY --chmod=0555 {staged}/openshell-sandbox /openshell-sandbox", supervisor)
        # A RUN before the binary's COPY: the engine-built prefix's shape.
        self.assertLess(steps.index("RUN"), steps.index("COPY"))
        self.assertEqual(steps.count("RUN"), 1)

    def test_staging_directory_is_ignored_by_git(self):
        self.assertIn("deploy/docker/.build/", (s.ROOT / ".gitignore").read_text(encoding="utf-8").splitlines())


DAEMONLESS = {"ARG", "FROM", "COPY", "USER", "WORKDIR", "ENV", "LABEL", "EXPOSE", "ENTRYPOINT", "CMD"}


def instructions(text):
    return [l.split()[0] for l in text.splitlines() if l.strip() and not l.startswith("#")]


class Deploy(unittest.TestCase):
    def setUp(self):
        releases = skaffold()["deploy"]["helm"]["releases"]
        self.assertEqual(len(releases), 1)
        self.release = releases[0]

    def setUpKitValues(self, text):
        f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        self.addCleanup(os.unlink, f.name)
        f.write(text)
        f.close()
        return f.name

    def test_release_fields_come_from_the_watch_tasks_environment(self):
        kit_values = self.setUpKitValues("{}\n")
        r = read_time(self.release, task_env(kit_values))
        self.assertEqual((r["name"], r["namespace"], r["createNamespace"]), ("openshell", "openshell", True))
        self.assertEqual(r["chartPath"], str(s.CHART))
        self.assertEqual(r["valuesFiles"], [str(s.DEV_VALUES), kit_values])
        self.assertEqual(r["setValueTemplates"]["image.repository"], f"{PULL}/openshell-gateway")
        # Build results are not known when the config is read: those stay templates.
        self.assertIn("{{.IMAGE_TAG_openshell_gateway}}", r["setValueTemplates"]["image.tag"])
        for key in TEMPLATED:
            for name in re.findall(r"{{\s*\.([A-Z0-9_]+)\s*}}", json.dumps(self.release.get(key, ""))):
                if not name.startswith("IMAGE_"):
                    self.assertTrue(name.startswith("K8S_DEV_"), name)

    def test_value_templates_reference_their_own_artifact_and_the_pull_name(self):
        templates = self.release["setValueTemplates"]
        self.assertEqual(
            sorted(templates),
            ["image.repository", "image.tag", "supervisor.image.repository", "supervisor.image.tag"],
        )
        known = {sanitize(a) for a in ARTIFACTS.values()}
        for key, template in templates.items():
            image = ARTIFACTS["supervisor" if key.startswith("supervisor.") else "gateway"]
            if key.endswith(".repository"):
                # The artifact under the in-cluster name, as --default-repo names the pushed one.
                self.assertEqual(template, f"{{{{.K8S_DEV_REGISTRY_PULL}}}}/{image}", key)
                continue
            refs = re.findall(r"{{\s*\.IMAGE_[A-Z_]+?_(openshell_[a-z_]+)\s*}}", template)
            self.assertTrue(refs, key)
            self.assertLessEqual(set(refs), known, key)
            self.assertEqual(set(refs), {sanitize(image)}, key)
        self.assertEqual(
            templates["image.tag"], "{{.IMAGE_TAG_openshell_gateway}}@{{.IMAGE_DIGEST_openshell_gateway}}"
        )

    def render(self, builds, kit_values="{}\n", pull=PULL):
        env = task_env(self.setUpKitValues(kit_values))
        env["K8S_DEV_REGISTRY_PULL"] = pull
        release = read_time(self.release, env)
        files = [s.load_yaml(f) or {} for f in release["valuesFiles"]]
        vals = s.values(*files, set_values(release, builds))
        return s.manifests(s.render(vals))

    def test_pushed_builds_roll_out_by_digest_under_the_pull_name(self):
        builds = {
            "openshell-gateway": ("localhost:5000/openshell-gateway", "a7f7ba0-dirty", "sha256:" + "1" * 64),
            "openshell-supervisor": ("localhost:5000/openshell-supervisor", "a7f7ba0-dirty", "sha256:" + "2" * 64),
        }
        objects = self.render(builds)
        for obj in objects:
            s.validate(obj)
        gateway = s.container(s.find(objects, "StatefulSet"))
        self.assertEqual(gateway["image"], f"{PULL}/openshell-gateway:a7f7ba0-dirty@sha256:{'1' * 64}")
        supervisor = f"{PULL}/openshell-supervisor:a7f7ba0-dirty@sha256:{'2' * 64}"
        self.assertEqual(s.gateway_config(objects)["openshell"]["gateway"]["supervisor_image"], supervisor)
        # The dev values' other settings survive the overrides.
        self.assertEqual(gateway["imagePullPolicy"], "Always")
        self.assertEqual(s.find(objects, "Service")["spec"]["ports"][0]["nodePort"], 30051)

    def test_remote_mode_pulls_by_the_shared_registrys_name_with_the_kit_values(self):
        builds = {image: (f"reg.example:443/team/{image}", "v1", "sha256:" + "3" * 64) for image in ARTIFACTS.values()}
        kit_values = ('service:\n  type: "ClusterIP"\n  nodePort: null\nserver:\n  sandboxNamespace: "openshell"\n'
                      '  sandboxImagePullSecrets:\n    - name: "k8s-dev-pull"\nimagePullSecrets:\n  - name: "k8s-dev-pull"\n')
        objects = self.render(builds, kit_values, pull="reg.internal/team")
        statefulset = s.find(objects, "StatefulSet")
        self.assertEqual(s.container(statefulset)["image"], f"reg.internal/team/openshell-gateway:v1@sha256:{'3' * 64}")
        self.assertEqual(statefulset["spec"]["template"]["spec"]["imagePullSecrets"], [{"name": "k8s-dev-pull"}])
        config = s.gateway_config(objects)["openshell"]
        self.assertEqual(config["drivers"]["kubernetes"]["image_pull_secrets"], ["k8s-dev-pull"])
        service = s.find(objects, "Service")
        self.assertEqual(service["spec"]["type"], "ClusterIP")
        self.assertFalse([p for p in service["spec"]["ports"] if "nodePort" in p])

    def test_unpushed_builds_drop_the_empty_digest(self):
        builds = {image: (f"localhost:5000/{image}", "v1", "") for image in ARTIFACTS.values()}
        objects = self.render(builds)
        self.assertEqual(s.container(s.find(objects, "StatefulSet"))["image"], f"{PULL}/openshell-gateway:v1")
        self.assertEqual(
            s.gateway_config(objects)["openshell"]["gateway"]["supervisor_image"], f"{PULL}/openshell-supervisor:v1"
        )

    def test_expansion_of_an_unknown_artifact_is_visible(self):
        release = copy.deepcopy(self.release)
        release["setValueTemplates"]["image.tag"] = "{{.IMAGE_TAG_openshell_gatway}}"
        builds = {image: (f"localhost:5000/{image}", "v1", "") for image in ARTIFACTS.values()}
        self.assertEqual(set_values(release, builds)["image"]["tag"], "<no value>")


if __name__ == "__main__":
    unittest.main()
