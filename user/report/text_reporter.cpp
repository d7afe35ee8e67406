// SPDX-License-Identifier: BSD-2-Clause
#include "report/text_reporter.h"

#include <fmt/color.h>
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <string_view>

#include "report/format.h"

namespace leakscope::report {

namespace {

class Painter {
public:
    explicit Painter(bool tty) : tty_(tty) {}
    std::string operator()(std::string_view text, fmt::text_style style) const {
        return tty_ ? fmt::format("{}", fmt::styled(text, style)) : std::string(text);
    }

private:
    bool tty_;
};

fmt::text_style verdict_style(std::string_view verdict) {
    return verdict == "leak" ? fmt::fg(fmt::terminal_color::red) | fmt::emphasis::bold
                             : fmt::fg(fmt::terminal_color::yellow) | fmt::emphasis::bold;
}

const fmt::text_style kHeading = fmt::emphasis::bold;
const fmt::text_style kDim = fmt::fg(fmt::terminal_color::bright_black);

void write_frames(std::ostream& out, const Stack& frames, size_t limit, size_t max_path_chars,
                  const Painter& paint) {
    if (frames.empty()) {
        fmt::print(out, "       {}\n", paint("(no Python frames)", kDim));
        return;
    }
    const size_t shown = std::min(limit, frames.size());
    for (size_t i = 0; i < shown; ++i) fmt::print(out, "       {}\n", frame_location(frames[i], max_path_chars));
    if (shown < frames.size()) {
        const size_t more = frames.size() - shown;
        fmt::print(out, "       {}\n", paint(fmt::format("... {} more frame{}", more, more == 1 ? "" : "s"), kDim));
    }
}

}  // namespace

// Forked children named in the header; the rest are counted.
constexpr size_t kMaxNamedPids = 16;

void TextReporter::write(const Report& report, std::ostream& out) const {
    const Painter paint(options_.tty);

    // Header.
    fmt::print(out, "{} pid {}, Python {}", paint("leakscope:", kHeading), report.target.pid,
               report.target.python.empty() ? "?" : report.target.python);
    if (!report.target.binary.empty()) fmt::print(out, " ({})", report.target.binary);
    const auto& budget = report.overhead.budget_pct;
    fmt::print(out, "\nmode {} ({}), elapsed {}, report {}{}\n", report.mode.empty() ? "?" : report.mode,
               budget ? fmt::format("budget {:g}% of the target's CPU time", *budget)
                      : std::string("no budget: every allocation traced"),
               human_duration(report.elapsed_s), report.interval, report.final ? " (final)" : "");
    if (report.target.exec)
        fmt::print(out, "{}\n", paint("the target exec'd another program: tracing ended there", kHeading));
    if (const auto& kids = report.target.untraced_children; !kids.empty()) {
        const size_t named = std::min<size_t>(kids.size(), kMaxNamedPids);
        fmt::print(out, "{} forked while traced, not traced: PID {}{}\n",
                   paint(fmt::format("{} child process{}", kids.size(), kids.size() == 1 ? "" : "es"), kHeading),
                   fmt::join(kids.begin(), kids.begin() + long(named), ", "), named < kids.size() ? ", ..." : "");
    }

    // Memory.
    fmt::print(out, "\n{}\n  RSS {}", paint("MEMORY", kHeading), human_bytes(static_cast<double>(report.memory.rss_bytes)));
    if (report.memory.pss_bytes) fmt::print(out, ", PSS {}", human_bytes(static_cast<double>(*report.memory.pss_bytes)));
    if (report.memory.python_heap_bytes)
        fmt::print(out, ", Python heap ~{}", human_bytes(static_cast<double>(*report.memory.python_heap_bytes)));
    fmt::print(out, "\n");

    // Top allocation sites.
    fmt::print(out, "\n{}\n", paint("TOP ALLOCATION SITES (by live bytes)", kHeading));
    if (report.top_sites.empty()) fmt::print(out, "  none\n");
    const size_t sites = std::min(options_.max_sites, report.top_sites.size());
    for (size_t i = 0; i < sites; ++i) {
        const Site& site = report.top_sites[i];
        std::string tag;
        if (site.trend == "leak" || site.trend == "probable-leak")
            tag = " " + paint("[" + site.trend + "]", verdict_style(site.trend));
        else if (!site.trend.empty() && site.trend != "stable")
            tag = " [" + site.trend + "]";
        fmt::print(out, "  {:>2}. {} live ({} since last report), {} objects{}\n", i + 1,
                   human_bytes(static_cast<double>(site.live_bytes)),
                   human_signed_bytes(static_cast<double>(site.delta_bytes)), human_count(site.live_objects), tag);
        fmt::print(out, "       {}\n",
                   paint(fmt::format("allocated {} objects, freed {}", human_count(site.alloc_objects),
                                     human_count(site.free_objects)),
                         kDim));
        write_frames(out, site.frames, options_.frames_per_site, options_.max_path_chars, paint);
    }

    // Where memory grew: sampled page faults.
    if (report.growth) {
        const Growth& g = *report.growth;
        fmt::print(out, "\n{}\n", paint("MEMORY GROWTH (new pages touched, sampled page faults)", kHeading));
        if (g.sites.empty()) fmt::print(out, "  none\n");
        const size_t shown = std::min(options_.max_growth_sites, g.sites.size());
        for (size_t i = 0; i < shown; ++i) {
            const GrowthSite& site = g.sites[i];
            fmt::print(out, "  {:>2}. ~{} ({:.0f}%)\n", i + 1, human_bytes(static_cast<double>(site.bytes)),
                       g.sampled_faults ? 100.0 * double(site.faults) / double(g.sampled_faults) : 0.0);
            if (site.frames.empty() && !site.without_frames.empty())
                fmt::print(out, "       {}\n", paint("(" + site.without_frames + ")", kDim));
            else
                write_frames(out, site.frames, options_.frames_per_site, options_.max_path_chars, paint);
        }
        fmt::print(out, "  {}\n", paint(fmt::format("~{} in all; one fault in {} sampled ({} samples)",
                                                    human_bytes(static_cast<double>(g.bytes)), g.fault_period,
                                                    human_count(g.sampled_faults)),
                                        kDim));
    }

    // pymalloc's growth by size class, with the stacks that found each class full.
    if (report.pools) {
        const Pools& p = *report.pools;
        fmt::print(out, "\n{}\n", paint("PYMALLOC POOLS HELD (small objects' growth by size class, from pool "
                                           "refills)", kHeading));
        size_t shown = 0;
        for (const PoolClass& c : p.classes) {
            if (!c.held || shown == options_.max_growth_sites) break;
            fmt::print(out, "  {:>2}. {}-byte blocks: ~{} held, {} of {} pools taken still in use\n", ++shown,
                       c.block_bytes, human_bytes(static_cast<double>(c.held_bytes)), human_count(c.held),
                       human_count(c.taken));
            for (const PoolTaker& t : c.taken_by) {
                const std::string where = t.frames.empty() ? "(" + t.without_frames + ")"
                                                           : frame_location(t.frames[0], options_.max_path_chars);
                fmt::print(out, "       {}\n", paint(fmt::format("{} taken at {}", human_count(t.taken), where), kDim));
            }
        }
        if (!shown) fmt::print(out, "  none held\n");
        if (p.detached_s)
            fmt::print(out, "  {}\n", paint(fmt::format("refill probes detached at {}: pools taken since are not "
                                                        "counted", human_duration(*p.detached_s)), kDim));
        fmt::print(out, "  {}\n", paint(fmt::format("~{} held in all; {} of {} pools of {} taken still in use; "
                                                    "\"taken at\": the allocation that found its class full, not "
                                                    "what holds the pool",
                                                    human_bytes(static_cast<double>(p.held_bytes)),
                                                    human_count(p.held), human_count(p.taken),
                                                    human_bytes(static_cast<double>(p.pool_bytes))),
                                        kDim));
    }

    // Leak suspects, with full stacks.
    fmt::print(out, "\n{}\n", paint("LEAK SUSPECTS", kHeading));
    if (report.suspects.empty()) fmt::print(out, "  none\n");
    for (size_t i = 0; i < report.suspects.size(); ++i) {
        const Suspect& s = report.suspects[i];
        fmt::print(out, "  {:>2}. {} (score {:.2f}): {} live in {} objects, growing {}\n", i + 1,
                   paint(s.verdict, verdict_style(s.verdict)), s.score, human_bytes(static_cast<double>(s.live_bytes)),
                   human_count(s.live_objects), human_rate(s.growth_bytes_per_s));
        fmt::print(out, "       {}\n", s.explanation);
        for (const auto& path : s.held_by) fmt::print(out, "       held by {}\n", path);
        write_frames(out, s.frames, s.frames.size(), options_.max_path_chars, paint);
    }

    // GC.
    fmt::print(out, "\n{}\n", paint("GC", kHeading));
    if (!report.gc.observed) {
        fmt::print(out, "  not observed\n");
    } else {
        fmt::print(out, "  {}, {} full collection{}, {} objects in the oldest generation\n",
                   report.gc.enabled ? "enabled" : paint("DISABLED", verdict_style("probable-leak")),
                   human_count(report.gc.full_collections), report.gc.full_collections == 1 ? "" : "s",
                   human_count(report.gc.old_generation_objects));
        for (size_t g = 0; g < report.gc.generations.size(); ++g) {
            const GcGeneration& gen = report.gc.generations[g];
            fmt::print(out, "  generation {}: {} collections, {} collected, {} uncollectable\n", g,
                       human_count(gen.collections), human_count(gen.collected), human_count(gen.uncollectable));
        }
        if (report.gc.pauses)
            fmt::print(out, "  paused {:.1f} ms in {} timed collections (longest {:.1f} ms)\n", report.gc.pauses->total_ms,
                       human_count(report.gc.pauses->collections), report.gc.pauses->max_ms);
        else
            fmt::print(out, "  pauses not timed (no probe on the collector in this build)\n");
    }

    // Drops: only the counters that moved, each with what to do about it.
    fmt::print(out, "\n{}\n", paint("DROPS", kHeading));
    bool any_drop = false;
    for (const Drop& drop : report.drops) {
        if (drop.count == 0) continue;
        any_drop = true;
        fmt::print(out, "  {}: {}\n       {}\n", paint(drop.name, fmt::fg(fmt::terminal_color::yellow)),
                   human_count(drop.count), drop.remedy);
    }
    if (!any_drop) fmt::print(out, "  none\n");

    // Sampling and cost.
    fmt::print(out, "\n{}\n", paint("SAMPLING", kHeading));
    if (report.sampling.sample_bytes > 0)
        fmt::print(out, "  one sample per {} allocated on average; ",
                   human_bytes(static_cast<double>(report.sampling.sample_bytes)));
    else
        fmt::print(out, "  every allocation traced; ");
    fmt::print(out, "{} events seen\n", human_count(report.sampling.events));
    const Overhead& o = report.overhead;
    if (o.estimated_pct)
        fmt::print(out, "  estimated overhead: {:.1f}% of the target's CPU time", *o.estimated_pct);
    else
        fmt::print(out, "  estimated overhead: the target ran over 100x slower: its probe hits took 99% or more "
                        "of its CPU time");
    fmt::print(out, " ({:.2f} s in {} probe hits", o.estimated_cpu_s, human_count(o.probe_hits));
    if (o.probe_floor_ns > 0) fmt::print(out, "; an empty probe hit costs {:.0f} ns here", o.probe_floor_ns);
    fmt::print(out, ")\n");
    if (o.budget_pct)
        fmt::print(out, "  budget {:.1f}%; allocation probes attached {:.0f}% of the time\n", *o.budget_pct,
                   100 * o.duty_cycle);
    for (const auto& a : o.adjustments) fmt::print(out, "  {}\n", a);
}

}  // namespace leakscope::report
