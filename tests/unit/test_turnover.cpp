// SPDX-License-Identifier: BSD-2-Clause
// Deaths the probes cannot see: the mixture fit from seasoned samples, and a
// HeapTracker under a 10% duty cycle following a cache whose freed addresses
// are taken again by its own next entries while the probes are away.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <random>

#include "proc/memory.h"
#include "trace/heap.h"
#include "trace/turnover.h"

using namespace leakscope;
using namespace leakscope::trace;

namespace {

// Seasoned samples: `mortals` reborn at `hazard` per second observed and
// `immortals` never, each observed for up to `observe_s` (spread evenly).
struct Observed {
    double kills = 0, killed_observed_s = 0;
    std::vector<double> survivors;
};

Observed observe(int mortals, int immortals, double hazard, double observe_s) {
    Observed o;
    for (int i = 0; i < mortals; ++i) {
        const double life = -std::log(1 - (i + 0.5) / mortals) / hazard;
        const double limit = observe_s * (i % 97 + 0.5) / 97;
        if (life < limit)
            o.kills += 1, o.killed_observed_s += life;
        else
            o.survivors.push_back(limit);
    }
    for (int i = 0; i < immortals; ++i) o.survivors.push_back(observe_s * (i % 89 + 0.5) / 89);
    return o;
}

}  // namespace

TEST_CASE("the turnover fit separates samples that die from samples that never do", "[turnover]") {
    struct Case {
        const char* what;
        int mortals, immortals;
        double hazard, observe_s;
    };
    const Case cases[] = {
        {"a cache: every sample dies", 2000, 0, 0.5, 10},
        {"a leak with a cache on the same line", 1000, 1000, 0.5, 10},
        {"a leak with one long-lived temporary", 1, 2000, 0.5, 10},
        {"mostly a cache, slow turnover", 3000, 300, 0.05, 60},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        const Observed o = observe(c.mortals, c.immortals, c.hazard, c.observe_s);
        const Turnover t = fit_turnover(o.kills, o.killed_observed_s, o.survivors);
        const double share = double(c.immortals) / (c.mortals + c.immortals);
        CHECK(t.immortal == Approx(share).margin(0.03));
        if (c.mortals > 100) CHECK(t.hazard == Approx(c.hazard).epsilon(0.1));
    }
}

TEST_CASE("without a rebirth seen, every sample followed is alive", "[turnover]") {
    const Turnover t = fit_turnover(0, 0, {1, 2, 3});
    CHECK(t.alive(0, 100) == 1);
    CHECK(t.alive(5, 100) == 1);
    // Observed long without a rebirth where the others die fast: it is one that never dies.
    const Observed o = observe(1000, 100, 2, 20);
    CHECK(fit_turnover(o.kills, o.killed_observed_s, o.survivors).alive(15, 100) == Approx(1).margin(1e-6));
}

namespace {

struct KernelLiveMap : LiveMaps {
    std::map<uint64_t, uint64_t> seqs;  // the newest sampled birth at each address
    std::optional<uint64_t> live_seq(ls_family, uint64_t addr) const override {
        auto it = seqs.find(addr);
        return it == seqs.end() ? std::nullopt : std::optional(it->second);
    }
    void forget(ls_family, uint64_t addr) override { seqs.erase(addr); }
};

// Live objects estimated at the end of a run with the probes attached for
// 1 s in every 10: a cache of 300 entries whose addresses are reused by its
// next entries (each lives 30 s on average), a line leaking 2 objects a
// second, and one leaking 1 a second among temporaries that live 15 s on
// average at reused addresses. Every birth in a window is sampled (weight 1).
std::map<uint64_t, double> cache_and_leak(double seconds) {
    const std::map<uint64_t, Stack> stacks = {{1, {{"cache.py", 33, "fetch"}}}, {2, {{"leak.py", 7, "keep"}}},
                                             {3, {{"session.py", 12, "open"}}}};
    HeapTracker heap(0, [&](uint64_t id, int32_t) { return std::pair<Stack, uint32_t>{stacks.at(id), 0}; });
    KernelLiveMap kernel;
    proc::SnapshotMemory mem;
    std::mt19937_64 rng(7);
    std::exponential_distribution<double> life(1.0 / 30);
    constexpr int kEntries = 300;
    std::exponential_distribution<double> temporary(1.0 / 15);
    std::vector<double> reborn_at(kEntries), temporary_reborn_at(30, 0);
    for (auto& t : reborn_at) t = std::uniform_real_distribution<double>(0, 5)(rng);  // filled in 5 s
    uint64_t seq = 0, leaked = 0;
    const double step = 0.01;
    bool attached = true;
    for (double t = 0; t < seconds; t += step) {
        const bool window = std::fmod(t, 10) < 1;
        if (window != attached) {
            if (window)
                heap.probes_attached(t);
            else {
                heap.sweep(kernel, mem, t, 0);
                heap.probes_detached(t);
            }
            attached = window;
        }
        auto born = [&](uint64_t addr, uint64_t stack) {
            if (!attached) return;
            kernel.seqs[addr] = ++seq;
            heap.add(ls_sample{.addr = addr, .seq = seq, .stack_id = stack, .ts_ns = uint64_t(t * 1e9), .size = 100,
                               .family = LS_FAMILY_NATIVE, .sample_bytes = 1, .native_stack_id = -1});
        };
        for (int i = 0; i < kEntries; ++i)
            if (reborn_at[i] <= t) {
                born(0x100000 + 0x100 * uint64_t(i), 1);
                reborn_at[i] = t + life(rng);
            }
        for (size_t i = 0; i < temporary_reborn_at.size(); ++i)
            if (temporary_reborn_at[i] <= t) {
                born(0x200000 + 0x100 * i, 3);
                temporary_reborn_at[i] = t + temporary(rng);
            }
        if (std::fmod(t, 0.5) < step) born(0x900000 + 0x100 * ++leaked, 2);
        if (std::fmod(t, 1) < step) born(0x900000 + 0x100 * ++leaked, 3);
    }
    std::map<uint64_t, double> live;
    for (const auto& r : heap.snapshot(seconds, 0, 0, 0).sites) live[heap.site(r.site)->frames.front().line] = r.live_objects;
    return live;
}

}  // namespace

TEST_CASE("a cache refilling its own addresses while the probes are away is not taken for a leak", "[turnover]") {
    // Followed as it looks, the cache would grow towards 10x its size (each
    // window's samples stand for 10 s and die only where a window sees it):
    // 1,541 objects at 205 s and 2,125 at 405 s.
    const auto at_200 = cache_and_leak(205);
    const auto at_400 = cache_and_leak(405);
    CHECK(at_200.at(33) == Approx(300).epsilon(0.4));
    CHECK(at_400.at(33) == Approx(300).epsilon(0.4));
    CHECK(std::abs(at_400.at(33) - at_200.at(33)) < 0.2 * 300);
    // The leak keeps every sample: 2 a second.
    CHECK(at_200.at(7) == Approx(2 * 205).epsilon(0.1));
    CHECK(at_400.at(7) == Approx(2 * 405).epsilon(0.1));
    // Leaked among temporaries: the young are discounted, but it grows as it leaks.
    CHECK(at_400.at(12) - at_200.at(12) > 0.4 * 200);
    CHECK(at_400.at(12) - at_200.at(12) < 1.3 * 200);
}
