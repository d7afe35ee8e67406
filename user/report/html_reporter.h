// SPDX-License-Identifier: BSD-2-Clause
// The HTML report: one self-contained page (no network) with an icicle flame
// graph of live and allocated memory by Python stack, a timeline, and the
// suspects, sites, growth, GC, drops and overhead panels. The page
// (user/report/html/report.html) is embedded at build time; the report's JSON
// is its only data.
#pragma once

#include <ostream>

#include "report/report.h"

namespace leakscope::report {

void write_html(const Report& report, std::ostream& out);

// The JSON embedded in the page: the report's JSON document, with '<' escaped
// so that no string from the target can close the script element.
std::string html_data(const Report& report);

}  // namespace leakscope::report
