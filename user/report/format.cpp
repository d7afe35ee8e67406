// SPDX-License-Identifier: BSD-2-Clause
#include "report/format.h"

#include <fmt/format.h>

#include <cmath>

namespace leakscope::report {

std::string human_bytes(double bytes) {
    static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    const char* sign = bytes < 0 ? "-" : "";
    double value = std::abs(bytes);
    if (value < 1024) return fmt::format("{}{:.0f} B", sign, value);
    size_t unit = 0;
    value /= 1024;
    while (value >= 1024 && unit + 1 < std::size(kUnits)) {
        value /= 1024;
        ++unit;
    }
    return fmt::format("{}{:.1f} {}", sign, value, kUnits[unit]);
}

std::string human_signed_bytes(double bytes) {
    if (std::abs(bytes) < 0.5) return "0 B";
    return bytes > 0 ? "+" + human_bytes(bytes) : human_bytes(bytes);
}

std::string site_id_text(uint64_t id) { return fmt::format("{:016x}", id); }

std::optional<uint64_t> parse_site_id(std::string_view text) {
    if (text.size() != 16) return std::nullopt;
    uint64_t id = 0;
    for (char c : text) {
        int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0) return std::nullopt;
        id = id << 4 | uint64_t(digit);
    }
    return id;
}

std::string human_rate(double bytes_per_s) { return human_bytes(bytes_per_s) + "/s"; }

std::string human_duration(double seconds) {
    if (seconds < 10) return fmt::format("{:.1f} s", seconds);
    if (seconds < 120) return fmt::format("{:.0f} s", seconds);
    if (seconds < 7200) return fmt::format("{:.1f} min", seconds / 60);
    return fmt::format("{:.1f} h", seconds / 3600);
}

std::string human_count(uint64_t count) {
    std::string digits = std::to_string(count);
    std::string out;
    out.reserve(digits.size() + digits.size() / 3);
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string shorten_path(std::string_view path, size_t max_chars) {
    static constexpr std::string_view kEllipsis = "...";
    if (path.size() <= max_chars) return std::string(path);
    if (max_chars <= kEllipsis.size()) max_chars = kEllipsis.size() + 1;
    size_t start = path.size() - (max_chars - kEllipsis.size());
    while (start < path.size() && (static_cast<unsigned char>(path[start]) & 0xC0) == 0x80) ++start;
    // Prefer to start at a directory so the tail reads as a path.
    const size_t slash = path.find('/', start);
    if (slash != std::string_view::npos && slash + 1 < path.size() && slash - start < 16) start = slash;
    return std::string(kEllipsis) + std::string(path.substr(start));
}

std::string frame_location(const Frame& frame, size_t max_path_chars) {
    const std::string file = shorten_path(frame.file, max_path_chars);
    if (frame.native) return fmt::format("{} [native, {}]", frame.function, file);
    if (frame.line < 0) return fmt::format("{}:? in {}", file, frame.function);
    return fmt::format("{}:{} in {}", file, frame.line, frame.function);
}

}  // namespace leakscope::report
