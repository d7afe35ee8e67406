#!/usr/bin/python3
"""Zoo accuracy per mode: `leakscope run` over every tests/zoo scenario, with
the mode's own flags and duration, and whether the final report got it right:
a leak's marked line in the top suspect's stack, no suspect for a scenario
without a leak. Then the shop's real servers (tests/zoo/servers, Debian's
python3.11) under their bounded load, traced with `trace -p` in each mode and
once untraced: right when the receipt line heads the suspects and no churn
handler is one, and the requests a second answered, with their latency.
Writes its two sections of docs/benchmarks.md (zoo, servers): each only when
it ran, so `--scenarios none` reruns the servers alone.

    sudo scripts/benchmark-zoo.py [--python PATH] [--modes default:60,continuous:120]
                                  [--scenarios A,B] [--servers flask,gunicorn,aiohttp|none] [--output FILE]

Modes: `default` is `run` with no flags (the 10% budget), `continuous` is
`--mode continuous`, `off` is `--max-overhead off`, `budget-P` is `--max-overhead P`
(where a probe hit is cheap here, the default budget divided by the ratio of a
dear machine's floor to this one's shows how tracing fares there: ~6 us / ~0.7 us
makes `budget-1.2`). Run it on an otherwise idle
machine: the budget's windows depend on what the probes cost here.
"""

import argparse
import json
import os
import shlex
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
import servers  # noqa: E402

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


def mode_args(mode):
    """leakscope's flags for MODE; None when it names no mode."""
    if not mode.startswith("budget-"):
        return MODE_ARGS.get(mode)
    try:
        pct = float(mode[len("budget-"):])
    except ValueError:
        return None
    return ["--max-overhead", "%g" % pct] if pct > 0 else None


def run_scenario(python, mode, seconds, path, tmp):
    out = os.path.join(tmp, "report.json")
    args = [LEAKSCOPE, "run", "--interval", str(INTERVAL), "--json", out] + mode_args(mode) + ["--", python, path]
    env = harness.clean_env(LEAKSCOPE_ZOO_SECONDS=seconds)
    started = time.monotonic()
    subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds + 180)
    with open(out) as f:
        report = json.load(f)
    return report, time.monotonic() - started


def server_verdict(report):
    churn = servers.churn_suspects(report)
    if churn:
        return "false positive", "churn handler ranked %s" % churn
    rank = servers.leak_rank(report)
    if rank == 1:
        return "ok", "ranked 1 of %d" % len(report["suspects"])
    if not report["suspects"]:
        return "missed", "no suspect"
    if rank is None:
        return "wrong", "not among %d suspects" % len(report["suspects"])
    return "wrong", "ranked %d of %d" % (rank, len(report["suspects"]))


def run_server(name, mode, seconds, tmp):
    """(result, detail, Answered, probe floor, estimated overhead) of server
    NAME traced in MODE for SECONDS under load; untraced when MODE is None."""
    out = os.path.join(tmp, "server.json")
    with servers.serving(name) as (server, port, pid):
        with servers.load(port, seconds + 5) as answered:
            if mode is None:
                time.sleep(seconds + 5)
            else:
                subprocess.run([LEAKSCOPE, "trace", "-p", str(pid), "--duration", str(seconds), "--interval",
                                str(INTERVAL), "--json", out] + mode_args(mode),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds + 180)
    rate = answered[0] if answered else servers.Answered(0, 0, 0)
    rate = rate._replace(requests=rate.requests / (seconds + 5))
    if mode is None:
        return "", "untraced", rate, "", ""
    with open(out) as f:
        report = json.load(f)
    overhead = report["overhead"]
    pct = overhead.get("estimated_pct")
    return server_verdict(report) + (rate, "%.0f ns" % overhead["probe_floor_ns"],
                                     "%.1f%%" % pct if pct is not None else "over 100x")


def document_servers(modes, rows):
    lines = ["## Real servers per mode", "",
             "`sudo scripts/benchmark-zoo.py --scenarios none --modes %s` — the shop (tests/zoo/servers) on "
             "Debian's python3.11 under %d requests a second over %d keep-alive connections on loopback, traced "
             "with `trace -p` (gunicorn: its one pre-forked worker) in each mode for its duration, and once "
             "untraced. Requests a second answered over the load's span (the trace's and 5 s more), and the "
             "latency of those answered." % (modes, servers.RATE, servers.CLIENTS), "",
             "| server | mode | result | detail | requests/s | p50 latency | p99 latency | probe floor "
             "| estimated overhead |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, mode, result, detail, rate, floor, pct in rows:
        lines.append("| %s | %s | %s | %s | %.1f | %.1f ms | %.1f ms | %s | %s |" % (
            name, mode, result, detail, rate.requests, rate.p50_ms, rate.p99_ms, floor, pct))
    return "\n".join(lines)


def document(command, python, results):
    lines = ["## Zoo accuracy per mode: %s" % python, "",
             "`sudo %s` — each tests/zoo scenario run once per mode for the "
             "mode's duration (`run --interval %d`); the final report is judged: a leak's marked line in the top "
             "suspect, no suspect without a leak." % (command, INTERVAL), ""]
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
    parser.add_argument("--servers", default=",".join(servers.SERVERS), help="comma-separated, or none")
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    parser.add_argument("--section", default="",
                        help="write the zoo's table to a section of this name, beside the default one")
    args = parser.parse_args()
    modes = []
    for item in args.modes.split(","):
        mode, _, seconds = item.partition(":")
        if mode_args(mode) is None or not seconds.isdigit():
            sys.exit("benchmark-zoo: --modes takes MODE:SECONDS items, MODE one of %s or budget-P"
                     % ", ".join(MODE_ARGS))
        modes.append((mode, int(seconds)))
    wanted = set(filter(None, args.scenarios.split(",")))
    scenarios = [s for s in harness.zoo_scenarios() if not wanted or s[0] in wanted]
    names = [n for n in args.servers.split(",") if n in servers.SERVERS]
    for name in names:
        if servers.missing(name):
            sys.exit("benchmark-zoo: %s: %s" % (name, servers.missing(name)))
    results, server_rows = {}, []
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
        for name in names:
            for mode, seconds in [(None, modes[0][1])] + modes:
                result, detail, rate, floor, pct = run_server(name, mode, seconds, tmp)
                label = "%s, %d s" % (mode or "untraced", seconds)
                server_rows.append((name, label, result, detail, rate, floor, pct))
                print("%-9s %-16s %-15s %s %.1f req/s %s" % (name, label, result, detail, rate.requests, pct), flush=True)
    if scenarios:
        command = shlex.join(["scripts/benchmark-zoo.py"] + sys.argv[1:])
        name = "benchmark-zoo.py" + (" " + args.section if args.section else "")
        write_section(args.output, name, document(command, args.python, results))
    if server_rows:
        write_section(args.output, "benchmark-zoo.py servers", document_servers(args.modes, server_rows))


if __name__ == "__main__":
    main()
