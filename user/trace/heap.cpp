// SPDX-License-Identifier: BSD-2-Clause
#include "trace/heap.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

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

HeapTracker::HeapTracker(uint64_t start_ns, StackResolver resolve) : start_ns_(start_ns), resolve_(std::move(resolve)) {}

analysis::SiteId HeapTracker::site_of(uint64_t stack_id, int32_t native_stack_id) {
    const StackKey key{stack_id, native_stack_id};
    if (auto it = site_by_stack_.find(key); it != site_by_stack_.end()) return it->second;
    auto [frames, flags] = resolve_(stack_id, native_stack_id);
    // Stack-level drops (truncation, failed reads) keep their own site so
    // they are never merged with a complete stack.
    flags &= LS_STACK_TRUNCATED | LS_STACK_READ_FAILED | LS_STACK_NO_THREAD;
    // A site is its Python stack: native frames under it (which C function
    // called malloc) are shown, but do not split a Python line's memory.
    const auto python = std::find_if(frames.begin(), frames.end(), [](const Frame& f) { return !f.native; });
    const analysis::SiteId id = hash_stack(Stack(python, frames.end()), flags);
    site_by_stack_[key] = id;
    auto& site = sites_[id];
    if (site.frames.empty() || (python != frames.begin() && !site.frames.front().native)) site.frames = std::move(frames);
    return id;
}

void HeapTracker::add(const ls_sample& s) {
    const auto family = static_cast<ls_family>(s.family);
    // Byte-weighted Poisson sampling: an allocation of S bytes is sampled with
    // probability 1 - exp(-S/R), so it stands for 1/p allocations. R is the
    // distance it was drawn with: the overhead budget changes it while tracing.
    const double distance = double(s.sample_bytes);
    const double p = distance <= 1 ? 1.0 : -std::expm1(-double(s.size) / distance);
    Sample sample{family, s.seq, s.type, s.size, p > 0 ? 1.0 / p : 1.0,
                  double(s.ts_ns - std::min<uint64_t>(s.ts_ns, start_ns_)) / 1e9, site_of(s.stack_id, s.native_stack_id)};
    auto& totals = totals_[sample.site];
    changed_.insert(sample.site);
    totals.alloc_bytes += sample.weight * s.size;
    totals.alloc_objects += sample.weight;
    // A newer sample at the same address replaces one whose death was not seen yet.
    LiveKey key{s.addr, family};
    if (auto it = live_.find(key); it != live_.end()) {
        auto& old = totals_[it->second.site];
        changed_.insert(it->second.site);
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

void HeapTracker::sweep(LiveMaps& tracer, const proc::MemoryReader& mem, double now_s, uint64_t full_collections) {
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
        changed_.insert(s.site);
        totals.freed_bytes += s.weight * s.size;
        totals.freed_objects += s.weight;
        it = live_.erase(it);
    }
}

std::vector<uint64_t> HeapTracker::live_objects(analysis::SiteId id, size_t max) const {
    std::vector<uint64_t> out;
    for (const auto& [key, s] : live_) {
        if (out.size() >= max) break;
        if (s.site == id && key.family == LS_FAMILY_OBJECT) out.push_back(key.addr);
    }
    return out;
}

void HeapTracker::sample_running(const std::vector<Stack>& thread_stacks) {
    ++stack_samples_;
    std::unordered_set<analysis::SiteId> running;
    for (const Stack& stack : thread_stacks) {
        // A site runs when its frames are the outer part of the thread's
        // stack: its allocating line, with the same callers, is executing
        // (or calling something deeper).
        for (size_t start = 0; start < stack.size(); ++start) {
            const Stack outer(stack.begin() + static_cast<std::ptrdiff_t>(start), stack.end());
            const analysis::SiteId id = hash_stack(outer, 0);
            if (sites_.contains(id)) running.insert(id);
        }
    }
    for (analysis::SiteId id : running) ++running_[id];
}

analysis::Snapshot HeapTracker::snapshot(double t_s, uint64_t full_collections, uint64_t collections,
                                         uint64_t rss_bytes) {
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
    // Sites with nothing live and nothing new are left out: the analysis
    // forgets them after a while, and gets them back when they change.
    for (const auto& [id, totals] : totals_) {
        if (!readings.contains(id) && !changed_.contains(id)) continue;
        auto& r = readings[id];
        r.site = id;
        r.alloc_bytes = totals.alloc_bytes;
        r.alloc_objects = totals.alloc_objects;
        r.freed_bytes = totals.freed_bytes;
        r.freed_objects = totals.freed_objects;
    }
    for (const auto& [id, n] : running_)
        if (auto it = readings.find(id); it != readings.end()) it->second.running_samples = n;
    for (auto& [id, r] : readings) r.caller = caller_of(id);
    snap.stack_samples = stack_samples_;
    running_.clear();
    changed_.clear();
    stack_samples_ = 0;
    for (auto& [id, r] : readings) snap.sites.push_back(r);
    return snap;
}

// The nearest site whose Python stack is an outer part of this one's: the
// line that made the call this site allocated in, when it allocates too.
analysis::SiteId HeapTracker::caller_of(analysis::SiteId id) const {
    auto it = sites_.find(id);
    if (it == sites_.end()) return 0;
    const Stack& frames = it->second.frames;
    auto outer = std::find_if(frames.begin(), frames.end(), [](const Frame& f) { return !f.native; });
    if (outer == frames.end()) return 0;
    for (++outer; outer != frames.end(); ++outer)
        if (const analysis::SiteId caller = hash_stack(Stack(outer, frames.end()), 0); sites_.contains(caller))
            return caller;
    return 0;
}

const SiteInfo* HeapTracker::site(analysis::SiteId id) const {
    auto it = sites_.find(id);
    return it == sites_.end() ? nullptr : &it->second;
}

}  // namespace leakscope::trace
