// SPDX-License-Identifier: BSD-2-Clause
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/config.h"
#include "core/error.h"

int main(int argc, char** argv) {
    auto parsed = leakscope::cli::parse_args(argc, argv);
    if (!parsed.config) return parsed.exit_status;
    try {
        return leakscope::cli::run_command(*parsed.config);
    } catch (const leakscope::Error& e) {
        std::cerr << "leakscope: " << e.what() << "\n";
        return e.exit_status();
    } catch (const std::exception& e) {
        std::cerr << "leakscope: internal error: " << e.what() << "\n";
        return leakscope::exit_status(leakscope::Errc::Internal);
    }
}
