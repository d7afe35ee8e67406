// SPDX-License-Identifier: BSD-2-Clause
// The HTML report: one self-contained page (no network). For a trace report it
// has an icicle flame graph of live and allocated memory by Python stack, a
// timeline, and the suspects, sites, growth, GC, drops and overhead panels; for
// a heap snapshot (`snapshot --json`), the memory breakdown, holders, census
// and --diff growth. The page (user/report/html/report.html) is embedded at
// build time; the document's JSON is its only data, and the page picks its
// panels by the document's kind.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <ostream>
#include <string>

#include "report/report.h"

namespace leakscope::report {

// The page for a JSON document: a trace report (to_json) or a heap snapshot.
void write_html(const nlohmann::ordered_json& doc, std::ostream& out);
void write_html(const Report& report, std::ostream& out);

// The JSON embedded in the page: the document, with '<' escaped so that no
// string from the target can close the script element.
std::string html_data(const nlohmann::ordered_json& doc);

}  // namespace leakscope::report
