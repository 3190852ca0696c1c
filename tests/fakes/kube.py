# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
"""Shared bits of the recording fakes: call log and talking to the fake Kubernetes API."""
import json
import os
import sys


def state_dir():
    d = os.environ.get("K8S_DEV_FAKE_STATE") or sys.exit("fake: set K8S_DEV_FAKE_STATE")
    os.makedirs(d, exist_ok=True)
    return d


def record(tool, argv, env_names=()):
    """Append one call, with the named environment variables, to calls.jsonl."""
    entry = {"tool": tool, "argv": argv, "cwd": os.getcwd(),
             "env": {k: os.environ.get(k) for k in env_names}}
    with open(os.path.join(state_dir(), "calls.jsonl"), "a") as f:
        f.write(json.dumps(entry) + "\n")


def server_of(kubeconfig, context):
    """The API server URL of `context` in `kubeconfig` (or KUBECONFIG's first file)."""
    import yaml  # here, not at the top: the fakes that never read a kubeconfig start faster
    path = kubeconfig or (os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")).split(":")[0]
    with open(path) as f:
        cfg = yaml.safe_load(f)
    context = context or cfg.get("current-context")
    ctx = next(c["context"] for c in cfg.get("contexts", []) if c["name"] == context)
    return next(c["cluster"]["server"] for c in cfg.get("clusters", []) if c["name"] == ctx["cluster"])


def api(server, method, path, body=None):
    """One JSON request; returns (status, parsed body)."""
    import urllib.error  # here, not at the top: most fake calls never talk HTTP
    import urllib.request
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server + path, data=data, method=method,
                                 headers={"Content-Type": "application/merge-patch+json" if method == "PATCH"
                                          else "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def apply_object(server, obj, namespace):
    """Create or replace a Deployment/StatefulSet/other apps/v1 object the way helm would."""
    kind = obj["kind"]
    plural = {"Deployment": "deployments", "StatefulSet": "statefulsets"}.get(kind)
    if not plural:
        return False
    ns = obj["metadata"].get("namespace") or namespace
    base = "/apis/apps/v1/namespaces/%s/%s" % (ns, plural)
    status, _ = api(server, "GET", base + "/" + obj["metadata"]["name"])
    if status == 404:
        status, body = api(server, "POST", base, obj)
    else:
        status, body = api(server, "PUT", base + "/" + obj["metadata"]["name"], obj)
    if status >= 300:
        sys.exit("fake: applying %s/%s: HTTP %d %s" % (kind, obj["metadata"]["name"], status, body))
    return True
