// SPDX-License-Identifier: BSD-2-Clause
// What did not add up while reading a running heap: counted, reported, never
// followed.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace leakscope::snapshot {

enum class Problem : uint8_t {
    UnreadableObject,    // a reference pointed at memory that cannot be read
    NotAnObject,         // a reference whose type pointer is not a type
    BrokenGcList,        // a collector list that does not link back to its head
    CorruptContainer,    // a length, table or header out of bounds
    TruncatedContainer,  // larger than leakscope reads
    CollectionRunning,   // the collector was running: objects it was moving are missed
    ObjectLimit,         // objects past the most leakscope reads, not followed
    Count,
};

std::string_view problem_name(Problem p);

class Problems {
public:
    void add(Problem p, uint64_t n = 1) { counts_[static_cast<size_t>(p)] += n; }
    uint64_t count(Problem p) const { return counts_[static_cast<size_t>(p)]; }
    uint64_t total() const;

private:
    std::array<uint64_t, static_cast<size_t>(Problem::Count)> counts_{};
};

}  // namespace leakscope::snapshot
