// SPDX-License-Identifier: BSD-2-Clause
// Following pymalloc's pools from their refills, table-driven: what the pool
// header says at a sweep, and whether the pool still counts as held.
#include <catch2/catch.hpp>

#include <cstring>

#include "proc/memory.h"
#include "snapshot/pymalloc.h"
#include "trace/pool_growth.h"

using namespace leakscope;
using namespace leakscope::trace;

namespace {

constexpr uint64_t kPoolBytes = 16 << 10;
constexpr uint64_t kPool = 0x7f0000010000;
constexpr uint32_t kSzidx = 3;  // 64-byte blocks

// A refill handing out the first block of the pool at `pool`.
ls_sample refill(uint64_t pool, uint64_t stack_id, uint32_t block_bytes = (kSzidx + 1) * 16) {
    ls_sample s{};
    s.addr = pool + sizeof(snapshot::PoolHeader);
    s.stack_id = stack_id;
    s.size = block_bytes;
    s.family = LS_POOL_REFILL;
    s.native_stack_id = -1;
    return s;
}

std::vector<uint8_t> header(uint32_t count, uint32_t szidx) {
    snapshot::PoolHeader h{};
    h.count = count;
    h.szidx = szidx;
    std::vector<uint8_t> bytes(sizeof h);
    std::memcpy(bytes.data(), &h, sizeof h);
    return bytes;
}

}  // namespace

TEST_CASE("a pool is held while its header counts blocks of its class", "[pool_growth]") {
    struct Case {
        const char* what;
        std::optional<std::vector<uint8_t>> pool;  // the pool header at the sweep
        bool held;
    };
    const Case cases[] = {
        {"blocks in use", header(3, kSzidx), true},
        {"one block in use", header(1, kSzidx), true},
        {"emptied: back on its arena's free list", header(0, kSzidx), false},
        {"serving another size class", header(5, kSzidx + 1), false},
        {"a size class past 512-byte blocks", header(1, 64), false},
        {"more blocks than fit", header(1000, kSzidx), false},
        {"unreadable: its arena was freed", std::nullopt, false},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        proc::SnapshotMemory mem;
        if (c.pool) mem.add(kPool, *c.pool);
        PoolGrowth pools(kPoolBytes);
        pools.add(refill(kPool, 9));
        pools.sweep(mem);
        const auto classes = pools.classes();
        REQUIRE(classes.size() == 1);
        CHECK(classes[0].block_bytes == 64);
        CHECK(classes[0].taken == 1);
        CHECK(classes[0].held == (c.held ? 1u : 0u));
        CHECK(classes[0].taken_by.at(9) == 1);
    }
}

TEST_CASE("pools are counted by size class, most held first, with the stacks that took them", "[pool_growth]") {
    proc::SnapshotMemory mem;
    PoolGrowth pools(kPoolBytes);
    for (uint64_t i = 0; i < 5; ++i) {  // 64-byte class: five pools, all in use; taken at stacks 1 and 2
        mem.add(kPool + i * kPoolBytes, header(1, kSzidx));
        pools.add(refill(kPool + i * kPoolBytes, i < 4 ? 1 : 2));
    }
    const uint64_t churn = kPool + 100 * kPoolBytes;  // 32-byte class: one pool emptied and taken again 8 times
    mem.add(churn, header(0, 1));
    for (int i = 0; i < 8; ++i) pools.add(refill(churn, 2, 32));
    CHECK(pools.classes()[1].held == 1);  // the last taking, until a sweep finds it empty
    pools.sweep(mem);
    const auto classes = pools.classes();
    REQUIRE(classes.size() == 2);
    CHECK((classes[0].block_bytes == 64 && classes[0].taken == 5 && classes[0].held == 5));
    CHECK(classes[0].taken_by == std::unordered_map<uint64_t, uint64_t>{{1, 4}, {2, 1}});
    CHECK((classes[1].block_bytes == 32 && classes[1].taken == 8 && classes[1].held == 0));
    CHECK(pools.taken() == 13);
    CHECK(pools.retaken() == 7);  // the churning pool, emptied between takings
    CHECK(pools.unfollowed() == 0);
}

TEST_CASE("refills past the followed limit, or of no size class, are not followed", "[pool_growth]") {
    PoolGrowth pools(kPoolBytes);
    const size_t n = PoolGrowth::kMaxFollowed + 3;
    for (size_t i = 0; i < n; ++i) pools.add(refill(kPool + i * kPoolBytes, 1));
    CHECK(pools.classes()[0].taken == n);
    CHECK(pools.classes()[0].held == PoolGrowth::kMaxFollowed);
    CHECK(pools.unfollowed() == 3);
    for (uint32_t bad : {0u, 24u, 1040u}) pools.add(refill(kPool, 1, bad));  // hostile sizes
    CHECK(pools.unfollowed() == 6);
    CHECK(pools.classes().size() == 1);
}
