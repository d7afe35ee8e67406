// SPDX-License-Identifier: BSD-2-Clause
// `leakscope snapshot`: check the input, read, report (and with --diff, read again).
#pragma once

#include "cli/config.h"

namespace leakscope::snapshot {

int run(const cli::Config& config);

}  // namespace leakscope::snapshot
