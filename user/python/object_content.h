// SPDX-License-Identifier: BSD-2-Clause
// A fingerprint of an immutable object's contents (str and bytes, subclasses
// included): a later object at the same address almost never has the same
// one, so a sampled object whose birth probes were detached when it died, and
// whose memory now holds another object of its type, is still told apart.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>

#include "proc/memory.h"
#include "python/layout.h"

namespace leakscope::python {

class ObjectContent {
public:
    ObjectContent(const proc::MemoryReader& mem, const PyLayout& layout) : mem_(mem), layout_(layout) {}

    // nullopt: the type's objects may change (or addr is not readable as one).
    std::optional<uint64_t> fingerprint(uint64_t addr, uint64_t type);

private:
    uint64_t type_flags(uint64_t type);

    const proc::MemoryReader& mem_;
    const PyLayout& layout_;
    std::unordered_map<uint64_t, uint64_t> flags_;  // per type
};

}  // namespace leakscope::python
