// SPDX-License-Identifier: BSD-2-Clause
// Sampled allocations followed until they die, grouped into sites.
//
// A sampled object is alive while the kernel's live map still holds its seq
// (no other object was born at its address) and its memory still looks like
// that object (non-zero, sane reference count and the same type): freed and
// freelisted objects have a zero count, pymalloc writes a free-list pointer
// over the first word of a freed block. Native blocks are alive until free().
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "analysis/leak_analyzer.h"
#include "core/frame.h"
#include "proc/memory.h"

extern "C" {
#include "leakscope.h"
}

namespace leakscope::trace {

class Tracer;

// A site is one symbolized Python stack; several kernel stacks (different
// bytecode offsets on the same lines) can be the same site.
struct SiteInfo {
    Stack frames;
};

class HeapTracker {
public:
    // resolve: kernel stack id -> symbolized stack (called once per stack id).
    using StackResolver = std::function<std::pair<Stack, uint32_t>(uint64_t stack_id)>;

    HeapTracker(uint64_t sample_bytes, uint64_t start_ns, StackResolver resolve);

    void add(const ls_sample& sample);

    // Retires samples that died since the last sweep. full_collections is the
    // target's cumulative count of oldest-generation collections.
    void sweep(Tracer& tracer, const proc::MemoryReader& mem, double now_s, uint64_t full_collections);

    analysis::Snapshot snapshot(double t_s, uint64_t full_collections, uint64_t collections,
                                uint64_t rss_bytes) const;

    const SiteInfo* site(analysis::SiteId id) const;

private:
    struct Sample {
        ls_family family;
        uint64_t seq, type;
        uint32_t size;
        double weight;  // allocations this sample stands for
        double born_s;
        analysis::SiteId site;
    };
    struct SiteTotals {
        double alloc_bytes = 0, alloc_objects = 0, freed_bytes = 0, freed_objects = 0;
    };
    struct LiveKey {
        uint64_t addr;
        ls_family family;
        bool operator==(const LiveKey&) const = default;
    };
    struct LiveKeyHash {
        size_t operator()(const LiveKey& k) const { return std::hash<uint64_t>()(k.addr * 2 + k.family); }
    };

    analysis::SiteId site_of(uint64_t stack_id);
    bool object_alive(const proc::MemoryReader& mem, uint64_t addr, uint64_t type) const;

    double sample_bytes_;
    uint64_t start_ns_;
    StackResolver resolve_;
    std::unordered_map<uint64_t, analysis::SiteId> site_by_stack_;
    std::unordered_map<analysis::SiteId, SiteInfo> sites_;
    std::unordered_map<analysis::SiteId, SiteTotals> totals_;
    std::unordered_map<LiveKey, Sample, LiveKeyHash> live_;
    double last_full_gc_s_ = -1;  // sweep time before the newest full collection
    uint64_t full_collections_seen_ = 0;
    double last_sweep_s_ = 0;
};

}  // namespace leakscope::trace
