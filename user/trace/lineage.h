// SPDX-License-Identifier: BSD-2-Clause
// What the target does to itself while traced: an exec replaces the program
// the probes and layout were made for (the session ends), and a forked child
// has memory of its own that no probe sees (the report says so).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>

#include "proc/maps.h"

namespace leakscope::trace {

// Children remembered (and counted); a target forking more is reported as
// having forked at least this many.
constexpr size_t kMaxTrackedChildren = 4096;

class LineageWatch {
public:
    explicit LineageWatch(pid_t pid);

    // Looks again; cheap enough for every poll of the tracing loop.
    void poll();

    bool exec_seen() const { return exec_seen_; }
    // Children forked while traced (seen alive at a poll), smallest PID first.
    const std::set<pid_t>& children() const { return children_; }

private:
    pid_t pid_;
    std::optional<proc::ImageId> image_;
    bool exec_seen_ = false;
    std::set<pid_t> children_;
};

}  // namespace leakscope::trace
