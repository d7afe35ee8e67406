// SPDX-License-Identifier: BSD-2-Clause
// Reading dict tables out of a target: combined and split tables of every
// layout, and the shared-key values instances keep without a dict (3.11+).
#pragma once

#include <cstdint>
#include <functional>

#include "proc/memory.h"
#include "python/layout.h"

namespace leakscope::snapshot {

// Most entries read from one table; larger ones are taken as corrupt.
constexpr uint64_t kMaxDictEntries = 1ull << 26;

// Called for each live entry: key, value, entry index.
using EntryFn = std::function<void(uint64_t key, uint64_t value, uint64_t index)>;

enum class DictRead { Ok, Unreadable, Corrupt };

// Entries of the dict at addr.
DictRead for_each_dict_entry(const proc::MemoryReader& mem, const python::PyLayout& layout,
                             uint64_t dict, const EntryFn& fn);

// Entries of shared keys with their values in a separate values array
// (instance attributes without a dict). max_values caps the values read.
DictRead for_each_split_entry(const proc::MemoryReader& mem, const python::PyLayout& layout,
                              uint64_t keys, uint64_t values_array, uint64_t max_values,
                              const EntryFn& fn);

// Bytes the dict's key table occupies (0 when unreadable).
uint64_t dict_keys_bytes(const proc::MemoryReader& mem, const python::PyLayout& layout,
                         uint64_t keys);

}  // namespace leakscope::snapshot
