# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
"""Shared helpers for the chart and Skaffold checks: paths, values merging, offline Helm
rendering (Helm's Go library through helm-python-sdk) and Kubernetes schema validation."""

import copy
import pathlib
import tomllib

import helm_python
import kubernetes_validate
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "openshell"
DEV_VALUES = ROOT / "deploy" / "values" / "dev.yaml"
# What renders offline with the fewest changes from the defaults (ci/values-lint.yaml).
OFFLINE = {"agentSandbox": {"preflight": {"enabled": False}}, "server": {"disableTls": True}}
SKAFFOLD = ROOT / "skaffold.yaml"
SCHEMAS = ROOT / "tests" / "data" / "schemas"
RELEASE = "openshell"
NAMESPACE = "openshell"
# The oldest Kubernetes the kit targets (k3s in k3d, kubectl 1.32).
KUBE_VERSION = "1.32.0"


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def merge(base, override):
    """Helm's merge of -f files and --set: maps merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def values(*layers):
    """Merge values files (paths) and dicts, later ones winning, like `-f a -f b --set …`."""
    merged = {}
    for layer in layers:
        merged = merge(merged, layer if isinstance(layer, dict) else load_yaml(layer))
    return merged


def ci_values_files():
    return sorted((CHART / "ci").glob("values-*.yaml"))


def render(vals, namespace=NAMESPACE, chart=CHART):
    """Render a chart like `helm template openshell <chart> -n <namespace>`;
    returns {template path: rendered text}, NOTES.txt included."""
    return helm_python.Chart.load(str(chart)).render(vals, name=RELEASE, namespace=namespace)


def manifests(rendered):
    """The Kubernetes objects of a render (NOTES.txt and empty documents left out)."""
    objects = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                objects.append(doc)
    return objects


def find(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    if len(found) != 1:
        raise AssertionError(f"expected one {kind} {name or ''}, found {len(found)}")
    return found[0]


def validate(obj):
    """Validate one object against the Kubernetes schema, unknown fields rejected."""
    kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def lint(vals, chart=CHART):
    """`helm lint --strict` with these values; returns the library's report."""
    return helm_python.lint(str(chart), vals, strict=True, namespace=NAMESPACE)


def container(workload, name="openshell-gateway"):
    return next(c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def gateway_config(objects):
    """The gateway's TOML config from the `openshell-config` ConfigMap, parsed."""
    return tomllib.loads(find(objects, "ConfigMap", "openshell-config")["data"]["gateway.toml"])

