// SPDX-License-Identifier: BSD-2-Clause
// Symbolization over recorded memory: every str kind, escaping of what the
// target supplies, and code objects whose address is reused.
#include <catch2/catch.hpp>
#include <cstring>

#include "proc/memory.h"
#include "python/layout.h"
#include "python/symbolizer.h"

using namespace leakscope;
using namespace leakscope::python;

namespace {

const PyLayout& layout311() {
    static const PyLayout layout = *table_layout({3, 11, 7});
    return layout;
}

// A compact str object as CPython 3.11 lays it out.
std::vector<uint8_t> make_str(const std::u32string& text, unsigned kind, bool ascii) {
    const auto& L = layout311();
    const size_t header = ascii ? L.unicode_ascii_data : L.unicode_compact_data;
    std::vector<uint8_t> obj(header + (text.size() + 1) * kind, 0);
    const int64_t length = static_cast<int64_t>(text.size());
    const uint32_t state = (kind << 2) | 0x20 /* compact */ | (ascii ? 0x40 : 0) | 0x80 /* ready */;
    std::memcpy(obj.data() + L.unicode_length, &length, sizeof length);
    std::memcpy(obj.data() + L.unicode_state, &state, sizeof state);
    for (size_t i = 0; i < text.size(); ++i)
        for (unsigned b = 0; b < kind; ++b) obj[header + i * kind + b] = uint8_t(text[i] >> (8 * b));
    return obj;
}

void put_u64(std::vector<uint8_t>& buf, size_t off, uint64_t v) { std::memcpy(buf.data() + off, &v, 8); }

}  // namespace

TEST_CASE("str objects of every kind decode to UTF-8", "[symbolizer]") {
    proc::SnapshotMemory mem;
    mem.add(0x1000, make_str(U"handler.py", 1, true));
    mem.add(0x2000, make_str(U"caf\u00e9_\u00fc", 1, false));       // latin-1, not ASCII
    mem.add(0x3000, make_str(U"\u51fd\u6570_\u0394", 2, false));     // UCS-2
    mem.add(0x4000, make_str(U"f_\U0001D518\U0001F600", 4, false));  // UCS-4

    CHECK(read_unicode(mem, layout311(), 0x1000) == "handler.py");
    CHECK(read_unicode(mem, layout311(), 0x2000) == "caf\xc3\xa9_\xc3\xbc");
    CHECK(read_unicode(mem, layout311(), 0x3000) == "\xe5\x87\xbd\xe6\x95\xb0_\xce\x94");
    CHECK(read_unicode(mem, layout311(), 0x4000) == "f_\xf0\x9d\x94\x98\xf0\x9f\x98\x80");
    CHECK_FALSE(read_unicode(mem, layout311(), 0x9000));  // unmapped
}

TEST_CASE("control characters from the target are escaped", "[symbolizer]") {
    proc::SnapshotMemory mem;
    mem.add(0x1000, make_str(U"evil\x1b[2Jname\n\u0085", 1, false));
    CHECK(read_unicode(mem, layout311(), 0x1000) == "evil\\x1b[2Jname\\x0a\\u0085");
    CHECK(escape_control("tab\there\x7f") == "tab\\x09here\\x7f");
    CHECK(escape_control("ok \xc3\xa9") == "ok \xc3\xa9");
}

TEST_CASE("a corrupt str is refused, not printed", "[symbolizer]") {
    proc::SnapshotMemory mem;
    auto bad_kind = make_str(U"x", 1, true);
    bad_kind[layout311().unicode_state] = 3 << 2;  // kind 3 does not exist
    mem.add(0x1000, bad_kind);
    auto negative = make_str(U"x", 1, true);
    put_u64(negative, layout311().unicode_length, uint64_t(-5));
    mem.add(0x2000, negative);
    CHECK_FALSE(read_unicode(mem, layout311(), 0x1000));
    CHECK_FALSE(read_unicode(mem, layout311(), 0x2000));
}

TEST_CASE("a str's claimed length is capped: long ones cut, impossible ones refused", "[symbolizer]") {
    proc::SnapshotMemory mem;
    mem.add(0x10000, make_str(std::u32string(kMaxStrChars + 10, U'a'), 1, true));
    auto huge = make_str(U"short", 1, true);
    put_u64(huge, layout311().unicode_length, uint64_t(1) << 40);
    mem.add(0x1000, huge);
    bool truncated = false;
    auto long_one = read_unicode(mem, layout311(), 0x10000, kMaxStrChars, &truncated);
    REQUIRE(long_one);
    CHECK(long_one->size() == kMaxStrChars + 3);
    CHECK(truncated);
    CHECK_FALSE(read_unicode(mem, layout311(), 0x1000, kMaxStrChars, &truncated));
}

TEST_CASE("frames symbolize to file, qualified name and line; reused code addresses are re-read",
          "[symbolizer]") {
    const auto& L = layout311();
    const uint64_t code_type = 0x7000, code = 0x8000;
    proc::SnapshotMemory mem;
    mem.add(0x1000, make_str(U"app.py", 1, true));
    mem.add(0x2000, make_str(U"Handler.get", 1, true));
    mem.add(0x3000, make_str(U"other.py", 1, true));
    // Location table: one entry, code 10 (delta 0 lines) covering 8 code units.
    std::vector<uint8_t> table(L.bytes_data + 1, 0);
    const int64_t table_len = 1;
    std::memcpy(table.data() + L.bytes_size, &table_len, 8);
    table[L.bytes_data] = 0x80 | (10 << 3) | 7;
    mem.add(0x4000, table);

    auto make_code = [&](uint64_t filename) {
        std::vector<uint8_t> obj(L.code_size, 0);
        put_u64(obj, L.object_type, code_type);
        put_u64(obj, L.code_filename, filename);
        put_u64(obj, L.code_name, 0x2000);
        put_u64(obj, L.code_qualname, 0x2000);
        put_u64(obj, L.code_linetable, 0x4000);
        const int32_t first = 42;
        std::memcpy(obj.data() + L.code_firstlineno, &first, 4);
        return obj;
    };
    mem.add(code, make_code(0x1000));

    Symbolizer sym(mem, L, code_type);
    ls_frame f{code, 4, 0, {}};
    auto frame = sym.symbolize(f);
    REQUIRE(frame);
    CHECK(*frame == Frame{"app.py", 42, "Handler.get"});

    // A frame whose "code" has another type (a 3.13 shim's None) is dropped.
    CHECK_FALSE(sym.symbolize(ls_frame{0x2000, 4, 0, {}}));
    // Still in its prologue (before _co_firsttraceable): CPython hides it too.
    CHECK_FALSE(sym.symbolize(ls_frame{code, -1, 0, {}}));

    // The code object is freed and another is born at the same address: the
    // same symbolizer must not answer from its cache.
    mem.add(code, make_code(0x3000));
    CHECK(sym.symbolize(f)->file == "other.py");
}

namespace {

// Memory that becomes unreadable, as a target's does when it exits.
class ExitingMemory : public proc::MemoryReader {
public:
    explicit ExitingMemory(const proc::MemoryReader& live) : live_(live) {}
    bool read(uint64_t addr, void* dst, size_t n) const override { return !exited && live_.read(addr, dst, n); }
    bool exited = false;

private:
    const proc::MemoryReader& live_;
};

}  // namespace

TEST_CASE("after the target exits, code objects are named as last read", "[symbolizer]") {
    const auto& L = layout311();
    const uint64_t code_type = 0x7000, code = 0x8000, never_read = 0x9000;
    proc::SnapshotMemory live;
    live.add(0x1000, make_str(U"app.py", 1, true));
    live.add(0x2000, make_str(U"grow", 1, true));
    std::vector<uint8_t> obj(L.code_size, 0);
    put_u64(obj, L.object_type, code_type);
    put_u64(obj, L.code_filename, 0x1000);
    put_u64(obj, L.code_name, 0x2000);
    put_u64(obj, L.code_qualname, 0x2000);
    put_u64(obj, L.code_linetable, 0x4000);  // unmapped: line 0, counted
    live.add(code, obj);
    live.add(never_read, obj);

    ExitingMemory mem(live);
    Symbolizer sym(mem, L, code_type);
    REQUIRE(sym.symbolize(ls_frame{code, 4, 0, {}})->function == "grow");
    CHECK_FALSE(sym.symbolize(ls_frame{0x2000, 4, 0, {}}));  // not a code object: dropped

    mem.exited = true;
    sym.target_gone();
    CHECK(*sym.symbolize(ls_frame{code, 6, 0, {}}) == Frame{"app.py", 0, "grow"});
    CHECK_FALSE(sym.symbolize(ls_frame{0x2000, 4, 0, {}}));  // still not a code object
    auto unseen = sym.symbolize(ls_frame{never_read, 4, 0, {}});
    CHECK(unseen->function == "<unreadable code object at 0x9000>");
    CHECK(sym.drops().unreadable_code == 1);
}
