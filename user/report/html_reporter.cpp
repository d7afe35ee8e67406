// SPDX-License-Identifier: BSD-2-Clause
#include "report/html_reporter.h"

#include <nlohmann/json.hpp>

#include <string_view>

#include "core/error.h"
#include "report/json_reporter.h"

extern const char kHtmlReportPage[];  // generated from user/report/html/report.html

namespace leakscope::report {
namespace {

constexpr std::string_view kDataMarker = "/*LEAKSCOPE_DATA*/";

}  // namespace

std::string html_data(const nlohmann::ordered_json& doc) {
    const std::string json = doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    std::string out;
    out.reserve(json.size() + json.size() / 16);
    for (char c : json) {
        if (c == '<')
            out += "\\u003c";  // '<' only occurs inside JSON strings
        else
            out += c;
    }
    return out;
}

void write_html(const nlohmann::ordered_json& doc, std::ostream& out) {
    const std::string_view page = kHtmlReportPage;
    const size_t at = page.find(kDataMarker);
    if (at == std::string_view::npos) throw Error(Errc::Internal, "HTML page has no data marker");
    out << page.substr(0, at) << html_data(doc) << page.substr(at + kDataMarker.size());
}

void write_html(const Report& report, std::ostream& out) { write_html(to_json(report), out); }

}  // namespace leakscope::report
