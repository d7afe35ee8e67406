// SPDX-License-Identifier: BSD-2-Clause
#include "cli/commands.h"

#include <iostream>

#include "core/preflight.h"
#include "python/dump.h"
#include "trace/session.h"

namespace leakscope::cli {
namespace {

int dump(const Config& c) {
    preflight::check_process(c.pid);
    preflight::check_can_read(c.pid);
    auto target = python::open_target(c.pid, {c.debug_dir});
    auto threads = python::dump_threads(target);
    if (c.json_stdout)
        std::cout << python::dump_json(target, threads).dump(2) << "\n";
    else
        python::print_dump(std::cout, target, threads);
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
    case Command::None:
        break;
    }
    return 0;
}

}  // namespace leakscope::cli
