// SPDX-License-Identifier: BSD-2-Clause
#include "trace/lineage.h"

namespace leakscope::trace {

LineageWatch::LineageWatch(pid_t pid) : pid_(pid), image_(proc::image_id(pid)) {}

void LineageWatch::poll() {
    if (exec_seen_) return;
    auto now = proc::image_id(pid_);
    if (!now) return;  // gone: the tracing loop sees that itself
    if (image_ && !(*now == *image_)) {
        exec_seen_ = true;
        return;
    }
    image_ = std::move(now);
    for (pid_t child : proc::children(pid_))
        if (children_.size() < kMaxTrackedChildren) children_.insert(child);
}

}  // namespace leakscope::trace
