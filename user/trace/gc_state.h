// SPDX-License-Identifier: BSD-2-Clause
// The collector's own counters, read from the target's gc state: they cover
// every build, with or without probes on the collector.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "python/target.h"

namespace leakscope::trace {

struct GcGenerationState {
    uint64_t collections = 0, collected = 0, uncollectable = 0;
    int64_t count = 0;      // objects (or allocations) counted toward the next collection
    int64_t threshold = 0;
};

struct GcState {
    bool enabled = true;
    std::vector<GcGenerationState> generations;
    uint64_t old_generation_objects = 0;  // long_lived_total where the build keeps it
    bool every_collection_full = false;   // free-threaded: each collection is of the whole heap
    uint64_t full_collections() const {
        if (every_collection_full) return collections();
        return generations.empty() ? 0 : generations.back().collections;
    }
    uint64_t collections() const {
        uint64_t n = 0;
        for (const auto& g : generations) n += g.collections;
        return n;
    }
};

// The GC state of a target; nullopt when its build keeps none we know or it
// cannot be read.
std::optional<GcState> read_gc_state(const python::Target& target);

// The same, from a memory image: gc is the address of the GC state struct.
std::optional<GcState> read_gc_state(const proc::MemoryReader& mem, const python::PyLayout& layout, uint64_t gc);

}  // namespace leakscope::trace
