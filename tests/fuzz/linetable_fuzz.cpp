// SPDX-License-Identifier: BSD-2-Clause
// fuzz-sources: user/python/linetable.cpp
// Input: firstlineno (i32 LE), four instruction indexes (u16 LE, byte offset =
// 2 * index), then the table, which is decoded as each of the three formats.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "python/linetable.h"

using leakscope::python::line_for_offset;
using leakscope::python::LineTableFormat;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    uint8_t header[12] = {};
    size_t header_len = std::min(size, sizeof header);
    std::memcpy(header, data, header_len);

    int32_t firstlineno;
    std::memcpy(&firstlineno, header, sizeof firstlineno);
    // -1 (frame not started) and INT_MAX (past any table) are always probed.
    int offsets[6] = {-1, INT_MAX};
    for (int i = 0; i < 4; ++i) {
        uint16_t index;
        std::memcpy(&index, header + 4 + 2 * i, sizeof index);
        offsets[2 + i] = 2 * index;
    }

    // libFuzzer's buffer is exactly size bytes, so ASan catches any read past the table.
    const uint8_t* table = data + header_len;
    size_t len = size - header_len;
    for (auto fmt : {LineTableFormat::Lnotab38, LineTableFormat::Linetable310,
                     LineTableFormat::Locations311}) {
        for (int offset : offsets) {
            int line = line_for_offset(fmt, table, len, firstlineno, offset);
            if (offset < 0 ? line != firstlineno : line < -1) std::abort();
        }
    }
    return 0;
}
