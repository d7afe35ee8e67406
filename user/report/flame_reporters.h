// SPDX-License-Identifier: BSD-2-Clause
// Flame-graph formats drawn from the report's profile (every stack):
// Brendan Gregg's folded stacks and speedscope's file format.
#pragma once

#include <ostream>

#include "report/report.h"

namespace leakscope::report {

// "function (file:line)", the name a flame graph shows for a frame.
std::string flame_label(const Frame& frame);

// The frames a profile draws for a stack: a stack captured with no Python
// frame running (native code, start-up) is one "(no Python frames)" frame,
// so its memory stays visible.
const Stack& drawn_frames(const ProfileStack& stack);

// One "outer;...;inner live_bytes" line per stack holding live memory.
void write_collapsed(const Report& report, std::ostream& out);

// speedscope's JSON file format (its $schema), two sampled profiles of the
// same stacks: live bytes and bytes allocated since tracing started.
void write_speedscope(const Report& report, std::ostream& out);

}  // namespace leakscope::report
