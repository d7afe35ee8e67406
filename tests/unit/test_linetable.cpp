// SPDX-License-Identifier: BSD-2-Clause
#include "python/linetable.h"

#include <catch2/catch.hpp>

#include <climits>
#include <cstdint>
#include <random>
#include <set>
#include <utility>
#include <vector>

using leakscope::python::line_for_offset;
using leakscope::python::LineTableFormat;

namespace {

struct Case {
    const char* python;
    const char* name;
    LineTableFormat fmt;
    int firstlineno;
    std::vector<uint8_t> table;
    std::vector<std::pair<int, int>> lines;  // (byte offset, line) of every instruction
};

// Tables and lines recorded from the real interpreters (gen_linetable_cases.py).
const std::vector<Case>& recorded() {
    static const std::vector<Case> cases = {
#include "linetable_cases.inc"
    };
    return cases;
}

int line(LineTableFormat fmt, const std::vector<uint8_t>& t, int firstlineno, int offset) {
    return line_for_offset(fmt, t.data(), t.size(), firstlineno, offset);
}

// 3.11+ entry header: bit 7, 4-bit code, length-1 in code units.
uint8_t head(int code, int units) {
    return static_cast<uint8_t>(0x80 | code << 3 | (units - 1));
}

// Prefixes of a table that end where an entry (3.10: a pair) ends.
std::vector<size_t> entry_boundaries(const Case& c) {
    std::vector<size_t> out;
    for (size_t n = 0; n < c.table.size(); ++n) {
        bool boundary = c.fmt == LineTableFormat::Locations311 ? (c.table[n] & 0x80) != 0
                                                               : n % 2 == 0;
        if (boundary) out.push_back(n);
    }
    return out;
}

}  // namespace

TEST_CASE("recorded tables decode to the interpreter's own lines", "[linetable]") {
    std::set<LineTableFormat> formats;
    bool saw_no_line = false;
    for (const Case& c : recorded()) {
        INFO(c.python << " " << c.name);
        formats.insert(c.fmt);
        REQUIRE_FALSE(c.lines.empty());
        for (auto [offset, expected] : c.lines) {
            INFO("offset " << offset);
            CHECK(line(c.fmt, c.table, c.firstlineno, offset) == expected);
            saw_no_line |= expected == -1;
        }
        CHECK(line(c.fmt, c.table, c.firstlineno, -1) == c.firstlineno);
        // Past the last instruction: 3.10+ tables end there, co_lnotab does not.
        int past = c.lines.back().first + 2;
        int last = c.lines.back().second;
        CHECK(line(c.fmt, c.table, c.firstlineno, past) ==
              (c.fmt == LineTableFormat::Lnotab38 ? last : -1));
    }
    CHECK(formats.size() == 3);
    CHECK(saw_no_line);
}

TEST_CASE("3.8/3.9 co_lnotab", "[linetable]") {
    const auto fmt = LineTableFormat::Lnotab38;
    // +200 lines split over two pairs, a 300-byte jump split over two pairs,
    // then -200 lines where -128 is an ordinary step, not a marker.
    const std::vector<uint8_t> t = {0, 127, 0, 73, 6, 1, 255, 0, 45, 1, 2, 0x80, 0, 0xb8};
    CHECK(line(fmt, t, 1, 0) == 201);
    CHECK(line(fmt, t, 1, 4) == 201);
    CHECK(line(fmt, t, 1, 6) == 202);
    CHECK(line(fmt, t, 1, 304) == 202);
    CHECK(line(fmt, t, 1, 306) == 203);
    CHECK(line(fmt, t, 1, 308) == 3);
    CHECK(line(fmt, t, 1, 100000) == 3);
    CHECK(line(fmt, t, 1, -1) == 1);
    CHECK(line(fmt, {}, 7, 0) == 7);
}

TEST_CASE("3.10 co_linetable", "[linetable]") {
    const auto fmt = LineTableFormat::Linetable310;
    const std::vector<uint8_t> t = {
        2, 0,       // [0,2)     line 5
        4, 1,       // [2,6)     line 6
        0, 3,       // empty range: only moves the line to 9
        2, 0x80,    // [6,8)     no line; the running line stays 9
        2, 0xfe,    // [8,10)    line 7
        254, 1,     // [10,264)  line 8
        0, 127,     // empty: line 135
        2, 0,       // [264,266) line 135
    };
    CHECK(line(fmt, t, 5, -2) == 5);
    CHECK(line(fmt, t, 5, 0) == 5);
    CHECK(line(fmt, t, 5, 2) == 6);
    CHECK(line(fmt, t, 5, 4) == 6);
    CHECK(line(fmt, t, 5, 6) == -1);
    CHECK(line(fmt, t, 5, 8) == 7);
    CHECK(line(fmt, t, 5, 262) == 8);
    CHECK(line(fmt, t, 5, 264) == 135);
    CHECK(line(fmt, t, 5, 266) == -1);
    CHECK(line(fmt, {}, 5, 0) == -1);
}

TEST_CASE("3.11+ location table", "[linetable]") {
    const auto fmt = LineTableFormat::Locations311;
    const std::vector<uint8_t> t = {
        head(13, 1), 0x02,              // [0,2)   no columns, +1 -> 11
        head(10, 2), 5, 6,              // [2,6)   one line, +0
        head(12, 1), 0, 1,              // [6,8)   one line, +2 -> 13
        head(15, 1),                    // [8,10)  no line; running line stays 13
        head(11, 1), 0, 1,              // [10,12) one line, +1 -> 14
        head(14, 1), 0x03, 0, 1, 2,     // [12,14) long form, -1 -> 13
        head(3, 8), 0x12,               // [14,30) short form, +0
        head(13, 1), 0x58, 0x09,        // [30,32) +300 (two varint chunks) -> 313
        head(13, 1), 0x59, 0x09,        // [32,34) -300 -> 13
    };
    CHECK(line(fmt, t, 10, -1) == 10);
    CHECK(line(fmt, t, 10, 0) == 11);
    CHECK(line(fmt, t, 10, 4) == 11);
    CHECK(line(fmt, t, 10, 6) == 13);
    CHECK(line(fmt, t, 10, 8) == -1);
    CHECK(line(fmt, t, 10, 10) == 14);
    CHECK(line(fmt, t, 10, 12) == 13);
    CHECK(line(fmt, t, 10, 14) == 13);
    CHECK(line(fmt, t, 10, 28) == 13);
    CHECK(line(fmt, t, 10, 30) == 313);
    CHECK(line(fmt, t, 10, 32) == 13);
    CHECK(line(fmt, t, 10, 34) == -1);
    CHECK(line(fmt, {}, 10, 0) == -1);
}

TEST_CASE("3.11+ oversized and truncated varints", "[linetable]") {
    const auto fmt = LineTableFormat::Locations311;
    std::vector<uint8_t> huge = {head(13, 1), 0x7e};  // even: positive
    huge.insert(huge.end(), 40, 0x7f);
    huge.push_back(0x3f);
    huge.insert(huge.end(), {head(13, 1), 0x03});     // then -1
    CHECK(line(fmt, huge, 1, 0) == INT_MAX);
    CHECK(line(fmt, huge, 1, 2) == INT_MAX - 1);

    std::vector<uint8_t> huge_negative = {head(13, 1), 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x3f};
    CHECK(line(fmt, huge_negative, 1, 0) == -1);

    // The continuation bit promises a chunk the table does not have.
    CHECK(line(fmt, {head(13, 1), 0x44}, 1, 0) == 3);
    CHECK(line(fmt, {head(14, 1)}, 1, 0) == 1);
    // A chunk never spans into the next entry's header.
    CHECK(line(fmt, {head(13, 1), 0x42, head(0, 1), 0}, 1, 2) == 2);
}

TEST_CASE("malformed tables return without reading out of bounds", "[linetable]") {
    const LineTableFormat formats[] = {LineTableFormat::Lnotab38, LineTableFormat::Linetable310,
                                       LineTableFormat::Locations311};
    for (auto fmt : formats) {
        CHECK(line_for_offset(fmt, nullptr, 0, 3, 0) == (fmt == LineTableFormat::Lnotab38 ? 3 : -1));
        CHECK(line_for_offset(fmt, nullptr, 0, 3, -1) == 3);
        CHECK(line_for_offset(fmt, nullptr, 0, 3, INT_MAX) >= -1);
    }

    SECTION("every prefix of every recorded table") {
        for (const Case& c : recorded()) {
            INFO(c.python << " " << c.name);
            const int probes[] = {0, c.lines[c.lines.size() / 2].first, INT_MAX};
            int out_of_range = 0;
            for (size_t n = 0; n <= c.table.size(); ++n) {
                // An exact-size copy, so a sanitizer sees any read past the end.
                std::vector<uint8_t> prefix(c.table.begin(), c.table.begin() + n);
                for (int offset : probes)
                    out_of_range += line(c.fmt, prefix, c.firstlineno, offset) < -1;
            }
            CHECK(out_of_range == 0);
        }
    }

    SECTION("3.10+ tables cut between entries give the right line or none") {
        for (const Case& c : recorded()) {
            if (c.fmt == LineTableFormat::Lnotab38) continue;
            INFO(c.python << " " << c.name);
            std::vector<size_t> cuts = entry_boundaries(c);
            size_t step = cuts.size() / 16 + 1;  // bounded work for long tables
            int wrong = 0;
            for (size_t i = 0; i < cuts.size(); i += step) {
                std::vector<uint8_t> prefix(c.table.begin(), c.table.begin() + cuts[i]);
                for (auto [offset, expected] : c.lines) {
                    int got = line(c.fmt, prefix, c.firstlineno, offset);
                    wrong += got != expected && got != -1;
                }
            }
            CHECK(wrong == 0);
        }
    }

    SECTION("random bytes") {
        std::mt19937 rng(1234);
        int out_of_range = 0;
        for (int round = 0; round < 3000; ++round) {
            std::vector<uint8_t> t(rng() % 80);
            for (auto& b : t) b = static_cast<uint8_t>(rng());
            int firstlineno = static_cast<int>(rng() % 1000);
            for (auto fmt : formats) {
                for (int offset = 0; offset < 400; offset += 2)
                    out_of_range += line(fmt, t, firstlineno, offset) < -1;
                out_of_range += line(fmt, t, firstlineno, INT_MAX) < -1;
            }
        }
        CHECK(out_of_range == 0);
    }
}
