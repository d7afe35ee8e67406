// SPDX-License-Identifier: BSD-2-Clause
// The report model: plain data every reporter renders. It is filled by the
// tracer (target, memory, GC, drops, sampling) and from the leak analysis
// (report/build.h); nothing here refers to BPF. The JSON names of these
// fields are fixed by docs/json-contract.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/frame.h"

namespace leakscope::report {

struct Target {
    int pid = 0;
    std::string python;  // interpreter version, "3.11.7"
    std::string binary;  // path of the interpreter binary or libpython
    bool exec = false;   // it exec'd another program: the session ended there
    std::vector<int> untraced_children;  // forked while traced; their memory is not traced
    bool operator==(const Target&) const = default;
};

struct Memory {
    uint64_t rss_bytes = 0;
    std::optional<uint64_t> pss_bytes;          // unset when smaps_rollup could not be read
    std::optional<uint64_t> python_heap_bytes;  // unset when no estimate is available
    bool operator==(const Memory&) const = default;
};

// An allocation site among those holding the most live memory.
struct Site {
    uint64_t site_id = 0;
    Stack frames;  // innermost first
    uint64_t live_bytes = 0;
    uint64_t live_objects = 0;
    int64_t delta_bytes = 0;  // since the previous report
    int64_t delta_objects = 0;
    uint64_t alloc_bytes = 0;  // since tracing started
    uint64_t alloc_objects = 0;
    uint64_t free_bytes = 0;  // since tracing started
    uint64_t free_objects = 0;
    std::string trend;  // "stable", "growing", "settled", "shrinking", "probable-leak", "leak"
    bool operator==(const Site&) const = default;
};

// What a verdict rests on; see "Verdicts" in docs/json-contract.md.
struct Evidence {
    uint64_t readings = 0;
    double window_s = 0;
    uint64_t intervals = 0;
    uint64_t grew_intervals = 0;
    uint64_t shrank_intervals = 0;
    uint64_t growth_bytes = 0;
    double r2 = 0;
    double trend_tau = 0;
    double trend_z = 0;
    double recent_growth_bytes_per_s = 0;
    double earlier_growth_bytes_per_s = 0;
    bool flattening = false;
    uint64_t full_collections = 0;
    uint64_t full_collections_survived = 0;
    uint64_t survived_full_gc_bytes = 0;
    double growth_running_share = 0;  // share of the growth made while its stack (or a building caller's) ran
    bool operator==(const Evidence&) const = default;
};

// One reading of a site's live bytes (older readings are means of merged ones).
struct HistoryPoint {
    double t_s = 0;
    uint64_t live_bytes = 0;
    bool operator==(const HistoryPoint&) const = default;
};

struct Suspect {
    uint64_t site_id = 0;
    std::string verdict;  // "leak" or "probable-leak"
    double score = 0;     // [0, 1]
    uint64_t live_bytes = 0;
    uint64_t live_objects = 0;
    double growth_bytes_per_s = 0;
    Stack frames;  // innermost first
    Evidence evidence;
    std::string explanation;  // one line, plain words
    std::vector<std::string> held_by;  // root paths keeping sampled live objects alive (final report)
    std::vector<HistoryPoint> history;  // live bytes over the evidence window, oldest first
    bool operator==(const Suspect&) const = default;
};

// Process-wide totals of one report interval.
struct Interval {
    double t_s = 0;  // end of the interval, since tracing started
    uint64_t live_bytes = 0;
    uint64_t allocs = 0;  // objects allocated during the interval
    uint64_t frees = 0;   // objects freed during the interval
    uint64_t alloc_bytes = 0;
    uint64_t free_bytes = 0;
    uint64_t rss_bytes = 0;
    uint64_t python_heap_bytes = 0;  // estimate at the end
    bool operator==(const Interval&) const = default;
};

struct GcGeneration {
    uint64_t collections = 0;
    uint64_t collected = 0;
    uint64_t uncollectable = 0;
    bool operator==(const GcGeneration&) const = default;
};

struct GcPauses {
    uint64_t collections = 0;  // collections timed
    double total_ms = 0;
    double max_ms = 0;
    bool operator==(const GcPauses&) const = default;
};

struct Gc {
    bool observed = false;  // false: no GC probes, the other fields are unknown
    bool enabled = true;    // gc.isenabled() in the target
    std::vector<GcGeneration> generations;  // index = generation
    uint64_t old_generation_objects = 0;    // objects in the oldest generation
    uint64_t full_collections = 0;          // collections of the oldest generation
    // Pauses timed by probes on the collector (its entry/return or USDT
    // probes); unset when the build offers neither.
    std::optional<GcPauses> pauses;
    bool operator==(const Gc&) const = default;
};

// A drop or error counter, with what to do about it.
struct Drop {
    std::string name;  // e.g. "LIVE_MAP_FULL"
    uint64_t count = 0;
    std::string remedy;
    bool operator==(const Drop&) const = default;
};

struct Sampling {
    uint64_t sample_bytes = 0;  // mean bytes allocated between two samples
    uint64_t events = 0;        // allocation and free events seen by the probes
    bool operator==(const Sampling&) const = default;
};

// Where new memory was first touched: sampled page faults by Python stack.
// Cheap enough to leave on (no breakpoint), it sees growth the allocation
// probes miss between their windows, native memory and arenas included.
struct GrowthSite {
    Stack frames;  // innermost first; empty when no Python frame was running
    uint64_t faults = 0;  // sampled faults
    uint64_t bytes = 0;   // estimate: faults × period × page size
    std::string without_frames;  // frames empty: what the faulting thread was doing
    bool operator==(const GrowthSite&) const = default;
};

struct Growth {
    uint32_t fault_period = 0;  // one fault in this many walks the stack
    uint64_t sampled_faults = 0;
    uint64_t bytes = 0;                // estimate, all sites
    std::vector<GrowthSite> sites;     // most faults first
    bool operator==(const Growth&) const = default;
};

// pymalloc's growth by size class, from its pool refills (trace/pool_growth.h).
struct PoolTaker {
    Stack frames;  // innermost first; empty when no Python frame was running
    uint64_t taken = 0;
    std::string without_frames;  // frames empty: what the thread was doing
    bool operator==(const PoolTaker&) const = default;
};

struct PoolClass {
    uint32_t block_bytes = 0;
    uint64_t taken = 0;       // pools taken since tracing started
    uint64_t held = 0;        // of which still in use
    uint64_t held_bytes = 0;  // held × pool_bytes
    // The stacks that found the class full, most pools first: context, not
    // what holds the pools (churn that shares the class takes most of them).
    std::vector<PoolTaker> taken_by;
    bool operator==(const PoolClass&) const = default;
};

struct Pools {
    uint64_t pool_bytes = 0;  // POOL_SIZE of this build
    uint64_t taken = 0, held = 0, held_bytes = 0;
    std::vector<PoolClass> classes;  // most held first
    // When the refill probes were detached (churn refills cost over half the budget):
    // pools taken after are not counted. Unset: attached throughout.
    std::optional<double> detached_s;
    bool operator==(const Pools&) const = default;
};

struct Overhead {
    uint64_t probe_hits = 0;
    double estimated_cpu_s = 0;  // CPU time the probes are estimated to have cost the target
    // That time as a share of the target's own CPU time; nullopt: the probes
    // took 99% or more of it (the target ran over 100x slower).
    std::optional<double> estimated_pct = 0;
    std::optional<double> budget_pct;  // --max-overhead (or the continuous mode's default)
    double probe_floor_ns = 0;   // measured cost of an empty probe hit on this machine
    double return_probe_floor_ns = 0;  // and of an empty return probe's (two traps and more)
    double duty_cycle = 1;       // share of the time allocation probes were attached
    std::vector<std::string> adjustments;  // what was reduced or escalated, and why
    bool operator==(const Overhead&) const = default;
};

// Every stack holding or having allocated memory: what profiles and flame
// graphs are drawn from (top_sites is only the head of it).
struct ProfileStack {
    uint64_t site_id = 0;
    Stack frames;  // innermost first
    uint64_t live_bytes = 0;
    uint64_t live_objects = 0;
    uint64_t alloc_bytes = 0;  // since tracing started
    uint64_t alloc_objects = 0;
    bool operator==(const ProfileStack&) const = default;
};

struct Report {
    Target target;
    std::string mode;     // "trace" or "continuous" (--mode)
    double start_unix_s = 0;  // wall clock when tracing started
    double elapsed_s = 0;
    uint64_t interval = 0;  // 1 for the first report
    bool final = false;
    Memory memory;
    std::vector<Site> top_sites;    // most live bytes first
    std::vector<Suspect> suspects;  // highest score first
    std::vector<Interval> intervals;
    std::vector<ProfileStack> profile;  // most live bytes first
    std::optional<Growth> growth;  // unset when page faults are not sampled
    std::optional<Pools> pools;    // unset where pool refills are not traced (3.8, free-threaded, not found)
    Gc gc;
    std::vector<Drop> drops;
    Sampling sampling;
    Overhead overhead;
    bool operator==(const Report&) const = default;
};

}  // namespace leakscope::report
