// SPDX-License-Identifier: BSD-2-Clause
#include "trace/governor.h"

#include <fmt/format.h>

#include <algorithm>

namespace leakscope::trace {
namespace {
// Too little target CPU time in a window to judge its cost.
constexpr double kMinCpuS = 0.005;
constexpr double kMinWindowS = 0.05;
// A debt forgiven after the longest pause is said when over this share of the window's cost.
constexpr double kForgivenShare = 0.1;
// How long after a window its links may still be hit while being removed.
constexpr double kDetachTailS = 0.3;
// Growth that escalates: this much over the growth window, steadily.
constexpr double kGrowthWindowS = 30;
constexpr double kGrowthBytes = 4.0 * 1024 * 1024;
constexpr double kGrowthFraction = 0.05;
// The target's CPU time over which the pool refills' cost is judged.
constexpr double kPoolJudgeCpuS = 0.1;

// Below this share of a window's cost in recording samples (stack walks),
// sampling gets denser: samples per unit of cost grow in proportion to that
// share. Four times the walks then stay under half of the cost (a share w
// becomes 4w/(1+3w)), where sampling is thinned again.
constexpr double kDenserWalkShare = 0.2;

// The probes' cost as a share of the target's own work. The probes run on the
// target's CPU time, so an estimate above it only means "nearly all of it":
// the budget's decisions need no more than that.
double percent(double cost, double cpu) {
    if (cpu <= 0) return 0;
    cost = std::min(cost, Governor::kMaxShare * cpu);
    return 100 * cost / (cpu - cost);
}

// A sampling distance as the adjustments say it.
std::string bytes_text(uint64_t bytes) {
    return bytes % 1024 ? fmt::format("{} bytes", bytes) : fmt::format("{} KiB", bytes / 1024);
}

// A cost as the adjustments say it: past the clamp, only its lower bound is known.
std::string cost_text(double pct) {
    const double clamp = 100 * Governor::kMaxShare / (1 - Governor::kMaxShare);
    return pct >= clamp * 0.999 ? "over 100x" : fmt::format("{:.1f}%", pct);
}
}  // namespace

Governor::Governor(GovernorConfig config)
    : config_(config), budget_pct_(config.budget_pct), sample_bytes_(config.sample_bytes),
      window_(std::min(config.window_s, config.first_window_s)) {}

double Governor::longest_pause(double interval_s, double window_s) {
    return std::min(kMaxPauseS, std::max(interval_s - window_s, interval_s / 2));
}

void Governor::note(double t, std::string what) { adjustments_.push_back(fmt::format("{:.0f} s: {}", t, what)); }

std::optional<double> Governor::estimated_pct() const {
    const double cost = last_.probe_s - first_.probe_s, cpu = last_.target_cpu_s - first_.target_cpu_s;
    if (cpu > 0 && cost >= kMaxShare * cpu) return std::nullopt;
    return percent(cost, cpu);
}

double Governor::duty_cycle() const {
    const double span = last_.t_s - first_.t_s;
    const double on = on_time_ + (on_ ? last_.t_s - phase_start_ : 0);
    return span > 0 ? std::min(1.0, on / span) : 1.0;
}

bool Governor::update(const CostReading& r) {
    if (!started_) {
        started_ = true;
        first_ = last_ = window_start_ = pool_start_ = r;
        phase_start_ = r.t_s;
        return on_;
    }
    account(r);
    last_ = r;
    watch_growth(r);
    watch_pool_refills(r);
    if (budget_pct_ <= 0) return on_;
    if (on_ && r.t_s - phase_start_ >= window_) {
        end_window(r);
    } else if (!on_) {
        // Links are removed after the window's last reading; what their
        // probes cost until then shows up in the next readings.
        if (r.t_s - phase_start_ <= kDetachTailS) {
            window_cost_ = r.probe_s - window_start_.probe_s;
            tail_cost_ = r.probe_s - pause_start_.probe_s;
        }
        if (credit_ >= window_cost_) {
            start_window(r);
        } else if (r.t_s - phase_start_ >= config_.max_pause_s) {
            // The debt of a busy spell is not carried forward, but it is said
            // (not a rounding's worth: readings fall where they may).
            const bool debt = -credit_ > kForgivenShare * window_cost_;
            if (debt && !forgiven_)
                note(r.t_s, fmt::format("the longest pause ({:g} s) did not pay for the last window: {:.0f} ms of "
                                        "probe cost forgiven (the target used {:.1f}% of a CPU), here and after",
                                        config_.max_pause_s, -credit_ * 1000, 100 * pace_now(r)));
            forgiven_ = forgiven_ || debt;
            credit_ = std::max(credit_, 0.0);
            start_window(r);
        }
    }
    return on_;
}

void Governor::switched(const CostReading& r) {
    account(r);
    last_ = r;
    if (on_) {
        phase_start_ = r.t_s;
        window_start_ = r;
    }
}

void Governor::account(const CostReading& r) {
    if (budget_pct_ <= 0) return;
    const double cost = r.probe_s - last_.probe_s;
    const double own = std::max(0.0, r.target_cpu_s - last_.target_cpu_s - cost);
    // Saved credit pays for one window at most: an idle spell does not buy a burst.
    credit_ = std::min(credit_ + own * budget_pct_ / 100 - cost, std::max(window_cost_, 0.0));
}

void Governor::end_window(const CostReading& r) {
    const double cpu = r.target_cpu_s - window_start_.target_cpu_s;
    const double cost = r.probe_s - window_start_.probe_s;
    auto next_window = [&] {
        window_ = config_.window_s;
        on_time_ += r.t_s - phase_start_;
        phase_start_ = r.t_s;
        window_start_ = r;
    };
    if (cpu < kMinCpuS) return;  // too little work to judge yet: the window goes on
    const double pct = percent(cost, cpu);
    const double walk_share = cost > 0 ? (r.walk_s - window_start_.walk_s) / cost : 0;
    if (pct <= budget_pct_) return next_window();  // within budget: stay on
    // Stack walks dominate: sample more sparsely before giving up coverage.
    if (walk_share > 0.5 && sample_bytes_ < kMaxSampleBytes) {
        sample_bytes_ = std::min<uint64_t>(sample_bytes_ * 4, kMaxSampleBytes);
        note(r.t_s, fmt::format("sampling lowered to one stack per {} (tracing cost {} > budget {:.1f}%)",
                                bytes_text(sample_bytes_), cost_text(pct), budget_pct_));
        return next_window();
    }
    // Traps dominate: the windows will see a small share of births, so each
    // samples more densely. Its extra stack walks are cheap next to the traps
    // every birth costs anyway, and a leak's few samples per window are what
    // its growth is judged on.
    double next_cost = cost;  // what a window as long as this one will cost
    if (walk_share < kDenserWalkShare && sample_bytes_ > kMinSampleBytes) {
        const uint64_t denser = std::max<uint64_t>(sample_bytes_ / 4, kMinSampleBytes);
        next_cost *= 1 + walk_share * (double(sample_bytes_) / double(denser) - 1);
        sample_bytes_ = denser;
        note(r.t_s, fmt::format("sampling raised to one stack per {} (probe traps, not stack walks, are the cost)",
                                bytes_text(sample_bytes_)));
    }
    // Detach until the credit has paid for this window again. Where a window
    // slows the target many times over, a shorter one sees as much of its
    // work and keeps each stall short; short enough, too, that the longest
    // pause pays for it, hits while its links are removed included, at the
    // target's own pace while detached (a mostly idle target earns little).
    const double wall = r.t_s - phase_start_;
    const double pace = pace_ >= 0 ? pace_ : std::max(0.0, cpu - cost) / wall;  // unknown: as slowed
    const double payable = std::max(0.0, config_.max_pause_s * pace * budget_pct_ / 100 - tail_cost_);
    const double next_pct = pct * next_cost / cost;
    const double short_stall = std::min(config_.window_s * 100, config_.max_pause_s * budget_pct_) / next_pct;
    window_pct_ = pct;
    window_ = std::clamp(std::min(short_stall, payable * wall / next_cost), kMinWindowS, config_.window_s);
    pause_start_ = r;
    on_time_ += wall;
    on_ = false;
    phase_start_ = r.t_s;
}

// The target's own CPU time per second since the pause began.
double Governor::pace_now(const CostReading& r) const {
    const double paused = r.t_s - pause_start_.t_s;
    const double cost = r.probe_s - pause_start_.probe_s;
    return paused > 0 ? std::max(0.0, r.target_cpu_s - pause_start_.target_cpu_s - cost) / paused : 0;
}

void Governor::start_window(const CostReading& r) {
    if (r.t_s > pause_start_.t_s) pace_ = pace_now(r);
    const double on_s = phase_start_ - window_start_.t_s, off_s = r.t_s - phase_start_;
    auto differs = [](double a, double b, double factor) { return a > b * factor || a < b / factor; };
    if (differs(on_s, noted_on_s_, 2) || differs(off_s, noted_off_s_, 1.5)) {
        note(r.t_s, fmt::format("allocation probes attached in {:.1f} s windows, paused {:.1f} s in between "
                                       "(cost {} while attached > budget {:.1f}%)",
                                       on_s, off_s, cost_text(window_pct_), budget_pct_));
        noted_on_s_ = on_s;
        noted_off_s_ = off_s;
    }
    on_ = true;
    phase_start_ = r.t_s;
    window_start_ = r;
}

// A refill is one per pool of growth where memory grows, which bounds its
// cost by the work of making a pool's worth of objects. But a target that
// makes and drops whole pools' worth of objects at a time (a parsed document,
// a batch) empties and refills pools thousands of times a second: when those
// refills alone take over half the budget, the probes are detached, for good.
void Governor::watch_pool_refills(const CostReading& r) {
    if (!pool_refills_ || budget_pct_ <= 0) return;
    const double cpu = r.target_cpu_s - pool_start_.target_cpu_s;
    if (cpu < kPoolJudgeCpuS) return;
    const double pct = percent(r.pool_churn_s - pool_start_.pool_churn_s, cpu);
    pool_start_ = r;
    if (pct <= budget_pct_ / 2) return;
    pool_refills_ = false;
    note(r.t_s, fmt::format("pool refill probes detached: refills of pools emptied and taken again (churn) cost "
                            "{}, over half the budget {:.1f}%", cost_text(pct), budget_pct_));
}

void Governor::watch_growth(const CostReading& r) {
    if (!config_.escalate || escalated_) return;
    memory_.push_back(r);
    while (memory_.size() > 2 && r.t_s - memory_.front().t_s > kGrowthWindowS) memory_.pop_front();
    if (r.t_s - memory_.front().t_s < kGrowthWindowS * 0.9) return;
    // Steady growth: the whole window grew by enough, and so did each third of
    // it by a good share of that (a jump at start-up followed by a plateau is not growth).
    const double start = double(memory_.front().memory_bytes);
    const double thirds[] = {start, double(memory_[memory_.size() / 3].memory_bytes),
                             double(memory_[2 * memory_.size() / 3].memory_bytes), double(r.memory_bytes)};
    const double grown = thirds[3] - start;
    const double needed = std::max(kGrowthBytes, kGrowthFraction * start);
    bool steady = grown > needed;
    for (int i = 0; i < 3; ++i) steady = steady && thirds[i + 1] - thirds[i] > needed / 6;
    if (steady) {
        escalated_ = true;
        const double before = budget_pct_;
        budget_pct_ = std::min(budget_pct_ * kEscalationFactor, kMaxEscalatedPct);
        note(r.t_s, fmt::format("escalated: memory grew {:.1f} MiB in {:.0f} s; budget raised from {:.1f}% to {:.1f}%",
                                grown / (1024.0 * 1024.0), r.t_s - memory_.front().t_s, before, budget_pct_));
    }
}

}  // namespace leakscope::trace
