// SPDX-License-Identifier: BSD-2-Clause
// The user-space frame walk over recorded images of every frame layout: whole
// chains, chains that loop back, chains deeper than the bound, and frames
// whose code objects cannot be read (shown as placeholders, counted).
#include <catch2/catch.hpp>

#include "python/stack_walk.h"
#include "python/symbolizer.h"
#include "python/thread_list.h"
#include "support/py_image.h"

using namespace leakscope;
using namespace leakscope::python;
using leakscope::testing::PyImage;

namespace {

// Every frame form with a table layout: 3.13+ layouts come from _Py_DebugOffsets.
const PyVersion kVersions[] = {{3, 8, 18}, {3, 10, 13}, {3, 11, 7}, {3, 12, 1}};

std::vector<std::string> functions(const Stack& stack) {
    std::vector<std::string> out;
    for (const auto& f : stack) out.push_back(f.function);
    return out;
}

}  // namespace

TEST_CASE("frame chains: whole, looping, too deep", "[stack_walk]") {
    struct Case {
        const char* what;
        std::vector<int> previous;  // caller of each frame; empty: a plain chain of 3
        size_t max_frames;
        std::vector<std::string> shown;
        uint32_t flags;
    };
    const Case cases[] = {
        {"plain chain", {}, kMaxWalkFrames, {"f0", "f1", "f2"}, 0},
        {"loops back to the first frame", {1, 2, 0}, kMaxWalkFrames, {"f0", "f1", "f2"}, LS_STACK_CYCLE},
        {"loops back to the middle", {1, 2, 1}, kMaxWalkFrames, {"f0", "f1", "f2"}, LS_STACK_CYCLE},
        {"frame is its own caller", {0, -1, -1}, kMaxWalkFrames, {"f0"}, LS_STACK_CYCLE},
        {"deeper than the bound", {}, 2, {"f0", "f1"}, LS_STACK_TRUNCATED},
    };
    for (const auto& v : kVersions) {
        const PyLayout L = *table_layout(v);
        for (const auto& c : cases) {
            INFO(v.str() << ": " << c.what);
            PyImage image(L);
            std::vector<uint64_t> codes;
            for (int i = 0; i < 3; ++i) codes.push_back(image.add_code("app.py", "f" + std::to_string(i), 10 + i));
            image.set_frames(codes, c.previous);
            auto mem = image.memory();
            WalkedStack walked = walk_stack(mem, image.o, image.tstate(), c.max_frames);
            CHECK(walked.flags == c.flags);
            Symbolizer sym(mem, L, PyImage::kCodeType);
            CHECK(functions(sym.symbolize(walked.frames.data(), walked.frames.size())) == c.shown);
        }
    }
}

TEST_CASE("unreadable code objects and line tables are shown and counted once", "[stack_walk]") {
    for (const auto& v : kVersions) {
        INFO(v.str());
        const PyLayout L = *table_layout(v);
        PyImage image(L);
        const uint64_t good = image.add_code("app.py", "ok", 5);
        const uint64_t no_table = image.add_code("app.py", "no_table", 7);
        const uint64_t gone = 0x900000;  // nothing mapped there
        image.set_frames({good, gone, no_table, gone});
        // The line table claims 2**40 bytes.
        const uint64_t table = [&] {
            uint64_t p;
            std::memcpy(&p, image.regions[no_table].data() + L.code_linetable, 8);
            return p;
        }();
        const int64_t huge = int64_t(1) << 40;
        std::memcpy(image.regions[table].data() + L.bytes_size, &huge, 8);
        auto mem = image.memory();

        WalkedStack walked = walk_stack(mem, image.o, image.tstate());
        CHECK(walked.flags == 0);
        Symbolizer sym(mem, L, PyImage::kCodeType);
        Stack stack = sym.symbolize(walked.frames.data(), walked.frames.size());
        REQUIRE(stack.size() == 4);
        CHECK(stack[0].file == "app.py");
        CHECK(stack[0].function == "ok");
        CHECK(stack[0].line != 0);  // from its (empty) table: no placeholder line
        CHECK(stack[1].function == "<unreadable code object at 0x900000>");
        CHECK(stack[2] == Frame{"app.py", 0, "no_table"});
        CHECK(stack[3].function == stack[1].function);
        CHECK(sym.drops().unreadable_code == 1);  // the same code object twice
        CHECK(sym.drops().unreadable_linetables == 1);
        CHECK(sym.drops().unreadable_strings == 0);
    }
}

TEST_CASE("thread lists: whole, looping, longer than the bound", "[stack_walk]") {
    struct Case {
        const char* what;
        std::vector<int> next;  // index of each thread state's successor (-1: end)
        size_t max;
        size_t taken;
        bool cut;
    };
    const Case cases[] = {
        {"plain list", {1, 2, -1}, 16, 3, false},
        {"loops back to the head", {1, 2, 0}, 16, 3, true},
        {"thread state is its own successor", {0}, 16, 1, true},
        {"longer than the bound", {1, 2, 3, -1}, 2, 2, true},
    };
    for (const auto& v : kVersions) {
        const PyLayout L = *table_layout(v);
        for (const auto& c : cases) {
            INFO(v.str() << ": " << c.what);
            constexpr uint64_t kInterp = 0x1000, kStates = 0x10000, kStride = 0x1000;
            proc::SnapshotMemory mem;
            std::vector<uint8_t> interp(size_t(L.interp_threads_head) + 8, 0);
            const uint64_t head = kStates;
            std::memcpy(interp.data() + L.interp_threads_head, &head, 8);
            mem.add(kInterp, interp);
            for (size_t i = 0; i < c.next.size(); ++i) {
                std::vector<uint8_t> ts(size_t(L.tstate_next) + 8, 0);
                const uint64_t next = c.next[i] < 0 ? 0 : kStates + uint64_t(c.next[i]) * kStride;
                std::memcpy(ts.data() + L.tstate_next, &next, 8);
                mem.add(kStates + i * kStride, ts);
            }
            bool cut = false;
            CHECK(thread_list(mem, L, kInterp, c.max, nullptr, &cut).size() == c.taken);
            CHECK(cut == c.cut);
        }
    }
}

TEST_CASE("3.14t: instr_ptr into a thread's own bytecode copy", "[stack_walk]") {
    PyLayout L = *table_layout({3, 12, 1});
    L.frame_tlbc_index = 72;  // where 3.14t keeps them
    L.code_tlbc = 224;
    struct Case {
        const char* what;
        int32_t index;      // the frame's tlbc_index
        bool into_copy;     // instr_ptr points into copy `index` (else into co_code_adaptive)
        int32_t offset;     // what the walk reports
    };
    const Case cases[] = {
        {"the main copy", 0, false, 4},
        {"a thread's copy", 2, true, 4},
        {"an index past the array", 3, true, -1},
        {"a negative index", -1, true, -1},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        PyImage image(L);
        const uint64_t code = image.add_code("app.py", "f", 10);
        image.set_frames({code});
        constexpr uint64_t kArray = 0xa00000, kCopies = 0xb00000;
        std::vector<uint8_t> array(8 + 3 * 8, 0);  // {size 3, entries[3]}
        const uint64_t entries[] = {3, code + uint64_t(L.code_adaptive), kCopies + 0x100, kCopies + 0x200};
        std::memcpy(array.data(), entries, sizeof entries);
        image.regions[kArray] = array;
        std::memcpy(image.regions[code].data() + L.code_tlbc, &kArray, 8);
        auto& frame = image.regions[PyImage::frame_addr(0)];
        std::memcpy(frame.data() + L.frame_tlbc_index, &c.index, 4);
        const uint64_t ip = (c.into_copy ? kCopies + 0x200 : code + uint64_t(L.code_adaptive)) + 4;
        std::memcpy(frame.data() + L.frame_instr_ptr, &ip, 8);
        auto mem = image.memory();
        WalkedStack walked = walk_stack(mem, image.o, image.tstate());
        REQUIRE(walked.frames.size() == 1);
        CHECK(walked.frames[0].offset == c.offset);
    }
}
