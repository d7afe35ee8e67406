// SPDX-License-Identifier: BSD-2-Clause
// Fills report records from the leak analysis. The caller adds what only it
// knows: the symbolized frames of each site.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "analysis/leak_analyzer.h"
#include "core/frame.h"
#include "report/report.h"

namespace leakscope::report {

Site make_site(const analysis::SiteSummary& summary, Stack frames);
// Also writes the suspect's one-line explanation; history is the analyzer's
// (t_s, live bytes) window of the site.
Suspect make_suspect(const analysis::Suspect& suspect, Stack frames,
                     const std::vector<std::pair<double, double>>& history);
ProfileStack make_profile_stack(const analysis::SiteSummary& summary, Stack frames);
Interval make_interval(const analysis::IntervalTotals& totals);
std::vector<Interval> make_intervals(const std::vector<analysis::IntervalTotals>& totals);

// The evidence in plain words: "grew 1.2 MiB over 14 s at 85.0 KiB/s, in 7 of
// 7 intervals (R² 0.99); survived 3 full collections; not flattening".
std::string explain(const Suspect& suspect);

}  // namespace leakscope::report
