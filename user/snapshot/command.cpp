// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/command.h"

#include <chrono>
#include <iostream>
#include <thread>

#include "core/preflight.h"
#include "report/outputs.h"
#include "snapshot/report.h"

namespace leakscope::snapshot {

int run(const cli::Config& c) {
    // An unwritable report path is found before anything is read.
    preflight::check_writable(c.output_paths());
    preflight::check_process(c.pid);
    preflight::check_can_read(c.pid);
    auto target = python::open_target(c.pid, {c.debug_dir, /*free_threaded_ok=*/false});
    const SnapshotOptions options{c.top, c.freeze};
    Snapshot snap = take_snapshot(target, options);
    std::optional<Growth> grown;
    if (c.diff_s > 0) {
        const auto first_end = std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::chrono::duration<double>(c.diff_s));
        Snapshot second = take_snapshot(target, options);
        const double apart = std::chrono::duration<double>(std::chrono::steady_clock::now() - first_end).count();
        grown = growth(snap, second, apart, c.top);
        snap = std::move(second);
    }
    print_snapshot(std::cout, target, snap, c.top, grown ? &*grown : nullptr);
    if (!c.outputs.requested().empty()) {
        // Read back from its text (invalid UTF-8 replaced), as a saved file is by `leakscope report`.
        const std::string text = snapshot_json(target, snap, grown ? &*grown : nullptr)
                                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        report::write_snapshot_outputs(nlohmann::ordered_json::parse(text), c.outputs);
    }
    return 0;
}

}  // namespace leakscope::snapshot
