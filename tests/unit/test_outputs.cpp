// SPDX-License-Identifier: BSD-2-Clause
// Outputs drawn from the report model: the JSON read back, folded stacks,
// speedscope, pprof and the HTML page's data (of a report and of a snapshot).
#include <catch2/catch.hpp>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include <sstream>
#include <string>

#include "core/error.h"
#include "profile.pb.h"
#include "report/flame_reporters.h"
#include "report/html_reporter.h"
#include "report/json_reader.h"
#include "report/json_reporter.h"
#include "report/pprof_reporter.h"
#include "report/outputs.h"
#include "report_fixture.h"
#include "snapshot/report.h"

using namespace leakscope;
using namespace leakscope::report;
using json = nlohmann::ordered_json;

namespace {

std::string gunzip(const std::string& in) {
    z_stream z{};
    REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
    std::string out(1 << 20, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = uInt(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    REQUIRE(inflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    inflateEnd(&z);
    return out;
}

perftools::profiles::Profile decoded_pprof(const Report& r) {
    perftools::profiles::Profile p;
    REQUIRE(p.ParseFromString(gunzip(pprof_profile(r))));
    return p;
}

}  // namespace

TEST_CASE("a JSON report reads back into the same report", "[outputs]") {
    const Report r = sample_report();
    const json doc = to_json(r);
    const Report back = from_json(doc);
    CHECK(to_json(back) == doc);
    CHECK(back.profile == r.profile);  // frames rebuilt from the shared table
    CHECK(back.suspects[0].history == r.suspects[0].history);
    CHECK(back.suspects[0].held_by == r.suspects[0].held_by);
    CHECK(back.drops == r.drops);
    CHECK(back.growth == r.growth);
    CHECK(back.gc == r.gc);
    CHECK(back.memory == r.memory);
    CHECK(back.intervals == r.intervals);
    CHECK(back.top_sites == r.top_sites);
}

TEST_CASE("a document that is not a report names the field at fault", "[outputs]") {
    struct Case {
        const char* what;
        void (*mutate)(json&);
        const char* message;
    };
    const Case cases[] = {
        {"missing section", [](json& d) { d.erase("suspects"); }, "missing report.suspects"},
        {"pid not a number", [](json& d) { d["target"]["pid"] = "x"; }, "report.target.pid is not an integer"},
        {"negative count", [](json& d) { d["memory"]["rss_bytes"] = -1; }, "report.memory.rss_bytes is not a count"},
        {"bad site id", [](json& d) { d["suspects"][0]["site_id"] = "xyz"; }, "report.suspects[0].site_id is not a site id"},
        {"frame index out of range", [](json& d) { d["profile"]["stacks"][0]["frames"][0] = 99; }, "frame index out of range"},
        {"frames not an array", [](json& d) { d["top_sites"][1]["frames"] = 3; }, "report.top_sites[1].frames is not an array"},
        {"not an object", [](json& d) { d = json::array(); }, "report is not an object"},
    };
    for (const Case& c : cases) {
        SECTION(c.what) {
            json doc = to_json(sample_report());
            c.mutate(doc);
            try {
                from_json(doc);
                FAIL("accepted");
            } catch (const Error& e) {
                CHECK(e.code() == Errc::BadReport);
                CHECK_THAT(e.what(), Catch::Contains(c.message));
            }
        }
    }
}

TEST_CASE("folded stacks: outermost first, live bytes, placeholder for no frames", "[outputs]") {
    Report r = sample_report();
    r.profile[1].frames[0].function = "read;write";  // a ';' would split the frame
    std::ostringstream out;
    write_collapsed(r, out);
    CHECK(out.str() ==
          "<module> (app/main.py:3);handle (app/views.py:10);remember (app/cache.py:42) 1200000\n"
          "read,write (app/io.py:7) 800000\n"
          "(no Python frames) 4096\n");
}

TEST_CASE("speedscope: shared frames, live and allocated profiles, root first", "[outputs]") {
    std::ostringstream out;
    write_speedscope(sample_report(), out);
    const json doc = json::parse(out.str());
    CHECK(doc["$schema"] == "https://www.speedscope.app/file-format-schema.json");
    const json& frames = doc["shared"]["frames"];
    REQUIRE(doc["profiles"].size() == 2);
    const json& live = doc["profiles"][0];
    CHECK(live["type"] == "sampled");
    CHECK(live["unit"] == "bytes");
    REQUIRE(live["samples"].size() == 4);
    CHECK(live["weights"] == json({1200000, 800000, 0, 4096}));
    CHECK(live["endValue"] == 1200000 + 800000 + 4096);
    CHECK(doc["profiles"][1]["weights"] == json({1300000, 900000, 5000, 4096}));
    const json& first = live["samples"][0];
    REQUIRE(first.size() == 3);
    CHECK(frames[first[0].get<size_t>()]["name"] == "<module>");
    CHECK(frames[first[2].get<size_t>()]["name"] == "remember");
    CHECK(frames[first[2].get<size_t>()]["line"] == 42);
    CHECK(frames[live["samples"][3][0].get<size_t>()]["name"] == "(no Python frames)");
}

TEST_CASE("pprof: Go heap layout, Python frames as functions with file and line", "[outputs]") {
    const Report r = sample_report();
    const auto p = decoded_pprof(r);
    auto str = [&](int64_t i) { return p.string_table(int(i)); };
    REQUIRE(p.sample_type_size() == 4);
    const char* expected[][2] = {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                                 {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
    for (int i = 0; i < 4; ++i) {
        CHECK(str(p.sample_type(i).type()) == expected[i][0]);
        CHECK(str(p.sample_type(i).unit()) == expected[i][1]);
    }
    CHECK(str(p.period_type().type()) == "space");
    CHECK(str(p.period_type().unit()) == "bytes");
    CHECK(p.period() == 65536);
    CHECK(str(p.default_sample_type()) == "inuse_space");
    CHECK(p.time_nanos() == int64_t(1796194800) * 1000000000);
    CHECK(p.duration_nanos() == int64_t(14) * 1000000000);
    REQUIRE(p.sample_size() == 4);
    const auto& s = p.sample(0);
    CHECK(std::vector<int64_t>(s.value().begin(), s.value().end()) == std::vector<int64_t>{9800, 1300000, 9000, 1200000});
    REQUIRE(s.location_id_size() == 3);
    // Leaf first: the location of app/cache.py:42 in remember.
    const auto& loc = p.location(int(s.location_id(0)) - 1);
    CHECK(loc.id() == s.location_id(0));
    REQUIRE(loc.line_size() == 1);
    CHECK(loc.line(0).line() == 42);
    const auto& fn = p.function(int(loc.line(0).function_id()) - 1);
    CHECK(str(fn.name()) == "remember");
    CHECK(str(fn.filename()) == "app/cache.py");
    // Frames shared between stacks are one location.
    CHECK(p.location_size() == 6);  // remember, handle x2 lines, <module>, read, (no Python frames)
    CHECK(pprof_profile(r) == pprof_profile(r));
}

TEST_CASE("HTML: the page embeds the report's JSON, and target text cannot end its script", "[outputs]") {
    Report r = sample_report();
    r.suspects[0].frames[0].function = "</script><script>alert(1)</script>";
    const std::string data = html_data(to_json(r));
    CHECK(data.find('<') == std::string::npos);
    CHECK(json::parse(data) == to_json(r));
    CHECK_FALSE(is_snapshot(to_json(r)));
    std::ostringstream page;
    write_html(r, page);
    const std::string html = page.str();
    CHECK(html.find("/*LEAKSCOPE_DATA*/") == std::string::npos);
    CHECK(html.find(data) != std::string::npos);
    CHECK(html.find("<script>alert") == std::string::npos);
    CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));  // no network: only the SVG namespace
    CHECK(html.find("https://") == std::string::npos);
}

TEST_CASE("HTML: a heap snapshot is told from a report, and its type names cannot end the script", "[outputs]") {
    const std::string hostile = "</script><img src=x onerror=alert(1)>";
    python::Target target;
    target.interp.pid = 4711;
    target.interp.version = {3, 11, 2};
    target.interp.binary_path = "/usr/bin/python3.11";
    snapshot::Snapshot snap;
    snap.census.types = {{hostile, 3, 4096}, {"dict", 10, 2048}};
    snap.census.holders = {{"__main__.CACHE['" + hostile + "']", "list", 3, 4096, 4}};
    snapshot::Growth grown{.seconds = 2, .types = {{hostile, 1, 1024}}};
    const json doc = json::parse(snapshot::snapshot_json(target, snap, &grown).dump());
    CHECK(is_snapshot(doc));
    const std::string data = html_data(doc);
    CHECK(data.find('<') == std::string::npos);
    CHECK(json::parse(data) == doc);
    CHECK(json::parse(data)["types"][0]["type"] == hostile);
    std::ostringstream page;
    write_html(doc, page);
    const std::string html = page.str();
    CHECK(html.find(data) != std::string::npos);
    CHECK(html.find("<img") == std::string::npos);
    // A snapshot has no stacks: another format is a usage error, not an unwritable file.
    try {
        write_snapshot_outputs(doc, {.pprof = "/nonexistent/heap.pb.gz"});
        FAIL("accepted");
    } catch (const Error& e) {
        CHECK(e.code() == Errc::Usage);
        CHECK_THAT(e.what(), Catch::Contains("--pprof"));
    }
}
