// SPDX-License-Identifier: BSD-2-Clause
#include "core/text.h"

#include <cinttypes>
#include <cstdio>

namespace leakscope {

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
    return buf;
}

namespace {

// "\x1b", "\u0085": how an escaped character is shown.
void append_escape(std::string& out, const char* format, unsigned c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, format, c);
    out += buf;
}

}  // namespace

std::string escape_control(std::string_view utf8) {
    std::string out;
    out.reserve(utf8.size());
    for (size_t i = 0; i < utf8.size(); ++i) {
        auto c = static_cast<unsigned char>(utf8[i]);
        if (c < 0x20 || c == 0x7f) {
            append_escape(out, "\\x%02x", c);
        } else if (c == 0xc2 && i + 1 < utf8.size() &&
                   static_cast<unsigned char>(utf8[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(utf8[i + 1]) < 0xa0) {
            append_escape(out, "\\u%04x", static_cast<unsigned char>(utf8[i + 1]));
            ++i;  // C1 control, encoded as U+0080..U+009F
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string quote_short(std::string_view text, size_t max_bytes) {
    std::string out = "'" + escape_control(text.substr(0, max_bytes));
    return out + (text.size() > max_bytes ? "...'" : "'");
}

}  // namespace leakscope
