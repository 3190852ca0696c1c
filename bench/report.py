#!/usr/bin/env python3
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
"""Turn the bench's JSON lines into a Markdown and a JSON report, with the machine described.

Usage: report.py FIGURES.jsonl OUT_DIR [--name latest] [--duration SECONDS] [--load-start L]

FIGURES.jsonl holds the lines bench/lib.sh writes (kinds figure, skip, note, failed). Ratios
are computed here from the medians of figures of the same run and are all named *_speedup;
each target is judged on the median of its figure. Writes OUT_DIR/NAME.md and OUT_DIR/NAME.json.
Machine facts (CPU, memory, kernel, engine and tool versions, build profiles) are read here;
the engines from K8S_DEV_TEST_DOCKER_HOST and K8S_DEV_TEST_PODMAN_HOST.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (name, numerator, denominator, what): how many times faster the denominator is.
SPEEDUPS = [
    ("sync.docker_build_push_speedup", "baseline.docker_build_push", "sync.helper.gateway_image",
     "docker build + push vs the helper's gateway image phase of sync, same image"),
    ("sync.podman_build_push_speedup", "baseline.podman_build_push", "sync.helper.gateway_image",
     "podman build + push vs the helper's gateway image phase of sync, same image"),
    ("sync.docker_save_load_speedup", "baseline.docker_build_save_load", "sync.helper.gateway_image",
     "docker build + save + podman load vs the helper's gateway image phase, same image"),
    ("sync.engine_docker_image_speedup", "sync.engine_docker.gateway_image", "sync.helper.gateway_image",
     "gateway image phase of sync: K8S_DEV_IMAGE_BUILDER=engine on Docker vs helper"),
    ("sync.engine_podman_image_speedup", "sync.engine_podman.gateway_image", "sync.helper.gateway_image",
     "gateway image phase of sync: K8S_DEV_IMAGE_BUILDER=engine on Podman vs helper"),
    ("sync.engine_docker_total_speedup", "sync.engine_docker.total", "sync.helper.total",
     "whole sync: engine path on Docker vs helper"),
    ("sync.engine_podman_total_speedup", "sync.engine_podman.total", "sync.helper.total",
     "whole sync: engine path on Podman vs helper"),
    ("publish.docker_build_push_speedup", "publish.docker_build_push", "publish.helper_zstd",
     "large binary: docker build + push vs helper (debug)"),
    ("publish.podman_build_push_speedup", "publish.podman_build_push", "publish.helper_zstd",
     "large binary: podman build + push vs helper (debug)"),
    ("publish.docker_save_load_speedup", "publish.docker_build_save_load", "publish.helper_zstd",
     "large binary: docker build + save + podman load vs helper (debug)"),
    ("publish.http_over_tls_token_speedup", "publish.auth_tls_token", "publish.auth_loopback_http",
     "same image: TLS + token-auth registry vs loopback HTTP (above 1: the overhead of TLS and auth)"),
    ("publish.http_over_tls_htpasswd_speedup", "publish.auth_tls_htpasswd", "publish.auth_loopback_http",
     "same image: TLS + htpasswd registry vs loopback HTTP (above 1: the overhead of TLS and auth)"),
    ("loop.docker_build_push_speedup", "loop.docker.edit_to_serving", "loop.kit.edit_to_serving",
     "edit -> serving on the real node: docker build + push vs the kit's sync + bootstrap (whole loop)"),
    ("loop.save_import_speedup", "loop.import.edit_to_serving", "loop.kit.edit_to_serving",
     "edit -> serving on the real node: docker build + save + ctr import vs the kit (whole loop)"),
    ("tasks.merge_release_over_debug_speedup", "tasks.merge.debug.binary", "tasks.merge.release.binary",
     "200-context merge: the release helper the tasks run vs a debug build"),
]

# What is known about a target's cost, shown when it is missed.
HINTS = {
    "loop_edit_to_serving": "the rollout, shared by every path, is most of it: see the detail rows of "
    "section 5 (the kit's checks and helm upgrade, the StatefulSet deleting the old pod before it "
    "creates the new one, and start -> serving: probe periods, endpoints, kube-proxy's iptables sync).",
    "merge_200_contexts": "the tasks run the release helper (tasks/scripts/helper.sh); in a debug build "
    "serde's code instantiated inside k8s-dev-helper stays at opt-level 0 (compare tasks.merge.debug.binary).",
}

# (key, what, figure or speedup, comparison, limit, unit)
TARGETS = [
    ("image_step_large_binary", "image step, >= 50 MB binary after a one-byte change (helper, debug)",
     "publish.helper_zstd", "<=", 1000, "ms"),
    ("image_step_docker_speedup", "image step, >= 50 MB binary: helper vs docker build + push",
     "publish.docker_build_push_speedup", ">=", 5, "x"),
    ("sync_overhead", "sync after a one-line change: total - cargo build",
     "sync.helper.overhead", "<=", 1000, "ms"),
    ("noop_up_docker", "no-op mise run k8s:dev:up, Docker (fakes)", "tasks.noop_up.docker.mise", "<=", 250, "ms"),
    ("noop_up_podman", "no-op mise run k8s:dev:up, Podman (fakes)", "tasks.noop_up.podman.mise", "<=", 250, "ms"),
    ("noop_up_helpers_docker", "helper processes a no-op up starts, Docker", "tasks.noop_up.docker.helper_processes",
     "<=", 3, "processes"),
    ("noop_up_helpers_podman", "helper processes a no-op up starts, Podman", "tasks.noop_up.podman.helper_processes",
     "<=", 3, "processes"),
    ("engine_docker", "k8s-dev-helper engine (debug), Docker", "tasks.engine.debug.docker", "<=", 20, "ms"),
    ("engine_podman", "k8s-dev-helper engine (debug), Podman", "tasks.engine.debug.podman", "<=", 20, "ms"),
    ("merge_200_contexts", "kubeconfig merge into 200 contexts (release binary, as the tasks run it)",
     "tasks.merge.release.binary", "<=", 20, "ms"),
    ("loop_edit_to_serving", "edit -> new gateway pod serving on the real node <= cargo build + 3 s "
     "(kit: total - cargo build, per run)", "loop.kit.over_cargo", "<=", 3000, "ms"),
]

SECTIONS = [
    ("sync.", "1. `k8s-dev.sh sync` after a one-line gateway change, per phase"),
    ("baseline.", "2. Baselines on the image the helper's sync just published"),
    ("publish.", "3. Image step alone, large binary after a one-byte change"),
    ("tasks.", "4. Fixed costs: no-op up, helper engine, kubeconfig merge, mise"),
    ("loop.", "5. Edit -> new gateway pod serving on the real node (bench/loop.sh), per phase"),
]


def run(*cmd, env=None):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def engine_version(tool, host):
    if not host:
        return None
    if tool == "docker":
        env = dict(os.environ, DOCKER_HOST=host)
        server = run("docker", "version", "--format", "{{.Server.Version}}", env=env)
        client = run("docker", "version", "--format", "{{.Client.Version}}", env=env)
        return f"server {server}, CLI {client}" if server else None
    server = run("podman", "--url", host, "version", "--format", "{{.Server.Version}}")
    client = run("podman", "--version")
    return f"server {server}, CLI {client}" if server else None


def kubectl_version():
    out = run("kubectl", "version", "--client", "-o", "json")
    return json.loads(out)["clientVersion"]["gitVersion"] if out else None


def dev_optimised():
    with open(os.path.join(ROOT, "Cargo.toml"), "rb") as f:
        profiles = tomllib.load(f).get("profile", {})
    packages = profiles.get("dev", {}).get("package", {})
    fast = sorted(name for name, p in packages.items() if p.get("opt-level") not in (None, 0))
    return fast, profiles.get("release", {})


def machine(load_start):
    cpu = None
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    os_name = None
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    with open("/proc/loadavg") as f:
        load_end = " ".join(f.read().split()[:3])
    fast, release = dev_optimised()
    commit = run("git", "-C", ROOT, "rev-parse", "--short", "HEAD")
    if commit and run("git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return {
        "cpu": cpu or platform.processor(),
        "cores_available": len(os.sched_getaffinity(0)),
        "cores_total": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": os_name,
        "docker": engine_version("docker", os.environ.get("K8S_DEV_TEST_DOCKER_HOST")),
        "podman": engine_version("podman", os.environ.get("K8S_DEV_TEST_PODMAN_HOST")),
        "registry": os.environ.get("K8S_DEV_TEST_REGISTRY"),
        "registry_binary": run("docker-registry", "--version"),
        "rustc": run("rustc", "--version"),
        "mise": run("mise", "--version"),
        "kubectl": kubectl_version(),
        "helper_debug_profile": "dev, opt-level 3 for: " + ", ".join(fast),
        "helper_release_profile": "release " + json.dumps(release),
        "load_average_start": load_start,
        "load_average_end": load_end,
        "commit": commit,
    }


def summarise(lines):
    figures, skipped, notes, failed = {}, [], [], []
    for line in lines:
        entry = json.loads(line)
        kind = entry.pop("kind")
        if kind == "figure":
            samples = entry["samples"]
            figures[entry["name"]] = {
                "label": entry["label"], "unit": entry["unit"], "n": len(samples),
                "min": min(samples), "median": statistics.median_low(samples),
                "max": max(samples), "samples": samples,
            }
        elif kind == "skip":
            skipped.append(entry)
        elif kind == "note":
            notes.append(entry["text"])
        elif kind == "failed":
            failed.append(entry)
    return figures, skipped, notes, failed


def speedups(figures):
    out = {}
    for name, num, den, what in SPEEDUPS:
        if num in figures and den in figures and figures[den]["median"] > 0:
            out[name] = {
                "value": round(figures[num]["median"] / figures[den]["median"], 2),
                "numerator": num, "denominator": den, "what": what,
            }
    return out


def targets(figures, ratios):
    out = []
    for key, what, source, op, limit, unit in TARGETS:
        entry = {"key": key, "what": what, "figure": source, "limit": f"{op} {limit} {unit}"}
        if source in figures:
            entry["median"], entry["min"] = figures[source]["median"], figures[source]["min"]
        elif source in ratios:
            entry["median"] = ratios[source]["value"]
        if "median" in entry:
            value = entry["median"]
            entry["met"] = value <= limit if op == "<=" else value >= limit
        else:
            entry["met"] = None
        out.append(entry)
    return out


def fmt(value, unit=""):
    if unit == "x":
        return f"{value:.1f}×"
    if isinstance(value, int) or value >= 100:
        text = f"{value:.0f}"
    elif value >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def markdown(report):
    m = report["machine"]
    out = [
        "# k8s-dev inner-loop benchmark",
        "",
        f"Run {report['date']} at commit {m['commit']}: {report['runs']}; {report['duration_s']} s in all.",
        "Written by `mise run k8s:dev:bench` (bench/run.sh); every figure and ratio below comes from this one run.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    for key, label in [("cpu", "CPU"), ("cores_available", "cores available (of total)"),
                       ("memory_gib", "memory (GiB)"), ("kernel", "kernel"), ("os", "OS"),
                       ("docker", "Docker"), ("podman", "Podman"), ("registry", "registry"),
                       ("registry_binary", "registry binary"), ("rustc", "rustc"), ("mise", "mise"),
                       ("kubectl", "kubectl"), ("helper_debug_profile", "helper debug build (most figures)"),
                       ("helper_release_profile", "helper release build"),
                       ("load_average_start", "load average at start"),
                       ("load_average_end", "load average at end")]:
        value = m.get(key)
        if key == "cores_available":
            value = f"{m['cores_available']} ({m['cores_total']})"
        out.append(f"| {label} | {value if value is not None else 'n/a'} |")
    out += ["", "## Targets (judged on the median)", "", "| target | limit | median | min | met |",
            "|---|---|---|---|---|"]
    for t in report["targets"]:
        unit = t["limit"].split()[-1]
        median = fmt(t["median"], unit) if "median" in t else "not measured"
        minimum = fmt(t["min"], unit) if "min" in t else ""
        met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        limit = t["limit"].replace(" x", "×")
        out.append(f"| {t['what']} | {limit} | {median} | {minimum} | {met} |")
    missed = [t for t in report["targets"] if t["met"] is False]
    if missed:
        out += [""] + [f"Missed, {t['what']}: {HINTS.get(t['key'], 'see the figures below.')}" for t in missed]
    out += ["", "## Speedups (ratio of medians)", "", "| ratio | value |", "|---|---|"]
    for name, r in report["speedups"].items():
        out.append(f"| {r['what']} (`{name}`) | {fmt(r['value'], 'x')} |")
    for prefix, title in SECTIONS:
        rows = [(n, f) for n, f in report["figures"].items() if n.startswith(prefix)]
        if not rows:
            continue
        out += ["", f"## {title}", "", "| measurement | min | median | max | n |", "|---|---|---|---|---|"]
        for name, f in rows:
            out.append(f"| {f['label']} | {fmt(f['min'], f['unit'])} | {fmt(f['median'], f['unit'])} "
                       f"| {fmt(f['max'], f['unit'])} | {f['n']} |")
    if report["failed"] or report["skipped"]:
        out += ["", "## Not measured", ""]
        out += [f"- **failed**: {f['what']} ({f['reason']})" for f in report["failed"]]
        out += [f"- skipped: {s['what']} ({s['reason']})" for s in report["skipped"]]
    if report["notes"]:
        out += ["", "## Notes", ""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description="Render bench figures into bench/results/.")
    parser.add_argument("figures")
    parser.add_argument("out_dir")
    parser.add_argument("--name", default="latest")
    parser.add_argument("--duration", type=int, default=0)
    parser.add_argument("--load-start", default=None)
    parser.add_argument("--runs", default="5")
    args = parser.parse_args()
    with open(args.figures) as f:
        figures, skipped, notes, failed = summarise(line for line in f if line.strip())
    ratios = speedups(figures)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "runs": f"{args.runs} measured runs per figure (after one unmeasured run) unless n says otherwise",
        "duration_s": args.duration,
        "machine": machine(args.load_start),
        "targets": targets(figures, ratios),
        "speedups": ratios,
        "figures": figures,
        "skipped": skipped,
        "failed": failed,
        "notes": notes,
    }
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, args.name + ".json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out_dir, args.name + ".md"), "w") as f:
        f.write(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
