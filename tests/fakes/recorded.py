# SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
# SPDX-License-Identifier: Apache-2.0
"""What the real tools printed, replayed by the fakes.

tests/data/recorded/<tool>/<case>.json holds one real call (argv, exit code, stdout, stderr)
captured by tests/data/recorded/record.sh from the binaries tests/support/tools.sh builds, with
`vars`: the names, ports and hosts of that run. A fake replays a case with its own values put in
place of those, so its output is the real tool's, byte for byte apart from names and times.
tests/python/test_recordings.py checks the fakes against every case.
"""
import json
import os
import re
import sys
import time

RECORDED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "recorded")
START = time.time()


def load(tool, case):
    with open(os.path.join(RECORDED, tool, case + ".json")) as f:
        return json.load(f)


def substitute(text, recorded_vars, values):
    """The recorded run's values replaced with this run's (longest first: no partial hits)."""
    for key in sorted(values, key=lambda k: -len(recorded_vars.get(k, ""))):
        old = recorded_vars.get(key)
        if old:
            text = text.replace(old, str(values[key]))
    return text


# --- k3d's log lines (logrus TextFormatter, k3d cmd/root.go) -----------------------------------

# LOG_COLORS unset means colours even into a pipe (k3d sets ForceColors); false gives key=value.
def k3d_colors():
    return os.environ.get("LOG_COLORS", "true").lower() not in ("false", "0", "f")


LEVELS = {"info": ("INFO", 36), "warning": ("WARN", 33), "error": ("ERRO", 31), "fatal": ("FATA", 31)}
_PLAIN = re.compile(r'^time="[^"]*" level=(\w+) msg=(".*"|\S*)$')
_COLOR = re.compile(r"^\x1b\[\d+m([A-Z]{4})\x1b\[0m\[\d{4}\] (.*) $")


def k3d_line(level, msg):
    """One k3d log line as the real binary formats it (recorded cases in tests/data/recorded/k3d)."""
    if k3d_colors():
        text, color = LEVELS[level]
        return "\x1b[%dm%s\x1b[0m[%04d] %-44s " % (color, text, int(time.time() - START), msg)
    quoted = msg if re.fullmatch(r"[A-Za-z0-9\-._/@^+]+", msg) else json.dumps(msg)
    return 'time="%s" level=%s msg=%s' % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), level, quoted)


def k3d_parse(line):
    """(level, msg) of a recorded k3d log line, or None for other output."""
    m = _PLAIN.match(line)
    if m:
        msg = m.group(2)
        return m.group(1), json.loads(msg) if msg.startswith('"') else msg
    m = _COLOR.match(line)
    if m:
        level = {v[0]: k for k, v in LEVELS.items()}[m.group(1)]
        return level, m.group(2).rstrip(" ")
    return None


def k3d_log(level, msg):
    """Print like k3d: info on stdout, warnings and worse on stderr; fatal exits 1."""
    stream = sys.stdout if level == "info" else sys.stderr
    stream.write(k3d_line(level, msg) + "\n")
    stream.flush()
    if level == "fatal":
        sys.exit(1)


def replay_k3d(case, values):
    """Replay a recorded k3d case (its -colors twin when colours are on) with this run's values."""
    c = load("k3d", case + ("-colors" if k3d_colors() else ""))
    was = dict(c["vars"], **{k: v for k, v in c["env"].items() if v and k != "LOG_COLORS"})
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        for line in c[name].splitlines():
            parsed = k3d_parse(line)
            if parsed:
                line = k3d_line(parsed[0], substitute(parsed[1], was, values))
            else:
                line = substitute(line, was, values)
            stream.write(line + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    if c["exit"]:
        sys.exit(c["exit"])


def replay(tool, case, values):
    """Print a recorded case of helm or skaffold with this run's values and exit with its code."""
    c = load(tool, case)
    sys.stdout.write(substitute(c["stdout"], c["vars"], values))
    sys.stderr.write(substitute(c["stderr"], c["vars"], values))
    sys.stdout.flush()
    if c["exit"]:
        sys.exit(c["exit"])
