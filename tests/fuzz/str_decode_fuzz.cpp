// SPDX-License-Identifier: BSD-2-Clause
// fuzz-sources: user/python/symbolizer.cpp user/python/linetable.cpp user/python/layout.cpp user/proc/memory.cpp user/core/text.cpp
// The str decoder and the escaping of target text. Input: a layout choice
// byte, then a str object's bytes as recorded at 0x1000 (header: length,
// state, data or data pointer), decoded as that version lays it out; the
// whole input is also escaped as raw text.
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>
#include <vector>

#include "core/text.h"
#include "proc/memory.h"
#include "python/layout.h"
#include "python/symbolizer.h"

using namespace leakscope;
using namespace leakscope::python;

namespace {

const PyVersion kVersions[] = {{3, 8, 18}, {3, 11, 7}, {3, 12, 1}, {3, 14, 0}};
constexpr size_t kMaxChars = 64;

bool valid_clean_utf8(const std::string& s) {
    for (size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
        if (c < 0x20 || c == 0x7f) return false;
        if (c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0) return false;  // C1 control
        i += n;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    auto layout = table_layout(kVersions[data[0] % std::size(kVersions)]);
    if (!layout) return 0;
    proc::SnapshotMemory mem;
    mem.add(0x1000, std::vector<uint8_t>(data + 1, data + size));
    bool truncated = false;
    if (auto text = read_unicode(mem, *layout, 0x1000, kMaxChars, &truncated)) {
        if (!valid_clean_utf8(*text) || text->size() > 4 * 4 * kMaxChars + 3) std::abort();
    }
    std::string raw(reinterpret_cast<const char*>(data), size);
    std::string escaped = escape_control(raw);
    for (char c : escaped)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) std::abort();
    return 0;
}
