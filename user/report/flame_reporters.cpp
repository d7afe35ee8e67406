// SPDX-License-Identifier: BSD-2-Clause
#include "report/flame_reporters.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <map>
#include <tuple>

namespace leakscope::report {
namespace {

using json = nlohmann::ordered_json;

// Folded stacks have no escaping: a ';' in a name would split its frame.
std::string folded_name(const Frame& f) {
    std::string label = flame_label(f);
    for (char& c : label)
        if (c == ';') c = ',';
    return label;
}

json speedscope_profile(const char* name, const json& samples, const json& weights, uint64_t total) {
    return {{"type", "sampled"}, {"name", name},      {"unit", "bytes"},       {"startValue", 0},
            {"endValue", total}, {"samples", samples}, {"weights", weights}};
}

}  // namespace

const Stack& drawn_frames(const ProfileStack& stack) {
    static const Stack kNoPythonFrames{{"", -1, "(no Python frames)"}};
    return stack.frames.empty() ? kNoPythonFrames : stack.frames;
}

std::string flame_label(const Frame& f) {
    if (f.file.empty()) return f.function;
    if (f.native) return fmt::format("{} [{}]", f.function, f.file.substr(f.file.rfind('/') + 1));
    if (f.line < 0) return fmt::format("{} ({})", f.function, f.file);
    return fmt::format("{} ({}:{})", f.function, f.file, f.line);
}

void write_collapsed(const Report& report, std::ostream& out) {
    for (const ProfileStack& p : report.profile) {
        if (p.live_bytes == 0) continue;
        const Stack& frames = drawn_frames(p);
        std::string line;
        for (auto f = frames.rbegin(); f != frames.rend(); ++f) {
            if (!line.empty()) line += ';';
            line += folded_name(*f);
        }
        out << line << ' ' << p.live_bytes << '\n';
    }
}

void write_speedscope(const Report& report, std::ostream& out) {
    json frames = json::array(), samples = json::array(), live = json::array(), allocated = json::array();
    std::map<std::tuple<std::string, int, std::string>, size_t> ids;
    uint64_t live_total = 0, alloc_total = 0;
    for (const ProfileStack& p : report.profile) {
        json stack = json::array();  // speedscope: outermost frame first
        const Stack& drawn = drawn_frames(p);
        for (auto f = drawn.rbegin(); f != drawn.rend(); ++f) {
            auto [it, added] = ids.try_emplace({f->file, f->line, f->function}, frames.size());
            if (added) {
                json frame = {{"name", f->function}, {"file", f->file}};
                if (f->line >= 0) frame["line"] = f->line;
                frames.push_back(std::move(frame));
            }
            stack.push_back(it->second);
        }
        samples.push_back(std::move(stack));
        live.push_back(p.live_bytes);
        allocated.push_back(p.alloc_bytes);
        live_total += p.live_bytes;
        alloc_total += p.alloc_bytes;
    }
    const std::string title = fmt::format("leakscope: PID {} (CPython {})", report.target.pid, report.target.python);
    json doc = {
        {"$schema", "https://www.speedscope.app/file-format-schema.json"},
        {"shared", {{"frames", std::move(frames)}}},
        {"profiles",
         {speedscope_profile("live memory", samples, live, live_total),
          speedscope_profile("allocated since tracing started", samples, allocated, alloc_total)}},
        {"name", title},
        {"activeProfileIndex", 0},
        {"exporter", std::string("leakscope ") + LEAKSCOPE_VERSION},
    };
    out << doc.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
}

}  // namespace leakscope::report
