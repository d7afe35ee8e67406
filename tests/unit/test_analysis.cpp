// SPDX-License-Identifier: BSD-2-Clause
// Leak analysis on synthetic streams of snapshots: what must and must not be
// a suspect, and the evidence reported for it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <map>
#include <random>
#include <vector>

#include "analysis/leak_analyzer.h"
#include "analysis/trend.h"

using namespace leakscope::analysis;

namespace {

constexpr double kInterval = 2.0;  // seconds between snapshots

// Uniform in [-1, 1], from mt19937's standardized output so every platform
// sees the same stream.
double jitter(std::mt19937& rng) { return 2.0 * (static_cast<double>(rng()) / 4294967296.0) - 1.0; }

// Feeds snapshots built from per-site live-bytes functions and keeps the
// cumulative counters consistent with them.
class Stream {
public:
    explicit Stream(Options options = {}) : analyzer(options) {}

    // live(i): live bytes of the site at snapshot i (0-based).
    // churn_bytes: bytes allocated and freed per interval on top of the net change.
    void site(SiteId id, std::function<double(int)> live, double churn_bytes = 0, double object_size = 64) {
        sites_.push_back({id, std::move(live), churn_bytes, object_size});
    }

    // Optional: full collections happen before snapshot i when full_gc(i) is true;
    // survived(id, i, previous_live) gives the site's surviving bytes.
    std::function<bool(int)> full_gc = [](int) { return false; };
    std::function<double(SiteId, int, double)> survived = [](SiteId, int, double) { return 0.0; };
    // Optional: thread-stack samples per snapshot, and in how many of them
    // site id's stack was running at snapshot i.
    uint64_t stack_samples = 0;
    std::function<uint64_t(SiteId, int)> running = [](SiteId, int) { return uint64_t(0); };
    // Optional: the site whose line made the call site id allocated in.
    std::function<SiteId(SiteId)> caller = [](SiteId) { return SiteId(0); };

    void step() {
        Snapshot snapshot;
        snapshot.t_s = kInterval * (index_ + 1);
        if (full_gc(index_)) ++full_collections_;
        snapshot.full_collections = full_collections_;
        snapshot.collections = full_collections_ * 10 + static_cast<uint64_t>(index_);
        snapshot.rss_bytes = 100u << 20;
        snapshot.stack_samples = stack_samples;
        for (auto& s : sites_) {
            const double live = std::max(0.0, s.live(index_));
            auto& c = counters_[s.id];
            const double net = live - c.live;
            c.alloc += s.churn + std::max(0.0, net);
            c.freed += s.churn + std::max(0.0, -net);
            SiteReading r;
            r.site = s.id;
            r.live_bytes = live;
            r.live_objects = live / s.object_size;
            r.alloc_bytes = c.alloc;
            r.alloc_objects = c.alloc / s.object_size;
            r.freed_bytes = c.freed;
            r.freed_objects = c.freed / s.object_size;
            r.survived_full_gc_bytes = survived(s.id, index_, c.live);
            r.running_samples = running(s.id, index_);
            r.caller = caller(s.id);
            c.live = live;
            snapshot.sites.push_back(r);
        }
        REQUIRE(analyzer.add(snapshot));
        ++index_;
    }

    void run(int snapshots) {
        for (int i = 0; i < snapshots; ++i) step();
    }

    // Runs and checks after every snapshot that no site outside `allowed` is a suspect.
    void run_checking_only(int snapshots, const std::vector<SiteId>& allowed) {
        for (int i = 0; i < snapshots; ++i) {
            step();
            for (const auto& s : analyzer.suspects()) {
                INFO("snapshot " << index_ << ": site " << s.site << " is a suspect");
                CHECK(std::find(allowed.begin(), allowed.end(), s.site) != allowed.end());
            }
        }
    }

    std::optional<Suspect> suspect(SiteId id) const {
        for (const auto& s : analyzer.suspects())
            if (s.site == id) return s;
        return std::nullopt;
    }

    int snapshots() const { return index_; }

    LeakAnalyzer analyzer;

private:
    struct SiteSpec {
        SiteId id;
        std::function<double(int)> live;
        double churn;
        double object_size;
    };
    struct Counters {
        double live = 0, alloc = 0, freed = 0;
    };
    std::vector<SiteSpec> sites_;
    std::map<SiteId, Counters> counters_;
    uint64_t full_collections_ = 0;
    int index_ = 0;
};

// ~50 KB/s: 100 KB per 2 s interval, on top of 64 KB already held.
double steady_leak(int i) { return 64e3 + 100e3 * i; }

}  // namespace

TEST_CASE("trend statistics on known series", "[analysis]") {
    std::vector<TrendPoint> line;
    for (int i = 0; i < 6; ++i) line.push_back({2.0 * i, 1000 + 500.0 * i});

    const LineFit fit = fit_line(line);
    CHECK(fit.slope == Approx(250));
    CHECK(fit.r2 == Approx(1));
    CHECK(fit.residual_ss == Approx(0).margin(1e-6));

    const MonotonicTrend up = mann_kendall(line);
    CHECK(up.tau == Approx(1));
    // n = 6: S = 15, variance 6*5*17/18, continuity-corrected z = 14 / sqrt(28.33).
    CHECK(up.z == Approx(14 / std::sqrt(6.0 * 5 * 17 / 18)));

    CHECK(reading_noise(line) == Approx(0).margin(1e-9));

    std::vector<TrendPoint> flat(8, TrendPoint{});
    for (size_t i = 0; i < flat.size(); ++i) flat[i] = {2.0 * static_cast<double>(i), 7.0};
    CHECK(fit_line(flat).slope == 0);
    CHECK(fit_line(flat).r2 == 0);
    CHECK(mann_kendall(flat).z == 0);

    // Noise of known size on a line that bends: the estimate sees the noise,
    // not the bend (each 1000-byte step dwarfs it).
    std::mt19937 rng(1);
    std::vector<TrendPoint> bent;
    for (int i = 0; i < 40; ++i) bent.push_back({2.0 * i, (i < 20 ? 1000.0 * i : 20000.0) + 30 * jitter(rng)});
    const double uniform_sd = 30 / std::sqrt(3.0);
    CHECK(reading_noise(bent) == Approx(uniform_sd).epsilon(0.35));
}

TEST_CASE("a steady leak is a 'leak' with the right growth rate", "[analysis]") {
    Stream stream;
    stream.site(1, steady_leak);

    stream.run(4);
    CHECK(stream.analyzer.suspects().empty());  // too few readings for any verdict

    stream.run(1);  // 5 snapshots, 8 s
    auto early = stream.suspect(1);
    REQUIRE(early);
    CHECK(early->verdict == Verdict::Leak);

    stream.run(3);  // 8 snapshots, 14 s
    auto s = stream.suspect(1);
    REQUIRE(s);
    CHECK(s->verdict == Verdict::Leak);
    CHECK(s->growth_bytes_per_s == Approx(50e3).epsilon(0.10));
    CHECK(s->score > 0);
    CHECK(s->score <= 1);
    CHECK(s->evidence.intervals == 7);
    CHECK(s->evidence.grew_intervals == 7);
    CHECK(s->evidence.shrank_intervals == 0);
    CHECK(s->evidence.window_s == Approx(14));
    CHECK(s->evidence.growth_bytes == Approx(700e3).epsilon(0.10));
    CHECK(s->evidence.r2 > 0.99);
    CHECK_FALSE(s->evidence.flattening);
    CHECK(stream.analyzer.summary(1)->trend == Trend::Leak);
}

TEST_CASE("a leak among heavy churn: only the leak site is a suspect", "[analysis]") {
    Stream stream;
    stream.site(1, steady_leak, 2e6);  // the leak also churns a little
    std::mt19937 rng(7);
    for (SiteId id = 2; id <= 21; ++id) {
        const double level = 1e6 * static_cast<double>(id);  // 2 MB .. 21 MB
        stream.site(id, [level, &rng](int) { return level * (1 + 0.2 * jitter(rng)); }, 50e6);
    }
    stream.run_checking_only(40, {1});
    const auto suspects = stream.analyzer.suspects();
    REQUIRE(suspects.size() == 1);
    CHECK(suspects[0].site == 1);
    CHECK(suspects[0].verdict == Verdict::Leak);
    CHECK(suspects[0].growth_bytes_per_s == Approx(50e3).epsilon(0.10));
}

TEST_CASE("pure churn with +-20% sampling jitter is never a suspect", "[analysis]") {
    // Independent jitter can line up into a trend by chance: of 30,000 such
    // site runs of 60 readings, 4 became a probable-leak for a few readings
    // (docs/json-contract.md, "How reliable this is"). These streams show the
    // normal case, checked after every snapshot.
    for (unsigned seed : {2u, 3u, 4u, 5u, 6u}) {
        Stream stream;
        std::mt19937 rng(seed);
        for (SiteId id = 1; id <= 30; ++id) {
            const double level = 512e3 * static_cast<double>(id);  // 0.5 MB .. 15 MB
            stream.site(id, [level, &rng](int) { return level * (1 + 0.2 * jitter(rng)); }, 20 * level);
        }
        INFO("seed " << seed);
        stream.run_checking_only(60, {});
        CHECK(stream.analyzer.suspects().empty());
    }
}

TEST_CASE("a large stable heap is not a suspect", "[analysis]") {
    Stream stream;
    std::mt19937 rng(11);
    stream.site(1, [](int) { return 512e6; });                                    // exactly constant
    stream.site(2, [&rng](int) { return 300e6 * (1 + 0.02 * jitter(rng)); }, 1e6);  // +-2%
    stream.site(3, [&rng](int) { return 80e6 * (1 + 0.05 * jitter(rng)); }, 1e6);   // +-5%
    stream.run_checking_only(80, {});
    for (SiteId id : {1, 2, 3}) CHECK(stream.analyzer.summary(id)->trend != Trend::Growing);
}

TEST_CASE("tiny growth is not flagged", "[analysis]") {
    Stream stream;
    stream.site(1, [](int i) { return 1e3 + 2e3 * i; });            // steady but only ~60 KB in all
    stream.site(2, [](int i) { return 100e6 + 50e3 * i; });         // steady, 1.5 MB on 100 MB: 1.5%
    stream.run_checking_only(30, {});
    CHECK(stream.analyzer.evidence(2)->growth_bytes < 0.10 * 101.5e6);
}

TEST_CASE("a bounded cache that fills up and stays flat is not a suspect once flat", "[analysis]") {
    Stream stream;
    std::mt19937 rng(3);
    // Fills at 250 KB/s for 20 s (to 5 MB), then holds with +-1% jitter.
    stream.site(1, [&rng](int i) { return std::min(i, 10) * 500e3 * (1 + 0.01 * jitter(rng)); });

    stream.run(11);  // still filling: it does look like a leak, and says so
    REQUIRE(stream.suspect(1));

    stream.run(4);  // four flat readings
    CHECK_FALSE(stream.suspect(1));

    for (int i = 0; i < 40; ++i) {
        stream.step();
        CHECK_FALSE(stream.suspect(1));
    }
    CHECK(stream.analyzer.summary(1)->trend == Trend::Settled);
    CHECK(stream.analyzer.evidence(1)->flattening);
}

TEST_CASE("a slow leak under noise becomes a probable-leak once the evidence is there", "[analysis]") {
    Stream stream;
    std::mt19937 rng(5);
    // 20 KB/s on a 2 MB churning base that jitters +-10%: at first the growth is
    // lost in the noise.
    stream.site(1, [&rng](int i) { return 2e6 * (1 + 0.1 * jitter(rng)) + 40e3 * i; }, 10e6);

    stream.run(8);
    CHECK_FALSE(stream.suspect(1));

    int first = -1;
    for (int i = 0; i < 50; ++i) {
        stream.step();
        const auto s = stream.suspect(1);
        if (s && first < 0) {
            first = stream.snapshots();
            CHECK(s->verdict == Verdict::ProbableLeak);
        }
        // Once a suspect, it stays one while the leak goes on.
        if (first >= 0) CHECK(s);
    }
    REQUIRE(first > 0);
    const auto s = stream.suspect(1);
    REQUIRE(s);
    CHECK(s->verdict == Verdict::ProbableLeak);
    CHECK(s->growth_bytes_per_s == Approx(20e3).epsilon(0.25));
    CHECK(s->evidence.shrank_intervals > 0);
}

TEST_CASE("growth that stops drops out of the suspects", "[analysis]") {
    Stream stream;
    stream.site(1, [](int i) { return steady_leak(std::min(i, 19)); });
    stream.run(20);
    REQUIRE(stream.suspect(1));
    CHECK(stream.suspect(1)->verdict == Verdict::Leak);

    stream.run(5);
    CHECK_FALSE(stream.suspect(1));
    CHECK(stream.analyzer.summary(1)->trend == Trend::Settled);
}

TEST_CASE("memory that is freed again is not a suspect", "[analysis]") {
    Stream stream;
    // Cyclic garbage: builds up for 30 s, then a full collection frees it.
    stream.site(1, [](int i) { return 1e6 + 200e3 * (i % 15); });
    stream.run(15);
    stream.run(3);
    CHECK_FALSE(stream.suspect(1));
    for (int i = 0; i < 60; ++i) {
        stream.step();
        // Later cycles look like neither a leak nor steady growth.
        if (i > 15) CHECK_FALSE(stream.suspect(1));
    }
}

TEST_CASE("suspects are ranked: a bigger, steadier leak first", "[analysis]") {
    Stream stream;
    std::mt19937 rng(9);
    stream.site(1, [&rng](int i) { return 1e6 * (1 + 0.1 * jitter(rng)) + 60e3 * i; }, 5e6);  // 30 KB/s, noisy
    stream.site(2, [](int i) { return 400e3 * i; });                                           // 200 KB/s, steady
    stream.site(3, [](int i) { return 50e3 + 100e3 * i; });                                    // 50 KB/s, steady
    stream.run(40);

    const auto suspects = stream.analyzer.suspects();
    REQUIRE(suspects.size() == 3);
    CHECK(suspects[0].site == 2);
    CHECK(suspects[1].site == 3);
    CHECK(suspects[2].site == 1);
    for (size_t i = 0; i < suspects.size(); ++i) {
        CHECK(suspects[i].score >= 0);
        CHECK(suspects[i].score <= 1);
        if (i > 0) CHECK(suspects[i - 1].score >= suspects[i].score);
    }
}

TEST_CASE("surviving full collections is reported as evidence", "[analysis]") {
    Stream stream;
    stream.site(1, steady_leak);                                   // leaked: everything survives
    stream.site(2, [](int i) { return 2e6 + 100e3 * (i % 2); });  // garbage: nothing survives
    stream.full_gc = [](int i) { return i > 0 && i % 3 == 0; };    // before snapshots 3, 6, 9
    stream.survived = [](SiteId id, int, double previous_live) { return id == 1 ? previous_live : 0.0; };
    stream.run(10);

    const auto s = stream.suspect(1);
    REQUIRE(s);
    CHECK(s->evidence.full_collections == 3);
    CHECK(s->evidence.full_collections_survived == 3);
    CHECK(s->evidence.survived_full_gc_bytes > 0);

    const auto garbage = stream.analyzer.evidence(2);
    REQUIRE(garbage);
    CHECK(garbage->full_collections == 3);
    CHECK(garbage->full_collections_survived == 0);

    // The same leak without collections scores lower.
    Stream no_gc;
    no_gc.site(1, steady_leak);
    no_gc.run(10);
    REQUIRE(no_gc.suspect(1));
    CHECK(no_gc.suspect(1)->evidence.full_collections == 0);
    CHECK(no_gc.suspect(1)->score < s->score);
}

TEST_CASE("a long leak stays a leak as old readings are merged", "[analysis]") {
    Stream stream;
    stream.site(1, steady_leak);
    stream.run(300);
    const auto s = stream.suspect(1);
    REQUIRE(s);
    CHECK(s->verdict == Verdict::Leak);
    CHECK(s->evidence.readings <= stream.analyzer.options().window_readings);
    CHECK(s->evidence.intervals == 299);
    CHECK(s->evidence.grew_intervals == 299);
    CHECK(s->evidence.window_s == Approx(598).epsilon(0.02));
    CHECK(s->growth_bytes_per_s == Approx(50e3).epsilon(0.02));
}

TEST_CASE("top sites: largest first, with the change since the previous snapshot", "[analysis]") {
    Stream stream;
    stream.site(1, [](int) { return 1e6; });
    stream.site(2, [](int i) { return 3e6 + 1e5 * i; });
    stream.site(3, [](int i) { return i < 2 ? 2e6 : 0.0; });  // freed entirely at snapshot 2
    stream.run(2);

    auto top = stream.analyzer.top_sites(2);
    REQUIRE(top.size() == 2);
    CHECK(top[0].site == 2);
    CHECK(top[0].live_bytes == Approx(3.1e6));
    CHECK(top[0].delta_bytes == Approx(1e5));
    CHECK(top[1].site == 3);

    stream.step();
    top = stream.analyzer.top_sites(10);
    REQUIRE(top.size() == 2);  // site 3 holds nothing now
    CHECK(top[1].site == 1);
    CHECK(top[1].delta_bytes == Approx(0));
    CHECK(stream.analyzer.summary(3)->delta_bytes == Approx(-2e6));
}

TEST_CASE("interval totals count what happened during each interval", "[analysis]") {
    LeakAnalyzer analyzer;
    Snapshot first;
    first.t_s = 2;
    first.collections = 5;
    first.full_collections = 1;
    first.rss_bytes = 1000;
    first.sites = {{.site = 1, .live_bytes = 100, .live_objects = 2, .alloc_bytes = 300, .alloc_objects = 6,
                    .freed_bytes = 200, .freed_objects = 4}};
    REQUIRE(analyzer.add(first));

    Snapshot second = first;
    second.t_s = 4;
    second.collections = 8;
    second.sites[0].alloc_bytes = 500;
    second.sites[0].alloc_objects = 10;
    second.sites[0].freed_bytes = 400;
    second.sites[0].freed_objects = 8;
    second.sites.push_back({.site = 2, .live_bytes = 50, .live_objects = 1, .alloc_bytes = 50, .alloc_objects = 1});
    REQUIRE(analyzer.add(second));

    Snapshot stale = second;
    stale.t_s = 4;
    CHECK_FALSE(analyzer.add(stale));

    const auto& intervals = analyzer.intervals();
    REQUIRE(intervals.size() == 2);
    CHECK(intervals[0].alloc_bytes == Approx(300));
    CHECK(intervals[0].collections == 5);
    CHECK(intervals[1].t_s == Approx(4));
    CHECK(intervals[1].live_bytes == Approx(150));
    CHECK(intervals[1].alloc_bytes == Approx(250));
    CHECK(intervals[1].alloc_objects == Approx(5));
    CHECK(intervals[1].freed_bytes == Approx(200));
    CHECK(intervals[1].freed_objects == Approx(4));
    CHECK(intervals[1].collections == 3);
    CHECK(intervals[1].full_collections == 0);
    CHECK(intervals[1].rss_bytes == 1000);
}

TEST_CASE("a heap built by a call that is still running is 'building', not a leak", "[analysis]") {
    // A start-up load: 10 MB per interval, allocated by one call that is on a
    // thread's stack in every sample (8 samples per interval).
    Stream building;
    building.stack_samples = 8;
    building.site(1, [](int i) { return 10e6 * (i + 1); });
    building.running = [](SiteId, int) { return uint64_t(8); };
    building.run_checking_only(12, {});
    auto top = building.analyzer.top_sites(1);
    REQUIRE(top.size() == 1);
    CHECK(top[0].trend == Trend::Building);
    CHECK(building.analyzer.evidence(1)->growth_running_share == Approx(1.0));

    // The same growth from calls that return (running in 2 of 8 samples) is a leak.
    Stream leak;
    leak.stack_samples = 8;
    leak.site(1, [](int i) { return 10e6 * (i + 1); });
    leak.running = [](SiteId, int) { return uint64_t(2); };
    leak.run(12);
    REQUIRE(leak.analyzer.suspects().size() == 1);
    CHECK(leak.analyzer.suspects()[0].verdict == Verdict::Leak);
    CHECK(leak.analyzer.evidence(1)->growth_running_share == Approx(0.25));

    // Once the call returns, growth that goes on is judged as any other.
    Stream returned;
    returned.stack_samples = 8;
    returned.site(1, [](int i) { return 10e6 * (i + 1); });
    returned.running = [](SiteId, int i) { return uint64_t(i < 6 ? 8 : 0); };
    returned.run(20);
    REQUIRE(returned.analyzer.suspects().size() == 1);
    CHECK(returned.analyzer.evidence(1)->growth_running_share == Approx(0.3));
}

TEST_CASE("a load that returned and kept its heap is 'building', its callees' objects with it", "[analysis]") {
    // A start-up load slowed by tracing: 6 intervals of growth while the
    // loading line runs, then it returns; what it built stays for 2 readings
    // and the run ends while the heap is being freed. Site 2 is the objects a
    // constructor called from the loading line allocates: its own line is on
    // the stack in 3 of 8 samples, its caller's in all of them.
    Stream load;
    load.stack_samples = 8;
    auto built = [](double scale) {
        return [scale](int i) { return scale * (i < 6 ? i + 1 : i < 8 ? 6 : 4.2); };
    };
    load.site(1, built(25e6));
    load.site(2, built(1e6));
    load.running = [](SiteId id, int i) { return uint64_t(i >= 6 ? 0 : id == 1 ? 8 : 3); };
    load.caller = [](SiteId id) { return id == 2 ? SiteId(1) : SiteId(0); };
    load.run_checking_only(9, {});
    CHECK(load.analyzer.summary(1)->trend == Trend::Building);
    CHECK(load.analyzer.summary(2)->trend == Trend::Building);
    CHECK(load.analyzer.evidence(2)->growth_running_share == Approx(1.0));

    // A caller that is not itself a heap being built lends nothing: the same
    // callee growth under a line that allocated a few KiB is a leak.
    Stream leak;
    leak.stack_samples = 8;
    leak.site(1, [](int) { return 4096.0; });
    leak.site(2, [](int i) { return 1e6 * (i + 1); });
    leak.running = [](SiteId id, int) { return uint64_t(id == 1 ? 8 : 2); };
    leak.caller = [](SiteId id) { return id == 2 ? SiteId(1) : SiteId(0); };
    leak.run(12);
    REQUIRE(leak.analyzer.suspects().size() == 1);
    CHECK(leak.analyzer.suspects()[0].site == 2);
    CHECK(leak.analyzer.evidence(2)->growth_running_share == Approx(0.25));
}

TEST_CASE("a site forgotten while empty is not counted twice when it comes back", "[analysis]") {
    Options options;
    options.forget_after_empty = 3;
    LeakAnalyzer analyzer(options);
    auto snapshot = [](double t, std::vector<SiteReading> sites) {
        Snapshot s;
        s.t_s = t;
        s.sites = std::move(sites);
        return s;
    };
    const SiteReading busy{.site = 9, .live_bytes = 1000, .live_objects = 10, .alloc_bytes = 5000,
                           .alloc_objects = 50, .freed_bytes = 4000, .freed_objects = 40};
    REQUIRE(analyzer.add(snapshot(1, {busy})));
    SiteReading gone = busy;
    gone.live_bytes = gone.live_objects = 0;
    gone.freed_bytes = 5000;
    gone.freed_objects = 50;
    REQUIRE(analyzer.add(snapshot(2, {gone})));
    for (int t = 3; t <= 6; ++t) REQUIRE(analyzer.add(snapshot(t, {})));  // absent: forgotten after 3
    CHECK_FALSE(analyzer.summary(9).has_value());
    SiteReading back = gone;
    back.live_bytes = 300;
    back.live_objects = 3;
    back.alloc_bytes = 5300;
    back.alloc_objects = 53;
    REQUIRE(analyzer.add(snapshot(7, {back})));
    CHECK(analyzer.intervals().back().alloc_bytes == Approx(300));
    CHECK(analyzer.intervals().back().alloc_objects == Approx(3));
    CHECK(analyzer.intervals().back().freed_bytes == Approx(0));
    REQUIRE(analyzer.summary(9).has_value());
    CHECK(analyzer.summary(9)->delta_bytes == Approx(300));
}

TEST_CASE("at the end of a run, a flattening suspect built by a running call is settled", "[analysis]") {
    // A load seen running in 7 of 8 samples (one on another line of its
    // statement): short of 'building', a suspect until the run ends flat.
    auto load = [](uint64_t running, double last) {
        auto s = std::make_unique<Stream>();
        s->stack_samples = 8;
        // As measured on 3.13 (MB): the load returns during the fifth interval.
        s->site(1, [last](int i) { return 1e6 * std::vector<double>{32, 88, 134, 183, 216, 216, last}.at(i); });
        s->running = [running](SiteId, int i) { return uint64_t(i < 5 ? running : 0); };
        s->run(7);
        return s;
    };
    auto built = load(7, 216);
    REQUIRE(built->analyzer.suspects().size() == 1);
    CHECK(built->analyzer.evidence(1)->flattening);
    built->analyzer.conclude();
    CHECK(built->analyzer.suspects().empty());
    CHECK(built->analyzer.summary(1)->trend == Trend::Settled);

    // So is a site that stopped dead: nothing born or freed for two intervals.
    auto still = load(1, 216);
    REQUIRE(still->analyzer.suspects().size() == 1);
    still->analyzer.conclude();
    CHECK(still->analyzer.suspects().empty());

    // From a call that returns each time, and still moving, it stays a suspect.
    auto returning = load(1, 217);
    REQUIRE(returning->analyzer.suspects().size() == 1);
    returning->analyzer.conclude();
    CHECK(returning->analyzer.suspects().size() == 1);
}
