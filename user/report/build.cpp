// SPDX-License-Identifier: BSD-2-Clause
#include "report/build.h"

#include <fmt/format.h>

#include <cmath>
#include <utility>

#include "report/format.h"

namespace leakscope::report {

namespace {

// Estimates are fractional; reports count whole bytes and objects.
uint64_t whole(double estimate) { return estimate > 0 ? static_cast<uint64_t>(std::llround(estimate)) : 0; }
int64_t whole_signed(double estimate) { return static_cast<int64_t>(std::llround(estimate)); }

}  // namespace

Site make_site(const analysis::SiteSummary& summary, Stack frames) {
    Site site;
    site.site_id = summary.site;
    site.frames = std::move(frames);
    site.live_bytes = whole(summary.live_bytes);
    site.live_objects = whole(summary.live_objects);
    site.delta_bytes = whole_signed(summary.delta_bytes);
    site.delta_objects = whole_signed(summary.delta_objects);
    site.alloc_bytes = whole(summary.alloc_bytes);
    site.alloc_objects = whole(summary.alloc_objects);
    site.free_bytes = whole(summary.freed_bytes);
    site.free_objects = whole(summary.freed_objects);
    site.trend = analysis::to_string(summary.trend);
    return site;
}

Suspect make_suspect(const analysis::Suspect& suspect, Stack frames,
                     const std::vector<std::pair<double, double>>& history) {
    Suspect out;
    out.site_id = suspect.site;
    out.verdict = analysis::to_string(suspect.verdict);
    out.score = suspect.score;
    out.live_bytes = whole(suspect.live_bytes);
    out.live_objects = whole(suspect.live_objects);
    out.growth_bytes_per_s = suspect.growth_bytes_per_s;
    out.frames = std::move(frames);

    const analysis::Evidence& in = suspect.evidence;
    Evidence& e = out.evidence;
    e.readings = in.readings;
    e.window_s = in.window_s;
    e.intervals = in.intervals;
    e.grew_intervals = in.grew_intervals;
    e.shrank_intervals = in.shrank_intervals;
    e.growth_bytes = whole(in.growth_bytes);
    e.r2 = in.r2;
    e.trend_tau = in.trend_tau;
    e.trend_z = in.trend_z;
    e.recent_growth_bytes_per_s = in.recent_slope_bytes_per_s;
    e.earlier_growth_bytes_per_s = in.earlier_slope_bytes_per_s;
    e.flattening = in.flattening;
    e.full_collections = in.full_collections;
    e.full_collections_survived = in.full_collections_survived;
    e.survived_full_gc_bytes = whole(in.survived_full_gc_bytes);
    e.growth_running_share = in.growth_running_share;

    out.explanation = explain(out);
    for (const auto& [t, bytes] : history) out.history.push_back({t, whole(bytes)});
    return out;
}

ProfileStack make_profile_stack(const analysis::SiteSummary& summary, Stack frames) {
    return {summary.site, std::move(frames), whole(summary.live_bytes), whole(summary.live_objects),
            whole(summary.alloc_bytes), whole(summary.alloc_objects)};
}

Interval make_interval(const analysis::IntervalTotals& totals) {
    Interval interval;
    interval.t_s = totals.t_s;
    interval.live_bytes = whole(totals.live_bytes);
    interval.allocs = whole(totals.alloc_objects);
    interval.frees = whole(totals.freed_objects);
    interval.alloc_bytes = whole(totals.alloc_bytes);
    interval.free_bytes = whole(totals.freed_bytes);
    interval.rss_bytes = totals.rss_bytes;
    interval.python_heap_bytes = totals.python_heap_bytes;
    return interval;
}

std::vector<Interval> make_intervals(const std::vector<analysis::IntervalTotals>& totals) {
    std::vector<Interval> out;
    out.reserve(totals.size());
    for (const auto& t : totals) out.push_back(make_interval(t));
    return out;
}

std::string explain(const Suspect& suspect) {
    const Evidence& e = suspect.evidence;
    std::string text = fmt::format("grew {} over {} at {}, in {} of {} intervals (R\u00b2 {:.2f})",
                                   human_bytes(static_cast<double>(e.growth_bytes)), human_duration(e.window_s),
                                   human_rate(suspect.growth_bytes_per_s), e.grew_intervals, e.intervals, e.r2);
    auto plural = [](uint64_t n) { return n == 1 ? "" : "s"; };
    if (e.full_collections == 0)
        text += "; no full collection ran while it grew";
    else if (e.full_collections_survived == e.full_collections)
        text += fmt::format("; survived {} full collection{}", e.full_collections, plural(e.full_collections));
    else
        text += fmt::format("; survived {} of {} full collection{}", e.full_collections_survived,
                            e.full_collections, plural(e.full_collections));
    text += e.flattening ? "; may be flattening" : "; not flattening";
    return text;
}

}  // namespace leakscope::report
