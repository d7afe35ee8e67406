// SPDX-License-Identifier: BSD-2-Clause
// What the tracer reads of a sampled object once it exists.
// - A fingerprint of an immutable object's contents (str and bytes, subclasses
//   included): a later object at the same address almost never has the same
//   one, so a sampled object whose birth probes were detached when it died, and
//   whose memory now holds another object of its type, is still told apart.
// - Its size: a variable-size object's ob_size is set after its birth, where
//   the probe reads a stale one.
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

    // Bytes of the live object of that type at addr, as the probe sizes one
    // (basic size, items, GC header); nullopt when it is not there, cannot be
    // read or claims an impossible size.
    std::optional<uint64_t> size(uint64_t addr, uint64_t type);

private:
    struct TypeInfo {
        uint64_t flags = 0, basicsize = 0, itemsize = 0;
    };
    const TypeInfo& type_info(uint64_t type);

    const proc::MemoryReader& mem_;
    const PyLayout& layout_;
    std::unordered_map<uint64_t, TypeInfo> types_;
};

}  // namespace leakscope::python
