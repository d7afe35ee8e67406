#!/usr/bin/python3
"""Zoo accuracy per mode: `leakscope run` over every tests/zoo scenario, with
the mode's own flags and duration, and whether the final report got it right:
a leak's marked line in the top suspect's stack, no suspect for a scenario
without a leak. Writes its section of docs/benchmarks.md.

    sudo scripts/benchmark-zoo.py [--python PATH] [--modes default:60,continuous:120] [--output FILE]

Modes: `default` is `run` with no flags (the 10% budget), `continuous` is
`--mode continuous`, `off` is `--max-overhead off`. Run it on an otherwise idle
machine: the budget's windows depend on what the probes cost here.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from doc_section import write_section  # noqa: E402
import harness  # noqa: E402

LEAKSCOPE = os.path.join(ROOT, "build", "leakscope")
MODE_ARGS = {"default": [], "continuous": ["--mode", "continuous"], "off": ["--max-overhead", "off"]}
INTERVAL = 10


def verdict(report, path, leak_line):
    """('ok' | 'missed' | 'wrong' | 'false positive', detail)."""
    suspects = report["suspects"]
    if leak_line is None:
        return ("ok", "no suspect") if not suspects else ("false positive", leaf_text(suspects[0]))
    if not suspects:
        return "missed", "no suspect"
    basename = os.path.basename(path)
    for rank, suspect in enumerate(suspects, 1):
        if any(os.path.basename(f["file"]) == basename and f.get("line") == leak_line for f in suspect["frames"]):
            return ("ok" if rank == 1 else "wrong"), "ranked %d of %d" % (rank, len(suspects))
    return "wrong", "not among %d suspects; first: %s" % (len(suspects), leaf_text(suspects[0]))


def leaf_text(suspect):
    leaf = harness.python_leaf(suspect)
    return "%s:%s" % (os.path.basename(leaf["file"]), leaf["line"]) if leaf else "(native only)"


def run_scenario(python, mode, seconds, path, tmp):
    out = os.path.join(tmp, "report.json")
    args = [LEAKSCOPE, "run", "--interval", str(INTERVAL), "--json", out] + MODE_ARGS[mode] + ["--", python, path]
    env = harness.clean_env(LEAKSCOPE_ZOO_SECONDS=seconds)
    started = time.monotonic()
    subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds + 180)
    with open(out) as f:
        report = json.load(f)
    return report, time.monotonic() - started


def document(python, results):
    lines = ["## Zoo accuracy per mode", "",
             "`sudo scripts/benchmark-zoo.py --python %s` — each tests/zoo scenario run once per mode for the "
             "mode's duration (`run --interval %d`); the final report is judged: a leak's marked line in the top "
             "suspect, no suspect without a leak." % (python, INTERVAL), ""]
    for (mode, seconds), rows in results.items():
        right = sum(1 for r in rows if r[1] == "ok")
        lines += ["### %s, %d s: %d of %d right" % (mode, seconds, right, len(rows)), "",
                  "| scenario | result | detail | probe floor | estimated overhead |", "|---|---|---|---|---|"]
        for name, result, detail, floor, pct in rows:
            lines.append("| %s | %s | %s | %s | %s |" % (name, result, detail, floor, pct))
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default="/usr/bin/python3.11")
    parser.add_argument("--modes", default="default:60,continuous:120")
    parser.add_argument("--scenarios", default="", help="comma-separated names (default: all)")
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    args = parser.parse_args()
    modes = []
    for item in args.modes.split(","):
        mode, _, seconds = item.partition(":")
        if mode not in MODE_ARGS or not seconds.isdigit():
            sys.exit("benchmark-zoo: --modes takes MODE:SECONDS items, MODE one of %s" % ", ".join(MODE_ARGS))
        modes.append((mode, int(seconds)))
    wanted = set(filter(None, args.scenarios.split(",")))
    scenarios = [s for s in harness.zoo_scenarios() if not wanted or s[0] in wanted]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode, seconds in modes:
            rows = results.setdefault((mode, seconds), [])
            for name, path, leak_line in scenarios:
                report, took = run_scenario(args.python, mode, seconds, path, tmp)
                result, detail = verdict(report, path, leak_line)
                overhead = report["overhead"]
                pct = overhead.get("estimated_pct")
                rows.append((name, result, detail, "%.0f ns" % overhead["probe_floor_ns"],
                             "%.1f%%" % pct if pct is not None else "over 100x"))
                print("%-11s %4d s  %-22s %-15s %s (%.0f s)" % (mode, seconds, name, result, detail, took), flush=True)
    write_section(args.output, "benchmark-zoo.py", document(args.python, results))


if __name__ == "__main__":
    main()
