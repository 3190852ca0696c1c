#!/usr/bin/env python3
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
"""fake-kube-api.py: an in-memory Kubernetes API on 127.0.0.1 for tests (Python 3 stdlib only).

Serves enough of the API for a real kubectl (checked with v1.32, including Google's dispatcher
build, which first GETs /version) to run:
  get --raw=/readyz | /livez | /healthz        get nodes -o json, wait --for=condition=Ready nodes --all
  get crd NAME -o json, wait ... crd/NAME      rollout status deployment/X | statefulset/X | daemonset/X
  apply -f F, apply --server-side -f F         (ConfigMaps, Namespaces, Deployments, CRDs, ...)
  create namespace X --dry-run=client -o yaml | kubectl apply -f -
  get configmap -n kube-public local-registry-hosting -o json, delete, annotate, label, patch
  create namespace|configmap|secret generic|serviceaccount (other `create`s send protobuf: 415)
Served kinds: v1 namespaces nodes configmaps secrets services serviceaccounts pods; apps/v1
deployments statefulsets daemonsets; apiextensions.k8s.io/v1 customresourcedefinitions (an
applied CRD's kinds are served too). Not served: aggregated discovery, /openapi/v2, json-patch,
exec/logs/port-forward, authentication (every request is allowed).

Usage:
  fake-kube-api.py [--address 127.0.0.1] [--port 0] [--kubeconfig-out FILE] [--name fake]
                   [--pid-file FILE] [--log [FILE]] [--nodes 1 | --node-names A,B]
                   [--node-not-ready] [--not-ready-for SECONDS | --not-ready]

  --address A           address to listen on (default 127.0.0.1; the fake kind's control-plane
                        container listens on 0.0.0.0 behind its published port)
  --port N              TCP port on the address; 0 (default) picks a free one
  --kubeconfig-out FILE write a kubeconfig (mode 0600) whose cluster, user and context are all
                        named --name (default: fake), server http://127.0.0.1:PORT
  --pid-file FILE       write the server's PID; removed on SIGTERM/SIGINT
  --log [FILE]          one line per request (method, path, content type, status) to FILE,
                        or stderr without FILE
  --nodes N             seed N nodes fake-node-0 .. fake-node-N-1 (default 1)
  --node-names A,B      seed nodes with these names instead
  --node-not-ready      seed the nodes NotReady
  --not-ready-for S     /readyz answers 500 for the first S seconds (default 0)
  --not-ready           /readyz answers 500 until told otherwise (see control below)
The line `listening on http://127.0.0.1:PORT` is printed on stdout once the server accepts
requests and the kubeconfig and PID files are written. Stop it by its PID (SIGTERM).

Readiness of objects: each write to an object (not to its /status) recomputes a synthetic
status. It is "done" (Node Ready, Deployment/StatefulSet/DaemonSet rolled out, CRD Established,
Namespace Active) unless the object carries the annotation `fake-kube-api/hold: "true"`, which
gives the not-ready variant (Node NotReady, 0 updated/ready replicas, CRD Established=False).
So `kubectl annotate deployment web fake-kube-api/hold-` finishes a held rollout. Writing the
/status subresource (kubectl patch --subresource=status) pins the status you wrote instead.
Seeded: namespaces default, kube-system, kube-public; the nodes above.

Control endpoints (plain HTTP on the same port, JSON answers; curl -X POST ...):
  GET  /_fake/state                         {"readyz": bool, "nodes": {name: ready}, "objects": N}
  POST /_fake/readyz?ready=true|false       flip /readyz (cancels --not-ready-for)
  POST /_fake/nodes?count=N&ready=true|false  add/remove nodes to N and/or set all Ready or not
  POST /_fake/hold?path=API_PATH&hold=true|false  set or clear the hold annotation of the object
                                            at API_PATH (e.g. /apis/apps/v1/namespaces/default/deployments/web)

Give each kubectl its own HOME (or --cache-dir): kubectl caches discovery per host:port for 6 h,
and a later server on the same port would be served stale resources.
"""

import argparse
import base64
import copy
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOLD = "fake-kube-api/hold"
WATCH_CAP_SECONDS = 60


class Kind:
    """One served resource type."""

    def __init__(self, group, version, plural, kind, namespaced, short=()):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced, self.short = namespaced, list(short)

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self):  # URL prefix of the group-version
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def resource(self):  # for error messages, as the apiserver prints it
        return f"{self.plural}.{self.group}" if self.group else self.plural


BUILTIN = [
    Kind("", "v1", "namespaces", "Namespace", False, ["ns"]),
    Kind("", "v1", "nodes", "Node", False, ["no"]),
    Kind("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    Kind("", "v1", "secrets", "Secret", True),
    Kind("", "v1", "services", "Service", True, ["svc"]),
    Kind("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
    Kind("", "v1", "pods", "Pod", True, ["po"]),
    Kind("apps", "v1", "deployments", "Deployment", True, ["deploy"]),
    Kind("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"]),
    Kind("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"]),
    Kind("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False, ["crd", "crds"]),
]


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def status_error(code, reason, message):
    """A metav1.Status; kubectl prints `Error from server (<reason>): <message>`."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class ApiError(Exception):
    def __init__(self, code, reason, message):
        super().__init__(message)
        self.body = status_error(code, reason, message)
        self.code = code


def condition(kind, ok, reason_ok, reason_bad):
    return {"type": kind, "status": "True" if ok else "False",
            "reason": reason_ok if ok else reason_bad, "message": "", "lastTransitionTime": now()}


def synthetic_status(world, kind, obj):
    """The status a healthy controller would report, or its not-ready variant when held."""
    ready = obj.get("metadata", {}).get("annotations", {}).get(HOLD) != "true"
    spec, gen = obj.get("spec", {}), obj["metadata"].get("generation", 1)
    replicas = spec.get("replicas", 1)
    done = replicas if ready else 0
    if kind.kind == "Node":
        return {"conditions": [condition("Ready", ready, "KubeletReady", "KubeletNotReady")],
                "nodeInfo": {"kubeletVersion": "v1.32.0-fake", "operatingSystem": "linux",
                             "architecture": "amd64"}}
    if kind.kind == "Deployment":
        return {"observedGeneration": gen, "replicas": replicas, "updatedReplicas": done,
                "readyReplicas": done, "availableReplicas": done,
                "conditions": [condition("Available", ready, "MinimumReplicasAvailable",
                                         "MinimumReplicasUnavailable")]}
    if kind.kind == "StatefulSet":
        revision = "%s-%d" % (obj["metadata"]["name"], gen)
        return {"observedGeneration": gen, "replicas": replicas, "readyReplicas": done,
                "currentReplicas": done, "updatedReplicas": done, "availableReplicas": done,
                "currentRevision": revision if ready else revision + "-old", "updateRevision": revision}
    if kind.kind == "DaemonSet":
        nodes = max(1, len(world.list_objects(world.kind("", "nodes"), "")))
        return {"observedGeneration": gen, "desiredNumberScheduled": nodes, "currentNumberScheduled": nodes,
                "updatedNumberScheduled": nodes if ready else 0, "numberAvailable": nodes if ready else 0,
                "numberReady": nodes if ready else 0, "numberMisscheduled": 0}
    if kind.kind == "CustomResourceDefinition":
        return {"conditions": [condition("NamesAccepted", True, "NoConflicts", ""),
                               condition("Established", ready, "InitialNamesAccepted", "Installing")],
                "acceptedNames": spec.get("names", {}), "storedVersions": [
                    v["name"] for v in spec.get("versions", []) if v.get("storage")]}
    if kind.kind == "Namespace":
        return {"phase": "Active"}
    return obj.get("status")


def apply_defaults(kind, obj):
    """The apiserver's defaulting that kubectl's rollout rules depend on."""
    if kind.kind not in ("Deployment", "StatefulSet", "DaemonSet"):
        return
    spec = obj.setdefault("spec", {})
    if kind.kind == "Deployment":
        spec.setdefault("replicas", 1)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    elif kind.kind == "StatefulSet":
        spec.setdefault("replicas", 1)
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    else:
        spec.setdefault("updateStrategy", {"type": "RollingUpdate"})


def merge_patch(current, patch, strategic):
    """JSON merge patch (RFC 7386); `strategic` adds the parts of strategic merge patch kubectl
    sends: `$`-directives are dropped, lists of named maps merge by name, `$patch: delete` removes."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(current) if isinstance(current, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            out.pop(key, None)
        elif strategic and isinstance(value, list) and isinstance(out.get(key), list) and \
                all(isinstance(v, dict) and "name" in v for v in value + out[key]):
            merged = [dict(v) for v in out[key]]
            for item in value:
                index = next((i for i, m in enumerate(merged) if m["name"] == item["name"]), None)
                if item.get("$patch") == "delete":
                    if index is not None:
                        merged.pop(index)
                elif index is None:
                    merged.append(merge_patch({}, item, strategic))
                else:
                    merged[index] = merge_patch(merged[index], item, strategic)
            out[key] = merged
        else:
            out[key] = merge_patch(out.get(key), value, strategic)
    return out


def protobuf_fields(data):
    """Decode one protobuf message into [(field number, value)]: ints for varints, bytes for
    length-delimited fields. Enough wire format for the objects below."""
    fields, i = [], 0

    def varint():
        nonlocal i
        shift = result = 0
        while True:
            byte = data[i]
            i += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while i < len(data):
        tag = varint()
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            fields.append((number, varint()))
        elif wire == 2:
            size = varint()
            fields.append((number, data[i:i + size]))
            i += size
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError("unsupported protobuf wire type %d" % wire)
    return fields


def protobuf_map(entries, decode=lambda b: b.decode()):
    out = {}
    for entry in entries:
        kv = dict(protobuf_fields(entry))
        out[kv.get(1, b"").decode()] = decode(kv.get(2, b""))
    return out


PROTOBUF_KINDS = ("Namespace", "ConfigMap", "Secret", "ServiceAccount")


def protobuf_object(raw):
    """JSON form of what `kubectl create` sends as protobuf (field numbers from k8s.io/api
    generated.proto): the envelope ("k8s" and a NUL byte, then runtime.Unknown), then ObjectMeta
    name/generateName/namespace/labels/annotations and ConfigMap/Secret data."""
    if not raw.startswith(b"k8s\x00"):
        raise ValueError("protobuf body without the k8s envelope")
    unknown = protobuf_fields(raw[4:])
    type_meta = dict(protobuf_fields(dict(unknown).get(1, b"")))
    kind = type_meta.get(2, b"").decode()
    if kind not in PROTOBUF_KINDS:
        raise ApiError(415, "UnsupportedMediaType",
                       "fake-kube-api decodes protobuf only for %s; send JSON (kubectl apply)" % ", ".join(PROTOBUF_KINDS))
    fields = protobuf_fields(dict(unknown).get(2, b""))
    obj = {"apiVersion": type_meta.get(1, b"").decode(), "kind": kind, "metadata": {}}
    for number, value in fields:
        if number == 1:
            meta = protobuf_fields(value)
            for n, key in ((1, "name"), (2, "generateName"), (3, "namespace")):
                obj["metadata"].update({key: v.decode() for m, v in meta if m == n})
            for n, key in ((11, "labels"), (12, "annotations")):
                entries = [v for m, v in meta if m == n]
                if entries:
                    obj["metadata"][key] = protobuf_map(entries)
    by_number = lambda n: [v for m, v in fields if m == n]
    b64 = lambda b: base64.b64encode(b).decode()
    if kind == "ConfigMap":
        if by_number(2):
            obj["data"] = protobuf_map(by_number(2))
        if by_number(3):
            obj["binaryData"] = protobuf_map(by_number(3), b64)
    elif kind == "Secret":
        if by_number(2):
            obj["data"] = protobuf_map(by_number(2), b64)
        if by_number(3):
            obj["type"] = by_number(3)[0].decode()
    return obj


class World:
    """All state, guarded by one condition variable (watchers wait on it)."""

    def __init__(self, readyz_until):
        self.cond = threading.Condition()
        self.kinds = list(BUILTIN)
        self.objects = {}  # (group, plural, namespace, name) -> object
        self.pinned = set()  # keys whose status was written through /status
        self.events = []  # (resourceVersion, type, key, object)
        self.rv = 1000
        self.readyz_until = readyz_until  # monotonic deadline; None = not ready until flipped

    # -- kinds -------------------------------------------------------------------------------
    def kind(self, group, plural):
        return next((k for k in self.kinds if k.group == group and k.plural == plural), None)

    def group_versions(self):
        seen = []
        for k in self.kinds:
            if (k.group, k.version) not in seen:
                seen.append((k.group, k.version))
        return seen

    def register_crd(self, crd):
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        for version in spec.get("versions", []):
            if version.get("served", True) and not self.kind(spec.get("group", ""), names.get("plural")):
                self.kinds.append(Kind(spec.get("group", ""), version["name"], names.get("plural"),
                                       names.get("kind"), spec.get("scope") == "Namespaced",
                                       names.get("shortNames", [])))

    # -- objects -----------------------------------------------------------------------------
    def list_objects(self, kind, namespace, name=None, labels=None):
        out = []
        for (group, plural, ns, n), obj in sorted(self.objects.items()):
            if (group, plural) != (kind.group, kind.plural) or (namespace and ns != namespace):
                continue
            if name is not None and n != name:
                continue
            have = obj["metadata"].get("labels", {})
            if labels and any(have.get(k) != v for k, v in labels.items()):
                continue
            out.append(obj)
        return out

    def record(self, event, key, obj):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.events.append((self.rv, event, key, copy.deepcopy(obj)))
        self.cond.notify_all()

    def store(self, kind, namespace, name, new, subresource="", dry_run=False):
        """Create or replace an object, filling server-owned fields. Caller holds the lock."""
        key = (kind.group, kind.plural, namespace, name)
        current = self.objects.get(key)
        new = copy.deepcopy(new)
        new["apiVersion"], new["kind"] = kind.api_version, kind.kind
        meta = new.setdefault("metadata", {})
        meta["name"] = name
        if kind.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        old_meta = current["metadata"] if current else {}
        meta["uid"] = old_meta.get("uid") or str(uuid.uuid4())
        meta["creationTimestamp"] = old_meta.get("creationTimestamp") or now()
        meta.pop("managedFields", None)
        apply_defaults(kind, new)
        if current is None:
            meta["generation"] = 1
        else:
            spec_changed = subresource == "" and new.get("spec") != current.get("spec")
            meta["generation"] = old_meta.get("generation", 1) + (1 if spec_changed else 0)
        if subresource == "status":
            pass  # the caller's status stands
        elif key in self.pinned:
            new["status"] = current.get("status")
        else:
            new["status"] = synthetic_status(self, kind, new)
        if new.get("status") is None:
            new.pop("status", None)
        if dry_run:
            return new
        if subresource == "status":
            self.pinned.add(key)
        if kind.kind == "CustomResourceDefinition":
            self.register_crd(new)
        self.objects[key] = new
        self.record("MODIFIED" if current else "ADDED", key, new)
        return new

    def delete(self, kind, namespace, name):
        key = (kind.group, kind.plural, namespace, name)
        obj = self.objects.pop(key)
        self.pinned.discard(key)
        self.record("DELETED", key, obj)
        if kind.kind == "Namespace":  # no finalizers here: contents go at once
            for other in [k for k in self.objects if k[2] == name]:
                self.pinned.discard(other)
                self.record("DELETED", other, self.objects.pop(other))
        return obj

    def readyz(self):
        return self.readyz_until is not None and time.monotonic() >= self.readyz_until


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked watch streams
    world = None
    log_file = None

    def log_message(self, fmt, *args):  # replaced by log_request_line
        pass

    def log_request_line(self, code):
        if self.log_file:
            ctype = self.headers.get("Content-Type")
            self.log_file.write("%s %s%s -> %s\n" % (self.command, self.path,
                                                     " [%s]" % ctype if ctype else "", code))
            self.log_file.flush()

    def reply(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        # As kube-apiserver: kubectl must not reuse a cached /version from an older server.
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.log_request_line(code)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        try:
            if url.path.startswith("/_fake/"):
                return self.control(url.path, query)
            if self.fixed(url.path):
                return None
            if "protobuf" in self.headers.get("Content-Type", ""):
                body = protobuf_object(raw)  # `kubectl create ns|configmap|secret` sends protobuf
            else:
                body = json.loads(raw) if raw.strip() else {}
            return self.resource(url.path, query, body)
        except ApiError as err:
            return self.reply(err.code, err.body)
        except (ValueError, KeyError, TypeError) as err:
            return self.reply(400, status_error(400, "BadRequest", "fake-kube-api: %s" % err))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    # -- fixed endpoints ---------------------------------------------------------------------
    def fixed(self, path):
        w = self.world
        if path in ("/livez", "/healthz"):
            self.reply(200, b"ok", "text/plain; charset=utf-8")
        elif path == "/readyz":
            with w.cond:
                ready = w.readyz()
            if ready:
                self.reply(200, b"ok", "text/plain; charset=utf-8")
            else:
                self.reply(500, b"[-]poststarthook/fake-kube-api failed: not ready yet\nreadyz check failed",
                           "text/plain; charset=utf-8")
        elif path == "/version":
            # minor 32: the kubectl dispatcher then runs its own 1.32 client.
            self.reply(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake", "gitCommit": "fake",
                             "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23",
                             "compiler": "gc", "platform": "linux/amd64"})
        elif path == "/api":
            self.reply(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": self.headers.get("Host", "")}]})
        elif path == "/apis":  # legacy (non-aggregated) discovery; kubectl accepts it
            with w.cond:
                gvs = [gv for gv in w.group_versions() if gv[0]]
            groups = [{"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                       "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}} for g, v in gvs]
            self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        elif path == "/openapi/v3":
            with w.cond:
                gvs = w.group_versions()
            paths = {}
            for g, v in gvs:
                rel = f"apis/{g}/{v}" if g else f"api/{v}"
                paths[rel] = {"serverRelativeURL": f"/openapi/v3/{rel}"}
            self.reply(200, {"paths": paths})
        elif path.startswith("/openapi/v3/"):
            self.openapi_doc(path[len("/openapi/v3"):])
        else:
            return False
        return True

    def openapi_doc(self, prefix):
        """A per-group-version document whose PATCH operations declare ?fieldValidation, so
        kubectl's default --validate=strict leaves validation to the server."""
        with self.world.cond:
            kinds = [k for k in self.world.kinds if k.prefix == prefix]
        if not kinds:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        paths = {}
        for k in kinds:
            item = "%s/%s%s/{name}" % (prefix, "namespaces/{namespace}/" if k.namespaced else "", k.plural)
            paths[item] = {"patch": {
                "x-kubernetes-group-version-kind": {"group": k.group, "version": k.version, "kind": k.kind},
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}]}}
        self.reply(200, {"openapi": "3.0.0", "info": {"title": "fake-kube-api", "version": "v1"}, "paths": paths})

    # -- control -----------------------------------------------------------------------------
    def control(self, path, query):
        w = self.world
        flag = lambda name: query.get(name, "").lower() in ("1", "true", "yes")
        with w.cond:
            nodes = w.kind("", "nodes")
            if path == "/_fake/readyz" and self.command == "POST":
                w.readyz_until = time.monotonic() if flag("ready") else None
            elif path == "/_fake/nodes" and self.command == "POST":
                if "count" in query:
                    want = int(query["count"])
                    names = ["fake-node-%d" % i for i in range(want)]
                    for obj in w.list_objects(nodes, ""):
                        if obj["metadata"]["name"] not in names:
                            w.delete(nodes, "", obj["metadata"]["name"])
                    for name in names:
                        if not w.list_objects(nodes, "", name):
                            w.store(nodes, "", name, {"metadata": {"name": name}})
                if "ready" in query:
                    for obj in w.list_objects(nodes, ""):
                        self.set_hold(nodes, "", obj, not flag("ready"))
            elif path == "/_fake/hold" and self.command == "POST":
                kind, namespace, name, sub, _ = self.parse_path(query.get("path", ""))
                if not name or sub:
                    raise ApiError(400, "BadRequest", "path must name one object")
                found = w.list_objects(kind, namespace, name)
                if not found:
                    raise ApiError(404, "NotFound", '%s "%s" not found' % (kind.resource, name))
                self.set_hold(kind, namespace, found[0], flag("hold"))
            elif path != "/_fake/state":
                raise ApiError(404, "NotFound", "unknown control endpoint " + path)
            state = {"readyz": w.readyz(), "objects": len(w.objects),
                     "nodes": {o["metadata"]["name"]: o["metadata"].get("annotations", {}).get(HOLD) != "true"
                               for o in w.list_objects(nodes, "")}}
        self.reply(200, state)

    def set_hold(self, kind, namespace, obj, hold):
        obj = copy.deepcopy(obj)
        annotations = obj["metadata"].setdefault("annotations", {})
        if hold:
            annotations[HOLD] = "true"
        else:
            annotations.pop(HOLD, None)
        if not annotations:
            del obj["metadata"]["annotations"]
        self.world.pinned.discard((kind.group, kind.plural, namespace, obj["metadata"]["name"]))
        self.world.store(kind, namespace, obj["metadata"]["name"], obj)

    # -- resources ---------------------------------------------------------------------------
    def parse_path(self, path):
        """`/api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]]` -> (kind, namespace, name, sub, prefix)."""
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        with self.world.cond:
            kind = self.world.kind(group, rest[0]) if rest else None
            if rest and (kind is None or kind.version != version):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if not rest and not any(k.prefix == prefix for k in self.world.kinds):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        return kind, namespace, name, sub, prefix

    def resource(self, path, query, body):
        kind, namespace, name, sub, prefix = self.parse_path(path)
        w = self.world
        if kind is None:  # APIResourceList of one group-version
            with w.cond:
                kinds = [k for k in w.kinds if k.prefix == prefix]
            verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
            self.reply(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": kinds[0].api_version,
                             "resources": [{"name": k.plural, "singularName": k.kind.lower(), "kind": k.kind,
                                            "namespaced": k.namespaced, "verbs": verbs, "shortNames": k.short}
                                           for k in kinds]})
            return
        if sub and sub != "status":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if self.command == "GET" and not name:
            if query.get("watch") in ("1", "true"):
                return self.watch(kind, namespace, query)
            return self.list(kind, namespace, query)
        with w.cond:
            self.reply(*self.change(kind, namespace, name, sub, query, body))

    def selectors(self, query):
        name = None
        for term in filter(None, query.get("fieldSelector", "").split(",")):
            field, _, value = term.partition("=")
            if field == "metadata.name":
                name = value.lstrip("=")
        labels = dict(t.split("=", 1) for t in filter(None, query.get("labelSelector", "").split(",")) if "=" in t)
        return name, labels

    def list(self, kind, namespace, query):
        name, labels = self.selectors(query)
        with self.world.cond:
            items = self.world.list_objects(kind, namespace, name, labels)
            rv = str(self.world.rv)
        self.reply(200, {"kind": kind.kind + "List", "apiVersion": kind.api_version,
                         "metadata": {"resourceVersion": rv}, "items": items})

    def change(self, kind, namespace, name, sub, query, body):
        """GET one, POST, PUT, PATCH, DELETE. Caller holds the lock; returns (code, body)."""
        w, method = self.world, self.command
        if method == "POST":
            name = body.get("metadata", {}).get("name", "")
            if not name:
                raise ApiError(422, "Invalid", "%s: metadata.name: Required value" % kind.kind)
        key = (kind.group, kind.plural, namespace, name)
        current = w.objects.get(key)
        dry_run = query.get("dryRun") == "All"
        not_found = ApiError(404, "NotFound", '%s "%s" not found' % (kind.resource, name))
        if method == "GET":
            if not current:
                raise not_found
            return 200, current
        if method == "DELETE":
            if not current:
                raise not_found
            return 200, current if dry_run else w.delete(kind, namespace, name)
        if kind.namespaced and not current and ("", "namespaces", "", namespace) not in w.objects:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % namespace)
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        if method == "POST":
            if current:
                raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (kind.resource, name))
            return 201, w.store(kind, namespace, name, body, dry_run=dry_run)
        if method == "PUT":
            if not current:
                raise not_found
            new = dict(current, status=body.get("status")) if sub else body
            return 200, w.store(kind, namespace, name, new, sub, dry_run)
        if method == "PATCH":
            if ctype == "application/json-patch+json":
                raise ApiError(415, "UnsupportedMediaType", "fake-kube-api does not implement json-patch")
            if ctype == "application/apply-patch+yaml":  # server-side apply (kubectl sends JSON)
                base = current or {}
                new = merge_patch(base, body, strategic=True)
                return (200 if current else 201), w.store(kind, namespace, name, new, sub, dry_run)
            if not current:
                raise not_found
            new = merge_patch(current, body, strategic=ctype == "application/strategic-merge-patch+json")
            if sub:
                new = dict(current, status=new.get("status"))
            return 200, w.store(kind, namespace, name, new, sub, dry_run)
        raise ApiError(405, "MethodNotAllowed", "method %s not allowed" % method)

    def watch(self, kind, namespace, query):
        """Chunked `{"type", "object"}` lines for changes after ?resourceVersion (all current
        objects first when it is absent or 0), until ?timeoutSeconds (capped)."""
        w = self.world
        name, labels = self.selectors(query)

        def matches(key, obj):
            if key[:2] != (kind.group, kind.plural) or (namespace and key[2] != namespace):
                return False
            have = obj["metadata"].get("labels", {})
            return (name is None or key[3] == name) and all(have.get(k) == v for k, v in labels.items())

        since = int(query.get("resourceVersion") or 0)
        with w.cond:
            pending = [("ADDED", o) for o in w.list_objects(kind, namespace, name, labels)] if since == 0 else []
            since = since or w.rv
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.log_request_line("200 (watch)")
        deadline = time.monotonic() + min(float(query.get("timeoutSeconds") or WATCH_CAP_SECONDS),
                                          WATCH_CAP_SECONDS)
        try:
            while True:
                for event, obj in pending:
                    line = json.dumps({"type": event, "object": obj}).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                with w.cond:
                    w.cond.wait(min(left, 1.0))
                    pending = [(e, o) for rv, e, k, o in w.events if rv > since and matches(k, o)]
                    since = w.rv
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def write_kubeconfig(path, name, url):
    text = (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        f"- name: {name}\n"
        "  cluster:\n"
        f"    server: {url}\n"
        "contexts:\n"
        f"- name: {name}\n"
        "  context:\n"
        f"    cluster: {name}\n"
        f"    user: {name}\n"
        f"current-context: {name}\n"
        "preferences: {}\n"
        "users:\n"
        f"- name: {name}\n"
        "  user:\n"
        f"    token: fake-token-{name}\n"
    )
    tmp = "%s.%d.tmp" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description="In-memory Kubernetes API for tests (see the file header).")
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--kubeconfig-out")
    ap.add_argument("--name", default="fake", help="cluster/user/context name in --kubeconfig-out")
    ap.add_argument("--pid-file")
    ap.add_argument("--log", nargs="?", const="-", help="log requests to FILE (stderr without FILE)")
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument("--node-names", help="comma-separated node names (instead of --nodes)")
    ap.add_argument("--node-not-ready", action="store_true")
    ap.add_argument("--not-ready-for", type=float, default=0.0, metavar="SECONDS")
    ap.add_argument("--not-ready", action="store_true", help="/readyz fails until POST /_fake/readyz?ready=true")
    args = ap.parse_args()

    world = World(None if args.not_ready else time.monotonic() + args.not_ready_for)
    with world.cond:
        for ns in ("default", "kube-system", "kube-public"):
            world.store(world.kind("", "namespaces"), "", ns, {"metadata": {"name": ns}})
        names = args.node_names.split(",") if args.node_names else ["fake-node-%d" % i for i in range(args.nodes)]
        for name in names:
            meta = {"name": name, "labels": {"kubernetes.io/hostname": name}}
            if args.node_not_ready:
                meta["annotations"] = {HOLD: "true"}
            world.store(world.kind("", "nodes"), "", name, {"metadata": meta})
    Api.world = world
    if args.log == "-":
        Api.log_file = sys.stderr
    elif args.log:
        Api.log_file = open(args.log, "a", buffering=1)

    server = ThreadingHTTPServer((args.address, args.port), Api)
    server.daemon_threads = True  # open watches must not keep a stopped server alive
    url = "http://%s:%d" % (args.address, server.server_address[1])

    def stop(signum, _frame):
        if args.pid_file:
            try:
                os.remove(args.pid_file)
            except FileNotFoundError:
                pass
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.kubeconfig_out:
        write_kubeconfig(args.kubeconfig_out, args.name, url)
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
    print("listening on " + url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
