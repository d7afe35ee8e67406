// SPDX-License-Identifier: BSD-2-Clause
// The three decoders follow CPython's own (PyCode_Addr2Line in 3.8/3.9, the
// address-range iterators of 3.10 and 3.11+), with every read bounds-checked.
#include "python/linetable.h"

#include <algorithm>
#include <climits>
#include <span>

namespace leakscope::python {
namespace {

using Bytes = std::span<const uint8_t>;

// Deltas come from untrusted bytes: keep the running line within int range.
int64_t add_line(int64_t line, int64_t delta) {
    return std::clamp<int64_t>(line + delta, INT_MIN, INT_MAX);
}

int as_result(int64_t line) {
    return line < 0 ? -1 : static_cast<int>(std::min<int64_t>(line, INT_MAX));
}

// 3.8/3.9 co_lnotab: (addr_incr u8, line_incr s8) pairs. A pair's line applies
// from the address it reaches onwards; line_incr -128 is an ordinary step.
int lnotab38(Bytes t, int64_t line, int64_t offset) {
    int64_t addr = 0;
    for (size_t i = 0; i + 1 < t.size(); i += 2) {
        addr += t[i];
        if (addr > offset) break;
        line = add_line(line, static_cast<int8_t>(t[i + 1]));
    }
    return as_result(line);
}

// 3.10 co_linetable: (sdelta u8, ldelta s8) pairs, each covering the next
// sdelta bytes. ldelta -128 means "no line" and leaves the running line alone.
int linetable310(Bytes t, int64_t line, int64_t offset) {
    int64_t end = 0;
    for (size_t i = 0; i + 1 < t.size(); i += 2) {
        end += t[i];
        auto ldelta = static_cast<int8_t>(t[i + 1]);
        if (ldelta != -128) line = add_line(line, ldelta);
        // Ranges are contiguous from 0, so the first one ending past offset holds it.
        if (offset < end) return ldelta == -128 ? -1 : as_result(line);
    }
    return -1;
}

// 3.11+ location table (PEP 657). An entry is a header byte 1|code:4|units-1:3
// followed by bytes with bit 7 clear (line delta, columns).
constexpr int kNoColumns = 13, kLong = 14, kNoLocation = 15;
constexpr int kOneLine0 = 10, kOneLine2 = 12;

// Zig-zag varint: 6-bit little-endian chunks, 0x40 = more follow. Reads only
// the entry's own bytes, so a truncated varint just ends early; a value too
// large for an int line delta saturates.
int64_t signed_varint(Bytes body) {
    uint64_t v = 0;
    for (unsigned shift = 0; uint8_t b : body) {
        v |= uint64_t{b & 63u} << shift;
        if (!(b & 64)) break;
        // Later chunks can only mean "too large": stacking them at bit 36
        // keeps the shift defined and still trips the clamp below.
        shift = std::min(shift + 6, 36u);
    }
    auto magnitude = static_cast<int64_t>(std::min<uint64_t>(v >> 1, INT_MAX));
    return v & 1 ? -magnitude : magnitude;
}

int64_t line_delta(int code, Bytes body) {
    if (code == kNoColumns || code == kLong) return signed_varint(body);
    if (code >= kOneLine0 && code <= kOneLine2) return code - kOneLine0;
    return 0;  // short forms 0-9 stay on the line; 15 has none
}

int locations311(Bytes t, int64_t line, int64_t offset) {
    int64_t end = 0;
    for (size_t i = 0; i < t.size();) {
        uint8_t head = t[i];
        size_t next = i + 1;
        while (next < t.size() && !(t[next] & 0x80)) ++next;
        int code = (head >> 3) & 15;
        line = add_line(line, line_delta(code, t.subspan(i + 1, next - i - 1)));
        end += ((head & 7) + 1) * 2;  // code units are 2 bytes
        if (offset < end) return code == kNoLocation ? -1 : as_result(line);
        i = next;
    }
    return -1;
}

}  // namespace

int line_for_offset(LineTableFormat fmt, const uint8_t* table, size_t len, int firstlineno,
                    int byte_offset) {
    if (byte_offset < 0) return firstlineno;
    Bytes t = table ? Bytes(table, len) : Bytes();
    switch (fmt) {
    case LineTableFormat::Lnotab38: return lnotab38(t, firstlineno, byte_offset);
    case LineTableFormat::Linetable310: return linetable310(t, firstlineno, byte_offset);
    case LineTableFormat::Locations311: return locations311(t, firstlineno, byte_offset);
    }
    return -1;
}

}  // namespace leakscope::python
