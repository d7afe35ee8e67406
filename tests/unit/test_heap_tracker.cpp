// SPDX-License-Identifier: BSD-2-Clause
// HeapTracker: sample weights, which sites each snapshot reports, and
// running-stack counts (a site runs in a sample when its whole stack is the
// outer part of a thread's current stack).
#include <catch2/catch.hpp>

#include <cmath>

#include "trace/heap.h"

using namespace leakscope;
using namespace leakscope::trace;

namespace {
// Every sample at one line.
const HeapTracker::StackResolver kOneLine = [](uint64_t, int32_t) {
    return std::pair<Stack, uint32_t>{{{"app.py", 1, "f"}}, 0};
};

// A sample of 100 bytes standing for one object, born at t_s.
void born(HeapTracker& heap, uint64_t addr, double t_s) {
    heap.add(ls_sample{.addr = addr, .seq = addr, .stack_id = 1, .type = 0x77, .ts_ns = uint64_t(t_s * 1e9),
                       .size = 100, .sample_bytes = 1});
}
}  // namespace

TEST_CASE("a site runs while its whole stack is on a thread, callees below it allowed", "[heap]") {
    const Stack load = {{"app.py", 23, "<dictcomp>"}, {"app.py", 23, "load"}, {"app.py", 36, "main"}};
    const Stack serve = {{"app.py", 50, "serve"}, {"app.py", 40, "main"}};
    HeapTracker heap(0, [&](uint64_t id, int32_t) { return std::pair<Stack, uint32_t>{id == 1 ? load : serve, 0}; });
    heap.add(ls_sample{.addr = 0x1000, .seq = 1, .stack_id = 1, .type = 0x77, .ts_ns = 1, .size = 64, .sample_bytes = 4096});
    heap.add(ls_sample{.addr = 0x2000, .seq = 2, .stack_id = 2, .type = 0x77, .ts_ns = 1, .size = 64, .sample_bytes = 4096});

    Stack deeper = load;  // inside a call made from the comprehension
    deeper.insert(deeper.begin(), Frame{"app.py", 5, "Record.__init__"});
    heap.sample_running({deeper});
    heap.sample_running({load, {{"app.py", 40, "main"}}});           // serve's call returned
    heap.sample_running({{{"app.py", 24, "load"}, {"app.py", 36, "main"}}});  // another line of load
    const auto snap = heap.snapshot(1.0, 0, 0, 0);
    CHECK(snap.stack_samples == 3);
    REQUIRE(snap.sites.size() == 2);
    for (const auto& r : snap.sites) {
        const SiteInfo* info = heap.site(r.site);
        REQUIRE(info);
        CHECK(r.running_samples == (info->frames == load ? 2u : 0u));
    }
    // The next interval starts from zero.
    const auto next = heap.snapshot(2.0, 0, 0, 0);
    CHECK(next.stack_samples == 0);
    for (const auto& r : next.sites) CHECK(r.running_samples == 0);
}

TEST_CASE("each sample is weighed by the sampling distance it was drawn with", "[heap]") {
    HeapTracker heap(0, kOneLine);
    // The budget changed the distance from 4 KiB to 256 KiB between these two.
    heap.add(ls_sample{.addr = 0x1000, .seq = 1, .stack_id = 1, .type = 0x77, .ts_ns = 1, .size = 100, .sample_bytes = 4096});
    heap.add(ls_sample{.addr = 0x2000, .seq = 2, .stack_id = 1, .type = 0x77, .ts_ns = 1, .size = 100, .sample_bytes = 262144});
    heap.add(ls_sample{.addr = 0x3000, .seq = 3, .stack_id = 1, .type = 0x77, .ts_ns = 1, .size = 100, .sample_bytes = 1});
    const auto snap = heap.snapshot(1.0, 0, 0, 0);
    REQUIRE(snap.sites.size() == 1);
    const double expected = 100 / -std::expm1(-100.0 / 4096) + 100 / -std::expm1(-100.0 / 262144) + 100;
    CHECK(snap.sites[0].live_bytes == Approx(expected));
    CHECK(snap.sites[0].live_objects == Approx(expected / 100));
    CHECK(snap.sites[0].alloc_bytes == Approx(expected));
}

TEST_CASE("native callers do not split a Python line's memory into several sites", "[heap]") {
    const Stack python = {{"app.py", 36, "open_handle"}, {"app.py", 47, "main"}};
    auto with_native = [&](const char* fn) {
        Stack s = python;
        s.insert(s.begin(), Frame{"/usr/lib/libffi.so.8", -1, fn, true});
        return s;
    };
    HeapTracker heap(0, [&](uint64_t, int32_t native) {
        return std::pair<Stack, uint32_t>{native < 0 ? python : with_native(native == 1 ? "ffi_call" : "+0x10"), 0};
    });
    heap.add(ls_sample{.addr = 0x1000, .seq = 1, .stack_id = 5, .type = 0x77, .ts_ns = 1, .size = 64,
                       .family = LS_FAMILY_OBJECT, .sample_bytes = 1, .native_stack_id = -1});
    heap.add(ls_sample{.addr = 0x2000, .seq = 2, .stack_id = 5, .ts_ns = 1, .size = 4096,
                       .family = LS_FAMILY_NATIVE, .sample_bytes = 1, .native_stack_id = 1});
    heap.add(ls_sample{.addr = 0x3000, .seq = 3, .stack_id = 5, .ts_ns = 1, .size = 4096,
                       .family = LS_FAMILY_NATIVE, .sample_bytes = 1, .native_stack_id = 2});
    const auto snap = heap.snapshot(1.0, 0, 0, 0);
    REQUIRE(snap.sites.size() == 1);
    CHECK(snap.sites[0].live_bytes == Approx(64 + 4096 * 2));
    const SiteInfo* info = heap.site(snap.sites[0].site);
    REQUIRE(info);
    CHECK(info->frames == with_native("ffi_call"));  // the first native variant is shown
}

TEST_CASE("a sample born in a tracing window stands for the whole span since the previous window", "[heap]") {
    HeapTracker heap(0, kOneLine);
    // Attached for the first second of ten: a birth stands for ten.
    born(heap, 0x1000, 0.5);
    heap.probes_detached(1.0);
    // Attached again from 9 s to 10 s: the span since the last window is 9 s.
    heap.probes_attached(9.0);
    born(heap, 0x2000, 9.5);
    SECTION("the open window's births are scaled as they stand; its live samples count for themselves") {
        const auto snap = heap.snapshot(10.0, 0, 0, 0);
        REQUIRE(snap.sites.size() == 1);
        CHECK(snap.sites[0].alloc_bytes == Approx(100 * (1 + 9)));
        CHECK(snap.sites[0].live_objects == Approx(1 + 1));
    }
    SECTION("a closed window keeps its multiplier, also for a sample delivered late; live, once the next opens") {
        heap.probes_detached(10.0);
        born(heap, 0x3000, 9.9);
        auto snap = heap.snapshot(20.0, 0, 0, 0);
        REQUIRE(snap.sites.size() == 1);
        CHECK(snap.sites[0].alloc_objects == Approx(1 + 9 + 9));
        CHECK(snap.sites[0].freed_objects == Approx(0));
        CHECK(snap.sites[0].live_objects == Approx(1 + 1 + 1));
        heap.probes_attached(20.0);
        snap = heap.snapshot(20.0, 0, 0, 0);
        REQUIRE(snap.sites.size() == 1);
        CHECK(snap.sites[0].live_objects == Approx(1 + 9 + 9));
    }
    SECTION("a death is retired with the weight of its birth") {
        born(heap, 0x1000, 9.6);  // a newer birth at the first sample's address: it died unseen
        heap.probes_detached(10.0);
        heap.probes_attached(20.0);
        const auto snap = heap.snapshot(20.0, 0, 0, 0);
        REQUIRE(snap.sites.size() == 1);
        CHECK(snap.sites[0].freed_objects == Approx(1));
        CHECK(snap.sites[0].live_objects == Approx(9 + 9));
        CHECK(snap.sites[0].alloc_objects - snap.sites[0].freed_objects == Approx(snap.sites[0].live_objects));
    }
}

TEST_CASE("under a budget a reading is timed at the births its estimate counts", "[heap]") {
    // One object a second, seen in the windows [0, 1], [9, 10] and [23, 24]:
    // at each reading the live estimate and its time agree on that rate,
    // though the report's own time does not.
    HeapTracker heap(0, kOneLine);
    born(heap, 0x1000, 0.5);
    heap.probes_detached(1.0);
    heap.probes_attached(9.0);
    born(heap, 0x2000, 9.5);
    heap.probes_detached(10.0);
    CHECK(heap.births_until(15.0) == Approx(2));  // window 1 counts only its own second yet
    auto snap = heap.snapshot(15.0, 0, 0, 0);
    CHECK(snap.t_s == Approx(2));
    CHECK(snap.sites.at(0).live_objects == Approx(2));
    CHECK(heap.births_until(22.0) == Approx(2));  // nothing new while the probes are away
    heap.probes_attached(23.0);
    born(heap, 0x3000, 23.5);
    CHECK(heap.births_until(23.8) == Approx(10.8));
    heap.probes_detached(24.0);
    snap = heap.snapshot(30.0, 0, 0, 0);
    CHECK(snap.t_s == Approx(11));
    CHECK(snap.sites.at(0).live_objects == Approx(11));

    HeapTracker always(0, kOneLine);
    CHECK(always.births_until(7.5) == 7.5);
}

TEST_CASE("probes first attached after the start: the first window stands for the span since the start", "[heap]") {
    // Under a budget the first window opens once the governor has read the cost.
    HeapTracker heap(0, kOneLine);
    heap.probes_attached(0.6);
    heap.add(ls_sample{.addr = 0x1000, .seq = 1, .stack_id = 1, .type = 0x77, .ts_ns = 620'000'000, .size = 100,
                       .sample_bytes = 1});
    heap.probes_detached(0.7);
    const auto snap = heap.snapshot(1.0, 0, 0, 0);
    REQUIRE(snap.sites.size() == 1);
    CHECK(snap.sites[0].alloc_objects == Approx(0.7 / 0.1));
}

TEST_CASE("with the probes attached throughout, samples keep their sampling weight", "[heap]") {
    HeapTracker heap(0, kOneLine);
    heap.add(ls_sample{.addr = 0x1000, .seq = 1, .stack_id = 1, .type = 0x77, .ts_ns = 2'000'000'000,
                       .size = 100, .sample_bytes = 1});
    for (double t : {3.0, 30.0}) {
        const auto snap = heap.snapshot(t, 0, 0, 0);
        REQUIRE(snap.sites.size() == 1);
        CHECK(snap.sites[0].live_objects == Approx(1));
    }
}
