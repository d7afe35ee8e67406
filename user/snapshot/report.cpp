// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "report/format.h"

namespace leakscope::snapshot {
namespace {

int64_t delta(uint64_t after, uint64_t before) { return int64_t(after) - int64_t(before); }

nlohmann::json types_json(const std::vector<TypeCount>& types) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : types) out.push_back({{"type", t.type}, {"count", t.count}, {"bytes", t.bytes}});
    return out;
}

nlohmann::json holders_json(const std::vector<Holder>& holders) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& h : holders)
        out.push_back({{"path", h.path}, {"type", h.type}, {"len", h.len},
                       {"retained_bytes", h.retained_bytes}, {"retained_objects", h.retained_objects}});
    return out;
}

nlohmann::json growth_json(const Growth& g) {
    nlohmann::json types = nlohmann::json::array(), holders = nlohmann::json::array();
    for (const auto& t : g.types) types.push_back({{"type", t.type}, {"count", t.count}, {"bytes", t.bytes}});
    for (const auto& h : g.holders)
        holders.push_back({{"path", h.path}, {"type", h.type}, {"len", h.len},
                           {"retained_bytes", h.retained_bytes}, {"retained_objects", h.retained_objects}});
    return {{"seconds", g.seconds}, {"types", types}, {"holders", holders}};
}

nlohmann::json problems_json(const Problems& p) {
    nlohmann::json out = {{"total", p.total()}};
    for (size_t i = 0; i < static_cast<size_t>(Problem::Count); ++i)
        out[std::string(problem_name(Problem(i)))] = p.count(Problem(i));
    return out;
}

}  // namespace

Growth growth(const Snapshot& before, const Snapshot& after, double seconds, size_t top) {
    Growth g;
    g.seconds = seconds;
    std::map<std::string, TypeCount> old_types;
    for (const auto& t : before.census.types) old_types[t.type] = t;
    for (const auto& t : after.census.types) {
        const TypeCount& o = old_types[t.type];
        if (t.count == o.count && t.bytes == o.bytes) continue;
        g.types.push_back({t.type, delta(t.count, o.count), delta(t.bytes, o.bytes)});
    }
    std::sort(g.types.begin(), g.types.end(),
              [](const TypeGrowth& a, const TypeGrowth& b) { return a.bytes > b.bytes; });
    if (g.types.size() > top) g.types.resize(top);
    std::map<std::string, Holder> old_holders;
    for (const auto& h : before.census.holders) old_holders[h.path] = h;
    for (const auto& h : after.census.holders) {
        auto it = old_holders.find(h.path);
        const Holder o = it == old_holders.end() ? Holder{} : it->second;
        g.holders.push_back({h.path, h.type, delta(h.len, o.len), delta(h.retained_bytes, o.retained_bytes),
                             delta(h.retained_objects, o.retained_objects)});
    }
    std::sort(g.holders.begin(), g.holders.end(),
              [](const HolderGrowth& a, const HolderGrowth& b) { return a.retained_bytes > b.retained_bytes; });
    return g;
}

nlohmann::json snapshot_json(const python::Target& t, const Snapshot& s, const Growth* g) {
    const auto& m = s.memory;
    nlohmann::json unreadable = nlohmann::json::array();
    for (const auto& u : s.census.unreadable) unreadable.push_back({{"type", u.type}, {"count", u.count}});
    nlohmann::json j = {
        {"target", {{"pid", t.interp.pid}, {"python", t.interp.version.str()}, {"binary", t.interp.binary_path}}},
        {"read_seconds", s.read_s},
        {"frozen_seconds", s.frozen_s ? nlohmann::json(*s.frozen_s) : nlohmann::json(nullptr)},
        {"objects", s.census.objects},
        {"gc_tracked", s.gc_tracked},
        {"reached_from_roots", s.census.reached},
        {"memory", {{"rss_bytes", m.rss}, {"pss_bytes", m.pss}, {"swap_bytes", m.swap},
                    {"anonymous_bytes", m.anonymous}, {"file_pss_bytes", m.file},
                    {"python_object_bytes", m.python_objects},
                    {"large_object_bytes", m.large_objects},
                    {"pymalloc_arenas", m.pymalloc ? nlohmann::json(m.pymalloc->arenas) : nlohmann::json(nullptr)},
                    {"pymalloc_arena_bytes", m.pymalloc ? nlohmann::json(m.pymalloc->arena_bytes) : nlohmann::json(nullptr)},
                    {"pymalloc_used_bytes", m.pymalloc ? nlohmann::json(m.pymalloc->used_bytes) : nlohmann::json(nullptr)},
                    {"pymalloc_free_bytes", m.pymalloc ? nlohmann::json(m.pymalloc->free_bytes) : nlohmann::json(nullptr)},
                    {"native_unexplained_bytes", m.native_unexplained}}},
        {"types", types_json(s.census.types)},
        {"holders", holders_json(s.census.holders)},
        {"inconsistencies", problems_json(s.problems)},
        {"unreadable_types", unreadable},
    };
    if (g) j["growth"] = growth_json(*g);
    return j;
}

void print_snapshot(std::ostream& out, const python::Target& t, const Snapshot& s, size_t top, const Growth* g) {
    using report::human_bytes;
    const auto& m = s.memory;
    out << fmt::format("Process {}: CPython {} ({})\n", t.interp.pid, t.interp.version.str(), t.interp.binary_path);
    out << fmt::format("Read {} objects ({} tracked by the collector) in {:.2f} s{}\n", s.census.objects,
                       s.gc_tracked, s.read_s,
                       s.frozen_s ? fmt::format(", target frozen for {:.2f} s", *s.frozen_s) : "");
    out << fmt::format("\nMemory: RSS {}, PSS {}, swap {}; Python objects {}; native memory no arena or "
                       "object explains {}; file mappings {} (PSS)\n",
                       human_bytes(m.rss), human_bytes(m.pss), human_bytes(m.swap), human_bytes(m.python_objects),
                       human_bytes(m.native_unexplained), human_bytes(m.file));
    if (m.pymalloc)
        out << fmt::format("pymalloc: {} arenas ({}), blocks in use {}, free in pools and arenas {}; "
                           "objects over 512 bytes (malloc) {}\n",
                           m.pymalloc->arenas, human_bytes(m.pymalloc->arena_bytes), human_bytes(m.pymalloc->used_bytes),
                           human_bytes(m.pymalloc->free_bytes), human_bytes(m.large_objects));
    else
        out << "pymalloc: arena table not readable (no symbols for it in this build)\n";
    out << "\nTypes (biggest first):\n";
    for (size_t i = 0; i < std::min(top, s.census.types.size()); ++i) {
        const auto& tc = s.census.types[i];
        out << fmt::format("  {:>10}  {:>10}  {}\n", human_bytes(tc.bytes), tc.count, tc.type);
    }
    out << "\nHolders (retained, biggest first):\n";
    for (const auto& h : s.census.holders)
        out << fmt::format("  {:>10}  {:>9} objects  {} ({}, len {})\n", human_bytes(h.retained_bytes),
                           h.retained_objects, h.path, h.type, h.len);
    if (!s.census.unreadable.empty()) {
        out << "\nC types whose references were not read:";
        for (const auto& u : s.census.unreadable) out << fmt::format(" {} ({})", u.type, u.count);
        out << "\n";
    }
    if (s.problems.total()) out << fmt::format("\nInconsistencies (the target changed while read): {}\n", s.problems.total());
    if (g) {
        out << fmt::format("\nGrowth over {:.1f} s:\n", g->seconds);
        for (const auto& tc : g->types)
            out << fmt::format("  {:>10}  {:+} objects  {}\n", report::human_signed_bytes(tc.bytes), tc.count, tc.type);
        for (const auto& h : g->holders)
            if (h.retained_bytes || h.len)
                out << fmt::format("  {:>10} retained  len {:+}  {}\n", report::human_signed_bytes(h.retained_bytes), h.len, h.path);
    }
}

}  // namespace leakscope::snapshot
