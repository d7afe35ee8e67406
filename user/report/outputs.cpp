// SPDX-License-Identifier: BSD-2-Clause
#include "report/outputs.h"

#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "report/flame_reporters.h"
#include "report/html_reporter.h"
#include "report/json_reader.h"
#include "report/json_reporter.h"
#include "report/pprof_reporter.h"

namespace leakscope::report {
namespace {

// Writes one output file: render's bytes, or one error line (Errc::Io).
void write_file(const std::string& path, const std::function<void(std::ostream&)>& render) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(Errc::Io, "cannot write " + path);
    render(out);
    out.flush();
    if (!out) throw Error(Errc::Io, "cannot write " + path + " (disk full?)");
}

}  // namespace

std::vector<std::pair<std::string, std::string>> OutputFiles::requested() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [flag, path] : {std::pair{"--json", &json}, {"--html", &html}, {"--pprof", &pprof},
                                      {"--speedscope", &speedscope}, {"--collapsed", &collapsed}})
        if (!path->empty()) out.emplace_back(flag, *path);
    return out;
}

void write_outputs(const Report& report, const OutputFiles& files) {
    // Read back from the bytes a --json file holds (invalid UTF-8 replaced), not from the document in memory.
    const std::string text = to_json(report).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    if (!files.json.empty()) write_file(files.json, [&](std::ostream& out) { JsonReporter({.indent = 2}).write(report, out); });
    const Report saved = from_json(nlohmann::ordered_json::parse(text));
    if (!files.html.empty()) write_file(files.html, [&](std::ostream& out) { write_html(saved, out); });
    if (!files.pprof.empty()) write_file(files.pprof, [&](std::ostream& out) { out << pprof_profile(saved); });
    if (!files.speedscope.empty())
        write_file(files.speedscope, [&](std::ostream& out) { write_speedscope(saved, out); });
    if (!files.collapsed.empty())
        write_file(files.collapsed, [&](std::ostream& out) { write_collapsed(saved, out); });
}

void write_snapshot_outputs(const nlohmann::ordered_json& snapshot, const OutputFiles& files) {
    for (const auto& [flag, path] : files.requested())
        if (flag != "--json" && flag != "--html")
            throw Error(Errc::Usage, flag + " needs a trace report: a heap snapshot renders to --html");
    if (!files.json.empty())
        write_file(files.json, [&](std::ostream& out) {
            out << snapshot.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
        });
    if (!files.html.empty()) write_file(files.html, [&](std::ostream& out) { write_html(snapshot, out); });
}

}  // namespace leakscope::report
