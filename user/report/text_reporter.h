// SPDX-License-Identifier: BSD-2-Clause
// The terminal report: header, memory, top allocation sites, leak suspects,
// GC summary, drops and sampling, in plain words.
#pragma once

#include <cstddef>
#include <ostream>

#include "report/report.h"

namespace leakscope::report {

struct TextOptions {
    bool tty = false;                // colour only when the output is a terminal
    size_t max_sites = 10;           // top sites shown
    size_t max_growth_sites = 5;     // growth stacks shown (a single sample says little)
    size_t frames_per_site = 3;      // innermost frames shown per top site (suspects get all)
    size_t max_path_chars = 72;      // longer file paths keep their tail
};

class TextReporter {
public:
    explicit TextReporter(TextOptions options = {}) : options_(options) {}
    void write(const Report& report, std::ostream& out) const;

private:
    TextOptions options_;
};

}  // namespace leakscope::report
