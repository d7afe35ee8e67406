#!/usr/bin/python3
"""Overhead benchmark: each workload untraced and traced in every mode, runs
alternating, throughput compared side by side. Writes docs/benchmarks.md.

    sudo scripts/benchmark.py [--repeat 3] [--seconds 20] [--continuous-seconds 90]

Every workload runs for a fixed time and counts the work it completed; a mode's
slowdown is the untraced throughput divided by its throughput in the same
round (median over rounds). leakscope's own JSON report gives the probe hits
and the measured cost of an empty probe hit on this machine (the floor), so the
cost per hit is (work lost) / hits, next to that floor.
"""

import argparse
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from doc_section import write_section  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEAKSCOPE = os.path.join(ROOT, "build", "leakscope")
PYTHON = "/usr/bin/python3.11"  # Debian's: static, LTO, stripped, the realistic case

# Each workload prints "units N seconds S" after running for LEAKSCOPE_BENCH_SECONDS.
HARNESS = r'''
import os, sys, time
SECONDS = float(os.environ["LEAKSCOPE_BENCH_SECONDS"])
def run(step):
    step()  # warm up
    start = time.perf_counter(); units = 0
    while time.perf_counter() - start < SECONDS:
        step(); units += 1
    print("units %d seconds %.6f" % (units, time.perf_counter() - start), flush=True)
'''

WORKLOADS = {
    "alloc-loop": HARNESS + r'''
def step():
    for i in range(2000):
        d = {"a": i, "b": [i, i + 1]}
        s = "x%d" % i
        t = (d, s)
run(step)
''',
    "json": HARNESS + r'''
import json
doc = {"users": [{"id": i, "name": "user%d" % i, "tags": ["a", "b", "c"], "score": i * 0.5} for i in range(200)]}
def step():
    json.loads(json.dumps(doc))
run(step)
''',
    "flask": HARNESS + r'''
from flask import Flask, jsonify, request
app = Flask("bench")
@app.route("/items/<int:item>")
def item(item):
    return jsonify(id=item, name="item%d" % item, q=request.args.get("q", ""), tags=["x", "y"])
client = app.test_client()
def step():
    for i in range(20):
        client.get("/items/%d?q=search" % i)
run(step)
''',
    "sqlite": HARNESS + r'''
import sqlite3
db = sqlite3.connect(":memory:")
db.execute("create table t (id integer primary key, name text, score real)")
db.executemany("insert into t values (?, ?, ?)", [(i, "name%d" % i, i * 0.1) for i in range(2000)])
def step():
    rows = [{"id": r[0], "name": r[1], "score": r[2]} for r in db.execute("select * from t where score > 10")]
    return len(rows)
run(step)
''',
}

# name -> (leakscope options or None for untraced, run length key)
MODES = {
    "untraced": (None, "seconds"),
    "trace (off)": (["--mode", "trace", "--max-overhead", "off"], "seconds"),
    "trace (default: budget 10%)": (["--mode", "trace"], "seconds"),
    "trace (budget 5%)": (["--mode", "trace", "--max-overhead", "5"], "seconds"),
    "continuous": (["--mode", "continuous"], "continuous_seconds"),
}


def run_once(workload, mode_args, seconds, tmp):
    script = os.path.join(tmp, "workload.py")
    with open(script, "w") as f:
        f.write(WORKLOADS[workload])
    env = dict(os.environ, LEAKSCOPE_BENCH_SECONDS=str(seconds))
    report_path = os.path.join(tmp, "report.json")
    if os.path.exists(report_path):
        os.unlink(report_path)
    argv = [PYTHON, script]
    if mode_args is not None:
        argv = [LEAKSCOPE, "run", "--interval", "3600", "--json", report_path] + mode_args + ["--"] + argv
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds * 10 + 120)
    if out.returncode != 0:
        raise RuntimeError("%s %s failed (%d): %s" % (workload, mode_args, out.returncode, out.stderr[-2000:]))
    line = [l for l in out.stdout.splitlines() if l.startswith("units ")][-1].split()
    result = {"throughput": int(line[1]) / float(line[3]), "seconds": float(line[3])}
    if mode_args is not None:
        with open(report_path) as f:
            report = json.load(f)
        result["report"] = report["overhead"]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--continuous-seconds", type=float, default=90)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--modes", default=",".join(MODES), help="untraced is always run")
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("benchmark.py: needs root (it runs leakscope)")
    workloads = args.workloads.split(",")
    modes = ["untraced"] + [m for m in args.modes.split(",") if m != "untraced"]
    for name, known in [(w, WORKLOADS) for w in workloads] + [(m, MODES) for m in modes]:
        if name not in known:
            sys.exit("benchmark.py: unknown %r (known: %s)" % (name, ", ".join(known)))
    lengths = {"seconds": args.seconds, "continuous_seconds": args.continuous_seconds}

    results = {(w, m): [] for w in workloads for m in modes}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.repeat):
            for w in workloads:
                # Alternate the order of modes from round to round.
                order = list(modes)
                order = order[rnd % len(order):] + order[:rnd % len(order)]
                for m in order:
                    mode_args, length = MODES[m]
                    r = run_once(w, mode_args, lengths[length], tmp)
                    results[(w, m)].append(r)
                    print("round %d %-10s %-18s %10.1f units/s" % (rnd + 1, w, m, r["throughput"]), flush=True)

    rows = []
    for w in workloads:
        base = results[(w, "untraced")]
        for m in modes:
            runs = results[(w, m)]
            ratios = [b["throughput"] / r["throughput"] for b, r in zip(base, runs)]
            row = {"workload": w, "mode": m, "throughput": statistics.median(r["throughput"] for r in runs),
                   "slowdown": statistics.median(ratios)}
            if m != "untraced":
                reps = [r["report"] for r in runs]
                hits = statistics.median(r["probe_hits"] for r in reps)
                seconds = statistics.median(r["seconds"] for r in runs)
                row["events_per_s"] = hits / seconds
                # Work lost to the probes, per hit: the traced run did less work
                # in the same time; what it lost is (1 - 1/slowdown) of its time.
                lost_s = seconds * (1 - 1 / row["slowdown"]) if row["slowdown"] > 1 else 0
                row["ns_per_hit"] = lost_s / hits * 1e9 if hits else 0
                row["floor_ns"] = statistics.median(r["probe_floor_ns"] for r in reps)
                # null: the probes took 99% or more of the target's CPU time (over 100x slower)
                row["estimated_pct"] = statistics.median(math.inf if r["estimated_pct"] is None else r["estimated_pct"]
                                                         for r in reps)
                row["duty"] = statistics.median(r["duty_cycle"] for r in reps)
                row["adjustments"] = reps[-1]["adjustments"]
            rows.append(row)

    f = io.StringIO()
    f.write("# Overhead benchmark\n\n")
    f.write("Produced by `scripts/benchmark.py` (do not edit by hand) on %s, kernel %s, %d CPUs; "
            "target interpreter %s. %d alternating rounds; trace runs %g s, continuous runs %g s.\n\n"
            % (time.strftime("%Y-%m-%d"), os.uname().release, os.cpu_count(), PYTHON, args.repeat,
               args.seconds, args.continuous_seconds))
    f.write("Slowdown: median over rounds of untraced throughput / traced throughput (1.00 = no cost). "
            "Cost per hit: work lost per probe hit; floor: leakscope's own measurement of an empty probe "
            "hit on an emulated instruction on this machine. Estimated: the overhead leakscope reported "
            "for itself.\n\n")
    f.write("| workload | mode | throughput (units/s) | slowdown | probe hits/s | cost per hit (ns) "
            "| floor (ns) | estimated | probes attached |\n|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        if r["mode"] == "untraced":
            f.write("| %s | untraced | %.1f | 1.00 | | | | | |\n" % (r["workload"], r["throughput"]))
            continue
        estimate = "over 100x" if math.isinf(r["estimated_pct"]) else "%.1f%%" % r["estimated_pct"]
        f.write("| %s | %s | %.1f | %.3f | %.0f | %.0f | %.0f | %s | %.0f%% |\n"
                % (r["workload"], r["mode"], r["throughput"], r["slowdown"], r["events_per_s"],
                   r["ns_per_hit"], r["floor_ns"], estimate, 100 * r["duty"]))
    f.write("\nWhat the budgeted runs changed (last round):\n\n")
    for r in rows:
        if r["mode"] != "untraced" and r["adjustments"]:
            f.write("- %s, %s: %s\n" % (r["workload"], r["mode"], "; ".join(r["adjustments"])))
    write_section(args.output, "benchmark.py", f.getvalue())
    print("wrote", args.output)


if __name__ == "__main__":
    main()
