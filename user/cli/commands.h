// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include "cli/config.h"

namespace leakscope::cli {

// Runs the parsed command; returns the process exit status. Throws leakscope::Error.
int run_command(const Config& config);

}  // namespace leakscope::cli
