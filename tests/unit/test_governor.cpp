// SPDX-License-Identifier: BSD-2-Clause
#include <catch2/catch.hpp>

#include <algorithm>

#include "trace/governor.h"

using namespace leakscope::trace;

namespace {

// A target using `cpu_rate` of a CPU, whose probes cost `pct` percent of its
// own work while attached at the governor's starting sampling distance
// (`walk_share` of that walking stacks, which grows as sampling gets denser):
// attached, it does proportionally less of its own work in the same CPU time.
struct Simulation {
    Governor& g;
    double pct, walk_share;
    double start_bytes = double(g.sample_bytes());
    double memory_rate = 0;  // bytes/s
    double cpu_rate = 1;     // share of a CPU the target uses for its own work
    double late_share = 0;   // share of a step's probe cost that is read only a step later
    double pool_pct = 0;     // what refills of emptied pools cost while attached, percent of own work
    bool bound = true;       // false: the target waits on others (sleeps), so probes slow none of its work
    double detach_s = 0;     // how long the probes still cost after the governor detached them
    double t = 0, probe = 0, walk = 0, cpu = 0, memory = 100e6, pool = 0;
    double on_time = 0, late = 0, off_at = -1e9;
    bool was_on = true;

    void run(double seconds, double step = 0.1) {
        for (double end = t + seconds; t < end;) {
            bool on = g.update({t, probe, walk, cpu, uint64_t(memory), pool});  // all refills churn
            if (was_on && !on) off_at = t;
            was_on = on;
            const bool hit = on || t - off_at < detach_s;
            t += step;
            const double pool_share = g.pool_refills() ? pool_pct / 100 : 0;
            const double walk_pct = pct * walk_share * start_bytes / double(g.sample_bytes());
            const double now_pct = pct * (1 - walk_share) + walk_pct;
            const double own = step * cpu_rate / (bound ? (hit ? 1 + now_pct / 100 : 1) + pool_share : 1);
            const double due = hit ? own * now_pct / 100 : 0;
            const double cost = late + due * (1 - late_share);
            late = due * late_share;
            pool += own * pool_share;
            probe += cost + own * pool_share;
            walk += cost * walk_pct / now_pct;
            cpu += own + cost + own * pool_share;
            memory += memory_rate * step;
            on_time += on ? step : 0;
        }
    }
};

}  // namespace

TEST_CASE("without a budget the probes stay attached and the cost is only estimated", "[governor]") {
    Governor g({.budget_pct = 0, .escalate = false});
    Simulation sim{g, 40, 0.1};
    sim.run(30);
    CHECK(sim.on_time == Approx(30).margin(0.2));
    CHECK(*g.estimated_pct() == Approx(40).epsilon(0.05));
    CHECK(g.adjustments().empty());
}

TEST_CASE("probes that take nearly all the target's CPU time give no figure, not a clamp", "[governor]") {
    Governor g({.budget_pct = 0, .escalate = false});
    Simulation sim{g, 20000, 0.1};  // 200x slower
    sim.run(10);
    CHECK_FALSE(g.estimated_pct().has_value());

    Governor budgeted({.budget_pct = 10, .escalate = false});
    Simulation dear{budgeted, 20000, 0.3};
    dear.run(30);
    REQUIRE_FALSE(budgeted.adjustments().empty());
    for (const auto& a : budgeted.adjustments()) {
        INFO(a);
        CHECK(a.find("9900") == std::string::npos);
    }
    CHECK(budgeted.adjustments().front().find("cost over 100x") != std::string::npos);
}

TEST_CASE("over budget, the probes are attached in windows that meet the budget", "[governor]") {
    Governor g({.budget_pct = 2, .escalate = false});
    Simulation sim{g, 50, 0.3};
    sim.run(300);
    CHECK(*g.estimated_pct() == Approx(2).margin(0.5));
    // Attached, a third of the target's time goes to probes (50% of its own
    // work); that share of the time, d / 3, is 2% of the rest, 1 - d / 3.
    CHECK(g.duty_cycle() == Approx(0.02 / (1.02 / 3)).margin(0.01));
    REQUIRE_FALSE(g.adjustments().empty());
    CHECK(g.adjustments().front().find("windows") != std::string::npos);
}

TEST_CASE("probe hits read after a window has ended are charged to it", "[governor]") {
    // Links are removed after the reading that ends a window: hits landing
    // then must not leave the run over budget.
    Governor g({.budget_pct = 2, .escalate = false});
    Simulation sim{g, 4000, 0.01};
    sim.late_share = 0.8;
    sim.run(300);
    CHECK(*g.estimated_pct() <= 2.05);
    CHECK(*g.estimated_pct() >= 1.5);
}

TEST_CASE("a mostly idle target gets pauses long enough for its own slower pace", "[governor]") {
    Governor g({.budget_pct = 2, .escalate = false});
    Simulation sim{g, 300, 0.1};
    sim.cpu_rate = 0.05;
    sim.run(1200);
    CHECK(*g.estimated_pct() == Approx(2).margin(0.6));
}

TEST_CASE("a target that mostly sleeps gets windows the longest pause pays for", "[governor]") {
    // 1% of a CPU of its own, the probes cost it four times that while
    // attached, and go on costing while their links are removed: windows
    // sized as if it were CPU-bound leave each longest pause in debt.
    Governor g({.budget_pct = 10, .escalate = false, .window_s = 2});
    Simulation sim{g, 400, 0.02};
    sim.cpu_rate = 0.01;
    sim.bound = false;
    sim.detach_s = 0.08;
    sim.run(600, 0.02);
    CHECK(*g.estimated_pct() == Approx(10).margin(1.5));
    CHECK(g.duty_cycle() > 0.01);
}

TEST_CASE("the debt of a busy spell that the longest pause cannot pay is forgiven, and said", "[governor]") {
    Governor g({.budget_pct = 10, .escalate = false, .window_s = 2});
    Simulation sim{g, 900, 0.02};
    sim.run(1, 0.02);  // loading at full speed when the first window opens
    sim.cpu_rate = 0.005;
    sim.bound = false;
    sim.run(60, 0.02);
    const auto& a = g.adjustments();
    CHECK(std::count_if(a.begin(), a.end(), [](const std::string& s) { return s.find("forgiven") != s.npos; }) == 1);
    CHECK(g.duty_cycle() > 0.005);  // still traced every 10 s
}

TEST_CASE("when stack walks dominate, sampling is lowered before coverage", "[governor]") {
    Governor g({.budget_pct = 20, .escalate = false});
    Simulation sim{g, 30, 0.9};
    sim.run(3);
    CHECK(g.sample_bytes() > 16384);
    REQUIRE_FALSE(g.adjustments().empty());
    CHECK(g.adjustments().front().find("sampling lowered") != std::string::npos);
}

TEST_CASE("when traps dominate, windows sample more densely, down to a floor", "[governor]") {
    Governor g({.budget_pct = 10, .escalate = false, .sample_bytes = 65536});
    Simulation sim{g, 500, 0.001};
    sim.run(60);
    CHECK(g.sample_bytes() == Governor::kMinSampleBytes);
    REQUIRE_FALSE(g.adjustments().empty());
    CHECK(g.adjustments().front().find("sampling raised to one stack per 16 KiB") != std::string::npos);
    CHECK(*g.estimated_pct() == Approx(10).margin(2));

    // Walks that are a good share of the cost leave the distance alone.
    Governor walks({.budget_pct = 10, .escalate = false});
    Simulation busy{walks, 500, 0.3};
    busy.run(60);
    CHECK(walks.sample_bytes() == 16384);
}

TEST_CASE("windows sample more densely until recording samples is a fifth of their cost", "[governor]") {
    // Samples per unit of cost grow with the walks' share: 5% of it at one
    // stack per 16 KiB is 17% at 4 KiB, and 46% at 1 KiB, where it stays.
    Governor g({.budget_pct = 10, .escalate = false});
    Simulation sim{g, 500, 0.05};
    sim.run(60);
    CHECK(g.sample_bytes() == 1024);
    CHECK(*g.estimated_pct() == Approx(10).margin(1.5));

    // The window after a change is sized for the denser sampling: a target
    // that mostly sleeps pays for its windows only within the longest pause.
    Governor idle({.budget_pct = 10, .escalate = false});
    Simulation sleeper{idle, 200, 0.05};
    sleeper.cpu_rate = 0.015;
    sleeper.bound = false;
    sleeper.run(120);
    CHECK(idle.sample_bytes() == 1024);
    CHECK(*idle.estimated_pct() == Approx(10).margin(0.5));
    for (const auto& a : idle.adjustments()) {
        INFO(a);
        CHECK(a.find("forgiven") == std::string::npos);
    }
}

TEST_CASE("within budget nothing changes", "[governor]") {
    Governor g({.budget_pct = 5, .escalate = true});
    Simulation sim{g, 1, 0.5};
    sim.run(60);
    CHECK(g.duty_cycle() == Approx(1).margin(0.01));
    CHECK(g.adjustments().empty());
}

TEST_CASE("a process that keeps growing gets a larger budget in continuous mode", "[governor]") {
    Governor g({.budget_pct = 2, .escalate = true});
    Simulation sim{g, 50, 0.1};
    sim.memory_rate = 1e6;  // 1 MB/s
    sim.run(60);
    CHECK(g.budget_pct() == Approx(10));
    bool escalated = false;
    for (const auto& a : g.adjustments()) escalated |= a.find("escalated") != std::string::npos;
    CHECK(escalated);
}

TEST_CASE("growth at start-up followed by a plateau is not escalated", "[governor]") {
    Governor g({.budget_pct = 2, .escalate = true});
    Simulation sim{g, 50, 0.1};
    sim.memory_rate = 20e6;  // 20 MB in the first second, then flat
    sim.run(1);
    sim.memory_rate = 0;
    sim.run(120);
    CHECK(g.budget_pct() == Approx(2));
}

TEST_CASE("a flat process is not escalated", "[governor]") {
    Governor g({.budget_pct = 2, .escalate = true});
    Simulation sim{g, 50, 0.1};
    sim.run(120);
    CHECK(g.budget_pct() == Approx(2));
}

TEST_CASE("pool refills stay attached while they cost under half the budget, else are detached for good",
          "[governor]") {
    struct Case {
        double budget, pool_pct;
        bool kept;
    };
    for (const Case c : {Case{10, 1, true}, Case{10, 4.9, true}, Case{10, 6, false}, Case{10, 40, false},
                         Case{2, 0.5, true}, Case{2, 1.5, false}, Case{0, 40, true}}) {
        INFO("budget " << c.budget << "%, refills cost " << c.pool_pct << "%");
        Governor g({.budget_pct = c.budget, .escalate = false});
        Simulation sim{g, 5, 0.1};
        sim.pool_pct = c.pool_pct;
        sim.run(5);
        CHECK(g.pool_refills() == c.kept);
        const bool noted = std::any_of(g.adjustments().begin(), g.adjustments().end(), [](const std::string& a) {
            return a.find("pool refill probes detached") != std::string::npos;
        });
        CHECK(noted == !c.kept);
        const double pool_then = sim.pool;
        sim.run(5);
        if (!c.kept) CHECK(sim.pool == pool_then);  // not attached again
    }
}

TEST_CASE("a pause and a window fit in a report interval, within bounds", "[governor]") {
    CHECK(Governor::longest_pause(10, 2) == 8);
    CHECK(Governor::longest_pause(2, 2) == 1);  // never under half of it
    CHECK(Governor::longest_pause(60, 1) == Governor::kMaxPauseS);
}
