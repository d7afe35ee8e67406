// SPDX-License-Identifier: BSD-2-Clause
// The command line, parsed once into a Config (CLI11).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/preflight.h"
#include "report/outputs.h"

namespace leakscope::cli {

enum class Command { None, Dump, Trace, Run, Report, Snapshot };

struct Config {
    Command command = Command::None;
    pid_t pid = 0;                            // dump/trace/snapshot: -p, --pid
    std::vector<std::string> run_argv;        // run: the command after --
    bool json_stdout = false;                 // dump: --json
    report::OutputFiles outputs;              // trace/run/report: --json, --html, --pprof, --speedscope, --collapsed; snapshot: --json, --html
    std::string report_input;                 // report: the saved JSON report
    double duration_s = 0;                    // trace/run: --duration (0: until stopped)
    double interval_s = 10;                   // trace/run: --interval
    uint64_t sample_bytes = 16 * 1024;        // trace/run: --sample-bytes
    uint32_t stack_storage = 16384;           // trace/run: --stack-storage
    uint32_t max_live = 262144;               // trace/run: --max-live
    uint32_t fault_period = 64;               // trace/run: --fault-period (0: off)
    bool fail_on_leak = false;                // run: --fail-on-leak
    std::string debug_dir = "/usr/lib/debug"; // --debug-dir
    bool verbose = false;                     // -v, --verbose
    std::string color = "auto";               // --color auto|always|never
    std::string mode = "trace";               // --mode trace|continuous
    double max_overhead_pct = -1;             // --max-overhead (unset: the mode's budget; 0: off)
    bool per_probe_links = false;             // --per-probe-links
    size_t top = 20;                          // snapshot: --top
    bool freeze = false;                      // snapshot: --freeze
    double diff_s = 0;                        // snapshot: --diff (0: one snapshot)

    // Every file the command will write, with the option that named it: all
    // are checked for writability before anything is attached or read.
    std::vector<preflight::OutputPath> output_paths() const;
};

// Overhead budgets when --max-overhead is not given: safe to point at a
// production process (trace), cheap enough to leave on (continuous).
constexpr double kTraceBudgetPct = 10;
constexpr double kContinuousBudgetPct = 1;

// The budget in force: --max-overhead, else the mode's; 0: none.
double budget_pct(const Config& c);

// Exit status of a run with --fail-on-leak that found suspects.
constexpr int kLeakFoundStatus = 20;

// Parses argv. Returns the Config, or an exit status when parsing already
// finished the job (--help, --version) or failed (usage error, message printed).
struct ParseResult {
    std::optional<Config> config;
    int exit_status = 0;
};
ParseResult parse_args(int argc, const char* const* argv);

}  // namespace leakscope::cli
