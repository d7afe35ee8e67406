// SPDX-License-Identifier: BSD-2-Clause
#include "cli/commands.h"

#include <unistd.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/preflight.h"
#include "python/dump.h"
#include "report/json_reader.h"
#include "report/outputs.h"
#include "report/text_reporter.h"
#include "snapshot/command.h"
#include "trace/session.h"

namespace leakscope::cli {
namespace {

int dump(const Config& c) {
    preflight::check_process(c.pid);
    preflight::check_can_read(c.pid);
    auto target = python::open_target(c.pid, {c.debug_dir});
    auto dumped = python::dump_threads(target);
    if (c.json_stdout)
        std::cout << python::dump_json(target, dumped).dump(2) << "\n";
    else
        python::print_dump(std::cout, target, dumped);
    return 0;
}

// Renders a saved report: the text report when no file is asked for. A saved
// heap snapshot renders to --html only.
int render_saved(const Config& c) {
    preflight::check_writable(c.output_paths());
    const nlohmann::ordered_json doc = report::read_json_file(c.report_input);
    if (report::is_snapshot(doc)) {
        if (c.outputs.requested().empty())
            throw Error(Errc::Usage, c.report_input + " is a heap snapshot: render it with --html FILE");
        report::write_snapshot_outputs(doc, c.outputs);
        return 0;
    }
    const report::Report r = report::read_report(doc, c.report_input);
    if (c.outputs.requested().empty())
        report::TextReporter({.tty = isatty(STDOUT_FILENO) != 0}).write(r, std::cout);
    else
        report::write_outputs(r, c.outputs);
    return 0;
}

}  // namespace

int run_command(const Config& c) {
    switch (c.command) {
    case Command::Dump:
        return dump(c);
    case Command::Trace:
    case Command::Run:
        return trace::run(c);
    case Command::Report:
        return render_saved(c);
    case Command::Snapshot:
        return snapshot::run(c);
    case Command::None:
        break;
    }
    return 0;
}

}  // namespace leakscope::cli
