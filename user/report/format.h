// SPDX-License-Identifier: BSD-2-Clause
// Human-readable numbers and frames for reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/frame.h"

namespace leakscope::report {

std::string human_bytes(double bytes);         // "512 B", "1.2 MiB"
std::string human_signed_bytes(double bytes);  // "+1.2 MiB", "-3.0 KiB", "0 B"
std::string human_rate(double bytes_per_s);    // "85.0 KiB/s"
std::string human_duration(double seconds);    // "8.0 s", "14 s", "3.5 min", "2.1 h"
std::string human_count(uint64_t count);       // "1,234,567"

// A site id as written in reports: 16 lowercase hex digits, and back (nullopt
// for anything else).
std::string site_id_text(uint64_t id);
std::optional<uint64_t> parse_site_id(std::string_view text);

// The path itself when it has at most max_chars bytes, else "..." and its
// tail, cut at a directory boundary when one is close and never inside a
// UTF-8 sequence.
std::string shorten_path(std::string_view path, size_t max_chars);

// "file:line in function"; "file:? in function" when the frame has no line;
// "function [native, module]" for a C frame.
std::string frame_location(const Frame& frame, size_t max_path_chars = std::string::npos);

}  // namespace leakscope::report
