// SPDX-License-Identifier: BSD-2-Clause
#include "cli/config.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "core/error.h"

namespace leakscope::cli {
namespace {

constexpr const char* kExamples = R"(
EXAMPLES:
  leakscope dump -p 1234              # every thread's Python stack, innermost first
  leakscope dump -p 1234 --json       # the same as JSON
  leakscope trace -p 1234             # leak-suspect report every 10 s until Ctrl-C
  leakscope trace -p 1234 --duration 60 --interval 5 --json leaks.json
  leakscope run -- python3 app.py     # trace a command from its first instruction
  leakscope run --fail-on-leak --duration 120 -- python3 -m pytest   # CI gate (exit 20 on a leak)
  leakscope trace -p 1234 --mode continuous          # leave it on: at most 2% overhead
  leakscope trace -p 1234 --max-overhead 10          # trace within a 10% budget
)";

void add_target_options(CLI::App& sub, Config& c) {
    sub.add_option("--debug-dir", c.debug_dir, "Root of build-id debug files")
        ->capture_default_str();
    sub.add_flag("-v,--verbose", c.verbose, "Explain what is attached and why");
}

void add_trace_options(CLI::App& sub, Config& c) {
    sub.add_option("-d,--duration", c.duration_s, "Stop after S seconds (0: until Ctrl-C or exit)")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    sub.add_option("-i,--interval", c.interval_s, "Seconds between reports")
        ->check(CLI::PositiveNumber)->capture_default_str();
    sub.add_option("--json", c.json_file, "Also write the final report as JSON to FILE");
    sub.add_option("--sample-bytes", c.sample_bytes,
                   "Mean bytes allocated between sampled stacks (1: every allocation)")
        ->check(CLI::PositiveNumber)->capture_default_str();
    sub.add_option("--stack-storage", c.stack_storage, "Distinct stacks kept in the kernel")
        ->check(CLI::Range(64u, 1u << 20))->capture_default_str();
    sub.add_option("--max-live", c.max_live, "Sampled live allocations kept in the kernel")
        ->check(CLI::Range(1024u, 1u << 24))->capture_default_str();
    sub.add_option("--fault-period", c.fault_period,
                   "Walk the Python stack at one in N page faults: where memory grows (0: off)")
        ->capture_default_str();
    sub.add_option("--mode", c.mode,
                   "trace: allocation probes always attached; continuous: cheap enough to leave on, "
                   "probes attached in windows within the overhead budget")
        ->check(CLI::IsMember({"trace", "continuous"}))->capture_default_str();
    sub.add_option("--max-overhead", c.max_overhead_pct,
                   "Overhead budget in percent of the target's CPU time (continuous mode: 2)")
        ->check(CLI::Range(0.1, 1000.0));
    sub.add_option("--color", c.color, "Colour the text report")
        ->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
    add_target_options(sub, c);
}

}  // namespace

ParseResult parse_args(int argc, const char* const* argv) {
    Config c;
    CLI::App app{"leakscope: find memory leaks in running CPython processes, from outside", "leakscope"};
    app.footer(kExamples);
    app.set_version_flag("-V,--version", std::string("leakscope ") + LEAKSCOPE_VERSION);
    app.require_subcommand(1);

    auto* dump = app.add_subcommand("dump", "Print every thread's Python stack");
    dump->add_option("-p,--pid", c.pid, "Target process")->required()->check(CLI::PositiveNumber);
    dump->add_flag("--json", c.json_stdout, "Print JSON instead of text");
    add_target_options(*dump, c);

    auto* trace = app.add_subcommand("trace", "Trace a running process's allocations and report leak suspects");
    trace->add_option("-p,--pid", c.pid, "Target process")->required()->check(CLI::PositiveNumber);
    add_trace_options(*trace, c);

    auto* run = app.add_subcommand("run", "Run a command traced from its first Python instruction");
    run->add_option("command", c.run_argv, "The command and its arguments, after --")->required();
    run->add_flag("--fail-on-leak", c.fail_on_leak,
                  "Exit with status 20 when leak suspects were found");
    add_trace_options(*run, c);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return {std::nullopt, app.exit(e)};
    } catch (const CLI::CallForVersion& e) {
        return {std::nullopt, app.exit(e)};
    } catch (const CLI::ParseError& e) {
        // One line, the leakscope way, rather than CLI11's multi-line hint.
        std::cerr << "leakscope: " << e.what() << " (see leakscope --help)\n";
        return {std::nullopt, exit_status(Errc::Usage)};
    }
    if (*dump) c.command = Command::Dump;
    if (*trace) c.command = Command::Trace;
    if (*run) c.command = Command::Run;
    return {c, 0};
}

}  // namespace leakscope::cli
