// SPDX-License-Identifier: BSD-2-Clause
// Following pymalloc pool refills, table-driven: what the pool header and the
// first block say, and whether the pool still counts as held.
#include <catch2/catch.hpp>

#include <cstring>

#include "proc/memory.h"
#include "snapshot/pymalloc.h"
#include "trace/pool_growth.h"

using namespace leakscope;
using namespace leakscope::trace;

namespace {

constexpr uint64_t kPoolBytes = 16 << 10;
constexpr uint64_t kPool = 0x7f0000010000, kBlock = kPool + 48;  // the first block, after the header

ls_sample refill(uint64_t block, uint64_t stack_id) {
    ls_sample s{};
    s.addr = block;
    s.stack_id = stack_id;
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

std::vector<uint8_t> word(uint64_t v) {
    std::vector<uint8_t> bytes(8);
    std::memcpy(bytes.data(), &v, 8);
    return bytes;
}

}  // namespace

TEST_CASE("a refill's pool is held while its first block is in use", "[pool_growth]") {
    struct Case {
        const char* what;
        std::optional<std::vector<uint8_t>> pool;   // the pool header
        std::optional<uint64_t> first_word;         // of the first block
        bool held;
    };
    const Case cases[] = {
        {"an object: a reference count", header(3, 4), 1, true},
        {"a buffer holding a pointer elsewhere", header(1, 4), 0x55550000, true},
        {"freed, the last on the free list: NULL", header(2, 4), 0, false},
        {"freed, linked to a block of its pool", header(2, 4), kPool + 48 + 80, false},
        {"freed, linked to the pool's last byte", header(2, 4), kPool + kPoolBytes - 1, false},
        {"a pointer just past its pool", header(2, 4), kPool + kPoolBytes, true},
        {"the pool emptied", header(0, 4), 1, false},
        {"a header that is not a pool's (size class 64)", header(1, 64), 1, false},
        {"a header counting more blocks than fit", header(1000, 4), 1, false},
        {"the pool unreadable", std::nullopt, 1, false},
        {"the block unreadable", header(1, 4), std::nullopt, false},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        proc::SnapshotMemory mem;
        if (c.pool) mem.add(kPool, *c.pool);
        if (c.first_word) mem.add(kBlock, word(*c.first_word));
        PoolGrowth pools(kPoolBytes);
        pools.add(refill(kBlock, 9));
        pools.sweep(mem);
        const auto sites = pools.sites();
        REQUIRE(sites.size() == 1);
        CHECK(sites[0].stack_id == 9);
        CHECK(sites[0].taken == 1);
        CHECK(sites[0].held == (c.held ? 1u : 0u));
    }
}

TEST_CASE("a pool that changes size class was freed and taken for another", "[pool_growth]") {
    proc::SnapshotMemory first, later;
    first.add(kPool, header(1, 4));
    first.add(kBlock, word(1));
    later.add(kPool, header(1, 7));
    later.add(kBlock, word(1));
    PoolGrowth pools(kPoolBytes);
    pools.add(refill(kBlock, 9));
    pools.sweep(first);
    CHECK(pools.sites()[0].held == 1);
    pools.sweep(first);
    CHECK(pools.sites()[0].held == 1);
    pools.sweep(later);
    CHECK(pools.sites()[0].held == 0);
}

TEST_CASE("pools are counted by stack, most held first; a pool taken again replaces the one before", "[pool_growth]") {
    proc::SnapshotMemory mem;
    PoolGrowth pools(kPoolBytes);
    for (uint64_t i = 0; i < 5; ++i) {  // stack 1: five pools, all in use
        mem.add(kPool + i * kPoolBytes, header(1, 2));
        mem.add(kBlock + i * kPoolBytes, word(1));
        pools.add(refill(kBlock + i * kPoolBytes, 1));
    }
    const uint64_t churn_pool = kPool + 100 * kPoolBytes;
    mem.add(churn_pool, header(0, 2));  // stack 2: the same pool, emptied and taken again 8 times
    for (int i = 0; i < 8; ++i) pools.add(refill(churn_pool + 48, 2));
    pools.sweep(mem);
    const auto sites = pools.sites();
    REQUIRE(sites.size() == 2);
    CHECK((sites[0].stack_id == 1 && sites[0].taken == 5 && sites[0].held == 5));
    CHECK((sites[1].stack_id == 2 && sites[1].taken == 8 && sites[1].held == 0));
    CHECK(pools.unfollowed() == 0);
}

TEST_CASE("refills past the followed limit are counted, not followed", "[pool_growth]") {
    PoolGrowth pools(kPoolBytes);
    const size_t n = PoolGrowth::kMaxFollowed + 3;
    for (size_t i = 0; i < n; ++i) pools.add(refill(kBlock + i * kPoolBytes, 1));
    CHECK(pools.sites()[0].taken == n);
    CHECK(pools.sites()[0].held == PoolGrowth::kMaxFollowed);
    CHECK(pools.unfollowed() == 3);
}
