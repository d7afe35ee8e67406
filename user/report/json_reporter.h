// SPDX-License-Identifier: BSD-2-Clause
// The JSON report. Other tools read it: every name and type is fixed by
// docs/json-contract.md, and a change there is a change here.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <ostream>

#include "report/report.h"

namespace leakscope::report {

// Version of the document layout, written as "schema_version".
constexpr int kJsonSchemaVersion = 1;

// Keys keep the order of the contract, so the document reads top-down.
nlohmann::ordered_json to_json(const Report& report);

struct JsonOptions {
    int indent = -1;  // -1: one line per document (a stream of reports is then JSON Lines)
};

class JsonReporter {
public:
    explicit JsonReporter(JsonOptions options = {}) : options_(options) {}
    // One document followed by a newline.
    void write(const Report& report, std::ostream& out) const;

private:
    JsonOptions options_;
};

}  // namespace leakscope::report
