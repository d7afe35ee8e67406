// SPDX-License-Identifier: BSD-2-Clause
// `leakscope trace` and `leakscope run`: attach, report every interval, and a
// final report at the end (duration, Ctrl-C, SIGTERM or the target's exit).
#pragma once

#include "cli/config.h"

namespace leakscope::trace {

// Returns the exit status: 0 for trace; for run, the command's status (or
// cli::kLeakFoundStatus with --fail-on-leak when suspects were found).
int run(const cli::Config& config);

}  // namespace leakscope::trace
