"""Shared helpers for the leakscope integration tests.

Every test script is run as

    /usr/bin/python3 test_X.py --leakscope PATH [--python ID] [unittest args]

and uses this module for: argument parsing, resolving an interpreter id to a
binary (or skipping with exit status 77), starting target programs that are
always killed afterwards, running leakscope with a timeout, and checking that
no probe of ours outlives a run.
"""

import argparse
import atexit
import collections
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SKIP_STATUS = 77

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS_DIR = os.path.join(REPO, "tests", "targets")
ZOO_DIR = os.path.join(REPO, "tests", "zoo")

# Our BPF programs are all named with this prefix.
BPF_PROG_PREFIX = "ls_"

TRACEFS_DIRS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")

# Exit statuses fixed by docs/errors.md (user/core/error.h).
EXIT_USAGE = 2
EXIT_PERMISSION = 3
EXIT_KERNEL_SUPPORT = 4
EXIT_NO_SUCH_PROCESS = 5
EXIT_NOT_PYTHON = 6
EXIT_UNSUPPORTED_VERSION = 7
EXIT_IO = 11
EXIT_BUSY = 13
EXIT_LEAK_FOUND = 20

DEBIAN_PYTHON = "/usr/bin/python3.11"


# --------------------------------------------------------------------------
# Arguments and skipping

class Config:
    leakscope = None      # absolute path of the binary under test
    interpreter = None    # Interpreter, when --python was given
    unittest_argv = []


CONFIG = Config()


def skip(reason):
    """Skip the whole script: CTest treats exit status 77 as 'skipped'."""
    print("SKIP: %s" % reason, flush=True)
    sys.exit(SKIP_STATUS)


def fail(reason):
    print("FAIL: %s" % reason, flush=True)
    sys.exit(1)


def parse_args(argv=None, need_python=False):
    parser = argparse.ArgumentParser(add_help=True)
    parser.add_argument("--leakscope", required=True, help="path of the leakscope binary")
    parser.add_argument("--python", help="interpreter id, e.g. py3.12 or debian3.11-nodbg")
    args, rest = parser.parse_known_args(argv)

    if os.geteuid() != 0:
        skip("integration tests need root (BPF, uprobes, namespaces)")
    binary = os.path.abspath(args.leakscope)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        fail("leakscope binary not found or not executable: %s" % binary)
    CONFIG.leakscope = binary

    if need_python and not args.python:
        parser.error("--python ID is required for this script")
    if args.python:
        CONFIG.interpreter = resolve_interpreter(args.python)
    CONFIG.unittest_argv = [sys.argv[0]] + rest
    return CONFIG


# --------------------------------------------------------------------------
# Interpreters

Interpreter = collections.namedtuple(
    "Interpreter", "id path extra_args version prefix libs")
Interpreter.__doc__ = """An interpreter to run targets with.

id          the id given on the command line
path        the python executable
extra_args  leakscope options this id implies (e.g. --debug-dir /nonexistent)
version     "3.X.Y" as reported by the interpreter
prefix      sys.prefix of the interpreter
libs        [(soname, path)] of the shared libpython it loads (empty when static)
"""


def pyenv_root():
    try:
        out = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, universal_newlines=True,
                             timeout=10)
        root = out.stdout.strip()
        if out.returncode == 0 and root and os.path.isdir(root):
            return root
    except (OSError, subprocess.SubprocessError):
        pass
    root = os.environ.get("PYENV_ROOT")
    if root and os.path.isdir(root):
        return root
    return "/root/.pyenv"


def version_tuple(version):
    """"3.11.7" -> (3, 11, 7)"""
    return tuple(int(part) for part in version.split("."))


def find_pyenv_python(major_minor):
    """Newest pyenv X.Y.Z install of major_minor, or (None, versions_dir)."""
    versions = os.path.join(pyenv_root(), "versions")
    pattern = re.compile(r"^%s\.\d+$" % re.escape(major_minor))
    candidates = []
    for path in glob.glob(os.path.join(versions, major_minor + ".*")):
        name = os.path.basename(path)
        exe = os.path.join(path, "bin", "python" + major_minor)
        if pattern.match(name) and os.access(exe, os.X_OK):
            candidates.append((version_tuple(name), exe))
    if not candidates:
        return None, versions
    return max(candidates)[1], versions


# Extra install prefixes searched besides pyenv's versions: a colon-separated
# list such as /opt/py/3.14.7:/opt/py/3.14.7t (interpreters built by hand and
# kept out of pyenv). PREFIX/bin/pythonX.Y (pythonX.Yt for a free-threaded id)
# is used when it runs and is the build the id asks for.
PYTHONS_ENV = "LEAKSCOPE_PYTHONS"


def extra_prefixes():
    return [p for p in os.environ.get(PYTHONS_ENV, "").split(":") if p]


def probe_interpreter(path):
    """((major, minor, micro), free_threaded) of the interpreter at PATH, or None."""
    code = ("import sys, sysconfig; print('%d %d %d' % sys.version_info[:3]); "
            "print(int(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))))")
    try:
        out = subprocess.run([path, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True, timeout=60, env=clean_env())
        lines = out.stdout.split("\n")
        if out.returncode != 0 or len(lines) < 2:
            return None
        return tuple(int(x) for x in lines[0].split()), lines[1].strip() == "1"
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def find_prefix_python(major_minor, free_threaded=False):
    """Newest interpreter of major_minor (a GIL build, or a free-threaded one)
    under the LEAKSCOPE_PYTHONS prefixes, or (None, [places looked in])."""
    suffix = "t" if free_threaded else ""
    candidates, looked_in = [], []
    for prefix in extra_prefixes():
        exe = os.path.join(prefix, "bin", "python" + major_minor + suffix)
        looked_in.append(exe)
        if not os.access(exe, os.X_OK):
            continue
        found = probe_interpreter(exe)
        # A free-threaded install also has a plain pythonX.Y: a link to pythonX.Yt.
        if found and "%d.%d" % found[0][:2] == major_minor and found[1] == free_threaded:
            candidates.append((found[0], exe))
    if not candidates:
        return None, looked_in
    return max(candidates)[1], looked_in


def find_python(major_minor, free_threaded=False):
    """Newest CPython major_minor from pyenv or the LEAKSCOPE_PYTHONS prefixes,
    or (None, description of where it looked)."""
    candidates, looked_in = [], []
    if not free_threaded:
        path, versions = find_pyenv_python(major_minor)
        looked_in.append(versions)
        if path:
            # One that does not run is still taken: resolve_interpreter then says why.
            found = probe_interpreter(path)
            version = found[0] if found else version_tuple(os.path.basename(
                os.path.dirname(os.path.dirname(path))))
            if not (found and found[1]):
                candidates.append((version, path))
    else:
        looked_in.append(os.path.join(pyenv_root(), "versions"))
        for path in glob.glob(os.path.join(pyenv_root(), "versions", major_minor + ".*t",
                                           "bin", "python" + major_minor + "t")):
            found = probe_interpreter(path)
            if found and found[1] and "%d.%d" % found[0][:2] == major_minor:
                candidates.append((found[0], path))
    path, prefixes = find_prefix_python(major_minor, free_threaded)
    if path:
        candidates.append((probe_interpreter(path)[0], path))
    looked_in.append(" ".join(prefixes) if prefixes else "%s (unset)" % PYTHONS_ENV)
    if not candidates:
        return None, "; ".join(looked_in)
    return max(candidates)[1], "; ".join(looked_in)


def describe_interpreter(path):
    """(version, prefix) reported by the interpreter itself."""
    code = ("import sys; print('%d.%d.%d' % sys.version_info[:3]); print(sys.prefix)")
    out = subprocess.run([path, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, timeout=60, env=clean_env())
    if out.returncode != 0:
        raise RuntimeError("%s does not run: %s" % (path, out.stderr.strip()))
    version, prefix = out.stdout.split("\n")[:2]
    return version.strip(), prefix.strip()


def shared_libpython(path):
    """[(soname, path)] of the libpython the executable loads (pyenv builds are
    --enable-shared; Debian's is static)."""
    out = subprocess.run(["ldd", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         universal_newlines=True, timeout=30)
    libs = []
    for line in out.stdout.splitlines():
        match = re.search(r"(libpython\S*)\s+=>\s+(\S+)", line)
        if match and os.path.exists(match.group(2)):
            libs.append((match.group(1), os.path.realpath(match.group(2))))
    return libs


def resolve_interpreter(interp_id):
    """Map an interpreter id to an Interpreter, or skip the script."""
    match = re.match(r"^py(\d+\.\d+)(t?)$", interp_id)
    if match:
        major_minor, free_threaded = match.group(1), bool(match.group(2))
        path, looked_in = find_python(major_minor, free_threaded)
        if path is None:
            skip("%s: no %sCPython %s interpreter installed (looked in %s)"
                 % (interp_id, "free-threaded " if free_threaded else "", major_minor, looked_in))
        extra = []
    elif interp_id in ("debian3.11", "debian3.11-nodbg"):
        path = DEBIAN_PYTHON
        if not os.access(path, os.X_OK):
            skip("%s: %s is not installed" % (interp_id, path))
        # -nodbg: the same binary, with leakscope told to ignore the separate debug info.
        extra = ["--debug-dir", "/nonexistent"] if interp_id.endswith("-nodbg") else []
    else:
        print("unknown interpreter id %r" % interp_id, file=sys.stderr)
        sys.exit(2)
    try:
        version, prefix = describe_interpreter(path)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        skip("%s: %s" % (interp_id, exc))
    return Interpreter(interp_id, path, extra, version, prefix, shared_libpython(path))


def clean_env(**extra):
    """An environment for targets: no user site, no stray PYTHON* variables,
    and no __pycache__ written into the source tree."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    env.update({key: str(value) for key, value in extra.items()})
    return env


# --------------------------------------------------------------------------
# Target processes

_LIVE_GROUPS = set()


def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@atexit.register
def _kill_leftovers():
    for pgid in list(_LIVE_GROUPS):
        _kill_group(pgid)


def _terminate_on_sigterm(signum, frame):
    # CTest's timeout sends SIGTERM: unwind so that every Target is killed.
    raise KeyboardInterrupt("terminated by signal %d" % signum)


signal.signal(signal.SIGTERM, _terminate_on_sigterm)


class TargetError(AssertionError):
    pass


class Target:
    """A program run in its own process group, killed (group and all) on exit.

    Handshake, optional: ready_file -- wait until that path exists (the program
    writes it atomically); ready_line -- wait until the program prints a line
    starting with that text on stdout.
    """

    def __init__(self, argv, ready_file=None, ready_line=None, timeout=60, env=None, cwd=None):
        self.argv = list(argv)
        self.ready_file = ready_file
        self.ready_line = ready_line
        self.timeout = timeout
        self.env = env if env is not None else clean_env()
        self.cwd = cwd
        self.proc = None
        self.pid = None
        self._stderr = None

    def __enter__(self):
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if self.ready_line else subprocess.DEVNULL,
            stderr=self._stderr, env=self.env, cwd=self.cwd, start_new_session=True)
        self.pid = self.proc.pid
        _LIVE_GROUPS.add(self.pid)
        # Reap it as soon as it exits: a zombie still has a /proc entry and
        # would look alive to a tracer waiting for its target to go away.
        threading.Thread(target=self.proc.wait, name="reap-%d" % self.pid, daemon=True).start()
        try:
            self._handshake()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _handshake(self):
        deadline = time.monotonic() + self.timeout
        if self.ready_line:
            import selectors
            buf = b""
            with selectors.DefaultSelector() as sel:
                sel.register(self.proc.stdout, selectors.EVENT_READ)
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TargetError("%s: no %r line within %ss%s"
                                          % (self.argv, self.ready_line, self.timeout, self.stderr_tail()))
                    if sel.select(min(left, 0.2)):
                        chunk = os.read(self.proc.stdout.fileno(), 4096)
                        if not chunk:
                            raise TargetError("%s exited before the handshake (status %s)%s"
                                              % (self.argv, self.proc.wait(), self.stderr_tail()))
                        buf += chunk
                        lines = buf.split(b"\n")
                        if any(line.decode(errors="replace").startswith(self.ready_line)
                               for line in lines[:-1]):
                            break
        if self.ready_file:
            while not os.path.exists(self.ready_file):
                if self.proc.poll() is not None:
                    raise TargetError("%s exited before writing %s (status %s)%s"
                                      % (self.argv, self.ready_file, self.proc.returncode,
                                         self.stderr_tail()))
                if time.monotonic() > deadline:
                    raise TargetError("%s: %s not written within %ss%s"
                                      % (self.argv, self.ready_file, self.timeout, self.stderr_tail()))
                time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_tail(self, limit=4000):
        if self._stderr is None:
            return ""
        try:
            self._stderr.flush()
            self._stderr.seek(0)
            text = self._stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""
        return ("\n--- target stderr ---\n" + text[-limit:]) if text.strip() else ""

    def __exit__(self, *exc):
        if self.proc is not None:
            _kill_group(self.pid)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            _LIVE_GROUPS.discard(self.pid)
            if self.proc.stdout:
                self.proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        return False


def missing_pid():
    """A PID in range that no process has."""
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    return pid


# --------------------------------------------------------------------------
# Running leakscope

class LeakscopeTimeout(AssertionError):
    pass


Run = collections.namedtuple("Run", "rc stdout stderr pid elapsed")

# Pids of every leakscope process this script started (for the probe check).
LEAKSCOPE_PIDS = set()


def run_leakscope(args, timeout=120, env=None, prefix=(), binary=None):
    """Run leakscope ARGS; return (rc, stdout, stderr).

    prefix: a command that execs leakscope (setpriv, unshare ...); the pid is
    then still that of the leakscope process. binary: another copy of the
    binary to run. On timeout the whole process group is killed and
    LeakscopeTimeout (a test failure) is raised with what was printed.
    """
    run = run_leakscope_ex(args, timeout=timeout, env=env, prefix=prefix, binary=binary)
    return run.rc, run.stdout, run.stderr


def run_leakscope_ex(args, timeout=120, env=None, prefix=(), binary=None):
    """Like run_leakscope, returning a Run (with pid and elapsed seconds)."""
    argv = list(prefix) + [binary or CONFIG.leakscope] + [str(arg) for arg in args]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env if env is not None else clean_env(),
                            start_new_session=True)
    LEAKSCOPE_PIDS.add(proc.pid)
    _LIVE_GROUPS.add(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        out, err = proc.communicate()
        raise LeakscopeTimeout("%s did not finish within %ss\n--- stdout ---\n%s\n--- stderr ---\n%s"
                               % (" ".join(argv), timeout, _text(out)[-4000:], _text(err)[-4000:]))
    finally:
        _LIVE_GROUPS.discard(proc.pid)
        _kill_group(proc.pid)  # anything it left running in its group
    return Run(proc.returncode, _text(out), _text(err), proc.pid, time.monotonic() - start)


def run_leakscope_json(test, args, timeout=120, env=None):
    """Run leakscope ARGS (a trace or run command) with --json FILE added
    after the subcommand; fail TEST unless it exits 0. Returns (report, Run)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "report.json")
        run = run_leakscope_ex(list(args[:1]) + ["--json", out] + list(args[1:]), timeout=timeout, env=env)
        test.assertEqual(run.rc, 0, run.stderr)
        with open(out) as f:
            return parse_json(test, f.read(), out), run


def _text(data):
    return data.decode("utf-8", errors="replace") if data else ""


def parse_json(test, text, what="leakscope output"):
    try:
        return json.loads(text)
    except ValueError as exc:
        test.fail("%s is not JSON (%s):\n%s" % (what, exc, text[:4000]))


def leak_line(path):
    """The line of PATH marked '# LEAK'."""
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            if re.search(r"#\s*LEAK\s*$", line):
                return number
    raise AssertionError("no # LEAK line in " + path)


def zoo_scenarios():
    """[(name, path, leak line or None)] for every tests/zoo/*.py."""
    scenarios = []
    for path in sorted(glob.glob(os.path.join(ZOO_DIR, "*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        if name.startswith("_"):
            continue
        with open(path) as f:
            marked = [n for n, line in enumerate(f, 1) if re.search(r"#\s*LEAK\s*$", line)]
        if len(marked) > 1:
            raise SystemExit("%s: more than one '# LEAK' line: %s" % (path, marked))
        scenarios.append((name, path, marked[0] if marked else None))
    return scenarios


def python_leaf(site):
    """The innermost Python frame of a site: native callers of malloc come first in its frames."""
    return next((f for f in site["frames"] if not f.get("native")), None)


# --------------------------------------------------------------------------
# HTML pages, rendered by headless Chromium

CHROMIUM = shutil.which("chromium")


def need(test, condition, reason):
    """Skip TEST, with REASON printed, unless CONDITION holds."""
    if not condition:
        print("SKIP: %s" % reason, flush=True)
        test.skipTest(reason)


def artifacts_dir(script):
    """Where SCRIPT keeps files worth a look after the run: the build's Testing/outputs/SCRIPT."""
    path = os.path.join(os.path.dirname(CONFIG.leakscope), "Testing", "outputs", script)
    os.makedirs(path, exist_ok=True)
    return path


def chromium(args, timeout=90):
    """Run headless Chromium with a throwaway profile; returns stdout."""
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                              "--user-data-dir=" + profile] + args,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                             universal_newlines=True)
    if out.returncode != 0:
        raise AssertionError("chromium failed (%d): %s" % (out.returncode, out.stderr[-2000:]))
    return out.stdout


def rendered_body(html_path):
    """The page's <body> attributes after its scripts ran, and the DOM."""
    dom = chromium(["--dump-dom", "file://" + html_path])
    body = re.search(r"<body([^>]*)>", dom)
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1))) if body else {}
    return attrs, dom


def page_errors(dom):
    """What the page's error handler wrote, for a failure message."""
    found = re.search(r'<div id="errors">(.*?)</div>', dom, re.S)
    return found.group(1) if found else None


def screenshot(test, html_path, script, name, window="1400,2400"):
    """Save a screenshot of the page as NAME in SCRIPT's artifacts_dir and print where it is."""
    png = os.path.join(artifacts_dir(script), name)
    chromium(["--window-size=" + window, "--screenshot=" + png, "file://" + html_path])
    test.assertGreater(os.path.getsize(png), 10000)
    print("screenshot: %s" % png)


# --------------------------------------------------------------------------
# Nothing of ours left behind

def _pid_alive(pid):
    return os.path.exists("/proc/%d" % pid)


def _fd_holders(key):
    """{id: {pid, ...}} for every open fd whose fdinfo has 'KEY:\\tid'
    (prog_id for BPF programs, link_id for BPF links)."""
    holders = collections.defaultdict(set)
    pattern = re.compile(r"^%s:\s*(\d+)\s*$" % key, re.M)
    for pid_dir in glob.glob("/proc/[0-9]*"):
        pid = int(os.path.basename(pid_dir))
        try:
            fds = os.listdir(pid_dir + "/fdinfo")
        except OSError:
            continue
        for fd in fds:
            try:
                with open("%s/fdinfo/%s" % (pid_dir, fd)) as f:
                    info = f.read()
            except OSError:
                continue
            for match in pattern.finditer(info):
                holders[int(match.group(1))].add(pid)
    return holders


def _bpftool(*args):
    if shutil.which("bpftool") is None:
        return None
    out = subprocess.run(["bpftool", "-j"] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
    if out.returncode != 0:
        return None
    try:
        return json.loads(out.stdout or "[]")
    except ValueError:
        return None


def read_uprobe_events():
    """Contents of uprobe_events, mounting tracefs in a private mount
    namespace when it is not mounted (so the host is left untouched)."""
    for directory in TRACEFS_DIRS:
        path = os.path.join(directory, "uprobe_events")
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            continue
    out = subprocess.run(
        ["unshare", "--mount", "sh", "-c",
         "mount -t tracefs nodev /sys/kernel/tracing && cat /sys/kernel/tracing/uprobe_events"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30)
    return out.stdout if out.returncode == 0 else None


def _not_someone_elses(holders, ours):
    """A kernel object is ours to account for unless a live process other than
    the ones we started holds it (a concurrent test's leakscope)."""
    others = {pid for pid in holders if pid not in ours and _pid_alive(pid)}
    return not others


def find_leftover_probes(binaries=(), leakscope_pids=None):
    """Descriptions of probes/programs/links of ours still present."""
    ours = set(LEAKSCOPE_PIDS if leakscope_pids is None else leakscope_pids)
    binaries = {os.path.realpath(path) for path in binaries if path}
    leftovers = []

    events = read_uprobe_events()
    for line in (events or "").splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        name, location = fields[0], fields[1]
        path = os.path.realpath(location.rsplit(":", 1)[0])
        owner = re.search(r"(?:libbpf|ls)_(\d+)_", name)
        owner_pid = int(owner.group(1)) if owner else None
        if owner_pid is not None and owner_pid not in ours and _pid_alive(owner_pid):
            continue  # created by a live process we did not start
        if path in binaries or (owner_pid is not None and owner_pid in ours):
            leftovers.append("uprobe_events: " + line)

    progs = _bpftool("prog", "list")
    if progs is not None:
        ls_progs = {p["id"]: p for p in progs
                    if str(p.get("name", "")).startswith(BPF_PROG_PREFIX)}
        if ls_progs:
            holders = _fd_holders("prog_id")
            for prog_id, prog in sorted(ls_progs.items()):
                if _not_someone_elses(holders.get(prog_id, ()), ours):
                    leftovers.append("bpf prog %d %s (%s)" % (prog_id, prog.get("name"), prog.get("type")))
        links = _bpftool("link", "list") or []
        ls_links = [link for link in links if link.get("prog_id") in ls_progs]
        if ls_links:
            holders = _fd_holders("link_id")
            for link in ls_links:
                if _not_someone_elses(holders.get(link["id"], ()), ours):
                    leftovers.append("bpf link %d (%s) -> prog %d"
                                     % (link["id"], link.get("type"), link["prog_id"]))
    return leftovers


def assert_no_probes_left(test, binaries=(), leakscope_pids=None, settle=5.0):
    """Fail TEST if any uprobe/BPF program/link of ours survived the run.
    The kernel frees programs asynchronously, so look again for a few seconds."""
    deadline = time.monotonic() + settle
    while True:
        leftovers = find_leftover_probes(binaries, leakscope_pids)
        if not leftovers or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    test.assertEqual(leftovers, [], "probes left behind after leakscope exited")


def target_binaries(interp):
    """Files a tracer of INTERP may put uprobes on."""
    return [os.path.realpath(interp.path)] + [path for _, path in interp.libs]


# --------------------------------------------------------------------------
# Running the tests

def run_tests(module_name="__main__"):
    """Run the TestCases of MODULE_NAME, print the standard unittest result,
    exit 0 on success, 1 on failure, 77 when every test was skipped."""
    program = unittest.main(module=module_name, argv=CONFIG.unittest_argv or [sys.argv[0]],
                            exit=False, verbosity=2)
    result = program.result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.testsRun and len(result.skipped) == result.testsRun:
        reasons = sorted({reason for _, reason in result.skipped})
        print("SKIP: " + "; ".join(reasons), flush=True)
        sys.exit(SKIP_STATUS)
    sys.exit(0)
