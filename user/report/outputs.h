// SPDX-License-Identifier: BSD-2-Clause
// The report files a run or `leakscope report` writes, and the one place
// that writes them.
#pragma once

#include <functional>
#include <ostream>
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

// Writes one output file: render's bytes, or one error line (Errc::Io).
void write_file(const std::string& path, const std::function<void(std::ostream&)>& render);

// Writes every file asked for. The renderers draw from the JSON document read
// back, so `leakscope report` on the saved JSON writes the same bytes.
void write_outputs(const Report& report, const OutputFiles& files);

}  // namespace leakscope::report
