// SPDX-License-Identifier: BSD-2-Clause
#include "report/json_reporter.h"

#include "report/format.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <tuple>

namespace leakscope::report {

namespace {

using json = nlohmann::ordered_json;

// Ratios and statistics carry three decimals: more would be noise.
double rounded(double value) { return std::isfinite(value) ? std::round(value * 1000) / 1000 : 0.0; }

json frame_json(const Frame& f) {
    return {{"file", f.file}, {"line", f.line >= 0 ? json(f.line) : json(nullptr)}, {"function", f.function},
            {"native", f.native}};
}

json frames_json(const Stack& frames) {
    json out = json::array();
    for (const Frame& f : frames) out.push_back(frame_json(f));
    return out;
}

// Every stack, its frames written once in a table: a run can have tens of
// thousands of stacks sharing most of their frames.
json profile_json(const std::vector<ProfileStack>& profile) {
    json frames = json::array(), stacks = json::array();
    std::map<std::tuple<std::string, int, std::string, bool>, size_t> ids;
    for (const ProfileStack& p : profile) {
        json refs = json::array();
        for (const Frame& f : p.frames) {
            auto [it, added] = ids.try_emplace({f.file, f.line, f.function, f.native}, frames.size());
            if (added) frames.push_back(frame_json(f));
            refs.push_back(it->second);
        }
        stacks.push_back({{"site_id", site_id_text(p.site_id)},
                          {"frames", std::move(refs)},
                          {"live_bytes", p.live_bytes},
                          {"live_objects", p.live_objects},
                          {"alloc_bytes", p.alloc_bytes},
                          {"alloc_objects", p.alloc_objects}});
    }
    return {{"frames", std::move(frames)}, {"stacks", std::move(stacks)}};
}

json evidence_json(const Evidence& e) {
    return {
        {"readings", e.readings},
        {"window_s", rounded(e.window_s)},
        {"intervals", e.intervals},
        {"grew_intervals", e.grew_intervals},
        {"shrank_intervals", e.shrank_intervals},
        {"growth_bytes", e.growth_bytes},
        {"r2", rounded(e.r2)},
        {"trend_tau", rounded(e.trend_tau)},
        {"trend_z", rounded(e.trend_z)},
        {"recent_growth_bytes_per_s", rounded(e.recent_growth_bytes_per_s)},
        {"earlier_growth_bytes_per_s", rounded(e.earlier_growth_bytes_per_s)},
        {"flattening", e.flattening},
        {"full_collections", e.full_collections},
        {"full_collections_survived", e.full_collections_survived},
        {"survived_full_gc_bytes", e.survived_full_gc_bytes},
        {"growth_running_share", rounded(e.growth_running_share)},
    };
}

template <typename T>
json optional_json(const std::optional<T>& value) {
    return value ? json(*value) : json(nullptr);
}

}  // namespace

nlohmann::ordered_json to_json(const Report& report) {
    json suspects = json::array();
    for (const Suspect& s : report.suspects) {
        json history = json::array();
        for (const HistoryPoint& h : s.history) history.push_back({{"t_s", rounded(h.t_s)}, {"live_bytes", h.live_bytes}});
        suspects.push_back({
            {"site_id", site_id_text(s.site_id)},
            {"verdict", s.verdict},
            {"score", rounded(s.score)},
            {"live_bytes", s.live_bytes},
            {"live_objects", s.live_objects},
            {"growth_bytes_per_s", rounded(s.growth_bytes_per_s)},
            {"frames", frames_json(s.frames)},
            {"evidence", evidence_json(s.evidence)},
            {"explanation", s.explanation},
            {"held_by", s.held_by},
            {"history", std::move(history)},
        });
    }

    json top_sites = json::array();
    for (const Site& s : report.top_sites) {
        top_sites.push_back({
            {"site_id", site_id_text(s.site_id)},
            {"live_bytes", s.live_bytes},
            {"live_objects", s.live_objects},
            {"delta_bytes", s.delta_bytes},
            {"delta_objects", s.delta_objects},
            {"alloc_bytes", s.alloc_bytes},
            {"alloc_objects", s.alloc_objects},
            {"free_bytes", s.free_bytes},
            {"free_objects", s.free_objects},
            {"trend", s.trend},
            {"frames", frames_json(s.frames)},
        });
    }

    json intervals = json::array();
    for (const Interval& i : report.intervals) {
        intervals.push_back({
            {"t_s", rounded(i.t_s)},
            {"live_bytes", i.live_bytes},
            {"allocs", i.allocs},
            {"frees", i.frees},
            {"alloc_bytes", i.alloc_bytes},
            {"free_bytes", i.free_bytes},
            {"rss_bytes", i.rss_bytes},
            {"python_heap_bytes", i.python_heap_bytes},
        });
    }

    json generations = json::array();
    for (size_t g = 0; g < report.gc.generations.size(); ++g) {
        const GcGeneration& gen = report.gc.generations[g];
        generations.push_back({
            {"generation", g},
            {"collections", gen.collections},
            {"collected", gen.collected},
            {"uncollectable", gen.uncollectable},
        });
    }

    json growth = nullptr;
    if (report.growth) {
        json sites = json::array();
        for (const GrowthSite& g : report.growth->sites)
            sites.push_back({{"faults", g.faults}, {"bytes", g.bytes}, {"frames", frames_json(g.frames)},
                             {"without_frames", g.frames.empty() ? json(g.without_frames) : json(nullptr)}});
        growth = {{"fault_period", report.growth->fault_period},
                  {"sampled_faults", report.growth->sampled_faults},
                  {"bytes", report.growth->bytes},
                  {"sites", std::move(sites)}};
    }

    json pools = nullptr;
    if (report.pools) {
        const Pools& p = *report.pools;
        json classes = json::array();
        for (const PoolClass& c : p.classes) {
            json taken_by = json::array();
            for (const PoolTaker& t : c.taken_by)
                taken_by.push_back({{"taken", t.taken}, {"frames", frames_json(t.frames)},
                                    {"without_frames", t.frames.empty() ? json(t.without_frames) : json(nullptr)}});
            classes.push_back({{"block_bytes", c.block_bytes}, {"taken", c.taken}, {"held", c.held},
                               {"held_bytes", c.held_bytes}, {"taken_by", std::move(taken_by)}});
        }
        pools = {{"pool_bytes", p.pool_bytes}, {"taken", p.taken}, {"held", p.held}, {"held_bytes", p.held_bytes},
                 {"classes", std::move(classes)},
                 {"detached_s", p.detached_s ? json(rounded(*p.detached_s)) : json(nullptr)}};
    }

    json drops = json::object();
    for (const Drop& d : report.drops) drops[d.name] = {{"count", d.count}, {"remedy", d.remedy}};

    return {
        {"schema_version", kJsonSchemaVersion},
        {"target", {{"pid", report.target.pid}, {"python", report.target.python}, {"binary", report.target.binary},
                    {"exec", report.target.exec}, {"untraced_children", report.target.untraced_children}}},
        {"mode", report.mode},
        {"start_unix_s", rounded(report.start_unix_s)},
        {"duration_s", rounded(report.elapsed_s)},
        {"interval", report.interval},
        {"final", report.final},
        {"memory",
         {{"rss_bytes", report.memory.rss_bytes},
          {"pss_bytes", optional_json(report.memory.pss_bytes)},
          {"python_heap_bytes", optional_json(report.memory.python_heap_bytes)}}},
        {"suspects", std::move(suspects)},
        {"top_sites", std::move(top_sites)},
        {"intervals", std::move(intervals)},
        {"profile", profile_json(report.profile)},
        {"growth", std::move(growth)},
        {"pools", std::move(pools)},
        {"gc",
         {{"observed", report.gc.observed},
          {"enabled", report.gc.enabled},
          {"full_collections", report.gc.full_collections},
          {"old_generation_objects", report.gc.old_generation_objects},
          {"generations", std::move(generations)},
          {"pauses", report.gc.pauses ? json{{"collections", report.gc.pauses->collections},
                                             {"total_ms", rounded(report.gc.pauses->total_ms)},
                                             {"max_ms", rounded(report.gc.pauses->max_ms)}}
                                      : json(nullptr)}}},
        {"drops", std::move(drops)},
        {"sampling", {{"sample_bytes", report.sampling.sample_bytes}, {"events", report.sampling.events}}},
        {"overhead",
         {{"probe_hits", report.overhead.probe_hits},
          {"estimated_cpu_s", rounded(report.overhead.estimated_cpu_s)},
          {"estimated_pct",
           report.overhead.estimated_pct ? json(rounded(*report.overhead.estimated_pct)) : json(nullptr)},
          {"budget_pct", report.overhead.budget_pct ? json(rounded(*report.overhead.budget_pct)) : json(nullptr)},
          {"probe_floor_ns", rounded(report.overhead.probe_floor_ns)},
          {"return_probe_floor_ns", rounded(report.overhead.return_probe_floor_ns)},
          {"duty_cycle", rounded(report.overhead.duty_cycle)},
          {"adjustments", report.overhead.adjustments}}},
    };
}

void JsonReporter::write(const Report& report, std::ostream& out) const {
    // Frames hold escaped but arbitrary text from the target; never let a bad
    // byte sequence abort the report.
    out << to_json(report).dump(options_.indent, ' ', false, json::error_handler_t::replace) << '\n';
}

}  // namespace leakscope::report
