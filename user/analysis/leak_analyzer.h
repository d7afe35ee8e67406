// SPDX-License-Identifier: BSD-2-Clause
// Leak analysis: turns the per-interval readings of every allocation site into
// top sites and leak suspects with a verdict and the evidence behind it.
// Pure computation on plain numbers: nothing here knows about BPF. The verdict
// rules are written down for users in docs/json-contract.md ("Verdicts").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace leakscope::analysis {

using SiteId = uint64_t;  // one Python stack

constexpr double kKiB = 1024;
constexpr double kMiB = 1024 * kKiB;

// One allocation site at one snapshot. Byte and object counts are estimates
// already scaled by the sampling weights, hence doubles.
struct SiteReading {
    SiteId site = 0;
    double live_bytes = 0;
    double live_objects = 0;
    double alloc_bytes = 0;  // cumulative since tracing started
    double alloc_objects = 0;
    double freed_bytes = 0;  // cumulative since tracing started
    double freed_objects = 0;
    // Live bytes allocated before the most recent full (oldest-generation)
    // collection and still alive after it.
    double survived_full_gc_bytes = 0;
    // Stack samples of the interval (Snapshot::stack_samples) in which a
    // thread was running this site's whole stack: the allocating line with
    // the same callers, a call that has not returned.
    uint64_t running_samples = 0;
    // The nearest site whose stack is an outer part of this one (this
    // site's allocating call was made from that site's line); 0: none.
    SiteId caller = 0;
};

// Everything known at the end of one interval. A site missing from `sites`
// holds no live memory at that time.
struct Snapshot {
    double t_s = 0;  // since tracing started; must increase from one snapshot to the next
    std::vector<SiteReading> sites;
    uint64_t full_collections = 0;  // cumulative count of oldest-generation collections
    uint64_t collections = 0;       // cumulative count of collections of any generation
    uint64_t rss_bytes = 0;
    uint64_t python_heap_bytes = 0;  // estimate
    uint64_t stack_samples = 0;      // thread-stack samples taken during the interval
};

// Thresholds of the verdicts, documented for users in docs/json-contract.md.
// Defaults are chosen so that a steady leak of ~50 KB/s is a "leak" after 5
// readings 2 s apart, while sampling jitter of +-20% and caches that fill up
// and stop are not suspects.
struct Options {
    // History kept per site. When full, the older half is merged pairwise, so
    // the window always spans the site's whole observed life with the recent
    // half at full resolution.
    size_t window_readings = 64;

    // Gates every suspect must pass.
    size_t min_readings = 5;
    double min_window_s = 8;
    double min_growth_bytes = 256 * kKiB;  // fitted growth over the window
    double min_growth_fraction = 0.10;     // fitted growth / the site's current live bytes
    // Flattening: the slope over the most recent readings (a third of the
    // window, clamped to [recent_min_readings, recent_max_readings], and also
    // just the last recent_min_readings) is below flatten_ratio times the
    // slope before them, by more than flatten_min_z standard errors of the
    // recent slope (so one noisy reading is not enough).
    size_t recent_min_readings = 4;
    size_t recent_max_readings = 8;
    double flatten_ratio = 0.3;
    double flatten_min_z = 1.64;
    // A suspect is dropped once flattening was seen this many times in a row.
    size_t flatten_confirm_readings = 2;

    // "leak": the growth is close to a straight line and (almost) never went back.
    double leak_min_r2 = 0.95;
    double leak_max_shrink_fraction = 0.10;  // of the intervals in the window
    // With fewer than probable_min_readings readings, a "leak" must also have
    // grown by this multiple of its first reading: a short run of jitter can
    // look like a straight rise, but not like a site that doubled.
    double early_min_growth_ratio = 1.0;

    // "probable-leak": a statistically clear upward trend through noise.
    size_t probable_min_readings = 10;
    double probable_min_trend_z = 3.72;  // Mann-Kendall, one-sided p <= 0.0001
    double probable_min_r2 = 0.50;

    // Trend tags of sites that are not suspects ("growing", "settled", "shrinking").
    double tag_min_trend_z = 1.64;  // one-sided p <= 0.05

    // A full collection counts as survived by a site when at least this share
    // of the site's live bytes before it were still alive after it.
    double survived_fraction = 0.5;

    // "building": a rising site that made at least this share of its growth
    // while its whole stack was running (weighted by the share of each
    // interval's stack samples; at least building_min_samples of them) is a
    // heap built by one call, such as a start-up load, not a leak. Growth
    // made while a building caller site was running counts too: the objects
    // a loader's callees allocate belong to the same load.
    double building_min_share = 0.9;
    uint64_t building_min_samples = 8;
    // A caller site lends its share once this much of its own growth was
    // made while its own stack ran (one stray sample on another line of a
    // multi-line statement costs a loader an eighth of an interval).
    double lend_min_share = 0.8;
    // At the end of a run (conclude()), a suspect that is flattening, and
    // either made at least this share of its growth while its call ran or
    // did not change at all over the last two intervals, is settled: no
    // later reading will come to confirm the flattening.
    double conclude_min_running_share = 0.5;

    // A site with no live memory for this many snapshots in a row is forgotten.
    size_t forget_after_empty = 30;

    // Score: growth rate at which the size component of the score saturates.
    double score_full_rate_bytes_per_s = 1 * kMiB;
};

enum class Verdict { ProbableLeak, Leak };
const char* to_string(Verdict verdict);  // "probable-leak", "leak"

// What a site's live memory is doing, for the top-sites listing.
enum class Trend {
    Stable,        // no material trend
    Growing,       // rising, but not (yet) enough evidence for a verdict
    Settled,       // grew materially, then flattened (a cache that filled up)
    Shrinking,     // falling materially
    Building,      // rising while the call allocating it is still running (a start-up load)
    ProbableLeak,  // a suspect with verdict probable-leak
    Leak,          // a suspect with verdict leak
};
const char* to_string(Trend trend);  // "stable", "growing", "settled", "shrinking", "building", "probable-leak", "leak"

struct SiteSummary {
    SiteId site = 0;
    double live_bytes = 0;
    double live_objects = 0;
    double delta_bytes = 0;  // since the previous snapshot
    double delta_objects = 0;
    double alloc_bytes = 0;  // cumulative
    double alloc_objects = 0;
    double freed_bytes = 0;  // cumulative
    double freed_objects = 0;
    double survived_full_gc_bytes = 0;
    Trend trend = Trend::Stable;
};

// The numbers a verdict rests on, over the site's analysis window.
struct Evidence {
    size_t readings = 0;          // points in the window (older ones merged)
    double window_s = 0;          // time from the first to the last reading
    size_t intervals = 0;         // snapshot-to-snapshot steps covered by the window
    size_t grew_intervals = 0;    // steps in which live bytes rose
    size_t shrank_intervals = 0;  // steps in which live bytes fell
    double growth_bytes = 0;      // fitted growth over window_s (slope * window_s)
    double slope_bytes_per_s = 0; // least-squares slope over the window
    double r2 = 0;                // of that fit
    double trend_tau = 0;         // Mann-Kendall tau
    double trend_z = 0;           // Mann-Kendall normal score
    double recent_slope_bytes_per_s = 0;   // over the most recent readings
    double earlier_slope_bytes_per_s = 0;  // over the readings before them
    bool flattening = false;
    uint64_t full_collections = 0;           // full collections since the site was first seen
    uint64_t full_collections_survived = 0;  // of those, how many its memory survived
    double survived_full_gc_bytes = 0;       // latest reading
    // Share of the site's growth made while its stack (or a building caller's) was running.
    double growth_running_share = 0;
};

struct Suspect {
    SiteId site = 0;
    Verdict verdict = Verdict::ProbableLeak;
    double score = 0;  // [0, 1], higher first
    double live_bytes = 0;
    double live_objects = 0;
    double growth_bytes_per_s = 0;
    Evidence evidence;
};

// Process-wide totals of one snapshot; counts are for the interval that ended
// with it (since the previous snapshot, or since tracing started for the first).
struct IntervalTotals {
    double t_s = 0;
    double live_bytes = 0;
    double live_objects = 0;
    double alloc_bytes = 0;
    double alloc_objects = 0;
    double freed_bytes = 0;
    double freed_objects = 0;
    uint64_t collections = 0;
    uint64_t full_collections = 0;
    uint64_t rss_bytes = 0;
    uint64_t python_heap_bytes = 0;
};

class LeakAnalyzer {
public:
    explicit LeakAnalyzer(Options options = {});

    // False (and nothing recorded) when the snapshot is not later than the last one.
    bool add(const Snapshot& snapshot);
    // The run is over: verdicts need no more protection from blinking.
    void conclude();

    // The `limit` sites holding the most live bytes, largest first.
    std::vector<SiteSummary> top_sites(size_t limit) const;
    // Every tracked site, most live bytes first (then most allocated).
    std::vector<SiteSummary> all_sites() const;
    // A site's evidence window as (t_s, live bytes), oldest first; merged
    // points carry the mean of the readings they stand for.
    std::vector<std::pair<double, double>> history(SiteId site) const;
    // Suspects, highest score first; empty when nothing leaks.
    std::vector<Suspect> suspects() const;
    // Evidence for any tracked site, suspect or not.
    std::optional<Evidence> evidence(SiteId site) const;
    std::optional<SiteSummary> summary(SiteId site) const;

    const std::vector<IntervalTotals>& intervals() const { return intervals_; }
    size_t snapshot_count() const { return intervals_.size(); }
    const Options& options() const { return options_; }

private:
    // One point of a site's window; after merging it stands for `merged`
    // consecutive snapshots and keeps their step counts.
    struct WindowPoint {
        double t = 0;      // mean over the merged snapshots
        double first_t = 0;
        double bytes = 0;  // mean over the merged snapshots
        size_t merged = 1;
        double first_bytes = 0, last_bytes = 0;
        size_t inner_intervals = 0, inner_grew = 0, inner_shrank = 0;
    };
    struct Assessment {
        Evidence evidence;
        Trend trend = Trend::Stable;
        double score = 0;
        size_t flattening_streak = 0;  // consecutive assessments that saw flattening
    };
    struct Site {
        SiteReading latest;
        SiteReading previous;  // zeros before the site was first seen
        std::vector<WindowPoint> window;
        uint64_t full_collections = 0;
        uint64_t full_collections_survived = 0;
        size_t empty_streak = 0;
        uint64_t stack_samples = 0;  // since first seen
        // Growth (sum of rises of live bytes in intervals with stack
        // samples), and the part of it made while its own stack was running,
        // and while its own or a building caller's was.
        double growth_bytes = 0, own_running_growth_bytes = 0, running_growth_bytes = 0;
        double last_growth = 0;      // the latest interval's rise
        double last_running = 0;     // the latest interval's share of samples running its own stack
        SiteId caller = 0;
        Assessment assessment;
        double own_running_share() const { return growth_bytes > 0 ? own_running_growth_bytes / growth_bytes : 0; }
    };

    void record(Site& site, const SiteReading& reading, const Snapshot& snapshot, uint64_t new_full_collections);
    void credit_running_callers(Site& site) const;
    static void compact(std::vector<WindowPoint>& window);
    Assessment assess(const Site& site) const;
    SiteSummary summarize(SiteId id, const Site& site) const;

    Options options_;
    std::unordered_map<SiteId, Site> sites_;
    // Cumulative counters of sites forgotten while empty, so that one coming
    // back is not counted from zero again.
    std::unordered_map<SiteId, SiteReading> forgotten_;
    std::vector<IntervalTotals> intervals_;
    double last_t_s_ = 0;
    uint64_t last_full_collections_ = 0;
    uint64_t last_collections_ = 0;
};

}  // namespace leakscope::analysis
