// SPDX-License-Identifier: BSD-2-Clause
// The collector's counters read from recorded GC state structs of each
// layout: per-generation stats, thresholds and counts, the old generation.
#include <catch2/catch.hpp>
#include <cstring>

#include "proc/memory.h"
#include "python/layout.h"
#include "trace/gc_state.h"

using namespace leakscope;
using namespace leakscope::python;
using namespace leakscope::trace;

namespace {

template <typename T>
void put(std::vector<uint8_t>& buf, int64_t off, T v) {
    REQUIRE(off >= 0);
    REQUIRE(size_t(off) + sizeof v <= buf.size());
    std::memcpy(buf.data() + off, &v, sizeof v);
}

// A GC state struct as `layout` places its fields; generation i has
// collections 10+i, collected 100+i, uncollectable i, threshold 700/10/10,
// count 5+i.
std::vector<uint8_t> gc_struct(const PyLayout& L, int32_t enabled) {
    std::vector<uint8_t> gc(1024, 0);
    put(gc, L.gc_enabled, enabled);
    const int32_t thresholds[] = {700, 10, 10};
    for (int i = 0; i < L.gc_generation_count; ++i) {
        const int64_t stats = L.gc_stats + i * L.gc_stats_stride;
        put(gc, stats, uint64_t(10 + i));
        put(gc, stats + 8, uint64_t(100 + i));
        put(gc, stats + 16, uint64_t(i));
        const int64_t gen = L.gc_generations + i * L.gc_generation_stride;
        put(gc, gen + L.gc_generation_threshold, thresholds[i]);
        put(gc, gen + L.gc_generation_count_field, int32_t(5 + i));
    }
    if (L.gc_long_lived_total >= 0) put(gc, L.gc_long_lived_total, int64_t(12345));
    return gc;
}

}  // namespace

TEST_CASE("GC state of every table layout", "[gc_state]") {
    constexpr uint64_t kGc = 0x4000;
    for (const PyVersion v : {PyVersion{3, 8, 18}, {3, 9, 18}, {3, 10, 13}, {3, 11, 7}, {3, 12, 1}}) {
        INFO(v.str());
        const PyLayout L = *table_layout(v);
        REQUIRE(L.gc_stats >= 0);
        for (int32_t enabled : {1, 0}) {
            proc::SnapshotMemory mem;
            mem.add(kGc, gc_struct(L, enabled));
            auto s = read_gc_state(mem, L, kGc);
            REQUIRE(s);
            CHECK(s->enabled == bool(enabled));
            REQUIRE(s->generations.size() == size_t(L.gc_generation_count));
            for (size_t i = 0; i < s->generations.size(); ++i) {
                CHECK(s->generations[i].collections == 10 + i);
                CHECK(s->generations[i].collected == 100 + i);
                CHECK(s->generations[i].uncollectable == i);
                CHECK(s->generations[i].count == int64_t(5 + i));
            }
            CHECK(s->generations[0].threshold == 700);
            CHECK(s->full_collections() == 12);
            CHECK(s->collections() == 10 + 11 + 12);
            CHECK(s->old_generation_objects == (L.gc_long_lived_total >= 0 ? 12345u : 0u));
        }
    }
}

TEST_CASE("GC state that cannot be read is absent, not zero", "[gc_state]") {
    const PyLayout L = *table_layout({3, 11, 7});
    proc::SnapshotMemory mem;
    CHECK_FALSE(read_gc_state(mem, L, 0x4000));
    std::vector<uint8_t> cut = gc_struct(L, 1);
    cut.resize(size_t(L.gc_stats) + 8);  // the stats end early
    mem.add(0x4000, cut);
    CHECK_FALSE(read_gc_state(mem, L, 0x4000));
}
