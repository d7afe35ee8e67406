// SPDX-License-Identifier: BSD-2-Clause
// Deaths the probes cannot see.
//
// Under a budget a sample's death shows either in its memory (freed, another
// type there) or, while the probes are attached, as a birth at its address.
// An object of the same kind born there while they are away (a dict from the
// free list, a block from pymalloc's LIFO pool) passes for the sample until
// its own address is reborn in a window: a cache evicting and refilling
// would be followed as if nothing of it ever died, and look like a leak.
//
// So a site's samples are taken as a mixture: a share that never dies, and
// the rest reborn at a constant rate while observed. Both are fitted
// (expectation-maximisation, the most likely values) from the samples that outlived the first window
// after their birth ("seasoned": churn that dies at once is no evidence
// either way): how many of them were reborn in windows after how much
// observation, and how long the others have been observed alive. A sample's
// weight is then the probability that it is still alive, given how long it
// was observed without a rebirth and how long it was not observed.
#pragma once

#include <vector>

namespace leakscope::trace {

struct Turnover {
    double immortal = 1;  // share of seasoned samples that never die
    double hazard = 0;    // rebirths per second observed, among the others

    // The probability that a sample followed for observed_s without a
    // rebirth, and not observed for unobserved_s, is alive.
    double alive(double observed_s, double unobserved_s) const;
};

// kills: seasoned samples reborn while observed, after killed_observed_s of
// observation in all; survivors: the observation of each one still followed.
Turnover fit_turnover(double kills, double killed_observed_s, const std::vector<double>& survivors);

}  // namespace leakscope::trace
