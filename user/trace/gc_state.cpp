// SPDX-License-Identifier: BSD-2-Clause
#include "trace/gc_state.h"

namespace leakscope::trace {
std::optional<GcState> read_gc_state(const python::Target& t) {
    const uint64_t gc = t.gc_state();
    if (!gc) return std::nullopt;
    return read_gc_state(*t.mem, t.layout, gc);
}

std::optional<GcState> read_gc_state(const proc::MemoryReader& mem, const python::PyLayout& L, uint64_t gc) {
    if (L.gc_stats < 0) return std::nullopt;
    GcState s;
    auto enabled = mem.read_as<int32_t>(gc + L.gc_enabled);
    if (!enabled) return std::nullopt;
    s.enabled = *enabled != 0;
    s.every_collection_full = L.gc_kind == python::GcKind::WholeHeap;
    for (int i = 0; i < L.gc_generation_count; ++i) {
        GcGenerationState g;
        uint64_t stats[3];
        if (!mem.read(gc + L.gc_stats + i * L.gc_stats_stride, stats, sizeof stats)) return std::nullopt;
        g.collections = stats[0];
        g.collected = stats[1];
        g.uncollectable = stats[2];
        const uint64_t gen = gc + L.gc_generations + i * L.gc_generation_stride;
        g.threshold = mem.read_as<int32_t>(gen + L.gc_generation_threshold).value_or(0);
        g.count = mem.read_as<int32_t>(gen + L.gc_generation_count_field).value_or(0);
        s.generations.push_back(g);
    }
    if (L.gc_long_lived_total >= 0)
        s.old_generation_objects = mem.read_as<int64_t>(gc + L.gc_long_lived_total).value_or(0);
    return s;
}

}  // namespace leakscope::trace
