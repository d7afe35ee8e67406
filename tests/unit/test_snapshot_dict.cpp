// SPDX-License-Identifier: BSD-2-Clause
// Dict tables of each layout and instance attributes kept without a dict,
// read from synthesized images as the target's own structs lay them out.
#include <catch2/catch.hpp>
#include <cstring>
#include <map>

#include "proc/memory.h"
#include "python/layout.h"
#include "snapshot/dict_reader.h"
#include "snapshot/referents.h"

using namespace leakscope;
using namespace leakscope::snapshot;

namespace {

constexpr uint64_t kBase = 0x10000;

struct Image {
    std::vector<uint8_t> bytes = std::vector<uint8_t>(0x4000);
    template <typename T>
    void put(uint64_t addr, T v) { std::memcpy(&bytes[addr - kBase], &v, sizeof v); }
    proc::SnapshotMemory memory() const {
        proc::SnapshotMemory m;
        m.add(kBase, bytes);
        return m;
    }
};

std::map<uint64_t, uint64_t> entries(const proc::MemoryReader& mem, const python::PyLayout& L, uint64_t dict) {
    std::map<uint64_t, uint64_t> out;
    CHECK(for_each_dict_entry(mem, L, dict, [&](uint64_t k, uint64_t v, uint64_t) { out[k] = v; }) == DictRead::Ok);
    return out;
}

// A 3.11+ unicode-keys table of 8 slots at keys with the given entries.
void keys311(Image& img, uint64_t keys, const std::vector<std::pair<uint64_t, uint64_t>>& kv, uint8_t kind = 1) {
    img.put<int64_t>(keys, 1);       // dk_refcnt
    img.put<uint8_t>(keys + 8, 3);   // dk_log2_size
    img.put<uint8_t>(keys + 9, 3);   // dk_log2_index_bytes: 8 one-byte indices
    img.put<uint8_t>(keys + 10, kind);
    img.put<int64_t>(keys + 16, 5 - int64_t(kv.size()));  // dk_usable
    img.put<int64_t>(keys + 24, int64_t(kv.size()));      // dk_nentries
    for (size_t i = 0; i < kv.size(); ++i) {
        img.put<uint64_t>(keys + 40 + 16 * i, kv[i].first);
        img.put<uint64_t>(keys + 40 + 16 * i + 8, kv[i].second);
    }
}

}  // namespace

TEST_CASE("snapshot dicts: 3.8 combined table") {
    const auto L = *python::table_layout({3, 8, 18});
    Image img;
    const uint64_t dict = kBase, keys = kBase + 0x100;
    img.put<uint64_t>(dict + L.dict_keys, keys);
    img.put<int64_t>(keys + 8, 8);    // dk_size
    img.put<int64_t>(keys + 32, 3);   // dk_nentries
    // entries {hash, key, value} after 8 one-byte indices; the middle one deleted
    const uint64_t e = keys + 40 + 8;
    for (uint64_t i = 0; i < 3; ++i) {
        img.put<uint64_t>(e + 24 * i + 8, i == 1 ? 0 : 0x1000 + i);
        img.put<uint64_t>(e + 24 * i + 16, i == 1 ? 0 : 0x2000 + i);
    }
    auto mem = img.memory();
    CHECK(entries(mem, L, dict) == std::map<uint64_t, uint64_t>{{0x1000, 0x2000}, {0x1002, 0x2002}});
    CHECK(dict_keys_bytes(mem, L, keys) == 40 + 8 + 5 * 24);
}

TEST_CASE("snapshot dicts: 3.11 unicode keys, general keys and split values") {
    const auto L = *python::table_layout({3, 11, 7});
    Image img;
    const uint64_t dict = kBase, keys = kBase + 0x100, values = kBase + 0x300;
    img.put<uint64_t>(dict + L.dict_keys, keys);
    keys311(img, keys, {{0x1000, 0x2000}, {0x1008, 0x2008}});
    auto mem = img.memory();
    CHECK(entries(mem, L, dict).size() == 2);

    keys311(img, keys, {{0x1000, 0}, {0x1008, 0}});  // split: values elsewhere
    img.put<uint64_t>(dict + L.dict_values, values);
    img.put<uint64_t>(values, 0x3000);
    img.put<uint64_t>(values + 8, 0x3008);
    mem = img.memory();
    CHECK(entries(mem, L, dict) == std::map<uint64_t, uint64_t>{{0x1000, 0x3000}, {0x1008, 0x3008}});

    Image general;  // DICT_KEYS_GENERAL: {hash, key, value}
    general.put<uint64_t>(dict + L.dict_keys, keys);
    keys311(general, keys, {}, 0);
    general.put<int64_t>(keys + 24, 1);
    general.put<uint64_t>(keys + 40 + 8, 0x1000);
    general.put<uint64_t>(keys + 40 + 16, 0x2000);
    mem = general.memory();
    CHECK(entries(mem, L, dict) == std::map<uint64_t, uint64_t>{{0x1000, 0x2000}});
}

TEST_CASE("snapshot dicts: hostile headers are refused, not followed") {
    const auto L = *python::table_layout({3, 11, 7});
    Image img;
    const uint64_t dict = kBase, keys = kBase + 0x100;
    img.put<uint64_t>(dict + L.dict_keys, keys);
    keys311(img, keys, {{0x1000, 0x2000}});
    img.put<int64_t>(keys + 24, 1000);  // more entries than 8 slots can hold
    auto mem = img.memory();
    int seen = 0;
    CHECK(for_each_dict_entry(mem, L, dict, [&](uint64_t, uint64_t, uint64_t) { ++seen; }) == DictRead::Corrupt);
    img.put<int64_t>(keys + 24, 1);
    img.put<uint8_t>(keys + 9, 40);  // index bytes beyond the table size
    mem = img.memory();
    CHECK(for_each_dict_entry(mem, L, dict, [&](uint64_t, uint64_t, uint64_t) { ++seen; }) == DictRead::Corrupt);
    img.put<uint64_t>(dict + L.dict_keys, 0x99990000);  // unmapped
    mem = img.memory();
    CHECK(for_each_dict_entry(mem, L, dict, [&](uint64_t, uint64_t, uint64_t) { ++seen; }) == DictRead::Corrupt);
    CHECK(seen == 0);
}

TEST_CASE("snapshot dicts: instance attributes without a dict (3.12 tagged values, 3.13 inline)") {
    const uint64_t obj = kBase + 0x200, keys = kBase + 0x800, values = kBase + 0x600;
    TypeInfo t;
    t.addr = 0x5000;
    t.heap = true;
    t.basicsize = 16;
    t.flags = (1ull << 4) | (1ull << 2);  // MANAGED_DICT, INLINE_VALUES
    t.cached_keys = keys;
    Problems problems;

    auto L312 = *python::table_layout({3, 12, 1});
    Image img;
    keys311(img, keys, {{0x1000, 0}, {0x1008, 0}}, 2);
    img.put<uint64_t>(obj - 24, values - 1);  // tagged: values - 1
    img.put<uint64_t>(values, 0x3000);
    img.put<uint64_t>(values + 8, 0x3008);
    auto mem = img.memory();
    ReadContext ctx{mem, L312, problems, 0, 0};
    std::vector<Edge> out;
    object_referents(ctx, obj, t, out);
    REQUIRE(out.size() == 3);  // the class, then both attributes
    CHECK(out[0].kind == EdgeKind::Class);
    CHECK((out[1].target == 0x3000 && out[1].kind == EdgeKind::Attribute && out[1].label == 0x1000));
    CHECK(out[2].target == 0x3008);

    python::PyLayout L313 = L312;
    L313.managed_dict = python::ManagedDict::Inline313;
    L313.dict_values_items = 8;
    Image inl;
    keys311(inl, keys, {{0x1000, 0}}, 2);
    inl.put<uint8_t>(obj + 16, 4);       // capacity
    inl.put<uint8_t>(obj + 16 + 3, 1);   // valid
    inl.put<uint64_t>(obj + 16 + 8, 0x3000);
    mem = inl.memory();
    ReadContext ctx13{mem, L313, problems, 0, 0};
    out.clear();
    object_referents(ctx13, obj, t, out);
    REQUIRE(out.size() == 2);
    CHECK(out[1].target == 0x3000);

    inl.put<uint64_t>(obj - 24, 0x7000);  // a materialized dict wins
    mem = inl.memory();
    ReadContext ctx13d{mem, L313, problems, 0, 0};
    out.clear();
    object_referents(ctx13d, obj, t, out);
    REQUIRE(out.size() == 2);
    CHECK((out[1].target == 0x7000 && out[1].kind == EdgeKind::Namespace));
    CHECK(problems.total() == 0);
}
