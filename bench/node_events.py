#!/usr/bin/env python3
# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
"""When the real node's containerd did each step of one rollout, from its log.

Usage: node_events.py CONTAINERD_LOG OFFSET IMAGE_PREFIX

Reads CONTAINERD_LOG (tests/support/node.sh's containerd.log) from byte OFFSET, the size it had
when the rollout began, and prints one line of epoch milliseconds, `-` for a step not seen:

    stop_start stop_end unsandbox_end sandbox_start sandbox_end pull_start pull_end start_start start_end

stop: the old gateway container's StopContainer (its termination grace included); unsandbox:
the old pod's StopPodSandbox (its return: the kubelet can report the pod gone); sandbox: the
new pod's RunPodSandbox (pause container and CNI); pull: the first PullImage of a reference
starting with IMAGE_PREFIX, e.g. `registry/repository:` (absent when the kubelet found the image
present); start: the first StartContainer after the sandbox. containerd's CRI
plugin logs each call and its return at info level with a nanosecond UTC timestamp, on the same
clock as the bench's own `date +%s%N`.
"""
import datetime
import re
import sys

LINE = re.compile(r'^time="([^"]+)" level=\w+ msg="(.*)"$')


def epoch_ms(stamp):
    # 2026-12-07T16:45:06.991489762Z: Python parses microseconds at most.
    head, _, frac = stamp.rstrip("Z").partition(".")
    base = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(base.timestamp() * 1000) + int((frac + "000")[:3])


def steps(lines, image):
    found = {}
    quoted = '\\"' + image

    def first(key, ms):
        found.setdefault(key, ms)

    for line in lines:
        m = LINE.match(line.strip())
        if not m:
            continue
        ms, msg = epoch_ms(m.group(1)), m.group(2)
        if msg.startswith("StopContainer for ") and "sandbox_start" not in found:
            first("stop_end" if "returns successfully" in msg else "stop_start", ms)
        elif msg.startswith("StopPodSandbox for ") and "returns successfully" in msg and "sandbox_start" not in found:
            first("unsandbox_end", ms)
        elif msg.startswith("RunPodSandbox for "):
            first("sandbox_end" if "returns sandbox id" in msg else "sandbox_start", ms)
        elif msg.startswith("PullImage " + quoted):
            first("pull_end" if " returns image reference " in msg else "pull_start", ms)
        elif msg.startswith("StartContainer for ") and "sandbox_end" in found:
            first("start_end" if "returns successfully" in msg else "start_start", ms)
    return found


def main():
    if len(sys.argv) != 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    path, offset, image = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(path, errors="replace") as f:
        f.seek(offset)
        found = steps(f, image)
    keys = ["stop_start", "stop_end", "unsandbox_end", "sandbox_start", "sandbox_end", "pull_start", "pull_end",
            "start_start", "start_end"]
    print(" ".join(str(found.get(k, "-")) for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
