// SPDX-License-Identifier: BSD-2-Clause
// Snapshot reports: text for the terminal, JSON as docs/json-contract.md
// fixes it, and the growth between two snapshots (--diff).
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>

#include "python/target.h"
#include "snapshot/snapshot.h"

namespace leakscope::snapshot {

struct TypeGrowth {
    std::string type;
    int64_t count = 0, bytes = 0;
};

struct HolderGrowth {
    std::string path, type;
    int64_t len = 0, retained_bytes = 0, retained_objects = 0;
};

struct Growth {
    double seconds = 0;
    std::vector<TypeGrowth> types;      // biggest byte growth first
    std::vector<HolderGrowth> holders;  // holders of the second snapshot, by path
};

Growth growth(const Snapshot& before, const Snapshot& after, double seconds, size_t top);

nlohmann::json snapshot_json(const python::Target& t, const Snapshot& s, const Growth* g);
void print_snapshot(std::ostream& out, const python::Target& t, const Snapshot& s, size_t top,
                    const Growth* g);

}  // namespace leakscope::snapshot
