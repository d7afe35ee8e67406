// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include <compare>
#include <string>
#include <vector>

namespace leakscope {

// One symbolized Python frame. Strings from the target are already escaped
// (no control characters) by the time they are in a Frame.
struct Frame {
    std::string file;
    int line = -1;  // -1: the instruction has no line
    std::string function;
    bool native = false;  // a C frame: file is its module, line is -1
    auto operator<=>(const Frame&) const = default;
};

using Stack = std::vector<Frame>;  // innermost first

}  // namespace leakscope
