#!/usr/bin/python3
"""Overhead benchmark: each workload traced in every mode, side by side with an
untraced copy of itself on the same CPU. Writes docs/benchmarks.md.

    sudo scripts/benchmark.py [--repeat 5] [--seconds 15] [--continuous-seconds 60] [--modes A,B]

On a shared host the speed of a CPU moves by a third from one second to the
next, so runs one after another compare noise. Here the traced and the untraced
copy share one CPU, taking turns every few milliseconds: both see the same
host. Each counts the work it does per second of its own CPU time (user and
system, so the probes' traps count) until it has used the run's length of CPU
time; leakscope runs on the other CPUs. A mode's slowdown is the untraced rate
divided by the traced one, median over rounds. leakscope's own JSON report
gives the probe hits and the measured cost of an empty probe hit on this
machine (the floor), so the cost per hit is (work lost) / hits, next to that floor.
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

# Each workload pins itself to LEAKSCOPE_BENCH_CPU and prints "units N cpu C"
# once it has used LEAKSCOPE_BENCH_SECONDS of CPU time.
HARNESS = r'''
import os, sys, time
SECONDS = float(os.environ["LEAKSCOPE_BENCH_SECONDS"])
os.sched_setaffinity(0, {int(os.environ["LEAKSCOPE_BENCH_CPU"])})
def run(step):
    step()  # warm up
    start = time.process_time(); units = 0
    while time.process_time() - start < SECONDS:
        step(); units += 1
    print("units %d cpu %.6f" % (units, time.process_time() - start), flush=True)
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

# name -> (leakscope options, run length key)
MODES = {
    "trace (off)": (["--mode", "trace", "--max-overhead", "off"], "seconds"),
    "trace (default: budget 10%)": (["--mode", "trace"], "seconds"),
    "trace (budget 5%)": (["--mode", "trace", "--max-overhead", "5"], "seconds"),
    "continuous": (["--mode", "continuous"], "continuous_seconds"),
}


def rate(out):
    """Work per CPU second from a workload's output line."""
    line = [l for l in out.splitlines() if l.startswith("units ")][-1].split()
    return {"throughput": int(line[1]) / float(line[3]), "seconds": float(line[3])}


def run_pair(leakscope, workload, mode_args, seconds, tmp):
    """The workload traced with mode_args and untraced, at once on one CPU:
    (untraced, traced) results."""
    script = os.path.join(tmp, "workload.py")
    with open(script, "w") as f:
        f.write(WORKLOADS[workload])
    cpus = sorted(os.sched_getaffinity(0))
    env = dict(os.environ, LEAKSCOPE_BENCH_SECONDS=str(seconds), LEAKSCOPE_BENCH_CPU=str(cpus[-1]))
    report_path = os.path.join(tmp, "report.json")
    if os.path.exists(report_path):
        os.unlink(report_path)
    traced_argv = [leakscope, "run", "--interval", "3600", "--json", report_path] + mode_args + ["--", PYTHON, script]
    leakscope_cpus = lambda: os.sched_setaffinity(0, set(cpus[:-1]))  # noqa: E731
    timeout = seconds * 20 + 120
    untraced = subprocess.Popen([PYTHON, script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    traced = subprocess.run(traced_argv, env=env, capture_output=True, text=True, timeout=timeout,
                            preexec_fn=leakscope_cpus)
    base_out, base_err = untraced.communicate(timeout=timeout)
    for name, code, err in [("traced", traced.returncode, traced.stderr), ("untraced", untraced.returncode, base_err)]:
        if code != 0:
            raise RuntimeError("%s %s %s failed (%d): %s" % (workload, mode_args, name, code, err[-2000:]))
    result = rate(traced.stdout)
    with open(report_path) as f:
        result["report"] = json.load(f)["overhead"]
    return rate(base_out), result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--continuous-seconds", type=float, default=60)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    parser.add_argument("--leakscope", default=LEAKSCOPE)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("benchmark.py: needs root (it runs leakscope)")
    workloads = args.workloads.split(",")
    modes = args.modes.split(",")
    for name, known in [(w, WORKLOADS) for w in workloads] + [(m, MODES) for m in modes]:
        if name not in known:
            sys.exit("benchmark.py: unknown %r (known: %s)" % (name, ", ".join(known)))
    lengths = {"seconds": args.seconds, "continuous_seconds": args.continuous_seconds}

    pairs = {(w, m): [] for w in workloads for m in modes}  # (untraced, traced) results
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.repeat):
            for w in workloads:
                # Alternate the order of modes from round to round.
                order = modes[rnd % len(modes):] + modes[:rnd % len(modes)]
                for m in order:
                    mode_args, length = MODES[m]
                    base, r = run_pair(args.leakscope, w, mode_args, lengths[length], tmp)
                    pairs[(w, m)].append((base, r))
                    est = r["report"]["estimated_pct"]
                    print("round %d %-10s %-28s untraced %8.1f traced %8.1f units/CPU s  estimated %s, probes "
                          "attached %.1f%%" % (rnd + 1, w, m, base["throughput"], r["throughput"],
                                               "over 100x" if est is None else "%.1f%%" % est,
                                               100 * r["report"]["duty_cycle"]), flush=True)

    rows = []
    for w in workloads:
        bases = [b for m in modes for b, _ in pairs[(w, m)]]
        rows.append({"workload": w, "mode": "untraced", "throughput": statistics.median(b["throughput"] for b in bases)})
        for m in modes:
            runs = [r for _, r in pairs[(w, m)]]
            row = {"workload": w, "mode": m, "throughput": statistics.median(r["throughput"] for r in runs),
                   "slowdown": statistics.median(b["throughput"] / r["throughput"] for b, r in pairs[(w, m)])}
            reps = [r["report"] for r in runs]
            hits = statistics.median(r["probe_hits"] for r in reps)
            seconds = statistics.median(r["seconds"] for r in runs)
            row["events_per_s"] = hits / seconds
            # Work lost to the probes, per hit: the traced run did less work
            # in the same CPU time; what it lost is (1 - 1/slowdown) of it.
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
            "target interpreter %s. %d rounds, modes in turn; trace runs %g CPU s, continuous runs %g CPU s.\n\n"
            % (time.strftime("%Y-%m-%d"), os.uname().release, os.cpu_count(), PYTHON, args.repeat,
               args.seconds, args.continuous_seconds))
    f.write("Each traced run shares one CPU with an untraced copy of the workload, started with it; both count "
            "work per second of their own CPU time (user and system: the probes' traps count). Throughput: "
            "median work per CPU second. Slowdown: median over rounds of untraced / traced rate in the same "
            "pair (1.00 = no cost). Cost per hit: work lost per probe hit; floor: leakscope's own measurement "
            "of an empty probe hit on an emulated instruction on this machine. Estimated: the overhead "
            "leakscope reported for itself.\n\n")
    f.write("| workload | mode | throughput (units/CPU s) | slowdown | probe hits/CPU s | cost per hit (ns) "
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
