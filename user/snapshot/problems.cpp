// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/problems.h"

namespace leakscope::snapshot {

std::string_view problem_name(Problem p) {
    switch (p) {
    case Problem::UnreadableObject: return "unreadable_object";
    case Problem::NotAnObject: return "not_an_object";
    case Problem::BrokenGcList: return "broken_gc_list";
    case Problem::CorruptContainer: return "corrupt_container";
    case Problem::TruncatedContainer: return "truncated_container";
    case Problem::CollectionRunning: return "collection_running";
    case Problem::ObjectLimit: return "object_limit";
    case Problem::Count: break;
    }
    return "?";
}

uint64_t Problems::total() const {
    uint64_t n = 0;
    for (uint64_t c : counts_) n += c;
    return n;
}

}  // namespace leakscope::snapshot
