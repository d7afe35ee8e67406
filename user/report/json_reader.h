// SPDX-License-Identifier: BSD-2-Clause
// The JSON report (docs/json-contract.md) read back into the report model, so
// that a saved report renders offline into every other output exactly as the
// live run would have rendered it.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>

#include "report/report.h"

namespace leakscope::report {

// Throws Error(Errc::BadReport) naming the first field that is missing or of
// the wrong type.
Report from_json(const nlohmann::ordered_json& doc);

// A file written by --json (a trace report or a heap snapshot): one document,
// or JSON Lines of which the last document is taken. Throws Error (Io,
// BadReport) with one line naming the file.
nlohmann::ordered_json read_json_file(const std::string& path);

// A heap snapshot (`snapshot --json`) rather than a trace report: only a
// snapshot has holders (the HTML page tells them apart the same way).
bool is_snapshot(const nlohmann::ordered_json& doc);

// The report a document read from `path` holds: from_json, with its error
// naming the file.
Report read_report(const nlohmann::ordered_json& doc, const std::string& path);

}  // namespace leakscope::report
