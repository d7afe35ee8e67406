// SPDX-License-Identifier: BSD-2-Clause
// Small text helpers shared by every layer: addresses in messages, and text
// that came from a target or a user made safe to print.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace leakscope {

// "0x7f12ab": an address or value as error messages and placeholders show it.
std::string hex(uint64_t v);

// Escapes control characters (C0, DEL, C1) so target-supplied text is safe to print.
std::string escape_control(std::string_view utf8);

// At most max_bytes of text, escaped, with "..." when cut: for echoing user input in one line.
std::string quote_short(std::string_view text, size_t max_bytes = 40);

}  // namespace leakscope
