// SPDX-License-Identifier: BSD-2-Clause
// Reporters: the JSON contract (docs/json-contract.md) and the text report.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <sstream>
#include <string>

#include "analysis/leak_analyzer.h"
#include "report/build.h"
#include "report/format.h"
#include "report/json_reporter.h"
#include "report/text_reporter.h"
#include "report_fixture.h"

using namespace leakscope;
using namespace leakscope::report;
using json = nlohmann::ordered_json;

namespace {

std::string text_of(const Report& report, TextOptions options = {}) {
    std::ostringstream out;
    TextReporter(options).write(report, out);
    return out.str();
}

bool is_count(const json& v) { return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0); }

void check_frames(const json& frames) {
    REQUIRE(frames.is_array());
    for (const auto& f : frames) {
        REQUIRE(f.is_object());
        CHECK(f.at("file").is_string());
        CHECK((f.at("line").is_number_integer() || f.at("line").is_null()));
        CHECK(f.at("function").is_string());
    }
}

}  // namespace

TEST_CASE("JSON report follows the contract", "[report]") {
    const Report report = sample_report();
    std::ostringstream out;
    JsonReporter().write(report, out);
    const std::string text = out.str();
    REQUIRE(!text.empty());
    CHECK(text.back() == '\n');
    CHECK(text.find('\n') == text.size() - 1);  // one line per document
    const json doc = json::parse(text);
    CHECK(doc == to_json(report));

    CHECK(doc.at("schema_version") == kJsonSchemaVersion);
    const json& target = doc.at("target");
    CHECK(target.at("pid").is_number_integer());
    CHECK(target.at("pid") == 4242);
    CHECK(target.at("python") == "3.11.7");
    CHECK(target.at("binary") == "/usr/bin/python3.11");
    CHECK(doc.at("mode") == "trace");
    CHECK(doc.at("duration_s").is_number());
    CHECK(doc.at("duration_s") == 14.0);
    CHECK(is_count(doc.at("interval")));
    CHECK(doc.at("final").is_boolean());
    CHECK(is_count(doc.at("memory").at("rss_bytes")));
    CHECK(is_count(doc.at("memory").at("pss_bytes")));
    CHECK(is_count(doc.at("memory").at("python_heap_bytes")));

    const json& suspects = doc.at("suspects");
    REQUIRE(suspects.is_array());
    REQUIRE(suspects.size() == 1);
    const json& s = suspects[0];
    CHECK(s.at("verdict") == "leak");
    CHECK(s.at("score").is_number());
    CHECK(s.at("score") == 0.812);
    CHECK(s.at("score").get<double>() >= 0);
    CHECK(s.at("score").get<double>() <= 1);
    CHECK(is_count(s.at("live_bytes")));
    CHECK(is_count(s.at("live_objects")));
    CHECK(s.at("growth_bytes_per_s").is_number());
    CHECK(s.at("site_id") == "0000000000000abc");
    CHECK(s.at("explanation").is_string());
    check_frames(s.at("frames"));
    CHECK(s.at("frames")[0] == json{{"file", "app/cache.py"}, {"line", 42}, {"function", "remember"}, {"native", false}});
    const json& e = s.at("evidence");
    REQUIRE(e.is_object());
    for (const char* key : {"readings", "intervals", "grew_intervals", "shrank_intervals", "growth_bytes",
                            "full_collections", "full_collections_survived", "survived_full_gc_bytes"}) {
        INFO(key);
        CHECK(is_count(e.at(key)));
    }
    for (const char* key : {"window_s", "r2", "trend_tau", "trend_z", "recent_growth_bytes_per_s",
                            "earlier_growth_bytes_per_s", "growth_running_share"}) {
        INFO(key);
        CHECK(e.at(key).is_number());
    }
    CHECK(e.at("flattening").is_boolean());
    CHECK(e.size() == 16);

    const json& sites = doc.at("top_sites");
    REQUIRE(sites.size() == 2);
    for (const auto& site : sites) {
        for (const char* key : {"live_bytes", "live_objects", "alloc_bytes", "alloc_objects", "free_bytes",
                                "free_objects"}) {
            INFO(key);
            CHECK(is_count(site.at(key)));
        }
        CHECK(site.at("delta_bytes").is_number_integer());
        CHECK(site.at("delta_objects").is_number_integer());
        CHECK(site.at("trend").is_string());
        CHECK(site.at("site_id").is_string());
        check_frames(site.at("frames"));
    }
    CHECK(sites[1].at("delta_bytes") == -5000);

    const json& intervals = doc.at("intervals");
    REQUIRE(intervals.size() == 2);
    CHECK(intervals[1].at("t_s") == 4.0);
    for (const char* key : {"live_bytes", "allocs", "frees", "alloc_bytes", "free_bytes", "rss_bytes"}) {
        INFO(key);
        CHECK(is_count(intervals[1].at(key)));
    }

    const json& gc = doc.at("gc");
    CHECK(gc.at("observed") == true);
    CHECK(gc.at("enabled") == true);
    CHECK(gc.at("full_collections") == 3);
    CHECK(gc.at("old_generation_objects") == 12345);
    REQUIRE(gc.at("generations").size() == 3);
    CHECK(gc.at("generations")[2] ==
          json{{"generation", 2}, {"collections", 3}, {"collected", 20}, {"uncollectable", 1}});
    CHECK(gc.at("pauses") == json{{"collections", 134}, {"total_ms", 24.75}, {"max_ms", 3.5}});

    const json& growth = doc.at("growth");
    CHECK(growth.at("fault_period") == 64);
    CHECK(growth.at("sampled_faults") == 150);
    CHECK(growth.at("bytes") == 150u * 64 * 4096);
    REQUIRE(growth.at("sites").size() == 2);
    CHECK(growth.at("sites")[0].at("faults") == 120);
    CHECK(growth.at("sites")[0].at("bytes") == 120u * 64 * 4096);
    check_frames(growth.at("sites")[0].at("frames"));
    CHECK(growth.at("sites")[0].at("frames")[0].at("line") == 42);
    CHECK(growth.at("sites")[1].at("frames") == json::array());
    CHECK(growth.at("sites")[0].at("without_frames").is_null());
    CHECK(growth.at("sites")[1].at("without_frames") == "no Python frame running: the interpreter starting");

    const json& pools = doc.at("pools");
    CHECK(pools.at("pool_bytes") == 16384);
    CHECK(pools.at("taken") == 310);
    CHECK(pools.at("held") == 200);
    CHECK(pools.at("held_bytes") == 200u * 16384);
    REQUIRE(pools.at("classes").size() == 2);
    const json& c64 = pools.at("classes")[0];
    CHECK(c64.at("block_bytes") == 64);
    CHECK(c64.at("taken") == 210);
    CHECK(c64.at("held") == 195);
    CHECK(c64.at("held_bytes") == 195u * 16384);
    REQUIRE(c64.at("taken_by").size() == 2);
    CHECK(c64.at("taken_by")[0].at("taken") == 150);
    check_frames(c64.at("taken_by")[0].at("frames"));
    CHECK(c64.at("taken_by")[0].at("without_frames").is_null());
    CHECK(c64.at("taken_by")[1].at("frames") == json::array());
    CHECK(c64.at("taken_by")[1].at("without_frames") == "no Python frame running: the interpreter starting");
    CHECK(pools.at("classes")[1].at("taken_by") == json::array());
    CHECK(pools.at("detached_s") == 8.5);

    const json& drops = doc.at("drops");
    REQUIRE(drops.is_object());
    CHECK(drops.at("LIVE_MAP_FULL").at("count") == 12);
    CHECK(drops.at("LIVE_MAP_FULL").at("remedy").is_string());
    CHECK(drops.at("STACK_TRUNCATED").at("count") == 0);

    CHECK(doc.at("sampling") == json{{"sample_bytes", 65536}, {"events", 123456}});
    const json& overhead = doc.at("overhead");
    CHECK(overhead.at("probe_hits") == 40000);
    CHECK(overhead.at("estimated_cpu_s") == 0.5);
    CHECK(overhead.at("estimated_pct") == 3.2);
    CHECK(overhead.at("budget_pct") == 2.0);
    CHECK(overhead.at("probe_floor_ns") == 850);
    CHECK(overhead.at("return_probe_floor_ns") == 2100);
    CHECK(overhead.at("duty_cycle") == 0.25);
    CHECK(overhead.at("adjustments") == json::array({"sampling lowered to one stack per 32.0 KiB"}));
}

TEST_CASE("JSON: suspects is an empty array when nothing leaks; unknowns are null", "[report]") {
    Report report = sample_report();
    report.suspects.clear();
    report.memory.pss_bytes.reset();
    report.memory.python_heap_bytes.reset();
    report.top_sites[1].frames = {{"<frozen importlib._bootstrap>", -1, "_call_with_frames_removed"}};
    const json doc = to_json(report);
    REQUIRE(doc.at("suspects").is_array());
    CHECK(doc.at("suspects").empty());
    CHECK(doc.at("memory").at("pss_bytes").is_null());
    CHECK(doc.at("memory").at("python_heap_bytes").is_null());
    CHECK(doc.at("top_sites")[1].at("frames")[0].at("line").is_null());

    const json empty = to_json(Report{});
    CHECK(empty.at("suspects") == json::array());
    CHECK(empty.at("top_sites") == json::array());
    CHECK(empty.at("intervals") == json::array());
    CHECK(empty.at("drops") == json::object());
    CHECK(empty.at("growth").is_null());
    CHECK(empty.at("pools").is_null());
}

TEST_CASE("JSON survives text that is not valid UTF-8", "[report]") {
    Report report = sample_report();
    report.suspects[0].frames[0].file = std::string("app/\xff\xfe.py");
    std::ostringstream out;
    JsonReporter().write(report, out);
    CHECK_NOTHROW(json::parse(out.str()));
}

TEST_CASE("text report: suspect's file:line with its evidence, and drop remedies", "[report]") {
    const std::string text = text_of(sample_report());
    CHECK(text.find("pid 4242") != std::string::npos);
    CHECK(text.find("Python 3.11.7") != std::string::npos);
    CHECK(text.find("LEAK SUSPECTS") != std::string::npos);
    CHECK(text.find("app/cache.py:42 in remember") != std::string::npos);
    // Suspects get their whole stack.
    CHECK(text.find("app/main.py:3 in <module>") != std::string::npos);
    CHECK(text.find("in 7 of 7 intervals") != std::string::npos);
    CHECK(text.find("survived 3 full collections") != std::string::npos);
    CHECK(text.find("not flattening") != std::string::npos);
    CHECK(text.find("LIVE_MAP_FULL") != std::string::npos);
    CHECK(text.find("raise --max-live or --sample-bytes") != std::string::npos);
    // Zero counters are not drops.
    CHECK(text.find("STACK_TRUNCATED") == std::string::npos);
    CHECK(text.find("generation 2:") != std::string::npos);
    // Growth: share of sampled faults, the stack, what was sampled.
    CHECK(text.find("MEMORY GROWTH") != std::string::npos);
    CHECK(text.find("(no Python frame running: the interpreter starting)") != std::string::npos);
    CHECK(text.find("~30.0 MiB (80%)\n       app/cache.py:42 in remember") != std::string::npos);
    CHECK(text.find("one fault in 64 sampled") != std::string::npos);
    // Pools: held of taken by class, where they were taken, the totals.
    CHECK(text.find("PYMALLOC POOLS HELD") != std::string::npos);
    CHECK(text.find("64-byte blocks: ~3.0 MiB held, 195 of 210 pools taken still in use\n"
                    "       150 taken at app/cache.py:42 in remember\n"
                    "       60 taken at (no Python frame running: the interpreter starting)\n"
                    "   2. 32-byte blocks") != std::string::npos);
    CHECK(text.find("refill probes detached at 8.5 s: pools taken since are not counted") != std::string::npos);
    CHECK(text.find("~3.1 MiB held in all; 200 of 310 pools of 16.0 KiB taken still in use") != std::string::npos);
}

TEST_CASE("text report says none when nothing leaks and nothing was dropped", "[report]") {
    Report report = sample_report();
    report.suspects.clear();
    report.drops = {{"LIVE_MAP_FULL", 0, "live-allocation table full; raise --max-live or --sample-bytes"}};
    const std::string text = text_of(report);
    CHECK(text.find("LEAK SUSPECTS\n  none\n") != std::string::npos);
    CHECK(text.find("DROPS\n  none\n") != std::string::npos);
    CHECK(text.find("raise --max-live") == std::string::npos);
}

TEST_CASE("text report has colour only when told the output is a TTY", "[report]") {
    const Report report = sample_report();
    CHECK(text_of(report).find('\x1b') == std::string::npos);
    TextOptions tty;
    tty.tty = true;
    CHECK(text_of(report, tty).find("\x1b[") != std::string::npos);
}

TEST_CASE("text report copes with long paths", "[report]") {
    Report report = sample_report();
    const std::string deep = "/srv/" + std::string(300, 'x') + "/deep/module.py";
    report.suspects[0].frames[0] = {deep, 7, "leaky"};
    const std::string text = text_of(report);
    CHECK(text.find("deep/module.py:7 in leaky") != std::string::npos);
    CHECK(text.find(deep) == std::string::npos);
}

TEST_CASE("human-readable numbers and paths", "[report]") {
    CHECK(human_bytes(512) == "512 B");
    CHECK(human_bytes(1536) == "1.5 KiB");
    CHECK(human_bytes(1.25 * 1024 * 1024) == "1.2 MiB");
    CHECK(human_bytes(3.0 * 1024 * 1024 * 1024) == "3.0 GiB");
    CHECK(human_signed_bytes(2048) == "+2.0 KiB");
    CHECK(human_signed_bytes(-2048) == "-2.0 KiB");
    CHECK(human_signed_bytes(0) == "0 B");
    CHECK(human_rate(85 * 1024) == "85.0 KiB/s");
    CHECK(human_duration(8) == "8.0 s");
    CHECK(human_duration(14) == "14 s");
    CHECK(human_duration(600) == "10.0 min");
    CHECK(human_count(0) == "0");
    CHECK(human_count(999) == "999");
    CHECK(human_count(1234567) == "1,234,567");

    CHECK(shorten_path("app/x.py", 20) == "app/x.py");
    const std::string shortened = shorten_path("/very/long/directory/name/for/module.py", 20);
    CHECK(shortened.size() <= 20);
    CHECK(shortened.rfind("...", 0) == 0);
    CHECK(shortened.find("module.py") != std::string::npos);
    // Never cuts inside a UTF-8 sequence.
    const std::string accents = "/" + std::string(40, 'a') + "/\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9.py";
    for (size_t max = 6; max < 20; ++max) {
        const std::string cut = shorten_path(accents, max);
        const unsigned char first = static_cast<unsigned char>(cut[3]);
        CHECK((first & 0xC0) != 0x80);
    }
    CHECK(frame_location({"a.py", -1, "f"}) == "a.py:? in f");
}

TEST_CASE("analysis results become report records", "[report]") {
    analysis::LeakAnalyzer analyzer;
    for (int i = 0; i < 8; ++i) {
        analysis::Snapshot snapshot;
        snapshot.t_s = 2.0 * (i + 1);
        const double live = 64e3 + 100e3 * i;
        snapshot.sites = {{.site = 7, .live_bytes = live, .live_objects = live / 64, .alloc_bytes = live,
                           .alloc_objects = live / 64}};
        REQUIRE(analyzer.add(snapshot));
    }
    const auto suspects = analyzer.suspects();
    REQUIRE(suspects.size() == 1);
    const Suspect s = make_suspect(suspects[0], {{"app/cache.py", 42, "remember"}}, analyzer.history(7));
    CHECK(s.verdict == "leak");
    REQUIRE(s.history.size() == 8);
    CHECK(s.history.front().t_s == 2.0);
    CHECK(s.history.front().live_bytes == 64000);
    CHECK(s.history.back().live_bytes == 764000);
    CHECK(s.site_id == 7);
    CHECK(s.live_bytes == 764000);
    CHECK(s.evidence.intervals == 7);
    CHECK(s.explanation.find("over 14 s") != std::string::npos);
    CHECK(s.explanation.find("in 7 of 7 intervals") != std::string::npos);
    CHECK(s.explanation.find("no full collection ran while it grew") != std::string::npos);
    CHECK(s.explanation.find("not flattening") != std::string::npos);

    const auto top = analyzer.top_sites(5);
    REQUIRE(top.size() == 1);
    const Site site = make_site(top[0], {{"app/cache.py", 42, "remember"}});
    CHECK(site.trend == "leak");
    CHECK(site.delta_bytes == 100000);

    const auto intervals = make_intervals(analyzer.intervals());
    REQUIRE(intervals.size() == 8);
    CHECK(intervals[1].alloc_bytes == 100000);
    CHECK(intervals[7].live_bytes == 764000);
}
