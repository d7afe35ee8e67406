// SPDX-License-Identifier: BSD-2-Clause
// One heap snapshot of a CPython process, read from outside: census, holders,
// memory breakdown and what did not add up.
#pragma once

#include <cstdint>
#include <optional>

#include "python/target.h"
#include "snapshot/census.h"
#include "snapshot/problems.h"
#include "snapshot/pymalloc.h"

namespace leakscope::snapshot {

struct MemoryBreakdown {
    uint64_t rss = 0, pss = 0, swap = 0, anonymous = 0, file = 0;
    uint64_t python_objects = 0;       // shallow bytes of every object found
    uint64_t large_objects = 0;        // of which in objects malloc'ed directly (over 512 bytes)
    std::optional<PymallocUsage> pymalloc;  // nullopt: the arena table cannot be read
    uint64_t native_unexplained = 0;   // anonymous memory neither arenas nor large objects account for
};

struct Snapshot {
    Census census;
    Problems problems;
    MemoryBreakdown memory;
    uint64_t gc_tracked = 0;
    uint64_t chunk_reads = 0;
    double read_s = 0;
    std::optional<double> frozen_s;  // with --freeze: how long the target was stopped
};

struct SnapshotOptions {
    size_t top = 20;
    bool freeze = false;
};

Snapshot take_snapshot(const python::Target& target, const SnapshotOptions& options);

}  // namespace leakscope::snapshot
