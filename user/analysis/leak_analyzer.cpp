// SPDX-License-Identifier: BSD-2-Clause
#include "analysis/leak_analyzer.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <unordered_set>

#include "analysis/trend.h"

namespace leakscope::analysis {

const char* to_string(Verdict verdict) {
    switch (verdict) {
    case Verdict::Leak:
        return "leak";
    case Verdict::ProbableLeak:
        return "probable-leak";
    }
    return "probable-leak";
}

const char* to_string(Trend trend) {
    switch (trend) {
    case Trend::Stable:
        return "stable";
    case Trend::Growing:
        return "growing";
    case Trend::Settled:
        return "settled";
    case Trend::Shrinking:
        return "shrinking";
    case Trend::Building:
        return "building";
    case Trend::ProbableLeak:
        return "probable-leak";
    case Trend::Leak:
        return "leak";
    }
    return "stable";
}

LeakAnalyzer::LeakAnalyzer(Options options) : options_(options) {
    // Merging needs an even window of a useful size, and the recent/earlier
    // split needs at least two readings on each side.
    options_.window_readings = std::max<size_t>(options_.window_readings, 16);
    options_.window_readings -= options_.window_readings % 2;
    options_.recent_min_readings = std::max<size_t>(options_.recent_min_readings, 2);
    options_.recent_max_readings =
        std::clamp(options_.recent_max_readings, options_.recent_min_readings, options_.window_readings / 2);
    options_.min_readings = std::max<size_t>(options_.min_readings, 3);
}

bool LeakAnalyzer::add(const Snapshot& snapshot) {
    if (!intervals_.empty() && snapshot.t_s <= last_t_s_) return false;

    const uint64_t new_full = snapshot.full_collections > last_full_collections_
                                  ? snapshot.full_collections - last_full_collections_
                                  : 0;
    IntervalTotals totals;
    totals.t_s = snapshot.t_s;
    totals.full_collections = new_full;
    totals.collections =
        snapshot.collections > last_collections_ ? snapshot.collections - last_collections_ : 0;
    totals.rss_bytes = snapshot.rss_bytes;
    totals.python_heap_bytes = snapshot.python_heap_bytes;

    auto add_to_totals = [&totals](const Site& site) {
        totals.live_bytes += site.latest.live_bytes;
        totals.live_objects += site.latest.live_objects;
        totals.alloc_bytes += std::max(0.0, site.latest.alloc_bytes - site.previous.alloc_bytes);
        totals.alloc_objects += std::max(0.0, site.latest.alloc_objects - site.previous.alloc_objects);
        totals.freed_bytes += std::max(0.0, site.latest.freed_bytes - site.previous.freed_bytes);
        totals.freed_objects += std::max(0.0, site.latest.freed_objects - site.previous.freed_objects);
    };

    std::unordered_set<SiteId> seen;
    seen.reserve(snapshot.sites.size());
    for (const auto& reading : snapshot.sites) {
        if (!seen.insert(reading.site).second) continue;  // a site is read once per snapshot
        auto [it, added] = sites_.try_emplace(reading.site);
        Site& site = it->second;
        if (added) {
            // A site forgotten while empty comes back with its cumulative
            // counters: count only what happened since it was forgotten.
            if (auto f = forgotten_.find(reading.site); f != forgotten_.end()) {
                site.latest = f->second;
                forgotten_.erase(f);
            }
        }
        record(site, reading, snapshot, new_full);
        add_to_totals(site);
    }
    for (auto& [id, site] : sites_) {
        if (seen.contains(id)) continue;
        // Absent: nothing live, cumulative counters unchanged.
        SiteReading empty = site.latest;
        empty.live_bytes = empty.live_objects = empty.survived_full_gc_bytes = 0;
        empty.running_samples = 0;
        record(site, empty, snapshot, new_full);
        add_to_totals(site);
    }
    for (auto& [id, site] : sites_) credit_running_callers(site);
    for (auto it = sites_.begin(); it != sites_.end();) {
        Site& site = it->second;
        if (site.empty_streak >= options_.forget_after_empty) {
            forgotten_[it->first] = site.latest;
            it = sites_.erase(it);
            continue;
        }
        site.assessment = assess(site);
        ++it;
    }

    intervals_.push_back(totals);
    last_t_s_ = snapshot.t_s;
    last_full_collections_ = std::max(last_full_collections_, snapshot.full_collections);
    last_collections_ = std::max(last_collections_, snapshot.collections);
    return true;
}

void LeakAnalyzer::record(Site& site, const SiteReading& reading, const Snapshot& snapshot,
                          uint64_t new_full_collections) {
    const double t_s = snapshot.t_s;
    site.previous = site.latest;
    site.latest = reading;
    site.stack_samples += snapshot.stack_samples;
    site.caller = reading.caller;
    site.last_growth = 0;
    site.last_running = 0;
    if (snapshot.stack_samples > 0) {  // without samples nothing is known of what ran
        site.last_growth = std::max(0.0, reading.live_bytes - site.previous.live_bytes);
        site.last_running = double(std::min(reading.running_samples, snapshot.stack_samples)) /
                            double(snapshot.stack_samples);
        site.growth_bytes += site.last_growth;
        site.own_running_growth_bytes += site.last_growth * site.last_running;
    }

    // Only collections that ran while the site held memory say anything about it.
    if (new_full_collections > 0 && site.previous.live_bytes > 0) {
        site.full_collections += new_full_collections;
        if (reading.survived_full_gc_bytes >= options_.survived_fraction * site.previous.live_bytes)
            site.full_collections_survived += new_full_collections;
    }
    site.empty_streak = reading.live_bytes > 0 ? 0 : site.empty_streak + 1;

    WindowPoint point;
    point.t = point.first_t = t_s;
    point.bytes = point.first_bytes = point.last_bytes = reading.live_bytes;
    site.window.push_back(point);
    if (site.window.size() > options_.window_readings) compact(site.window);
}

// The latest interval's growth, counted as made while running by the largest
// share of samples that ran the site's own stack or that of a caller site
// which is itself a heap being built (most of its material growth made while
// its own stack ran): a loader's callees belong to the same load.
void LeakAnalyzer::credit_running_callers(Site& site) const {
    // Each caller's stack is shorter than its callee's, so chains end; the
    // bound only guards against colliding site ids.
    constexpr int kMaxCallers = 256;
    double running = site.last_running;
    SiteId caller = site.caller;
    for (int depth = 0; caller && depth < kMaxCallers; ++depth) {
        auto it = sites_.find(caller);
        if (it == sites_.end()) break;
        const Site& c = it->second;
        if (c.stack_samples >= options_.building_min_samples && c.growth_bytes >= options_.min_growth_bytes &&
            c.own_running_share() >= options_.lend_min_share)
            running = std::max(running, c.last_running);
        caller = c.caller;
    }
    site.running_growth_bytes += site.last_growth * running;
}

void LeakAnalyzer::compact(std::vector<WindowPoint>& window) {
    size_t older = window.size() / 2;
    older -= older % 2;
    std::vector<WindowPoint> merged;
    merged.reserve(window.size() - older / 2);
    for (size_t i = 0; i < older; i += 2) {
        const WindowPoint& a = window[i];
        const WindowPoint& b = window[i + 1];
        WindowPoint m;
        m.merged = a.merged + b.merged;
        const double wa = static_cast<double>(a.merged), wb = static_cast<double>(b.merged);
        m.t = (a.t * wa + b.t * wb) / (wa + wb);
        m.first_t = a.first_t;
        m.bytes = (a.bytes * wa + b.bytes * wb) / (wa + wb);
        m.first_bytes = a.first_bytes;
        m.last_bytes = b.last_bytes;
        m.inner_intervals = a.inner_intervals + b.inner_intervals + 1;
        m.inner_grew = a.inner_grew + b.inner_grew + (b.first_bytes > a.last_bytes);
        m.inner_shrank = a.inner_shrank + b.inner_shrank + (b.first_bytes < a.last_bytes);
        merged.push_back(m);
    }
    merged.insert(merged.end(), window.begin() + static_cast<std::ptrdiff_t>(older), window.end());
    window = std::move(merged);
}

LeakAnalyzer::Assessment LeakAnalyzer::assess(const Site& site) const {
    Assessment result;
    Evidence& e = result.evidence;
    const auto& window = site.window;
    const size_t n = window.size();

    e.readings = n;
    e.window_s = window.back().t - window.front().first_t;
    e.full_collections = site.full_collections;
    e.full_collections_survived = site.full_collections_survived;
    e.survived_full_gc_bytes = site.latest.survived_full_gc_bytes;
    e.growth_running_share = site.growth_bytes > 0 ? site.running_growth_bytes / site.growth_bytes : 0;
    for (size_t i = 0; i < n; ++i) {
        const WindowPoint& p = window[i];
        e.intervals += p.inner_intervals;
        e.grew_intervals += p.inner_grew;
        e.shrank_intervals += p.inner_shrank;
        if (i > 0) {
            ++e.intervals;
            e.grew_intervals += p.first_bytes > window[i - 1].last_bytes;
            e.shrank_intervals += p.first_bytes < window[i - 1].last_bytes;
        }
    }

    std::vector<TrendPoint> points;
    points.reserve(n);
    for (const auto& p : window) points.push_back({p.t, p.bytes});
    const std::span<const TrendPoint> all(points);

    const LineFit fit = fit_line(all);
    e.slope_bytes_per_s = fit.slope;
    e.r2 = fit.r2;
    e.growth_bytes = fit.slope * e.window_s;

    // Flattening is judged on the last `recent` readings and, so that a stop
    // shows within a few readings, also on the shortest recent part.
    const size_t recent = std::clamp((n + 2) / 3, options_.recent_min_readings, options_.recent_max_readings);
    if (n >= recent + 2) {
        size_t unmerged = 0;
        while (unmerged < n && window[n - 1 - unmerged].merged == 1) ++unmerged;
        const double noise = reading_noise(all.last(unmerged));
        // The earlier part shares its last reading with the recent part, so
        // the two slopes meet where the recent part starts.
        auto judge = [&](size_t k) {
            const LineFit recent_fit = fit_line(all.last(k));
            const LineFit earlier_fit = fit_line(all.first(n - k + 1));
            e.recent_slope_bytes_per_s = recent_fit.slope;
            e.earlier_slope_bytes_per_s = earlier_fit.slope;
            const double expected = options_.flatten_ratio * std::max(0.0, earlier_fit.slope);
            const double recent_se = noise / std::sqrt(recent_fit.spread_tt);
            return expected - recent_fit.slope > options_.flatten_min_z * recent_se;
        };
        e.flattening = (recent > options_.recent_min_readings && judge(options_.recent_min_readings)) || judge(recent);
    }

    const size_t previous_streak = site.assessment.flattening_streak;
    result.flattening_streak = e.flattening ? previous_streak + 1 : 0;

    const bool material = std::abs(e.growth_bytes) >= options_.min_growth_bytes;
    if (!material) return result;  // Stable; the trend test would not change that

    const MonotonicTrend mk = mann_kendall(all);
    e.trend_tau = mk.tau;
    e.trend_z = mk.z;

    if (e.growth_bytes < 0) {
        if (mk.z <= -options_.tag_min_trend_z) result.trend = Trend::Shrinking;
        return result;
    }
    const bool rising = mk.z >= options_.tag_min_trend_z;
    const bool gates = n >= options_.min_readings && e.window_s >= options_.min_window_s &&
                       e.growth_bytes >= options_.min_growth_fraction * site.latest.live_bytes;
    const bool steady =
        e.r2 >= options_.leak_min_r2 &&
        static_cast<double>(e.shrank_intervals) <=
            options_.leak_max_shrink_fraction * static_cast<double>(e.intervals) &&
        (n >= options_.probable_min_readings ||
         e.growth_bytes >= options_.early_min_growth_ratio * window.front().first_bytes);
    const bool significant = n >= options_.probable_min_readings && mk.z >= options_.probable_min_trend_z &&
                             e.r2 >= options_.probable_min_r2;

    // Entering takes clear evidence; staying takes only a trend that is still
    // there, so a suspect does not blink in and out with the noise.
    // A heap built by one call (still running, or returned and kept) is not
    // a leak, whether or not its growth has stopped yet.
    const bool building = site.stack_samples >= options_.building_min_samples &&
                          e.growth_running_share >= options_.building_min_share;
    if (building && rising) {
        result.trend = Trend::Building;
        return result;
    }
    const bool was_suspect = site.assessment.trend == Trend::Leak || site.assessment.trend == Trend::ProbableLeak;
    const bool suspect = gates && (was_suspect ? rising && result.flattening_streak < options_.flatten_confirm_readings
                                               : !e.flattening && (steady || significant));
    if (suspect)
        result.trend = steady ? Trend::Leak : Trend::ProbableLeak;
    else if (e.flattening && rising && gates)
        result.trend = Trend::Settled;
    else if (rising && !e.flattening)
        result.trend = Trend::Growing;
    if (!suspect) return result;

    // Steadiness weighs most; a longer record, memory that outlived a full
    // collection and a faster rate each add confidence or urgency.
    const double steadiness = (e.r2 + std::max(0.0, e.trend_tau)) / 2;
    const double persistence = std::min(1.0, static_cast<double>(e.intervals) / 12);
    const double survived = e.full_collections_survived > 0 ? 1.0 : 0.0;
    const double size = std::clamp(std::log2(1 + e.slope_bytes_per_s / kKiB) /
                                       std::log2(1 + options_.score_full_rate_bytes_per_s / kKiB),
                                   0.0, 1.0);
    result.score = std::clamp(0.45 * steadiness + 0.2 * persistence + 0.1 * survived + 0.25 * size, 0.0, 1.0);
    return result;
}

SiteSummary LeakAnalyzer::summarize(SiteId id, const Site& site) const {
    SiteSummary s;
    s.site = id;
    s.live_bytes = site.latest.live_bytes;
    s.live_objects = site.latest.live_objects;
    s.delta_bytes = site.latest.live_bytes - site.previous.live_bytes;
    s.delta_objects = site.latest.live_objects - site.previous.live_objects;
    s.alloc_bytes = site.latest.alloc_bytes;
    s.alloc_objects = site.latest.alloc_objects;
    s.freed_bytes = site.latest.freed_bytes;
    s.freed_objects = site.latest.freed_objects;
    s.survived_full_gc_bytes = site.latest.survived_full_gc_bytes;
    s.trend = site.assessment.trend;
    return s;
}

std::vector<SiteSummary> LeakAnalyzer::all_sites() const {
    std::vector<SiteSummary> all;
    all.reserve(sites_.size());
    for (const auto& [id, site] : sites_) all.push_back(summarize(id, site));
    std::sort(all.begin(), all.end(), [](const SiteSummary& a, const SiteSummary& b) {
        if (a.live_bytes != b.live_bytes) return a.live_bytes > b.live_bytes;
        if (a.alloc_bytes != b.alloc_bytes) return a.alloc_bytes > b.alloc_bytes;
        return a.site < b.site;
    });
    return all;
}

std::vector<SiteSummary> LeakAnalyzer::top_sites(size_t limit) const {
    std::vector<SiteSummary> all = all_sites();
    size_t keep = 0;
    while (keep < std::min(limit, all.size()) && all[keep].live_bytes > 0) ++keep;
    all.resize(keep);
    return all;
}

std::vector<std::pair<double, double>> LeakAnalyzer::history(SiteId site) const {
    std::vector<std::pair<double, double>> out;
    const auto it = sites_.find(site);
    if (it == sites_.end()) return out;
    for (const WindowPoint& p : it->second.window) out.emplace_back(p.t, p.bytes);
    return out;
}

void LeakAnalyzer::conclude() {
    for (auto& [id, site] : sites_) {
        Assessment& a = site.assessment;
        const bool suspect = a.trend == Trend::Leak || a.trend == Trend::ProbableLeak;
        // Nothing born or freed over the last two intervals: the site has stopped.
        const auto& w = site.window;
        const size_t n = w.size();
        const bool still = n >= 3 && w[n - 1].last_bytes == w[n - 2].last_bytes &&
                           w[n - 2].last_bytes == w[n - 3].last_bytes;
        if (suspect && a.evidence.flattening &&
            (still || a.evidence.growth_running_share >= options_.conclude_min_running_share)) {
            a.trend = Trend::Settled;
            a.score = 0;
        }
    }
}

std::vector<Suspect> LeakAnalyzer::suspects() const {
    std::vector<Suspect> out;
    for (const auto& [id, site] : sites_) {
        const Assessment& a = site.assessment;
        if (a.trend != Trend::Leak && a.trend != Trend::ProbableLeak) continue;
        Suspect s;
        s.site = id;
        s.verdict = a.trend == Trend::Leak ? Verdict::Leak : Verdict::ProbableLeak;
        s.score = a.score;
        s.live_bytes = site.latest.live_bytes;
        s.live_objects = site.latest.live_objects;
        s.growth_bytes_per_s = a.evidence.slope_bytes_per_s;
        s.evidence = a.evidence;
        out.push_back(s);
    }
    std::sort(out.begin(), out.end(), [](const Suspect& a, const Suspect& b) {
        if (a.score != b.score) return a.score > b.score;
        if (a.growth_bytes_per_s != b.growth_bytes_per_s) return a.growth_bytes_per_s > b.growth_bytes_per_s;
        return a.site < b.site;
    });
    return out;
}

std::optional<Evidence> LeakAnalyzer::evidence(SiteId site) const {
    const auto it = sites_.find(site);
    if (it == sites_.end()) return std::nullopt;
    return it->second.assessment.evidence;
}

std::optional<SiteSummary> LeakAnalyzer::summary(SiteId site) const {
    const auto it = sites_.find(site);
    if (it == sites_.end()) return std::nullopt;
    return summarize(it->first, it->second);
}

}  // namespace leakscope::analysis
