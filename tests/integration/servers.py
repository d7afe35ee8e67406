"""The shop's real servers (tests/zoo/servers) under a bounded HTTP load on
loopback: what test_servers.py and scripts/benchmark-zoo.py run.

Debian's packages, on Debian's python3.11: Flask on werkzeug's threaded
server (a thread per connection), a gunicorn pre-forked sync worker and
aiohttp's event loop. gunicorn runs one worker: with two, the traced one is the
slower to accept and the other takes nearly all the requests (a traced worker
saw ~1 order a second of 12 and kept too little to judge in 40 s).
"""

import collections
import contextlib
import os
import socket
import subprocess
import time

import harness

DIR = os.path.join(harness.ZOO_DIR, "servers")
SHOP = os.path.join(DIR, "shop.py")
PYTHON = "/usr/bin/python3.11"
RATE, CLIENTS = 60, 4  # requests a second, over keep-alive connections
CHURN_HANDLERS = {"catalogue", "search"}  # shop.py functions whose objects die with the request

Server = collections.namedtuple("Server", "modules argv")
SERVERS = {
    "flask": Server(["flask"], lambda port: [os.path.join(DIR, "flask_shop.py"), str(port)]),
    "gunicorn": Server(["gunicorn", "flask"], lambda port: [
        "-m", "gunicorn", "--workers", "1", "--bind", "127.0.0.1:%d" % port, "--chdir", DIR,
        "--config", os.path.join(DIR, "gunicorn_conf.py"), "flask_shop:app"]),
    "aiohttp": Server(["aiohttp"], lambda port: [os.path.join(DIR, "aiohttp_shop.py"), str(port)]),
}
Answered = collections.namedtuple("Answered", "requests p50_ms p99_ms")


def missing(name):
    """Why server NAME cannot run here, or None."""
    if not os.access(PYTHON, os.X_OK):
        return PYTHON + " is not installed"
    modules = SERVERS[name].modules
    code = "import importlib.util, sys; sys.exit(0 if all(map(importlib.util.find_spec, sys.argv[1:])) else 1)"
    if subprocess.run([PYTHON, "-c", code] + modules).returncode:
        return "%s cannot import %s (Debian's python3-flask, gunicorn, python3-aiohttp)" % (PYTHON, ", ".join(modules))
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return sorted(int(p) for p in f.read().split())


@contextlib.contextmanager
def serving(name):
    """Start server NAME; yields (Target, port, pid to trace): gunicorn's
    worker, which must stay the one it started (the test checks with children())."""
    port = free_port()
    with harness.Target([PYTHON] + SERVERS[name].argv(port), ready_line="listening") as server:
        pid = server.pid
        if name == "gunicorn":
            deadline = time.monotonic() + 30
            while not children(server.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            pid = children(server.pid)[0]
        yield server, port, pid


@contextlib.contextmanager
def load(port, seconds):
    """RATE requests a second for SECONDS; yields a list that holds one
    Answered once the load has finished (on leaving the block)."""
    proc = subprocess.Popen([PYTHON, os.path.join(DIR, "load.py"), str(port), str(RATE), str(CLIENTS),
                             str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=harness.clean_env(), start_new_session=True)
    result = []
    try:
        yield result
        out, _ = proc.communicate(timeout=seconds + 60)
        words = out.split()
        if words[:1] == [b"done"]:
            result.append(Answered(int(words[1]), float(words[2]), float(words[3])))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def churn_suspects(report):
    """Ranks (from 1) of the suspects with a churn handler in their stack."""
    return [rank for rank, suspect in enumerate(report["suspects"], 1)
            if any(f["file"] == SHOP and f["function"] in CHURN_HANDLERS for f in suspect["frames"])]


def leak_rank(report):
    """Rank (from 1) of the first suspect whose stack holds shop.py's '# LEAK' line, or None."""
    line = harness.leak_line(SHOP)
    for rank, suspect in enumerate(report["suspects"], 1):
        if any(f["file"] == SHOP and f.get("line") == line for f in suspect["frames"]):
            return rank
    return None
