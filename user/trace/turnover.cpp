// SPDX-License-Identifier: BSD-2-Clause
#include "trace/turnover.h"

#include <algorithm>
#include <cmath>

namespace leakscope::trace {
namespace {

constexpr int kIterations = 100;
// Kills after (next to) no observation would make the rate infinite.
constexpr double kMinObservedS = 1e-3;

}  // namespace

double Turnover::alive(double observed_s, double unobserved_s) const {
    const double mortal = (1 - immortal) * std::exp(-hazard * observed_s);
    const double unkilled = immortal + mortal;
    return unkilled > 0 ? (immortal + mortal * std::exp(-hazard * unobserved_s)) / unkilled : 0;
}

Turnover fit_turnover(double kills, double killed_observed_s, const std::vector<double>& survivors) {
    if (kills <= 0) return {};
    const double n = kills + double(survivors.size());
    double observed = killed_observed_s;
    for (double e : survivors) observed += e;
    Turnover t{double(survivors.size()) / n, kills / std::max(observed, kMinObservedS)};
    for (int i = 0; i < kIterations; ++i) {
        double immortal = 0, mortal_observed = killed_observed_s;
        for (double e : survivors) {
            const double mortal = (1 - t.immortal) * std::exp(-t.hazard * e);
            const double unkilled = t.immortal + mortal;
            const double p_mortal = unkilled > 0 ? mortal / unkilled : 0;  // given no rebirth in e
            immortal += 1 - p_mortal;
            mortal_observed += p_mortal * e;
        }
        t.immortal = immortal / n;
        t.hazard = kills / std::max(mortal_observed, kMinObservedS);
    }
    return t;
}

}  // namespace leakscope::trace
