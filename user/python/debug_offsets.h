// SPDX-License-Identifier: BSD-2-Clause
// CPython 3.13+ describes its own layout in _Py_DebugOffsets, the first member
// of _PyRuntime. This reads it out of a target and turns it into a PyLayout;
// what the struct does not carry comes from a small per-version supplement.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "proc/memory.h"
#include "python/layout.h"

namespace leakscope::python {

// The raw struct: every u64 after the header, keyed "sub_struct.field".
struct DebugOffsets {
    uint64_t version = 0;  // PY_VERSION_HEX of the target
    bool free_threaded = false;
    std::map<std::string, uint64_t, std::less<>> fields;

    // Throws Error(LayoutMismatch) when the field is not in this version's struct.
    uint64_t at(std::string_view name) const;
    PyVersion py_version() const;
};

// sizeof(_Py_DebugOffsets) for a minor version (584 for 3.13, 760 for 3.14);
// 0 for versions without one.
size_t debug_offsets_size(int minor);

// The head of _Py_DebugOffsets at runtime_addr, after its cookie:
// PY_VERSION_HEX and the free_threaded flag. Errc::LayoutMismatch when it
// cannot be read or has no cookie.
struct DebugOffsetsHeader {
    uint64_t version = 0;
    bool free_threaded = false;
};
DebugOffsetsHeader debug_offsets_header(const proc::MemoryReader& mem, uint64_t runtime_addr);

// Reads and checks _Py_DebugOffsets at runtime_addr: cookie, version gate
// (3.13/3.14 final or candidate; else Errc::UnsupportedVersion), readable
// size, and offsets that lie within their structs (else Errc::LayoutMismatch).
DebugOffsets read_debug_offsets(const proc::MemoryReader& mem, uint64_t runtime_addr);

// The layout from parsed debug offsets plus the per-version supplement.
// Free-threaded builds are rejected with Errc::UnsupportedVersion.
PyLayout layout_from_debug_offsets(const DebugOffsets& offsets);
PyLayout layout_from_debug_offsets(const proc::MemoryReader& mem, uint64_t runtime_addr);

// Tables for 3.8-3.12, _Py_DebugOffsets for 3.13+. `v` is the version found by
// discovery; for 3.13+ its major.minor must agree with the target's own.
PyLayout resolve_layout(const PyVersion& v, const proc::MemoryReader& mem, uint64_t runtime_addr);

}  // namespace leakscope::python
