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

// A file written by --json: one document, or JSON Lines of which the last
// document is taken. Throws Error (Io, BadReport) with one line naming the file.
Report read_json_report(const std::string& path);

}  // namespace leakscope::report
