// SPDX-License-Identifier: BSD-2-Clause
// Native frames: where they end under the Python frames, and BCC's
// symbolizer on this very process.
#include <catch2/catch.hpp>
#include <unistd.h>

#include "native/native_frames.h"

using namespace leakscope;
using namespace leakscope::native;

extern "C" __attribute__((noinline)) int leakscope_native_frames_probe_point(int x) { return x * 3 + 1; }

namespace {

Frame c(const char* function, const char* module = "/usr/lib/libc.so.6") { return {module, -1, function, true}; }

}  // namespace

TEST_CASE("eval-loop functions, LTO copies included", "[native]") {
    struct Case {
        const char* symbol;
        bool eval;
    };
    const Case cases[] = {
        {"_PyEval_EvalFrameDefault", true}, {"_PyEval_EvalFrameDefault.lto_priv.0", true},
        {"_PyEval_EvalFrameDefault.cold", true}, {"PyEval_EvalFrameEx", true}, {"_PyEval_Vector", true},
        {"PyEval_EvalCode", true}, {"_PyObject_Malloc", false}, {"PyEval_GetFrame", false}, {"", false},
    };
    for (const Case& k : cases) {
        INFO(k.symbol);
        CHECK(is_eval_loop(k.symbol) == k.eval);
    }
}

TEST_CASE("native frames are kept up to the eval loop, then the Python frames follow", "[native]") {
    const Stack python = {{"app.py", 36, "open_handle"}, {"app.py", 47, "main"}};
    struct Case {
        const char* what;
        std::vector<Frame> native;
        std::vector<std::string> functions;  // of the merged stack
        bool incomplete;
    };
    const Case cases[] = {
        {"reaches the eval loop",
         {c("ext_alloc", "/srv/ext.so"), c("cfunction_call", "/usr/bin/python3"), c("_PyEval_EvalFrameDefault"),
          c("main")},
         {"ext_alloc", "cfunction_call", "open_handle", "main"},
         false},
        {"garbage past a function without frame pointers",
         {c("+0x6f7a", "/usr/lib/libffi.so.8"), c("", ""), c("_PyEval_EvalFrameDefault")},
         {"+0x6f7a", "open_handle", "main"},
         true},
        {"nothing resolvable", {c("", "")}, {"open_handle", "main"}, true},
        {"no native stack", {}, {"open_handle", "main"}, false},
    };
    for (const Case& k : cases) {
        SECTION(k.what) {
            const MergedStack m = merge(k.native, python);
            std::vector<std::string> functions;
            for (const Frame& f : m.frames) functions.push_back(f.function);
            CHECK(functions == k.functions);
            CHECK(m.incomplete == k.incomplete);
            if (!m.frames.empty()) CHECK(m.frames.back() == python.back());
        }
    }
}

TEST_CASE("BCC's symbolizer names a function of this process", "[native]") {
    REQUIRE(leakscope_native_frames_probe_point(1) == 4);
    NativeSymbolizer symbolizer(getpid());
    const auto addr = reinterpret_cast<uint64_t>(&leakscope_native_frames_probe_point) + 4;
    const Frame f = symbolizer.symbolize(addr);
    CHECK(f.native);
    CHECK(f.function == "leakscope_native_frames_probe_point");
    CHECK(f.file.find("unit_tests") != std::string::npos);
    CHECK(symbolizer.symbolize(std::vector<uint64_t>{addr, 0x10})[1].function.empty());  // in no module
}
