// SPDX-License-Identifier: BSD-2-Clause
// Snapshot readers over synthesized memory images: the collector's lists,
// list items, type validation, sizes, dominators and the address index.
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <iterator>

#include "proc/memory.h"
#include "python/debug_offsets.h"
#include "python/layout.h"
#include "snapshot/address_index.h"
#include "snapshot/big_vector.h"
#include "snapshot/census.h"
#include "snapshot/dominators.h"
#include "snapshot/heap.h"
#include "snapshot/referents.h"

using namespace leakscope;
using namespace leakscope::snapshot;

namespace {

// A 3.11 process image: `type`, `list` and `bytes` type objects, a gc state
// whose generation 0 holds one list of two bytes objects, the rest empty.
struct Image {
    static constexpr uint64_t kTypeType = 0x10000, kListType = 0x11000, kBytesType = 0x12000;
    static constexpr uint64_t kGc = 0x20000, kList = 0x30010, kItems = 0x31000;
    static constexpr uint64_t kBytes1 = 0x32000, kBytes2 = 0x33000, kNames = 0x40000;
    std::vector<uint8_t> mem = std::vector<uint8_t>(0x50000);
    python::PyLayout layout = *python::table_layout({3, 11, 7});

    void put(uint64_t addr, uint64_t v) { std::memcpy(&mem[addr], &v, 8); }
    void put_cstr(uint64_t addr, const char* s) { std::memcpy(&mem[addr], s, std::strlen(s) + 1); }
    void type(uint64_t addr, const char* name, uint64_t name_at, int64_t basic, int64_t item, uint64_t flags) {
        put(addr, 1);
        put(addr + 8, kTypeType);
        put(addr + layout.type_name, name_at);
        put_cstr(name_at, name);
        put(addr + layout.type_basicsize, basic);
        put(addr + layout.type_itemsize, item);
        put(addr + layout.type_flags, flags);
    }
    Image() {
        type(kTypeType, "type", kNames, 880, 40, kTpFlagsHaveGc | kTpFlagsTypeSubclass);
        type(kListType, "list", kNames + 16, 40, 0, kTpFlagsHaveGc);
        type(kBytesType, "bytes", kNames + 32, 33, 1, 0);
        for (int g = 0; g < 3; ++g) put(kGc + 24 + 24 * g, kGc + 24 + 24 * g);  // empty lists
        put(kGc + layout.gc_permanent, kGc + layout.gc_permanent);
        put(kGc + 24, kList - 16);  // generation 0 -> the list's PyGC_Head -> back to the head
        put(kList - 16, kGc + 24);
        put(kList, 1);
        put(kList + 8, kListType);
        put(kList + 16, 2);      // ob_size
        put(kList + 24, kItems);  // ob_item
        put(kList + 32, 4);      // allocated
        put(kItems, kBytes1);
        put(kItems + 8, kBytes2);
        for (auto [b, n] : {std::pair{kBytes1, 100}, std::pair{kBytes2, 1000}}) {
            put(b, 1);
            put(b + 8, kBytesType);
            put(b + 16, n);
        }
    }
    proc::SnapshotMemory memory() const {
        proc::SnapshotMemory m;
        m.add(0, mem);
        return m;
    }
};

struct Read {
    Census census;
    Heap heap;
    Problems problems;
};

Read read_image(const Image& img, uint64_t max_objects = 1ull << 31) {
    Read r;
    auto mem = img.memory();
    ReadContext ctx{mem, img.layout, r.problems, 0, 0};
    TypeTable types(mem, img.layout, {{Image::kListType, Kind::List}, {Image::kTypeType, Kind::Type}},
                    Image::kTypeType);
    HeapSource source{ctx, types, Image::kGc, {}, {}, max_objects};
    r.heap = read_heap(source);
    r.census = take_census(source, r.heap, 10);
    return r;
}

uint64_t count_of(const Census& c, const std::string& type) {
    for (const auto& t : c.types)
        if (t.type == type) return t.count;
    return 0;
}

}  // namespace

TEST_CASE("snapshot: tracked list and the untracked bytes it references") {
    Image img;
    Read r = read_image(img);
    CHECK(r.heap.tracked == 1);
    CHECK(count_of(r.census, "list") == 1);
    CHECK(count_of(r.census, "bytes") == 2);
    CHECK(r.census.types.front().type == "bytes");  // biggest first
    CHECK(r.census.types.front().bytes == 33 + 100 + 33 + 1000);
    // list: basicsize, GC header and the 4-slot item array
    CHECK(r.census.types.back().bytes == 40 + 16 + 4 * 8);
    CHECK(r.problems.total() == 0);
}

TEST_CASE("snapshot: a reference to something that is not an object is counted, not followed") {
    Image img;
    img.put(Image::kBytes2 + 8, 0x12345);  // type pointer into nowhere typed
    Read r = read_image(img);
    CHECK(count_of(r.census, "bytes") == 1);
    CHECK(r.problems.count(Problem::NotAnObject) == 1);
}

TEST_CASE("snapshot: a collector list that loops is cut and counted") {
    Image img;
    img.put(Image::kList - 16, Image::kList - 16);  // _gc_next points at itself
    Read r = read_image(img);
    CHECK(count_of(r.census, "list") == 1);
    CHECK(r.problems.count(Problem::BrokenGcList) == 1);
}

TEST_CASE("snapshot: a collector list that loops through freed memory is cut and counted") {
    Image img;
    // The list's _gc_next leads to two freed objects (refcount 0) that point
    // at each other: no object is seen twice, yet the walk must end.
    constexpr uint64_t kFreed1 = 0x34000, kFreed2 = 0x35000;
    img.put(Image::kList - 16, kFreed1);
    img.put(kFreed1, kFreed2);
    img.put(kFreed2, kFreed1);
    Read r = read_image(img);
    CHECK(count_of(r.census, "list") == 1);
    CHECK(r.problems.count(Problem::BrokenGcList) == 1);
    CHECK(r.problems.count(Problem::NotAnObject) > 0);
    CHECK(r.problems.count(Problem::NotAnObject) < 1000);  // cut soon, not after 2^31 steps
}

TEST_CASE("snapshot: objects past the limit are counted, not followed") {
    Image img;
    Read r = read_image(img, 3);  // the roots' node, the list and one bytes object
    CHECK(count_of(r.census, "list") == 1);
    CHECK(count_of(r.census, "bytes") == 1);
    CHECK(r.problems.count(Problem::ObjectLimit) == 1);
}

TEST_CASE("snapshot: a list longer than its allocation is corrupt") {
    Image img;
    img.put(Image::kList + 16, 1000);
    Read r = read_image(img);
    CHECK(count_of(r.census, "bytes") == 0);
    CHECK(r.problems.count(Problem::CorruptContainer) == 1);
}

TEST_CASE("snapshot: a deque whose block chain loops is read once and counted") {
    Image img;
    constexpr uint64_t kDeque = 0x34000, kBlock = 0x35000;
    img.put(kDeque + img.layout.varobject_size, uint64_t(1) << 27);  // claims 2^27 items
    img.put(kDeque + img.layout.deque_leftblock, kBlock);
    img.put(kDeque + img.layout.deque_leftindex, 0);
    for (int i = 0; i < 64; ++i) img.put(kBlock + 8 + 8 * i, Image::kBytes1);
    img.put(kBlock + 8 + 8 * 64, kBlock);  // rightlink: the block itself
    auto mem = img.memory();
    Problems problems;
    ReadContext ctx{mem, img.layout, problems, 0, 0};
    TypeInfo deque;
    deque.kind = Kind::Deque;
    std::vector<Edge> edges;
    object_referents(ctx, kDeque, deque, edges);
    CHECK(edges.size() == 64);
    CHECK(problems.count(Problem::CorruptContainer) == 1);
}

TEST_CASE("snapshot: dominators and retained sizes of a diamond") {
    // 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3, 3 -> 4; node 5 unreached
    const BigVector<uint32_t> begin = {0, 2, 3, 4, 5, 5, 5};
    const BigVector<uint32_t> edges = {1, 2, 3, 3, 4};
    const BigVector<uint64_t> size = {0, 10, 20, 30, 40, 50};
    Dominators d = dominators(begin, edges, size);
    CHECK(d.retained_bytes[1] == 10);  // 3 is reached through both 1 and 2
    CHECK(d.retained_bytes[2] == 20);
    CHECK(d.retained_bytes[3] == 70);  // 3 dominates 4
    CHECK(d.retained_objects[3] == 2);
    CHECK(d.retained_bytes[0] == 100);
    CHECK(d.retained_objects[0] == 4);
    CHECK(d.retained_bytes[5] == 0);   // unreached
    CHECK(d.retained_objects[5] == 0);
    auto parents = bfs_parents(begin, edges);
    CHECK(parents[4] == 3);
    CHECK(parents[3] == 1);
    CHECK(parents[5] == kUnreached);
}

uint64_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    uint64_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * 4096;
}

TEST_CASE("snapshot: a per-object vector's reserved room costs no memory until used") {
    if (!untouched_memory_is_free()) {
        WARN("SKIP: strict overcommit (vm.overcommit_memory 2): nothing is reserved");
        return;
    }
    const uint64_t before = resident_bytes();
    BigVector<uint64_t> addr;
    reserve_if_free(addr, size_t{1} << 27);  // 1 GiB of room
    REQUIRE(addr.capacity() == size_t{1} << 27);
    for (uint64_t i = 0; i < (1 << 20); ++i) addr.push_back(i);  // 8 MiB used
    CHECK(addr.capacity() == size_t{1} << 27);  // grown in place, never copied
    CHECK(resident_bytes() - before < (uint64_t{64} << 20));
}

TEST_CASE("snapshot: the address index keeps every entry as it grows") {
    AddressIndex index;
    for (uint32_t i = 0; i < 100000; ++i) CHECK(index.insert(0x7f0000000000ull + 16ull * i, i) == i);
    CHECK(index.size() == 100000);
    CHECK(index.insert(0x7f0000000000ull, 7) == 0);  // already present
    CHECK(index.find(0x7f0000000000ull + 16ull * 99999) == 99999);
    CHECK(index.find(0x10) == AddressIndex::kAbsent);
    CHECK(index.find(0) == AddressIndex::kAbsent);
}

TEST_CASE("snapshot layouts: 3.13 from its recorded _Py_DebugOffsets, 3.14's refusals") {
    std::ifstream f(std::string(LEAKSCOPE_TEST_DATA) + "/debug_offsets_3.13.0.bin", std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    proc::SnapshotMemory mem;
    mem.add(0x1000, bytes);
    python::DebugOffsets d = python::read_debug_offsets(mem, 0x1000);
    const python::PyLayout l313 = python::layout_from_debug_offsets(d);
    const python::PyLayout l312 = *python::table_layout({3, 12, 1});
    // What did not move between 3.12 and 3.13 must come out the same.
    CHECK(l313.heap_type_qualname == l312.heap_type_qualname);
    CHECK(l313.heap_type_cached_keys == l312.heap_type_cached_keys);
    CHECK((l313.list_items == 24 && l313.tuple_items == 24 && l313.dict_keys == 32 && l313.dict_values == 40));
    CHECK(l313.code_localsplusnames == l312.code_localsplusnames);
    CHECK(l313.frame_localsplus == l312.frame_localsplus);
    CHECK(l313.gen_iframe == l312.gen_iframe);
    CHECK(l313.gc_permanent == 104);
    CHECK(l313.long_tag == 16);
    CHECK(l313.function_refs == l312.function_refs);
    // What did: values got a header and moved inline; the obmalloc state is behind a pointer.
    CHECK(l313.dict_values_items == 8);
    CHECK(l313.managed_dict == python::ManagedDict::Inline313);
    CHECK((l313.interp_obmalloc == 10800 && l313.interp_obmalloc_indirect));

    // 3.14 offsets over the same struct: what is not verified for 3.14 is refused.
    d.version = 0x030e00f0;
    d.fields["set_object.used"] = 24;
    d.fields["set_object.mask"] = 32;
    d.fields["set_object.table"] = 40;
    const python::PyLayout l314 = python::layout_from_debug_offsets(d);
    CHECK(l314.gc_permanent == 96);
    CHECK(l314.gen_iframe == -1);       // FRAME_CLEARED of 3.14 unverified: generator frames not read
    CHECK(l314.interp_obmalloc == -1);  // pymalloc's table not located
    CHECK(l314.set_table == 40);
}
