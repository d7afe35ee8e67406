// SPDX-License-Identifier: BSD-2-Clause
#include "cli/config.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <iostream>

#include "core/error.h"
#include "core/text.h"

namespace leakscope::cli {
namespace {

// PID_MAX_LIMIT on 64-bit kernels: no PID is larger.
constexpr double kMaxPid = 4194304;
// A usage message longer than this is cut: it is one line in the user's terminal.
constexpr size_t kMaxUsageLine = 160;

// A number in [lo, hi], said in leakscope's words when it is not (CLI11's own
// checks print ranges with hundreds of digits). Runs before conversion.
CLI::Validator number_in(double lo, double hi, bool integer, const char* what) {
    auto check = [=](const std::string& text) -> std::string {
        double v = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        const bool whole = end == text.data() + text.size() && !text.empty();
        if (ec == std::errc::result_out_of_range && whole)
            return fmt::format("{} is out of range ({:.15g} to {:.15g})", quote_short(text), lo, hi);
        if (ec != std::errc() || !whole || !std::isfinite(v) || (integer && v != std::floor(v)))
            return fmt::format("{} is not {}", quote_short(text), what);
        if (v < lo || v > hi) return fmt::format("{} is out of range ({:.15g} to {:.15g})", quote_short(text), lo, hi);
        return "";
    };
    return CLI::Validator(check, what);
}

const CLI::Validator kPid = number_in(1, kMaxPid, true, "a process id");
const CLI::Validator kSeconds = number_in(0, 1e9, false, "a number of seconds");
const CLI::Validator kPositiveSeconds = number_in(1e-3, 1e9, false, "a number of seconds");

// An overhead budget in percent, or "off", turned into 0 (no budget).
CLI::Validator budget_pct() {
    const CLI::Validator pct = number_in(0.1, 1000, false, "a percentage or 'off'");
    return CLI::Validator(
        [pct](std::string& text) {
            if (text != "off") return pct(text);
            text = "0";
            return std::string();
        },
        "PCT|off");
}

// CLI11's message, cut to one short line with what the user typed escaped.
std::string usage_line(const CLI::ParseError& e) {
    std::string text = escape_control(e.what());
    if (text.size() > kMaxUsageLine) text = text.substr(0, kMaxUsageLine) + "...";
    return text;
}

constexpr const char* kExamples = R"(
EXAMPLES:
  leakscope dump -p 1234              # every thread's Python stack, innermost first
  leakscope dump -p 1234 --json       # the same as JSON
  leakscope trace -p 1234             # leak-suspect report every 10 s until Ctrl-C (10% budget)
  leakscope trace -p 1234 --duration 60 --interval 5 --json leaks.json
  leakscope run -- python3 app.py     # trace a command from its first instruction
  leakscope run --fail-on-leak --max-overhead off --duration 120 -- python3 -m pytest   # CI gate (exit 20)
  leakscope trace -p 1234 --mode continuous          # leave it on: at most 1% overhead
  leakscope run --max-overhead off -- python3 t.py   # every allocation traced: short runs, CI
  leakscope trace -p 1234 --duration 60 --html leaks.html --pprof leaks.pb.gz
  leakscope report leaks.json --html leaks.html      # render a saved report offline
  leakscope snapshot -p 1234 --freeze --json heap.json  # what the heap holds now, and who holds it
  leakscope snapshot -p 1234 --diff 30               # what grew in 30 s, without probes
  leakscope snapshot -p 1234 --html heap.html        # breakdown, holders and types as one page
)";

void add_target_options(CLI::App& sub, Config& c) {
    sub.add_option("--debug-dir", c.debug_dir, "Root of build-id debug files")
        ->capture_default_str();
    sub.add_flag("-v,--verbose", c.verbose, "Explain what is attached and why");
}

void add_output_options(CLI::App& sub, report::OutputFiles& o, bool with_json = true) {
    if (with_json) sub.add_option("--json", o.json, "Write the final report as JSON to FILE (the exchange format)");
    sub.add_option("--html", o.html, "Write a self-contained HTML report (flame graphs, timeline) to FILE");
    sub.add_option("--pprof", o.pprof, "Write a gzip'd pprof memory profile (Go heap layout) to FILE");
    sub.add_option("--speedscope", o.speedscope, "Write a speedscope profile (live and allocated bytes) to FILE");
    sub.add_option("--collapsed", o.collapsed, "Write folded stacks weighted by live bytes to FILE");
}

void add_trace_options(CLI::App& sub, Config& c) {
    sub.add_option("-d,--duration", c.duration_s, "Stop after S seconds (0: until Ctrl-C or exit)")
        ->check(kSeconds)->capture_default_str();
    sub.add_option("-i,--interval", c.interval_s, "Seconds between reports")
        ->check(kPositiveSeconds)->capture_default_str();
    add_output_options(sub, c.outputs);
    sub.add_option("--sample-bytes", c.sample_bytes,
                   "Mean bytes allocated between sampled stacks (1: every allocation)")
        ->check(number_in(1, double(1ull << 40), true, "a number of bytes"))->capture_default_str();
    sub.add_option("--stack-storage", c.stack_storage, "Distinct stacks kept in the kernel")
        ->check(number_in(64, 1u << 20, true, "a number of stacks"))->capture_default_str();
    sub.add_option("--max-live", c.max_live, "Sampled live allocations kept in the kernel")
        ->check(number_in(1024, 1u << 24, true, "a number of allocations"))->capture_default_str();
    sub.add_option("--fault-period", c.fault_period,
                   "Walk the Python stack at one in N page faults: where memory grows (0: off)")
        ->check(number_in(0, 1u << 30, true, "a number of page faults"))->capture_default_str();
    sub.add_option("--mode", c.mode,
                   "trace: allocation probes always attached; continuous: cheap enough to leave on, "
                   "probes attached in windows within the overhead budget")
        ->check(CLI::IsMember({"trace", "continuous"}))->capture_default_str();
    sub.add_option("--max-overhead", c.max_overhead_pct,
                   "Overhead budget in percent of the target's CPU time (trace mode: 10, continuous mode: 1); "
                   "off: trace every allocation, whatever it costs")
        ->transform(budget_pct());
    sub.add_flag("--per-probe-links", c.per_probe_links,
                 "Attach one perf event per probe, as kernels before 6.6 must (slower to attach and detach)");
    sub.add_option("--color", c.color, "Colour the text report")
        ->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
    add_target_options(sub, c);
}

}  // namespace

double budget_pct(const Config& c) {
    if (c.max_overhead_pct >= 0) return c.max_overhead_pct;
    return c.mode == "continuous" ? kContinuousBudgetPct : kTraceBudgetPct;
}

std::vector<preflight::OutputPath> Config::output_paths() const {
    std::vector<preflight::OutputPath> out;
    for (const auto& [option, path] : outputs.requested()) out.push_back({option, path});
    return out;
}

ParseResult parse_args(int argc, const char* const* argv) {
    Config c;
    CLI::App app{"leakscope: find memory leaks in running CPython processes, from outside", "leakscope"};
    app.footer(kExamples);
    app.set_version_flag("-V,--version", std::string("leakscope ") + LEAKSCOPE_VERSION);
    app.require_subcommand(1);

    auto* dump = app.add_subcommand("dump", "Print every thread's Python stack");
    dump->add_option("-p,--pid", c.pid, "Target process")->required()->check(kPid);
    dump->add_flag("--json", c.json_stdout, "Print JSON instead of text");
    add_target_options(*dump, c);

    auto* trace = app.add_subcommand("trace", "Trace a running process's allocations and report leak suspects");
    trace->add_option("-p,--pid", c.pid, "Target process")->required()->check(kPid);
    add_trace_options(*trace, c);

    auto* run = app.add_subcommand("run", "Run a command traced from its first Python instruction");
    run->add_option("command", c.run_argv, "The command and its arguments, after --")->required();
    run->add_flag("--fail-on-leak", c.fail_on_leak,
                  "Exit with status 20 when leak suspects were found");
    add_trace_options(*run, c);

    auto* snapshot = app.add_subcommand("snapshot", "Heap snapshot: objects by type, what holds them, memory breakdown");
    snapshot->add_option("-p,--pid", c.pid, "Target process")->required()->check(kPid);
    snapshot->add_option("--json", c.outputs.json, "Also write the snapshot as JSON to FILE");
    snapshot->add_option("--html", c.outputs.html,
                         "Also write a self-contained HTML page (breakdown, holders, types) to FILE");
    snapshot->add_option("--top", c.top, "Types and holders shown")
        ->check(number_in(1, 100000, true, "a number of rows"))->capture_default_str();
    snapshot->add_flag("--freeze", c.freeze, "Stop the target while it is read (always resumed)");
    snapshot->add_option("--diff", c.diff_s, "Take a second snapshot S seconds later and report what grew")
        ->check(kPositiveSeconds);
    add_target_options(*snapshot, c);

    auto* report = app.add_subcommand("report", "Render a saved JSON report (text, or the files asked for)");
    report->add_option("file", c.report_input, "A trace report or a heap snapshot written by --json")->required();
    add_output_options(*report, c.outputs, false);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return {std::nullopt, app.exit(e)};
    } catch (const CLI::CallForVersion& e) {
        return {std::nullopt, app.exit(e)};
    } catch (const CLI::ParseError& e) {
        // One line, the leakscope way, rather than CLI11's multi-line hint.
        std::cerr << "leakscope: " << usage_line(e) << " (see leakscope --help)\n";
        return {std::nullopt, exit_status(Errc::Usage)};
    }
    if (*dump) c.command = Command::Dump;
    if (*trace) c.command = Command::Trace;
    if (*run) c.command = Command::Run;
    if (*snapshot) c.command = Command::Snapshot;
    if (*report) c.command = Command::Report;
    return {c, 0};
}

}  // namespace leakscope::cli
