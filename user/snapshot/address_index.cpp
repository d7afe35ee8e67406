// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/address_index.h"

namespace leakscope::snapshot {

size_t AddressIndex::slot_of(uint64_t addr) const {
    // Fibonacci hashing: the product's high bits depend on every bit of addr.
    const size_t mask = table_.size() - 1;
    size_t i = static_cast<size_t>((addr * 0x9E3779B97F4A7C15ull) >> (64 - log2_size_));
    while (table_[i].addr && table_[i].addr != addr) i = (i + 1) & mask;
    return i;
}

uint32_t AddressIndex::find(uint64_t addr) const {
    if (!addr) return kAbsent;
    const Entry& e = table_[slot_of(addr)];
    return e.addr ? e.node : kAbsent;
}

uint32_t AddressIndex::insert(uint64_t addr, uint32_t node) {
    if ((used_ + 1) * 4 > table_.size() * 3) grow();
    Entry& e = table_[slot_of(addr)];
    if (e.addr) return e.node;
    e = {addr, node};
    ++used_;
    return node;
}

void AddressIndex::grow() {
    ++log2_size_;
    BigVector<Entry> old(table_.size() * 2);
    old.swap(table_);
    for (const Entry& e : old)
        if (e.addr) table_[slot_of(e.addr)] = e;
}

}  // namespace leakscope::snapshot
