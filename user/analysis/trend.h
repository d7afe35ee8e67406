// SPDX-License-Identifier: BSD-2-Clause
// Trend statistics over a short series of (time, value) readings. The leak
// verdicts are built on these; they are kept apart so they can be checked
// against known values.
#pragma once

#include <cstddef>
#include <span>

namespace leakscope::analysis {

struct TrendPoint {
    double t = 0;      // seconds
    double value = 0;  // bytes
};

// Ordinary least squares of value on t.
struct LineFit {
    double slope = 0;         // value units per second
    double r2 = 0;            // share of the variance the line explains; 0 for a flat or single-valued series
    double residual_ss = 0;   // sum of squared residuals
    double spread_tt = 0;     // sum of squared deviations of t from its mean
    size_t points = 0;
};
LineFit fit_line(std::span<const TrendPoint> points);

// Mann-Kendall monotonic trend test: compares every later reading with every
// earlier one, so it does not assume the growth is linear and one outlier
// moves it little.
struct MonotonicTrend {
    double tau = 0;  // Kendall's tau in [-1, 1]: (rising pairs - falling pairs) / all pairs
    double z = 0;    // normal score of the statistic, with tie and continuity corrections
};
MonotonicTrend mann_kendall(std::span<const TrendPoint> points);

// Standard deviation of the noise on single readings of an evenly spaced
// series, from the median absolute deviation of its second differences: a
// straight trend cancels out of them and a bend between two straight parts
// disturbs only the one or two that straddle it. 0 with fewer than four readings.
double reading_noise(std::span<const TrendPoint> points);

}  // namespace leakscope::analysis
