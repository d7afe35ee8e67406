// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/dict_reader.h"

#include <algorithm>
#include <optional>
#include <vector>

namespace leakscope::snapshot {
namespace {

// Entries are read this many at a time, whatever the table's size.
constexpr uint64_t kBatch = 4096;
constexpr int kMaxLog2Size = 30;

// Where a key table's entries are and how they look.
struct KeysTable {
    uint64_t entries = 0;    // address of entry 0
    uint64_t nentries = 0;   // entries in use (live or deleted)
    uint64_t entry_size = 0;
    uint64_t key_at = 0;     // offset of the key within an entry
    uint64_t bytes = 0;      // size of the whole PyDictKeysObject
};

// USABLE_FRACTION: a table of n slots holds at most 2n/3 entries.
uint64_t usable(uint64_t slots) { return (slots << 1) / 3; }

std::optional<KeysTable> keys38(const proc::MemoryReader& mem, uint64_t keys) {
    struct { int64_t refcnt, size; uint64_t lookup; int64_t usable, nentries; } h;
    if (!mem.read(keys, &h, sizeof h)) return std::nullopt;
    // Py_EMPTY_KEYS, shared by every empty dict, has a single slot.
    if (h.size < 1 || h.size > (1ll << kMaxLog2Size) || (h.size & (h.size - 1))) return std::nullopt;
    if (h.nentries < 0 || static_cast<uint64_t>(h.nentries) > usable(h.size)) return std::nullopt;
    const uint64_t width = h.size <= 0xff ? 1 : h.size <= 0xffff ? 2 : h.size <= 0xffffffffll ? 4 : 8;
    KeysTable t;
    t.entries = keys + 40 + h.size * width;  // sizeof the header, then dk_indices
    t.nentries = h.nentries;
    t.entry_size = 24;  // {hash, key, value}
    t.key_at = 8;
    t.bytes = 40 + h.size * width + usable(h.size) * 24;
    return t;
}

std::optional<KeysTable> keys311(const proc::MemoryReader& mem, uint64_t keys) {
    struct { int64_t refcnt; uint8_t log2_size, log2_index_bytes, kind, pad; uint32_t version;
             int64_t usable, nentries; } h;
    if (!mem.read(keys, &h, sizeof h)) return std::nullopt;
    // Py_EMPTY_KEYS, shared by every empty dict, has log2_size 0.
    if (h.log2_size > kMaxLog2Size || h.log2_index_bytes < h.log2_size ||
        h.log2_index_bytes > h.log2_size + 3 || h.kind > 2)
        return std::nullopt;
    const uint64_t slots = 1ull << h.log2_size;
    if (h.nentries < 0 || static_cast<uint64_t>(h.nentries) > usable(slots)) return std::nullopt;
    KeysTable t;
    t.entries = keys + 32 + (1ull << h.log2_index_bytes);
    t.nentries = h.nentries;
    // DICT_KEYS_GENERAL entries keep the hash; unicode and split ones do not.
    t.entry_size = h.kind == 0 ? 24 : 16;
    t.key_at = h.kind == 0 ? 8 : 0;
    t.bytes = 32 + (1ull << h.log2_index_bytes) + usable(slots) * t.entry_size;
    return t;
}

std::optional<KeysTable> keys_table(const proc::MemoryReader& mem, const python::PyLayout& layout,
                                    uint64_t keys) {
    if (!keys) return std::nullopt;
    return layout.dict_keys_format == python::DictKeysFormat::Keys38 ? keys38(mem, keys)
                                                                     : keys311(mem, keys);
}

// Walks the entries in batches; values come from the entry itself or, for
// split tables, from values_array.
DictRead walk(const proc::MemoryReader& mem, const KeysTable& t, uint64_t values_array,
              uint64_t max_values, const EntryFn& fn) {
    const uint64_t n = std::min(t.nentries, max_values);
    if (n > kMaxDictEntries) return DictRead::Corrupt;
    std::vector<uint64_t> entries, values;
    for (uint64_t first = 0; first < n; first += kBatch) {
        const uint64_t count = std::min(kBatch, n - first);
        entries.resize(count * t.entry_size / 8);
        if (!mem.read(t.entries + first * t.entry_size, entries.data(), count * t.entry_size))
            return DictRead::Unreadable;
        if (values_array) {
            values.resize(count);
            if (!mem.read(values_array + first * 8, values.data(), count * 8)) return DictRead::Unreadable;
        }
        const uint64_t words = t.entry_size / 8, key_word = t.key_at / 8;
        for (uint64_t i = 0; i < count; ++i) {
            const uint64_t key = entries[i * words + key_word];
            const uint64_t value = values_array ? values[i] : entries[i * words + key_word + 1];
            if (key && value) fn(key, value, first + i);
        }
    }
    return DictRead::Ok;
}

}  // namespace

DictRead for_each_dict_entry(const proc::MemoryReader& mem, const python::PyLayout& layout,
                             uint64_t dict, const EntryFn& fn) {
    auto keys = mem.read_ptr(dict + layout.dict_keys);
    auto values = mem.read_ptr(dict + layout.dict_values);
    if (!keys || !values) return DictRead::Unreadable;
    auto table = keys_table(mem, layout, *keys);
    if (!table) return DictRead::Corrupt;
    const uint64_t values_array = *values ? *values + layout.dict_values_items : 0;
    return walk(mem, *table, values_array, table->nentries, fn);
}

DictRead for_each_split_entry(const proc::MemoryReader& mem, const python::PyLayout& layout,
                              uint64_t keys, uint64_t values_array, uint64_t max_values,
                              const EntryFn& fn) {
    auto table = keys_table(mem, layout, keys);
    if (!table) return DictRead::Corrupt;
    return walk(mem, *table, values_array, max_values, fn);
}

uint64_t dict_keys_bytes(const proc::MemoryReader& mem, const python::PyLayout& layout,
                         uint64_t keys) {
    auto table = keys_table(mem, layout, keys);
    return table ? table->bytes : 0;
}

}  // namespace leakscope::snapshot
