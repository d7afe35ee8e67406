#!/usr/bin/python3
"""Snapshot benchmark: how long `leakscope snapshot --freeze` takes and how much
memory leakscope itself needs against heap size, and its counts beside the
target's own gc.get_objects() census. Writes its section of docs/benchmarks.md.

    sudo scripts/benchmark-snapshot.py [--sizes 100000,1000000,10000000] [--python PATH] [--output FILE]

Each target builds N objects (half instances of a class, half the int each
instance holds in its one attribute), writes its census of collector-tracked
objects by type, then parks. Run it on an otherwise idle machine.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from doc_section import write_section  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEAKSCOPE = os.path.join(ROOT, "build", "leakscope")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")

TARGET = r'''
import collections, gc, json, os, sys, time
class Item:
    def __init__(self, n):
        self.n = n
N = int(sys.argv[2])
ITEMS = [Item(i + 1000) for i in range(N // 2)]
census = collections.Counter(type(o).__module__ + "." + type(o).__qualname__
                             if type(o).__module__ not in ("builtins",) else type(o).__qualname__
                             for o in gc.get_objects())
with open(sys.argv[1] + ".tmp", "w") as f:
    json.dump({"gc_objects": len(gc.get_objects()), "census": census}, f)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    time.sleep(3600)
'''


def snapshot(pid, report):
    """Run leakscope; returns (wall seconds, leakscope max RSS in bytes)."""
    start = time.monotonic()
    proc = subprocess.Popen([LEAKSCOPE, "snapshot", "-p", str(pid), "--freeze", "--json", report],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("leakscope failed: %s" % proc.stderr.read().decode(errors="replace"))
    return elapsed, usage.ru_maxrss * 1024


def measure(python, n, tmp):
    truth_path = os.path.join(tmp, "truth-%d.json" % n)
    report_path = os.path.join(tmp, "snapshot-%d.json" % n)
    target = subprocess.Popen([python, "-c", TARGET, truth_path, str(n)])
    try:
        while not os.path.exists(truth_path):
            if target.poll() is not None:
                sys.exit("target exited with %s" % target.returncode)
            time.sleep(0.2)
        with open(truth_path) as f:
            truth = json.load(f)
        seconds, rss = snapshot(target.pid, report_path)
        with open(report_path) as f:
            report = json.load(f)
    finally:
        target.kill()
        target.wait()
    return truth, report, seconds, rss


def rows(python, sizes):
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            truth, report, seconds, rss = measure(python, n, tmp)
            types = {t["type"]: t["count"] for t in report["types"]}
            out.append({"n": n, "seconds": seconds, "rss": rss, "objects": report["objects"],
                        "gc_tracked": report["gc_tracked"], "gc_objects": truth["gc_objects"],
                        "items": (types.get("__main__.Item", 0), truth["census"].get("__main__.Item", 0)),
                        "python_bytes": report["memory"]["python_object_bytes"]})
            print("%d objects: %.2f s, leakscope RSS %.1f MiB" % (n, seconds, rss / 2**20), flush=True)
    return out


def document(python, results):
    lines = ["# Heap snapshot benchmark", "",
             "Produced by `scripts/benchmark-snapshot.py` (do not edit by hand) on %s, %d CPUs; target "
             "interpreter %s. `leakscope snapshot --freeze` against a target holding N objects (N/2 "
             "instances, each with an int attribute)." % (time.strftime("%Y-%m-%d"), os.cpu_count(), python),
             "",
             "| heap objects | time (s) | leakscope RSS | RSS per object found | objects found | "
             "collector-tracked: leakscope / gc.get_objects() | Item instances: leakscope / gc census |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append("| %d | %.2f | %.1f MiB | %.0f B | %d | %d / %d | %d / %d |" % (
            r["n"], r["seconds"], r["rss"] / 2**20, r["rss"] / max(r["objects"], 1), r["objects"],
            r["gc_tracked"], r["gc_objects"], r["items"][0], r["items"][1]))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--python", default="/usr/bin/python3.11")
    parser.add_argument("--output", default=DOC)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (leakscope reads another process's memory)")
    results = rows(args.python, [int(s) for s in args.sizes.split(",")])
    write_section(args.output, "benchmark-snapshot.py", document(args.python, results))
    print("wrote %s" % args.output)


main()
