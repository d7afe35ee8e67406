// SPDX-License-Identifier: BSD-2-Clause
// Object address -> node number, open addressing: 12 bytes a slot, no
// allocation per object (a heap may hold tens of millions).
#pragma once

#include <cstddef>
#include <cstdint>
#include "snapshot/big_vector.h"

namespace leakscope::snapshot {

class AddressIndex {
public:
    static constexpr uint32_t kAbsent = UINT32_MAX;

    uint32_t find(uint64_t addr) const;
    // Inserts addr -> node unless present; returns the node addr maps to.
    uint32_t insert(uint64_t addr, uint32_t node);
    size_t size() const { return used_; }

private:
    struct __attribute__((packed)) Entry {
        uint64_t addr = 0;  // 0: empty (no object lives at 0)
        uint32_t node = kAbsent;
    };
    static_assert(sizeof(Entry) == 12);
    size_t slot_of(uint64_t addr) const;
    void grow();

    int log2_size_ = 10;
    BigVector<Entry> table_ = BigVector<Entry>(size_t{1} << log2_size_);
    size_t used_ = 0;
};

}  // namespace leakscope::snapshot
