// SPDX-License-Identifier: BSD-2-Clause
// Sampled allocations followed until they die, grouped into sites.
//
// A sampled object is alive while the kernel's live map still holds its seq
// (no other object was born at its address) and its memory still looks like
// that object (non-zero, sane reference count and the same type): freed and
// freelisted objects have a zero count, pymalloc writes a free-list pointer
// over the first word of a freed block. Native blocks are alive until free().
//
// Under a budget the allocation probes are attached in windows. A sample
// born in a window stands for the births of the whole span since the
// previous window closed, not only of the window: its weight is multiplied
// by span / window (births assumed steady over the span), so live and
// allocated bytes are estimates of the process's, whatever the duty cycle.
// Its live bytes count so once the next window has opened (live_multiplier).
// Deaths while the probes are away that leave an object of the same kind at
// the address are estimated from the rebirths seen in windows (turnover.h).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "analysis/leak_analyzer.h"
#include "core/frame.h"
#include "proc/memory.h"
#include "python/layout.h"
#include "trace/turnover.h"

extern "C" {
#include "leakscope.h"
}

namespace leakscope::trace {

// The kernel's side of each sample: the live maps, keyed by address, hold the
// seq of the newest sample born there until user space forgets it.
class LiveMaps {
public:
    virtual ~LiveMaps() = default;
    virtual std::optional<uint64_t> live_seq(ls_family family, uint64_t addr) const = 0;
    virtual void forget(ls_family family, uint64_t addr) = 0;
};

// A site is one symbolized Python stack; several kernel stacks (different
// bytecode offsets on the same lines, different native callers) can be the
// same site. Its frames are those of the first sample with native frames
// under the Python ones, if any.
struct SiteInfo {
    Stack frames;
};

// A sample this old has been built: its constructor has filled it in.
constexpr double kBuiltS = 0.01;

class HeapTracker {
public:
    // resolve: kernel stack ids (Python, and native for native blocks; -1:
    // none) -> symbolized stack and its ls_stack_flags (called once per pair).
    using StackResolver = std::function<std::pair<Stack, uint32_t>(uint64_t stack_id, int32_t native_stack_id)>;
    // A fingerprint of an object's contents if they cannot change
    // (python::ObjectContent); nullopt otherwise.
    using ContentReader = std::function<std::optional<uint64_t>(uint64_t addr, uint64_t type)>;
    // An object's size once it exists (python::ObjectContent::size), read at
    // the first sweep after its birth (by then its constructor has run);
    // nullopt when it cannot be read. Without one, the size read at birth is kept.
    using SizeReader = std::function<std::optional<uint64_t>(uint64_t addr, uint64_t type)>;

    // layout: where objects keep their reference counts and type (the
    // default is a GIL build's header).
    HeapTracker(uint64_t start_ns, StackResolver resolve, ContentReader content = {}, SizeReader size = {},
                python::PyLayout layout = {});

    void add(const ls_sample& sample);

    // The allocation probes were attached / detached at t_s (seconds since
    // start_ns). The first window opens at the start, or at the first
    // attach if nothing was seen before it.
    void probes_attached(double t_s);
    void probes_detached(double t_s);
    // Before probes_detached(): fingerprints the open window's immutable
    // samples born before born_before_s (each once), so that an object born
    // at one's address while the probes are away is not taken for it. A
    // native block that holds such an object (a str or bytes too large for
    // pymalloc) is followed as that object from then on: its free() will not
    // be seen. Called just before the probes are removed, for the samples
    // built by then (kBuiltS): a block freed during the removal no longer
    // reads as the object it held. Then once they are out, for the rest.
    void seal_window(const proc::MemoryReader& mem, double born_before_s = HUGE_VAL);

    // Retires samples that died since the last sweep. full_collections is the
    // target's cumulative count of oldest-generation collections.
    void sweep(LiveMaps& live, const proc::MemoryReader& mem, double now_s, uint64_t full_collections);

    // Each thread's current Python stack, sampled during the interval: every
    // site whose whole stack one of them is running is counted as running.
    void sample_running(const std::vector<Stack>& thread_stacks);

    // The time up to which the live estimates at t_s count births: the last
    // window's samples stand only for their own births until a later window
    // opens (live_multiplier), so under a budget that is the span before the
    // last window plus how long it has been open; without a budget, t_s.
    // It only grows, and stands still while the probes are away.
    double births_until(double t_s) const;

    // The interval's readings, timed at births_until(t_s) (growth is fitted
    // against the births it counts); starts the next interval's running counts.
    analysis::Snapshot snapshot(double t_s, uint64_t full_collections, uint64_t collections, uint64_t rss_bytes);

    const SiteInfo* site(analysis::SiteId id) const;

    // Addresses of up to max sampled objects of the site still alive.
    std::vector<uint64_t> live_objects(analysis::SiteId id, size_t max) const;

private:
    struct Sample {
        ls_family family;
        uint64_t seq, type;
        uint32_t size;
        double weight;  // allocations this sample stands for within its window
        double born_s;
        analysis::SiteId site;
        size_t window;  // index into windows_
        std::optional<uint64_t> content;  // set when sealed, if immutable; then `type` is checked too
        bool sealed = false;  // seal_window() has read it (only the open window's are)
        bool sized = true;  // false: its size is read again at the next sweep
        double observed_s = 0;  // in windows since it was seasoned (turnover.h), without a rebirth
    };
    struct Amount {
        double bytes = 0, objects = 0;
        void add(double weight, double size) { bytes += weight * size, objects += weight; }
        void add_scaled(const Amount& o, double multiplier) {
            bytes += multiplier * o.bytes, objects += multiplier * o.objects;
        }
    };
    // Samples of the open window are summed apart: their span multiplier is
    // known only once the window closes.
    struct SiteTotals {
        Amount alloc, freed, open_alloc, open_freed;
        double kills = 0, killed_observed_s = 0;  // seasoned samples reborn in windows, and their observation
    };
    struct Window {
        double open_s, close_s;      // close_s < 0: still open
        double multiplier = 1;       // span / window, once closed
        double observed_before = 0;  // time the probes were attached before it opened
    };
    struct LiveKey {
        uint64_t addr;
        ls_family family;
        bool operator==(const LiveKey&) const = default;
    };
    struct LiveKeyHash {
        size_t operator()(const LiveKey& k) const { return std::hash<uint64_t>()(k.addr * 2 + k.family); }
    };

    analysis::SiteId site_of(uint64_t stack_id, int32_t native_stack_id);
    analysis::SiteId caller_of(analysis::SiteId id) const;
    bool still_there(const proc::MemoryReader& mem, const LiveKey& key, const Sample& s) const;
    size_t window_at(double t_s) const;
    double multiplier(size_t window, double now_s) const;
    double live_multiplier(size_t window) const;
    void retire(const Sample& s);
    bool seasoned(const Sample& s) const { return s.window + 2 < windows_.size(); }
    void reborn(const Sample& s, double now_s);
    double observed_until(double t_s) const;
    std::unordered_map<analysis::SiteId, Turnover> fit_turnovers() const;
    void resize(Sample& s, uint64_t size);
    void tally(const Sample& s, Amount& open, Amount& closed) const;

    uint64_t start_ns_;
    StackResolver resolve_;
    ContentReader content_;
    SizeReader size_;
    python::PyLayout layout_;
    struct StackKey {
        uint64_t python;
        int32_t native;
        bool operator==(const StackKey&) const = default;
    };
    struct StackKeyHash {
        size_t operator()(const StackKey& k) const { return std::hash<uint64_t>()(k.python * 31 + uint64_t(k.native)); }
    };
    std::unordered_map<StackKey, analysis::SiteId, StackKeyHash> site_by_stack_;
    std::unordered_map<analysis::SiteId, SiteInfo> sites_;
    std::unordered_map<analysis::SiteId, SiteTotals> totals_;
    std::unordered_map<LiveKey, Sample, LiveKeyHash> live_;
    std::unordered_set<analysis::SiteId> changed_;  // sites with a birth or death since the last snapshot
    std::unordered_map<analysis::SiteId, uint64_t> running_;  // this interval's running samples per site
    uint64_t stack_samples_ = 0;                              // this interval's sample_running calls
    double last_full_gc_s_ = -1;  // sweep time before the newest full collection
    uint64_t full_collections_seen_ = 0;
    double last_sweep_s_ = 0;
    std::vector<Window> windows_{{0, -1}};
};

}  // namespace leakscope::trace
