// SPDX-License-Identifier: BSD-2-Clause
// Command-line parsing: what each argv becomes, and that every usage error is
// one short line in leakscope's words with the usage exit status.
#include <catch2/catch.hpp>
#include <iostream>
#include <regex>
#include <sstream>

#include "cli/config.h"
#include "core/error.h"

using namespace leakscope;
using namespace leakscope::cli;

namespace {

struct Parsed {
    ParseResult result;
    std::string err;
};

Parsed parse(std::vector<std::string> args) {
    args.insert(args.begin(), "leakscope");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream err;
    auto* saved = std::cerr.rdbuf(err.rdbuf());
    auto result = parse_args(int(argv.size()), argv.data());
    std::cerr.rdbuf(saved);
    return {std::move(result), err.str()};
}

}  // namespace

TEST_CASE("valid command lines become a Config", "[cli]") {
    struct Case {
        std::vector<std::string> args;
        Command command;
        pid_t pid;
        double duration_s;
        std::string json_file;
    };
    const Case cases[] = {
        {{"dump", "-p", "1234"}, Command::Dump, 1234, 0, ""},
        {{"dump", "--pid", "4194304", "--json"}, Command::Dump, 4194304, 0, ""},
        {{"trace", "-p", "7", "--duration", "2.5", "--json", "r.json"}, Command::Trace, 7, 2.5, "r.json"},
        {{"trace", "-p", "7", "-d", "0"}, Command::Trace, 7, 0, ""},
        {{"run", "--json", "out.json", "--", "python3", "-c", "pass"}, Command::Run, 0, 0, "out.json"},
        {{"snapshot", "-p", "9", "--json", "heap.json"}, Command::Snapshot, 9, 0, "heap.json"},
        {{"snapshot", "-p", "9", "--top", "5", "--freeze", "--diff", "0.5"}, Command::Snapshot, 9, 0, ""},
    };
    for (const auto& c : cases) {
        INFO(Catch::Detail::stringify(c.args));
        auto p = parse(c.args);
        REQUIRE(p.result.config);
        CHECK(p.err.empty());
        CHECK(p.result.config->command == c.command);
        CHECK(p.result.config->pid == c.pid);
        CHECK(p.result.config->duration_s == c.duration_s);
        CHECK(p.result.config->outputs.json == c.json_file);
    }
}

TEST_CASE("the overhead budget: the mode's by default, a percentage, or off", "[cli]") {
    struct Case {
        std::vector<std::string> args;
        double budget_pct;
    };
    const Case cases[] = {
        {{"trace", "-p", "7"}, kTraceBudgetPct},
        {{"run", "--", "python3"}, kTraceBudgetPct},
        {{"trace", "-p", "7", "--mode", "continuous"}, kContinuousBudgetPct},
        {{"trace", "-p", "7", "--max-overhead", "5"}, 5},
        {{"trace", "-p", "7", "--mode", "continuous", "--max-overhead", "0.5"}, 0.5},
        {{"trace", "-p", "7", "--max-overhead", "off"}, 0},
        {{"run", "--max-overhead", "off", "--", "python3"}, 0},
    };
    for (const auto& c : cases) {
        INFO(Catch::Detail::stringify(c.args));
        auto p = parse(c.args);
        REQUIRE(p.result.config);
        CHECK(budget_pct(*p.result.config) == c.budget_pct);
    }
}

TEST_CASE("every output path is listed with its option", "[cli]") {
    for (const char* command : {"trace", "snapshot"}) {
        INFO(command);
        auto p = parse({command, "-p", "7", "--json", "/tmp/r.json", "--html", "/tmp/r.html"});
        REQUIRE(p.result.config);
        auto paths = p.result.config->output_paths();
        REQUIRE(paths.size() == 2);
        CHECK(paths[0].option == "--json");
        CHECK(paths[0].path == "/tmp/r.json");
        CHECK(paths[1].option == "--html");
        CHECK(paths[1].path == "/tmp/r.html");
        CHECK(parse({command, "-p", "7"}).result.config->output_paths().empty());
    }
}

TEST_CASE("usage errors are one short line in leakscope's words", "[cli]") {
    struct Case {
        std::vector<std::string> args;
        std::string says;  // a part of the message
    };
    const Case cases[] = {
        {{"trace", "-p", "abc"}, "--pid: 'abc' is not a process id"},
        {{"trace", "-p", "0"}, "--pid: '0' is out of range (1 to 4194304)"},
        {{"dump", "-p", "99999999999999999999999"}, "is out of range (1 to 4194304)"},
        {{"dump", "-p", "12.5"}, "'12.5' is not a process id"},
        {{"dump", "-p", "-4"}, "--pid"},
        {{"trace", "-p", "7", "--duration", "soon"}, "--duration: 'soon' is not a number of seconds"},
        {{"trace", "-p", "7", "--duration", "-1"}, "--duration: '-1' is out of range"},
        {{"trace", "-p", "7", "--interval", "0"}, "--interval: '0' is out of range"},
        {{"trace", "-p", "7", "--stack-storage", "3"}, "--stack-storage: '3' is out of range (64 to 1048576)"},
        {{"trace", "-p", "7", "--max-live", "1e9"}, "--max-live"},
        {{"trace", "-p", "7", "--sample-bytes", "nan"}, "is not a number of bytes"},
        {{"trace", "-p", "7", "--max-overhead", "inf"}, "is not a percentage or 'off'"},
        {{"trace", "-p", "7", "--max-overhead", "0"}, "--max-overhead: '0' is out of range"},
        {{"trace", "-p", "7", "--max-overhead", "none"}, "is not a percentage or 'off'"},
        {{"trace", "-p", "7", "--mode", "fast"}, "--mode"},
        {{"trace", "-p", std::string(500, '9')}, "...' is out of range"},
        {{"trace", "-p", "a\x1b[31mb"}, "'a\\x1b[31mb' is not a process id"},
        {{"dump"}, "--pid is required"},
        {{"frobnicate"}, "subcommand"},
        {{"trace", "-p", "7", "--no-such-option"}, "--no-such-option"},
        {{"run"}, "command"},
        {{"snapshot", "-p", "abc"}, "--pid: 'abc' is not a process id"},
        {{"snapshot", "-p", "7", "--top", "0"}, "--top: '0' is out of range"},
        {{"snapshot", "-p", "7", "--diff", "0"}, "--diff: '0' is out of range"},
        {{"snapshot", "-p", "7", "--pprof", "h.pb.gz"}, "--pprof"},
    };
    for (const auto& c : cases) {
        INFO(Catch::Detail::stringify(c.args));
        auto p = parse(c.args);
        CHECK_FALSE(p.result.config);
        CHECK(p.result.exit_status == exit_status(Errc::Usage));
        INFO("stderr: " << p.err);
        CHECK(p.err.rfind("leakscope: ", 0) == 0);
        CHECK(p.err.find(c.says) != std::string::npos);
        CHECK(p.err.find('\n') == p.err.size() - 1);  // one line
        CHECK(p.err.size() < 200);
        CHECK(p.err.find('\x1b') == std::string::npos);
        CHECK_FALSE(std::regex_search(p.err, std::regex("[0-9]{41}")));  // no 300-digit ranges
    }
}
