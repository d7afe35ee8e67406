// SPDX-License-Identifier: BSD-2-Clause
// Following sampled allocations until they die, table-driven: what the live
// map and the object's memory say, and what the sweep concludes.
#include <catch2/catch.hpp>
#include <cstring>
#include <cmath>
#include <map>

#include "proc/memory.h"
#include "trace/heap.h"

using namespace leakscope;
using namespace leakscope::trace;

namespace {

constexpr uint64_t kAddr = 0x10000, kType = 0x7000, kSeq = 41;

struct FakeLiveMaps : LiveMaps {
    std::map<std::pair<ls_family, uint64_t>, uint64_t> seqs;
    int forgotten = 0;
    std::optional<uint64_t> live_seq(ls_family f, uint64_t addr) const override {
        auto it = seqs.find({f, addr});
        return it == seqs.end() ? std::nullopt : std::optional(it->second);
    }
    void forget(ls_family f, uint64_t addr) override {
        seqs.erase({f, addr});
        ++forgotten;
    }
};

ls_sample sample(ls_family family, uint32_t size, uint64_t sample_bytes = 1) {
    ls_sample s{};
    s.sample_bytes = sample_bytes;
    s.native_stack_id = -1;
    s.addr = kAddr;
    s.seq = kSeq;
    s.stack_id = 7;
    s.type = family == LS_FAMILY_OBJECT ? kType : 0;
    s.size = size;
    s.family = family;
    return s;
}

std::vector<uint8_t> object_head(uint64_t refcount, uint64_t type) {
    std::vector<uint8_t> head(16);
    std::memcpy(head.data(), &refcount, 8);
    std::memcpy(head.data() + 8, &type, 8);
    return head;
}

// Sweeps at 1 s with the sample still in the kernel's live map (no death seen
// by the probes): whether its site still has live bytes.
bool alive_at_sweep(HeapTracker& heap, const proc::MemoryReader& mem, ls_family family) {
    FakeLiveMaps live;
    live.seqs[{family, kAddr}] = kSeq;
    heap.sweep(live, mem, 1.0, 0);
    const auto snap = heap.snapshot(1.0, 0, 0, 0);
    REQUIRE(snap.sites.size() == 1);
    return snap.sites[0].live_bytes > 0;
}

}  // namespace

TEST_CASE("a sweep keeps what is alive and retires what died", "[heap]") {
    struct Case {
        const char* what;
        ls_family family;
        std::optional<uint64_t> live_seq;   // what the kernel's live map holds
        std::optional<std::vector<uint8_t>> memory;  // the object's first 16 bytes
        bool alive;
        bool forgotten;  // the live map entry is dropped
    };
    const Case cases[] = {
        {"object, live map and memory agree", LS_FAMILY_OBJECT, kSeq, object_head(3, kType), true, false},
        {"object freed: refcount 0", LS_FAMILY_OBJECT, kSeq, object_head(0, kType), false, true},
        {"object freed: pymalloc free-list pointer", LS_FAMILY_OBJECT, kSeq, object_head(0x7f0012345678, kType), false, true},
        {"object replaced by another type", LS_FAMILY_OBJECT, kSeq, object_head(1, kType + 8), false, true},
        {"object memory unmapped", LS_FAMILY_OBJECT, kSeq, std::nullopt, false, true},
        {"object reborn: newer seq at the address", LS_FAMILY_OBJECT, kSeq + 1, object_head(1, kType), false, false},
        {"native block until free()", LS_FAMILY_NATIVE, kSeq, std::nullopt, true, false},
        {"native block freed", LS_FAMILY_NATIVE, std::nullopt, std::nullopt, false, false},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        HeapTracker heap(0, [](uint64_t, int32_t) { return std::pair<Stack, uint32_t>{{{"app.py", 3, "f"}}, 0}; });
        const uint32_t size = 64;
        heap.add(sample(c.family, size));
        FakeLiveMaps live;
        if (c.live_seq) live.seqs[{c.family, kAddr}] = *c.live_seq;
        proc::SnapshotMemory mem;
        if (c.memory) mem.add(kAddr, *c.memory);
        heap.sweep(live, mem, 1.0, 0);

        auto snap = heap.snapshot(1.0, 0, 0, 0);
        REQUIRE(snap.sites.size() == 1);
        const auto& r = snap.sites[0];
        CHECK(r.alloc_bytes == size);  // every allocation sampled: weight 1
        CHECK(r.live_bytes == (c.alive ? size : 0));
        CHECK(r.freed_bytes == (c.alive ? 0 : size));
        CHECK((live.forgotten == 1) == c.forgotten);
        CHECK(snap.python_heap_bytes == (c.alive && c.family == LS_FAMILY_OBJECT ? size : 0));
        REQUIRE(heap.site(r.site));
        CHECK(heap.site(r.site)->frames == Stack{{"app.py", 3, "f"}});
    }
}

TEST_CASE("sample weights follow byte-weighted Poisson sampling", "[heap]") {
    struct Case {
        uint64_t sample_bytes;
        uint32_t size;
        double weight;
    };
    const Case cases[] = {
        {1, 100, 1.0},  // every allocation
        {16384, 16384, 1.0 / (1 - std::exp(-1.0))},
        {16384, 1 << 30, 1.0},  // huge allocations are always sampled
    };
    for (const auto& c : cases) {
        INFO(c.sample_bytes << " " << c.size);
        HeapTracker heap(0, [](uint64_t, int32_t) { return std::pair<Stack, uint32_t>{{}, 0}; });
        heap.add(sample(LS_FAMILY_NATIVE, c.size, c.sample_bytes));
        auto snap = heap.snapshot(0, 0, 0, 0);
        REQUIRE(snap.sites.size() == 1);
        CHECK(snap.sites[0].alloc_objects == Approx(c.weight));
        CHECK(snap.sites[0].live_objects == Approx(c.weight));
    }
}

TEST_CASE("a sample sealed at the end of its window dies when its contents change", "[heap]") {
    struct Case {
        const char* what;
        bool sealed;                            // the window closed: the probes were detached
        std::optional<uint64_t> at_seal, now;   // the object's fingerprint then and at the sweep
        bool alive;
    };
    const Case cases[] = {
        {"same contents", true, 11, 11, true},
        {"another str at its address", true, 11, 12, false},
        {"no longer readable as one", true, 11, std::nullopt, false},
        {"a mutable type: no fingerprint", true, std::nullopt, 12, true},
        {"probes still attached: births there are seen", false, 11, 12, true},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        std::optional<uint64_t> content = c.at_seal;
        HeapTracker heap(0, [](uint64_t, int32_t) { return std::pair<Stack, uint32_t>{{{"app.py", 3, "f"}}, 0}; },
                         [&](uint64_t addr, uint64_t type) { return addr == kAddr && type == kType ? content : std::nullopt; });
        proc::SnapshotMemory mem;
        mem.add(kAddr, object_head(1, kType));
        heap.add(sample(LS_FAMILY_OBJECT, 64));
        if (c.sealed) {
            heap.seal_window(mem);
            heap.probes_detached(0.5);
        }
        content = c.now;
        CHECK(alive_at_sweep(heap, mem, LS_FAMILY_OBJECT) == c.alive);
    }
}

TEST_CASE("a sample born after its window was sealed is sealed on arrival", "[heap]") {
    std::optional<uint64_t> content = 11;
    HeapTracker heap(0, [](uint64_t, int32_t) { return std::pair<Stack, uint32_t>{{{"app.py", 3, "f"}}, 0}; },
                     [&](uint64_t addr, uint64_t type) { return addr == kAddr && type == kType ? content : std::nullopt; });
    proc::SnapshotMemory mem;
    mem.add(kAddr, object_head(1, kType));
    heap.seal_window(mem);
    heap.probes_detached(0.5);
    heap.add(sample(LS_FAMILY_OBJECT, 64));  // a hit on a link still being removed
    content = 12;                            // another str of the same type at its address
    FakeLiveMaps live;
    live.seqs[{LS_FAMILY_OBJECT, kAddr}] = kSeq;
    heap.sweep(live, mem, 1.0, 0);
    const auto snap = heap.snapshot(1.0, 0, 0, 0);
    REQUIRE(snap.sites.size() == 1);
    CHECK(snap.sites[0].live_objects == 0);
    CHECK(snap.sites[0].freed_objects > 0);
}

TEST_CASE("a sealed native block that holds a str is followed as that str", "[heap]") {
    struct Case {
        const char* what;
        std::vector<uint8_t> head_at_seal, head_now;  // the block's first 16 bytes
        std::optional<uint64_t> now;                  // the str's fingerprint at the sweep
        bool alive;
    };
    const Case cases[] = {
        {"the str is still there", object_head(1, kType), object_head(1, kType), 11, true},
        {"freed unseen, another str there", object_head(1, kType), object_head(1, kType), 12, false},
        {"freed unseen, memory reused", object_head(1, kType), object_head(0x4141414141414141, 0x4242), 11, false},
        {"not an object: followed until free()", object_head(0, 0x1234), object_head(0x4141414141414141, 0x4242), 12, true},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        std::optional<uint64_t> content = 11;
        HeapTracker heap(0, [](uint64_t, int32_t) { return std::pair<Stack, uint32_t>{{{"app.py", 3, "f"}}, 0}; },
                         [&](uint64_t addr, uint64_t type) { return addr == kAddr && type == kType ? content : std::nullopt; });
        heap.add(sample(LS_FAMILY_NATIVE, 4096));
        proc::SnapshotMemory sealed;
        sealed.add(kAddr, c.head_at_seal);
        heap.seal_window(sealed);
        heap.probes_detached(0.5);
        content = c.now;
        proc::SnapshotMemory mem;
        mem.add(kAddr, c.head_now);
        CHECK(alive_at_sweep(heap, mem, LS_FAMILY_NATIVE) == c.alive);
    }
}

TEST_CASE("a native block built before the probes go is sealed while frees are still seen", "[heap]") {
    struct Case {
        const char* what;
        double born_s;                     // the window closes at 0.5
        std::vector<uint8_t> head_before;  // the block's first 16 bytes before the probes go
        bool alive;                        // at the sweep, its free() unseen and its memory reused
    };
    const Case cases[] = {
        {"built: followed as its str, so its death shows", 0.3, object_head(1, kType), false},
        {"just born: sealed once the probes are out", 0.495, object_head(1, kType), true},
        {"not an object: followed until free()", 0.3, object_head(0, 0x1234), true},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        HeapTracker heap(0, [](uint64_t, int32_t) { return std::pair<Stack, uint32_t>{{{"app.py", 3, "f"}}, 0}; },
                         [](uint64_t addr, uint64_t type) { return addr == kAddr && type == kType ? std::optional<uint64_t>(11) : std::nullopt; });
        auto s = sample(LS_FAMILY_NATIVE, 4096);
        s.ts_ns = uint64_t(c.born_s * 1e9);
        heap.add(s);
        proc::SnapshotMemory before;
        before.add(kAddr, c.head_before);
        heap.seal_window(before, 0.5 - kBuiltS);
        // Freed while the probes were being removed; malloc's free-list
        // pointers now over its first words.
        proc::SnapshotMemory after;
        after.add(kAddr, object_head(0x4141414141414141, 0x4242));
        heap.seal_window(after);
        heap.probes_detached(0.6);
        CHECK(alive_at_sweep(heap, after, LS_FAMILY_NATIVE) == c.alive);
    }
}
