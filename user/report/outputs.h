// SPDX-License-Identifier: BSD-2-Clause
// The report files a run, a snapshot or `leakscope report` writes, and the one place
// that writes them.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <utility>
#include <vector>

#include "report/report.h"

namespace leakscope::report {

struct OutputFiles {
    std::string json;        // --json
    std::string html;        // --html
    std::string pprof;       // --pprof
    std::string speedscope;  // --speedscope
    std::string collapsed;   // --collapsed

    // (flag, path) of every file asked for.
    std::vector<std::pair<std::string, std::string>> requested() const;
};

// Writes every file asked for. The renderers draw from the JSON document read
// back, so `leakscope report` on the saved JSON writes the same bytes.
void write_outputs(const Report& report, const OutputFiles& files);

// Writes a heap snapshot's files: --json and --html. `snapshot` passes the
// document read back from its JSON text, as write_outputs does, so that
// `leakscope report` on the saved JSON writes the same page. A snapshot has no
// stacks: asking for another format is a usage error, found before anything is
// written.
void write_snapshot_outputs(const nlohmann::ordered_json& snapshot, const OutputFiles& files);

}  // namespace leakscope::report
