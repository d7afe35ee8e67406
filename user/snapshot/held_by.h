// SPDX-License-Identifier: BSD-2-Clause
// What keeps given objects alive, found from their referrers: for each
// object, the outermost container under the last named attribute on its
// shortest path from a root (`__main__.SESSIONS`, not one session's dict).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "python/target.h"

namespace leakscope::snapshot {

// For each group of object addresses, the distinct holder paths of its
// objects, most frequent first, at most max_paths. One heap read for all.
std::vector<std::vector<std::string>> held_by(const python::Target& target,
                                              const std::vector<std::vector<uint64_t>>& groups,
                                              size_t max_paths = 3);

}  // namespace leakscope::snapshot
