// SPDX-License-Identifier: BSD-2-Clause
#include "analysis/trend.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace leakscope::analysis {

LineFit fit_line(std::span<const TrendPoint> points) {
    LineFit fit;
    const size_t n = points.size();
    if (n < 2) return fit;
    double mean_t = 0, mean_v = 0;
    for (const auto& p : points) {
        mean_t += p.t;
        mean_v += p.value;
    }
    mean_t /= static_cast<double>(n);
    mean_v /= static_cast<double>(n);
    double stt = 0, stv = 0, svv = 0;
    for (const auto& p : points) {
        const double dt = p.t - mean_t, dv = p.value - mean_v;
        stt += dt * dt;
        stv += dt * dv;
        svv += dv * dv;
    }
    fit.points = n;
    fit.spread_tt = stt;
    fit.residual_ss = svv;
    if (stt <= 0) return fit;
    fit.slope = stv / stt;
    fit.residual_ss = std::max(0.0, svv - stv * stv / stt);
    if (svv > 0) fit.r2 = std::clamp(stv * stv / (stt * svv), 0.0, 1.0);
    return fit;
}

MonotonicTrend mann_kendall(std::span<const TrendPoint> points) {
    MonotonicTrend trend;
    const size_t n = points.size();
    if (n < 2) return trend;
    long s = 0;
    for (size_t i = 0; i + 1 < n; ++i)
        for (size_t j = i + 1; j < n; ++j)
            s += (points[j].value > points[i].value) - (points[j].value < points[i].value);

    const double pairs = static_cast<double>(n) * static_cast<double>(n - 1) / 2;
    trend.tau = static_cast<double>(s) / pairs;

    // Equal readings (a staircase of sampled growth) shrink the variance.
    std::vector<double> sorted;
    sorted.reserve(n);
    for (const auto& p : points) sorted.push_back(p.value);
    std::sort(sorted.begin(), sorted.end());
    const double dn = static_cast<double>(n);
    double variance = dn * (dn - 1) * (2 * dn + 5);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && sorted[j] == sorted[i]) ++j;
        const double ties = static_cast<double>(j - i);
        variance -= ties * (ties - 1) * (2 * ties + 5);
        i = j;
    }
    variance /= 18;
    if (variance <= 0 || s == 0) return trend;
    trend.z = (static_cast<double>(s) - (s > 0 ? 1.0 : -1.0)) / std::sqrt(variance);
    return trend;
}

double reading_noise(std::span<const TrendPoint> points) {
    if (points.size() < 4) return 0;
    std::vector<double> bends;
    bends.reserve(points.size() - 2);
    for (size_t i = 1; i + 1 < points.size(); ++i)
        bends.push_back(points[i + 1].value - 2 * points[i].value + points[i - 1].value);
    auto median = [](std::vector<double> v) {
        const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
        std::nth_element(v.begin(), mid, v.end());
        return *mid;
    };
    const double center = median(bends);
    double sum = 0;
    for (double& d : bends) {
        d = std::abs(d - center);
        sum += d;
    }
    // A second difference carries the noise of three readings (variance
    // 1 + 4 + 1). 1.4826 turns a MAD into a standard deviation for normal
    // noise; when more than half the bends are equal (sampled growth comes in
    // whole samples) the MAD is 0 and the mean deviation (factor 1.2533) still
    // sees the steps.
    const double mad = median(bends);
    const double deviation = mad > 0 ? 1.4826 * mad : 1.2533 * sum / static_cast<double>(bends.size());
    return deviation / std::sqrt(6.0);
}

}  // namespace leakscope::analysis
