// SPDX-License-Identifier: BSD-2-Clause
// pprof's profile.proto (gzip'd), laid out as Go's heap profiles are so that
// Go's pprof, Pyroscope and Parca read it as a memory profile: sample types
// alloc_objects/count, alloc_space/bytes, inuse_objects/count,
// inuse_space/bytes; period type space/bytes. Encoded by libprotobuf from the
// published profile.proto, generated at build time.
#pragma once

#include <string>

#include "report/report.h"

namespace leakscope::report {

// The serialized, gzip'd profile. Deterministic: the same report gives the
// same bytes.
std::string pprof_profile(const Report& report);

}  // namespace leakscope::report
