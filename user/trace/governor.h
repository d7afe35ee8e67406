// SPDX-License-Identifier: BSD-2-Clause
// Keeps the cost of tracing within a budget. It measures what the probes cost
// the target (probe hits times the measured cost of an empty hit, plus the
// time the programs ran) against the target's own CPU time, and when over
// budget first samples stacks more sparsely, then attaches the allocation
// probes in windows (duty cycle). Windows are paid from a credit that the
// target's own CPU time earns at the budget's rate and every probe hit spends,
// whenever it lands (hits while links are being removed included), so the
// cost over the run stays within the budget. A window is sized so that the
// longest pause pays for it at the target's own pace while detached; a debt
// that pause still leaves (a window opened on a busy spell of a mostly idle
// target) is forgiven, and the adjustments say so. In continuous mode, a process
// whose memory keeps growing gets a larger budget (escalation), said in the
// report. Pool refills stay attached unless churn makes them cost over half the budget.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace leakscope::trace {

struct GovernorConfig {
    double budget_pct = 0;          // 0: no budget (always on, estimate only)
    bool escalate = false;          // continuous mode: follow a growing process more closely
    double window_s = 1;            // length of one tracing window
    double first_window_s = 0.02;   // the first, which measures the cost before committing to more
    double max_pause_s = 10;        // the longest pause, whatever the credit (see longest_pause())
    uint64_t sample_bytes = 16384;  // starting sampling distance
};

// Cumulative readings, taken as often as the caller likes.
struct CostReading {
    double t_s = 0;
    double probe_s = 0;        // estimated CPU time the probes cost the target
    double walk_s = 0;         // of which: time recording samples (stack walks), as measured in the probes
    double target_cpu_s = 0;   // the target's CPU time (probe cost included)
    uint64_t memory_bytes = 0; // RSS
    double pool_churn_s = 0;   // of probe_s: pool refills of pools emptied and taken again
};

class Governor {
public:
    explicit Governor(GovernorConfig config);

    // Returns whether the allocation probes should be attached now.
    bool update(const CostReading& reading);
    // The probes are attached or detached as asked (which takes a while):
    // the window or pause is measured from this reading.
    void switched(const CostReading& reading);

    uint64_t sample_bytes() const { return sample_bytes_; }
    // Whether the pool refill probes may stay attached; once false, for good.
    bool pool_refills() const { return pool_refills_; }
    // Over the whole run; nullopt when the probes took kMaxShare or more of
    // the target's CPU time: then only "over 1/(1-kMaxShare) times slower" is known.
    std::optional<double> estimated_pct() const;
    double duty_cycle() const;
    double budget_pct() const { return budget_pct_; }
    const std::vector<std::string>& adjustments() const { return adjustments_; }

    // A pause and a window fit in one report interval (so that each report
    // counts births of its own, HeapTracker::births_until), but never under
    // half of it, nor over kMaxPauseS.
    static double longest_pause(double interval_s, double window_s);

    static constexpr uint64_t kMaxSampleBytes = 1 << 20;
    static constexpr uint64_t kMinSampleBytes = 256;  // densest sampling under a budget
    static constexpr double kMaxShare = 0.99;
    // A target using little CPU earns credit slowly, and one window while it
    // was busy (starting up, say) could otherwise blind tracing for minutes;
    // it is traced at least this often, at a cost below 1% of a CPU.
    static constexpr double kMaxPauseS = 10;
    static constexpr double kEscalationFactor = 5;
    static constexpr double kMaxEscalatedPct = 10;

private:
    void note(double t, std::string what);
    void account(const CostReading& r);
    void end_window(const CostReading& r);
    void start_window(const CostReading& r);
    double pace_now(const CostReading& r) const;
    void watch_growth(const CostReading& r);
    void watch_pool_refills(const CostReading& r);

    GovernorConfig config_;
    double budget_pct_;
    uint64_t sample_bytes_;
    bool on_ = true;
    bool escalated_ = false;
    bool pool_refills_ = true;
    bool forgiven_ = false;     // a pause's debt was forgiven (said once)
    CostReading pool_start_{};  // where the pool refills' cost is judged from
    double phase_start_ = 0;   // start of the current window or pause
    double window_;            // length of the next window
    double credit_ = 0;        // probe cost (s) the target may still be charged
    double window_cost_ = 0;   // what the last window cost, hits while detaching included
    double window_pct_ = 0;    // its cost as a share of the target's own work while attached
    double tail_cost_ = 0;     // what its hits cost after the reading that ended it, while its links were removed
    double pace_ = -1;         // the target's own CPU time per second while detached (< 0: not yet seen)
    CostReading pause_start_{};  // the reading that ended the last window
    double noted_on_s_ = 0, noted_off_s_ = 0;  // the window shape last reported
    CostReading window_start_{};
    CostReading first_{}, last_{};
    bool started_ = false;
    double on_time_ = 0;
    std::deque<CostReading> memory_;  // recent readings, for growth
    std::vector<std::string> adjustments_;
};

}  // namespace leakscope::trace
