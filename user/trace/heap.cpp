// SPDX-License-Identifier: BSD-2-Clause
#include "trace/heap.h"

#include "core/hash.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace leakscope::trace {
namespace {

// A window shorter than this is too short to scale by.
constexpr double kMinWindowS = 1e-3;

double span_multiplier(double span_s, double window_s) {
    return window_s < kMinWindowS ? 1.0 : std::max(1.0, span_s / window_s);
}

analysis::SiteId hash_stack(const Stack& frames, uint32_t flags) {
    uint64_t h = kFnv1aOffset ^ flags;
    auto mix = [&](const std::string& s) {
        constexpr unsigned char kEnd = 0xff;
        h = fnv1a(fnv1a(h, s.data(), s.size()), &kEnd, 1);
    };
    for (const auto& f : frames) {
        mix(f.file);
        mix(f.function);
        mix(std::to_string(f.line));
    }
    return h ? h : 1;
}

}  // namespace

HeapTracker::HeapTracker(uint64_t start_ns, StackResolver resolve, ContentReader content, SizeReader size,
                         python::PyLayout layout)
    : start_ns_(start_ns), resolve_(std::move(resolve)), content_(std::move(content)), size_(std::move(size)),
      layout_(std::move(layout)) {}

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
    const double born_s = double(s.ts_ns - std::min<uint64_t>(s.ts_ns, start_ns_)) / 1e9;
    Sample sample{family, s.seq, s.type, s.size, p > 0 ? 1.0 / p : 1.0, born_s,
                  site_of(s.stack_id, s.native_stack_id), window_at(born_s), std::nullopt};
    sample.sized = !(family == LS_FAMILY_OBJECT && size_);
    auto& totals = totals_[sample.site];
    changed_.insert(sample.site);
    tally(sample, totals.open_alloc, totals.alloc);
    // A newer sample at the same address replaces one whose death was not seen yet.
    LiveKey key{s.addr, family};
    if (auto it = live_.find(key); it != live_.end()) {
        reborn(it->second, born_s);
        retire(it->second);
    }
    // Born while the probes were being removed, after its window was sealed:
    // sealed now, while it is most likely still itself.
    if (family == LS_FAMILY_OBJECT && content_ && windows_[sample.window].close_s >= 0)
        sample.content = content_(s.addr, s.type);
    live_[key] = sample;
}

// Drawn with the size read at birth (so weighted by it), counted with the size
// it has: unbiased either way. Its allocation is counted again at that size.
void HeapTracker::resize(Sample& s, uint64_t size) {
    const uint32_t bytes = uint32_t(std::min<uint64_t>(size, UINT32_MAX));
    const double delta = double(bytes) - double(s.size);
    const Window& w = windows_[s.window];
    auto& totals = totals_[s.site];
    if (w.close_s < 0)
        totals.open_alloc.bytes += s.weight * delta;
    else
        totals.alloc.bytes += s.weight * w.multiplier * delta;
    s.size = bytes;
    s.sized = true;
    changed_.insert(s.site);
}

void HeapTracker::retire(const Sample& s) {
    auto& totals = totals_[s.site];
    changed_.insert(s.site);
    tally(s, totals.open_freed, totals.freed);
}

// Into the open window's sum (scaled when it closes), or scaled into the
// closed sum: a sample delivered or retired after its window closed.
void HeapTracker::tally(const Sample& s, Amount& open, Amount& closed) const {
    const Window& w = windows_[s.window];
    if (w.close_s < 0)
        open.add(s.weight, s.size);
    else
        closed.add(s.weight * w.multiplier, s.size);
}

// A seasoned sample reborn in the open (or just closed) window: its
// observation there is taken as half the window so far.
void HeapTracker::reborn(const Sample& s, double now_s) {
    if (!seasoned(s)) return;
    const Window& w = windows_.back();
    auto& totals = totals_[s.site];
    totals.kills += 1;
    totals.killed_observed_s += s.observed_s + std::max(0.0, (w.close_s < 0 ? now_s : w.close_s) - w.open_s) / 2;
}

void HeapTracker::probes_attached(double t_s) {
    Window& last = windows_.back();
    if (last.close_s >= 0) windows_.push_back({t_s, -1, 1, last.observed_before + last.close_s - last.open_s});
    else if (windows_.size() == 1 && live_.empty() && totals_.empty()) last.open_s = t_s;  // attached late
}

void HeapTracker::seal_window(const proc::MemoryReader& mem, double born_before_s) {
    if (!content_ || windows_.back().close_s >= 0) return;
    const size_t open = windows_.size() - 1;
    for (auto& [key, s] : live_) {
        if (s.window != open || s.sealed || s.born_s >= born_before_s) continue;
        s.sealed = true;
        if (key.family == LS_FAMILY_OBJECT) {
            s.content = content_(key.addr, s.type);
            continue;
        }
        const auto type = python::live_object_type(mem, layout_, key.addr);
        if (type && (s.content = content_(key.addr, *type))) s.type = *type;
    }
}

void HeapTracker::probes_detached(double t_s) {
    Window& w = windows_.back();
    if (w.close_s >= 0) return;
    w.multiplier = multiplier(windows_.size() - 1, t_s);
    w.close_s = t_s;
    for (auto& [key, s] : live_)
        if (seasoned(s)) s.observed_s += t_s - w.open_s;
    for (auto& [id, totals] : totals_) {
        totals.alloc.add_scaled(totals.open_alloc, w.multiplier);
        totals.freed.add_scaled(totals.open_freed, w.multiplier);
        totals.open_alloc = totals.open_freed = Amount{};
    }
}

// The last window opened at or before t_s: samples arrive after their birth.
size_t HeapTracker::window_at(double t_s) const {
    auto it = std::upper_bound(windows_.begin(), windows_.end(), t_s,
                               [](double t, const Window& w) { return t < w.open_s; });
    return it == windows_.begin() ? 0 : size_t(it - windows_.begin()) - 1;
}

// The time the probes were attached from the start until t_s.
double HeapTracker::observed_until(double t_s) const {
    const Window& w = windows_[window_at(t_s)];
    const double end = w.close_s < 0 ? t_s : std::min(t_s, w.close_s);
    return w.observed_before + std::max(0.0, end - w.open_s);
}

// span / window of window k; for the open window, as it stands at now_s.
double HeapTracker::multiplier(size_t k, double now_s) const {
    const Window& w = windows_[k];
    if (w.close_s >= 0) return w.multiplier;
    const double span_start = k ? windows_[k - 1].close_s : 0;
    return span_multiplier(now_s - span_start, now_s - w.open_s);
}

// A window's samples stand for the births of the pause before it once a
// later window has opened: those of objects that live a few seconds die in
// the pause after, so counted at once they would show a cohort as large as
// the pause while it is fresh and a small one later, and where a reading
// falls in the cycle would show as growth. Until then, for their own births.
double HeapTracker::live_multiplier(size_t k) const {
    return k + 1 < windows_.size() ? windows_[k].multiplier : 1.0;
}

double HeapTracker::births_until(double t_s) const {
    const size_t last = windows_.size() - 1;
    const Window& w = windows_[last];
    const double span_start = last ? windows_[last - 1].close_s : 0;
    return span_start + std::max(0.0, (w.close_s >= 0 ? std::min(t_s, w.close_s) : t_s) - w.open_s);
}

// Whether the memory still holds the sampled object (native blocks: always,
// unless a sealed one held an object).
bool HeapTracker::still_there(const proc::MemoryReader& mem, const LiveKey& key, const Sample& s) const {
    if (key.family != LS_FAMILY_OBJECT && !s.content) return true;
    return python::live_object_type(mem, layout_, key.addr) == s.type &&
           (!s.content || content_(key.addr, s.type) == s.content);
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
        if (seq && *seq == s.seq && still_there(mem, key, s)) {
            if (!s.sized)
                if (auto size = size_(key.addr, s.type)) resize(it->second, *size);
            ++it;
            continue;
        }
        if (seq && *seq == s.seq)
            tracer.forget(key.family, key.addr);
        else
            reborn(s, now_s);
        retire(s);
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
    // Sums of the open window (zero when every window is closed), as it stands now.
    const double open_multiplier = multiplier(windows_.size() - 1, t_s);
    const auto turnovers = fit_turnovers();
    const double observed_now = observed_until(t_s);
    std::unordered_map<analysis::SiteId, Amount> unseen_deaths;
    for (const auto& [key, s] : live_) {
        auto& r = readings[s.site];
        r.site = s.site;
        double weight = s.weight * live_multiplier(s.window);
        if (auto it = turnovers.find(s.site); it != turnovers.end()) {
            const double unobserved = (t_s - s.born_s) - (observed_now - observed_until(s.born_s));
            const double alive = it->second.alive(s.observed_s, std::max(0.0, unobserved));
            unseen_deaths[s.site].add(weight * (1 - alive), s.size);
            weight *= alive;
        }
        r.live_bytes += weight * s.size;
        r.live_objects += weight;
        if (s.born_s < last_full_gc_s_) r.survived_full_gc_bytes += weight * s.size;
        if (key.family == LS_FAMILY_OBJECT) heap += weight * s.size;
    }
    analysis::Snapshot snap;
    snap.t_s = births_until(t_s);
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
        Amount alloc = totals.alloc, freed = totals.freed;
        alloc.add_scaled(totals.open_alloc, open_multiplier);
        freed.add_scaled(totals.open_freed, open_multiplier);
        if (auto it = unseen_deaths.find(id); it != unseen_deaths.end()) freed.add_scaled(it->second, 1);
        r.alloc_bytes = alloc.bytes;
        r.alloc_objects = alloc.objects;
        r.freed_bytes = freed.bytes;
        r.freed_objects = freed.objects;
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

// Only sites with a seasoned sample reborn have deaths to estimate.
std::unordered_map<analysis::SiteId, Turnover> HeapTracker::fit_turnovers() const {
    std::unordered_map<analysis::SiteId, std::vector<double>> survivors;
    for (const auto& [id, totals] : totals_)
        if (totals.kills > 0) survivors[id];
    for (const auto& [key, s] : live_)
        if (auto it = survivors.find(s.site); it != survivors.end() && s.observed_s > 0)
            it->second.push_back(s.observed_s);
    std::unordered_map<analysis::SiteId, Turnover> fitted;
    for (auto& [id, observed] : survivors) {
        const auto& totals = totals_.at(id);
        fitted[id] = fit_turnover(totals.kills, totals.killed_observed_s, observed);
    }
    return fitted;
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
