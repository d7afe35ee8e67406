// SPDX-License-Identifier: BSD-2-Clause
#include "trace/heap.h"

#include <cmath>

#include "trace/tracer.h"

namespace leakscope::trace {
namespace {

// Reference counts above this are not counts: a free-list pointer or garbage.
// (3.12+ immortal objects use 0xFFFFFFFF, well below it.)
constexpr uint64_t kMaxRefcount = 1ull << 40;

analysis::SiteId hash_stack(const Stack& frames, uint32_t flags) {
    uint64_t h = 1469598103934665603ull ^ flags;
    auto mix = [&](const std::string& s) {
        for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
    };
    for (const auto& f : frames) {
        mix(f.file);
        mix(f.function);
        mix(std::to_string(f.line));
    }
    return h ? h : 1;
}

}  // namespace

HeapTracker::HeapTracker(uint64_t sample_bytes, uint64_t start_ns, StackResolver resolve)
    : sample_bytes_(double(sample_bytes)), start_ns_(start_ns), resolve_(std::move(resolve)) {}

analysis::SiteId HeapTracker::site_of(uint64_t stack_id) {
    if (auto it = site_by_stack_.find(stack_id); it != site_by_stack_.end()) return it->second;
    auto [frames, flags] = resolve_(stack_id);
    // Stack-level drops (truncation, failed reads) keep their own site so
    // they are never merged with a complete stack.
    flags &= LS_STACK_TRUNCATED | LS_STACK_READ_FAILED | LS_STACK_NO_THREAD;
    analysis::SiteId id = hash_stack(frames, flags);
    site_by_stack_[stack_id] = id;
    auto& site = sites_[id];
    if (site.frames.empty()) site.frames = std::move(frames);
    return id;
}

void HeapTracker::add(const ls_sample& s) {
    const auto family = static_cast<ls_family>(s.family);
    // Byte-weighted Poisson sampling: an allocation of S bytes is sampled with
    // probability 1 - exp(-S/R), so it stands for 1/p allocations.
    const double p = sample_bytes_ <= 1 ? 1.0 : -std::expm1(-double(s.size) / sample_bytes_);
    Sample sample{family, s.seq, s.type, s.size, p > 0 ? 1.0 / p : 1.0,
                  double(s.ts_ns - std::min<uint64_t>(s.ts_ns, start_ns_)) / 1e9, site_of(s.stack_id)};
    auto& totals = totals_[sample.site];
    totals.alloc_bytes += sample.weight * s.size;
    totals.alloc_objects += sample.weight;
    // A newer sample at the same address replaces one whose death was not seen yet.
    LiveKey key{s.addr, family};
    if (auto it = live_.find(key); it != live_.end()) {
        auto& old = totals_[it->second.site];
        old.freed_bytes += it->second.weight * it->second.size;
        old.freed_objects += it->second.weight;
    }
    live_[key] = sample;
}

bool HeapTracker::object_alive(const proc::MemoryReader& mem, uint64_t addr, uint64_t type) const {
    uint64_t head[2];
    if (!mem.read(addr, head, sizeof head)) return false;
    return head[0] != 0 && head[0] < kMaxRefcount && head[1] == type;
}

void HeapTracker::sweep(Tracer& tracer, const proc::MemoryReader& mem, double now_s, uint64_t full_collections) {
    if (full_collections > full_collections_seen_) {
        // It ran some time after the previous sweep: only what was born before that is sure to be older.
        last_full_gc_s_ = last_sweep_s_;
        full_collections_seen_ = full_collections;
    }
    last_sweep_s_ = now_s;
    for (auto it = live_.begin(); it != live_.end();) {
        const auto& [key, s] = *it;
        auto seq = tracer.live_seq(key.family, key.addr);
        bool alive = seq && *seq == s.seq &&
                     (key.family != LS_FAMILY_OBJECT || object_alive(mem, key.addr, s.type));
        if (alive) {
            ++it;
            continue;
        }
        if (seq && *seq == s.seq) tracer.forget(key.family, key.addr);
        auto& totals = totals_[s.site];
        totals.freed_bytes += s.weight * s.size;
        totals.freed_objects += s.weight;
        it = live_.erase(it);
    }
}

analysis::Snapshot HeapTracker::snapshot(double t_s, uint64_t full_collections, uint64_t collections,
                                         uint64_t rss_bytes) const {
    std::unordered_map<analysis::SiteId, analysis::SiteReading> readings;
    double heap = 0;
    for (const auto& [key, s] : live_) {
        auto& r = readings[s.site];
        r.site = s.site;
        r.live_bytes += s.weight * s.size;
        r.live_objects += s.weight;
        if (s.born_s < last_full_gc_s_) r.survived_full_gc_bytes += s.weight * s.size;
        if (key.family == LS_FAMILY_OBJECT) heap += s.weight * s.size;
    }
    analysis::Snapshot snap;
    snap.t_s = t_s;
    snap.full_collections = full_collections;
    snap.collections = collections;
    snap.rss_bytes = rss_bytes;
    snap.python_heap_bytes = static_cast<uint64_t>(heap);
    for (const auto& [id, totals] : totals_) {
        auto& r = readings[id];
        r.site = id;
        r.alloc_bytes = totals.alloc_bytes;
        r.alloc_objects = totals.alloc_objects;
        r.freed_bytes = totals.freed_bytes;
        r.freed_objects = totals.freed_objects;
    }
    for (auto& [id, r] : readings) snap.sites.push_back(r);
    return snap;
}

const SiteInfo* HeapTracker::site(analysis::SiteId id) const {
    auto it = sites_.find(id);
    return it == sites_.end() ? nullptr : &it->second;
}

}  // namespace leakscope::trace
