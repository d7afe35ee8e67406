// SPDX-License-Identifier: BSD-2-Clause
#include "report/json_reader.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "report/format.h"

namespace leakscope::report {
namespace {

using json = nlohmann::ordered_json;

// A field of the document, with its path for the error message.
class Node {
public:
    Node(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

    Node operator[](const char* key) const {
        if (!j_.is_object()) fail("an object");
        auto it = j_.find(key);
        if (it == j_.end()) throw Error(Errc::BadReport, "missing " + path_ + "." + key);
        return {*it, path_ + "." + key};
    }
    bool has(const char* key) const { return j_.is_object() && j_.contains(key) && !j_.at(key).is_null(); }
    bool is_null() const { return j_.is_null(); }

    template <typename F>
    void each(F&& f) const {
        if (!j_.is_array()) fail("an array");
        for (size_t i = 0; i < j_.size(); ++i) f(Node(j_[i], path_ + "[" + std::to_string(i) + "]"));
    }
    template <typename F>
    void each_member(F&& f) const {
        if (!j_.is_object()) fail("an object");
        for (auto it = j_.begin(); it != j_.end(); ++it) f(it.key(), Node(it.value(), path_ + "." + it.key()));
    }

    uint64_t count() const {
        if (!j_.is_number_unsigned() && !(j_.is_number_integer() && j_.get<int64_t>() >= 0)) fail("a count");
        return j_.get<uint64_t>();
    }
    int64_t integer() const {
        if (!j_.is_number_integer()) fail("an integer");
        return j_.get<int64_t>();
    }
    double number() const {
        if (!j_.is_number()) fail("a number");
        return j_.get<double>();
    }
    bool boolean() const {
        if (!j_.is_boolean()) fail("a boolean");
        return j_.get<bool>();
    }
    std::string string() const {
        if (!j_.is_string()) fail("a string");
        return j_.get<std::string>();
    }
    uint64_t site_id() const {
        auto id = parse_site_id(string());
        if (!id) fail("a site id (16 hex digits)");
        return *id;
    }

private:
    [[noreturn]] void fail(const char* what) const { throw Error(Errc::BadReport, path_ + " is not " + what); }
    const json& j_;
    std::string path_;
};

Frame frame_of(const Node& n) {
    Frame f;
    f.file = n["file"].string();
    f.line = n["line"].is_null() ? -1 : int(n["line"].integer());
    f.function = n["function"].string();
    f.native = n.has("native") && n["native"].boolean();
    return f;
}

Stack frames_of(const Node& n) {
    Stack out;
    n.each([&](const Node& f) { out.push_back(frame_of(f)); });
    return out;
}

Evidence evidence_of(const Node& n) {
    Evidence e;
    e.readings = n["readings"].count();
    e.window_s = n["window_s"].number();
    e.intervals = n["intervals"].count();
    e.grew_intervals = n["grew_intervals"].count();
    e.shrank_intervals = n["shrank_intervals"].count();
    e.growth_bytes = n["growth_bytes"].count();
    e.r2 = n["r2"].number();
    e.trend_tau = n["trend_tau"].number();
    e.trend_z = n["trend_z"].number();
    e.recent_growth_bytes_per_s = n["recent_growth_bytes_per_s"].number();
    e.earlier_growth_bytes_per_s = n["earlier_growth_bytes_per_s"].number();
    e.flattening = n["flattening"].boolean();
    e.full_collections = n["full_collections"].count();
    e.full_collections_survived = n["full_collections_survived"].count();
    e.survived_full_gc_bytes = n["survived_full_gc_bytes"].count();
    e.growth_running_share = n["growth_running_share"].number();
    return e;
}

Suspect suspect_of(const Node& n) {
    Suspect s;
    s.site_id = n["site_id"].site_id();
    s.verdict = n["verdict"].string();
    s.score = n["score"].number();
    s.live_bytes = n["live_bytes"].count();
    s.live_objects = n["live_objects"].count();
    s.growth_bytes_per_s = n["growth_bytes_per_s"].number();
    s.frames = frames_of(n["frames"]);
    s.evidence = evidence_of(n["evidence"]);
    s.explanation = n["explanation"].string();
    if (n.has("held_by")) n["held_by"].each([&](const Node& path) { s.held_by.push_back(path.string()); });
    n["history"].each([&](const Node& h) { s.history.push_back({h["t_s"].number(), h["live_bytes"].count()}); });
    return s;
}

Site site_of(const Node& n) {
    Site s;
    s.site_id = n["site_id"].site_id();
    s.live_bytes = n["live_bytes"].count();
    s.live_objects = n["live_objects"].count();
    s.delta_bytes = n["delta_bytes"].integer();
    s.delta_objects = n["delta_objects"].integer();
    s.alloc_bytes = n["alloc_bytes"].count();
    s.alloc_objects = n["alloc_objects"].count();
    s.free_bytes = n["free_bytes"].count();
    s.free_objects = n["free_objects"].count();
    s.trend = n["trend"].string();
    s.frames = frames_of(n["frames"]);
    return s;
}

Interval interval_of(const Node& n) {
    return {n["t_s"].number(),         n["live_bytes"].count(), n["allocs"].count(),
            n["frees"].count(),        n["alloc_bytes"].count(), n["free_bytes"].count(),
            n["rss_bytes"].count(),    n["python_heap_bytes"].count()};
}

std::vector<ProfileStack> profile_of(const Node& n) {
    Stack table = frames_of(n["frames"]);
    std::vector<ProfileStack> out;
    n["stacks"].each([&](const Node& s) {
        ProfileStack p;
        p.site_id = s["site_id"].site_id();
        s["frames"].each([&](const Node& ref) {
            uint64_t i = ref.count();
            if (i >= table.size()) throw Error(Errc::BadReport, "profile.stacks: frame index out of range");
            p.frames.push_back(table[i]);
        });
        p.live_bytes = s["live_bytes"].count();
        p.live_objects = s["live_objects"].count();
        p.alloc_bytes = s["alloc_bytes"].count();
        p.alloc_objects = s["alloc_objects"].count();
        out.push_back(std::move(p));
    });
    return out;
}

Growth growth_of(const Node& n) {
    Growth g;
    g.fault_period = uint32_t(n["fault_period"].count());
    g.sampled_faults = n["sampled_faults"].count();
    g.bytes = n["bytes"].count();
    n["sites"].each([&](const Node& s) {
        g.sites.push_back({frames_of(s["frames"]), s["faults"].count(), s["bytes"].count(),
                           s.has("without_frames") ? s["without_frames"].string() : ""});
    });
    return g;
}

Pools pools_of(const Node& n) {
    Pools p{n["pool_bytes"].count(), n["taken"].count(), n["held"].count(), n["held_bytes"].count(), {}, {}};
    n["classes"].each([&](const Node& c) {
        PoolClass pc{uint32_t(c["block_bytes"].count()), c["taken"].count(), c["held"].count(),
                     c["held_bytes"].count(), {}};
        c["taken_by"].each([&](const Node& t) {
            pc.taken_by.push_back({frames_of(t["frames"]), t["taken"].count(),
                                   t.has("without_frames") ? t["without_frames"].string() : ""});
        });
        p.classes.push_back(std::move(pc));
    });
    if (n.has("detached_s")) p.detached_s = n["detached_s"].number();
    return p;
}

Gc gc_of(const Node& n) {
    Gc gc;
    gc.observed = n["observed"].boolean();
    gc.enabled = n["enabled"].boolean();
    gc.full_collections = n["full_collections"].count();
    gc.old_generation_objects = n["old_generation_objects"].count();
    n["generations"].each([&](const Node& g) {
        gc.generations.push_back({g["collections"].count(), g["collected"].count(), g["uncollectable"].count()});
    });
    if (n.has("pauses")) {
        Node p = n["pauses"];
        gc.pauses = GcPauses{p["collections"].count(), p["total_ms"].number(), p["max_ms"].number()};
    }
    return gc;
}

Overhead overhead_of(const Node& n) {
    Overhead o;
    o.probe_hits = n["probe_hits"].count();
    o.estimated_cpu_s = n["estimated_cpu_s"].number();
    o.estimated_pct = n.has("estimated_pct") ? std::optional(n["estimated_pct"].number()) : std::nullopt;
    if (n.has("budget_pct")) o.budget_pct = n["budget_pct"].number();
    o.probe_floor_ns = n["probe_floor_ns"].number();
    o.return_probe_floor_ns = n["return_probe_floor_ns"].number();
    o.duty_cycle = n["duty_cycle"].number();
    n["adjustments"].each([&](const Node& a) { o.adjustments.push_back(a.string()); });
    return o;
}

}  // namespace

Report from_json(const json& doc) {
    Node n(doc, "report");
    Report r;
    Node target = n["target"];
    r.target.pid = int(target["pid"].integer());
    r.target.python = target["python"].string();
    r.target.binary = target["binary"].string();
    r.target.exec = target["exec"].boolean();
    target["untraced_children"].each([&](const Node& pid) { r.target.untraced_children.push_back(int(pid.integer())); });
    r.mode = n["mode"].string();
    r.start_unix_s = n["start_unix_s"].number();
    r.elapsed_s = n["duration_s"].number();
    r.interval = n["interval"].count();
    r.final = n["final"].boolean();
    Node mem = n["memory"];
    r.memory.rss_bytes = mem["rss_bytes"].count();
    if (mem.has("pss_bytes")) r.memory.pss_bytes = mem["pss_bytes"].count();
    if (mem.has("python_heap_bytes")) r.memory.python_heap_bytes = mem["python_heap_bytes"].count();
    n["suspects"].each([&](const Node& s) { r.suspects.push_back(suspect_of(s)); });
    n["top_sites"].each([&](const Node& s) { r.top_sites.push_back(site_of(s)); });
    n["intervals"].each([&](const Node& i) { r.intervals.push_back(interval_of(i)); });
    r.profile = profile_of(n["profile"]);
    if (n.has("growth")) r.growth = growth_of(n["growth"]);
    if (n.has("pools")) r.pools = pools_of(n["pools"]);
    r.gc = gc_of(n["gc"]);
    n["drops"].each_member([&](const std::string& name, const Node& d) {
        r.drops.push_back({name, d["count"].count(), d["remedy"].string()});
    });
    Node sampling = n["sampling"];
    r.sampling = {sampling["sample_bytes"].count(), sampling["events"].count()};
    r.overhead = overhead_of(n["overhead"]);
    return r;
}

json read_json_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(Errc::Io, "cannot read " + path);
    std::stringstream text;
    text << in.rdbuf();
    // One document, or JSON Lines: the last non-empty line is the latest report.
    json doc = json::parse(text.str(), nullptr, false);
    if (doc.is_discarded()) {
        std::string line, last;
        std::istringstream lines(text.str());
        while (std::getline(lines, line))
            if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
        doc = json::parse(last, nullptr, false);
    }
    if (doc.is_discarded()) throw Error(Errc::BadReport, path + ": not JSON");
    return doc;
}

bool is_snapshot(const json& doc) { return doc.is_object() && doc.contains("holders") && doc["holders"].is_array(); }

Report read_report(const json& doc, const std::string& path) {
    try {
        return from_json(doc);
    } catch (const Error& e) {
        throw Error(Errc::BadReport, path + ": not a leakscope report (" + e.what() + ")");
    }
}

}  // namespace leakscope::report
