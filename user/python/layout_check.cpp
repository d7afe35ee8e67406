// SPDX-License-Identifier: BSD-2-Clause
#include "python/layout_check.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "core/error.h"
#include "core/text.h"
#include "python/thread_list.h"
#include "python/debug_offsets.h"

namespace leakscope::python {

namespace {

constexpr size_t kMaxThreads = 256;
constexpr size_t kMaxInterpreters = 64;
constexpr uint64_t kUserSpaceEnd = 0x0000800000000000ull;  // x86_64 canonical user half
constexpr uint64_t kPidMaxLimit = 4194304;                 // PID_MAX_LIMIT on 64-bit
constexpr int kCodeAttempts = 5;
constexpr auto kCodeRetryPause = std::chrono::milliseconds(2);

bool plausible_ptr(uint64_t p) { return p != 0 && p % 8 == 0 && p < kUserSpaceEnd; }

class Checker {
public:
    Checker(const PyLayout& layout, const proc::MemoryReader& mem, uint64_t runtime)
        : l_(layout), mem_(mem), runtime_(runtime) {}

    std::string mismatch(const std::string& what) const {
        return "layout " + l_.source + " (CPython " + l_.version.str() + "): " + what;
    }
    [[noreturn]] void fail(const std::string& what) const { throw Error(Errc::LayoutMismatch, mismatch(what)); }

    uint64_t ptr(uint64_t addr, const char* what) const {
        auto v = mem_.read_ptr(addr);
        if (!v) fail(std::string("cannot read ") + what + " at " + hex(addr));
        return *v;
    }

    template <typename T>
    T value(uint64_t addr, const char* what) const {
        auto v = mem_.read_as<T>(addr);
        if (!v) fail(std::string("cannot read ") + what + " at " + hex(addr));
        return *v;
    }

    void debug_offsets_agree() const {
        if (debug_offsets_size(l_.version.minor) == 0) return;
        const DebugOffsets d = read_debug_offsets(mem_, runtime_);
        if (d.py_version().minor != l_.version.minor)
            fail("the target's _Py_DebugOffsets are for " + d.py_version().str());
        const struct {
            const char* field;
            int64_t layout;
        } pairs[] = {
            {"code_object.size", l_.code_size},
            {"interpreter_frame.size", l_.frame_size},
            {"gc.size", l_.gc_size},
            {"thread_state.size", l_.tstate_size},
            {"runtime_state.interpreters_head", l_.runtime_interp_head},
            {"interpreter_state.threads_head", l_.interp_threads_head},
            {"thread_state.next", l_.tstate_next},
            {"thread_state.interp", l_.tstate_interp},
            {"thread_state.current_frame", l_.tstate_frame},
            {"interpreter_frame.executable", l_.frame_code},
            {"code_object.co_code_adaptive", l_.code_adaptive},
        };
        for (const auto& p : pairs) {
            const uint64_t target = d.at(p.field);
            if (static_cast<int64_t>(target) != p.layout)
                fail(std::string("_Py_DebugOffsets ") + p.field + " is " + std::to_string(target) +
                     ", the layout assumes " + std::to_string(p.layout));
        }
    }

    uint64_t head_interpreter() const {
        const uint64_t interp = ptr(runtime_ + l_.runtime_interp_head, "interpreters.head");
        if (!plausible_ptr(interp)) fail("interpreters.head is " + hex(interp) + ", not a pointer");
        if (l_.runtime_interp_main < 0) return interp;

        // The main interpreter is on the list and has id 0.
        const uint64_t main = ptr(runtime_ + l_.runtime_interp_main, "interpreters.main");
        uint64_t it = interp;
        for (size_t n = 0; it && it != main && n < kMaxInterpreters; ++n)
            it = ptr(it + l_.interp_next, "PyInterpreterState.next");
        if (it != main)
            fail("interpreters.main " + hex(main) + " is not on the list from interpreters.head " +
                 hex(interp));
        const auto id = value<int64_t>(main + l_.interp_id, "PyInterpreterState.id");
        if (id != 0) fail("main interpreter id is " + std::to_string(id) + ", expected 0");
        return interp;
    }

    std::vector<uint64_t> threads(uint64_t interp) const {
        const uint64_t head = ptr(interp + l_.interp_threads_head, "threads.head");
        if (!plausible_ptr(head)) fail("threads.head of " + hex(interp) + " is " + hex(head));

        std::set<uint64_t> thread_ids;
        auto check = [&](uint64_t t, uint64_t prev) {
            if (!plausible_ptr(t)) fail("thread list link " + hex(t) + " is not a pointer");
            const uint64_t back = ptr(t + l_.tstate_interp, "PyThreadState.interp");
            if (back != interp)
                fail("thread state " + hex(t) + " has interp " + hex(back) + ", expected " +
                     hex(interp));
            const uint64_t p = ptr(t + l_.tstate_prev, "PyThreadState.prev");
            if (p != prev)
                fail("thread state " + hex(t) + " has prev " + hex(p) + ", expected " + hex(prev));
            ptr(t + l_.tstate_next, "PyThreadState.next");  // a link that cannot be read is a mismatch here
            // 0 until the new thread binds its state (3.12+ creates it in the parent).
            const uint64_t id = ptr(t + l_.tstate_thread_id, "PyThreadState.thread_id");
            if (id != 0 && (!plausible_ptr(id) || !thread_ids.insert(id).second))
                fail("thread state " + hex(t) + " has thread_id " + hex(id) +
                     ", not a distinct pthread_t");
            if (id != 0 && l_.tstate_native_thread_id >= 0) {
                const uint64_t tid = ptr(t + l_.tstate_native_thread_id, "native_thread_id");
                if (tid == 0 || tid > kPidMaxLimit)
                    fail("thread state " + hex(t) + " has native_thread_id " + std::to_string(tid) +
                         ", not a tid");
            }
        };
        auto out = thread_list(mem_, l_, interp, kMaxThreads, check);
        if (thread_ids.empty()) fail("no thread state of " + hex(interp) + " has a thread_id");
        return out;
    }

    void current_tstate(uint64_t interp) const {
        if (l_.runtime_tstate_current < 0) return;
        const uint64_t t = ptr(runtime_ + l_.runtime_tstate_current, "gilstate.tstate_current");
        if (t == 0) return;  // nobody holds the GIL
        if (!plausible_ptr(t) || ptr(t + l_.tstate_interp, "tstate_current->interp") != interp)
            fail("gilstate.tstate_current " + hex(t) + " is not a thread state of " + hex(interp));
    }

    void gil(uint64_t interp) const {
        uint64_t gil = (l_.gil_in_interp ? interp : runtime_) + l_.gil_offset;
        if (l_.gil_indirect) {
            gil = ptr(gil, "ceval.gil");
            if (!plausible_ptr(gil)) fail("ceval.gil is " + hex(gil) + ", not a pointer");
        }
        const auto locked = value<int32_t>(gil + l_.gil_locked, "gil.locked");
        if (locked != 0 && locked != 1)
            fail("gil.locked at " + hex(gil + l_.gil_locked) + " is " + std::to_string(locked));
        const uint64_t holder = ptr(gil + l_.gil_last_holder, "gil.last_holder");
        if (holder != 0 && !plausible_ptr(holder))
            fail("gil.last_holder is " + hex(holder) + ", not a pointer");
    }

    void gc(uint64_t interp) const {
        const uint64_t gc = (l_.gc_in_runtime ? runtime_ : interp) + l_.gc_offset;
        const auto enabled = value<int32_t>(gc + l_.gc_enabled, "gc.enabled");
        const auto collecting = value<int32_t>(gc + l_.gc_collecting, "gc.collecting");
        if ((enabled != 0 && enabled != 1) || (collecting != 0 && collecting != 1))
            fail("gc state at " + hex(gc) + " has enabled " + std::to_string(enabled) +
                 ", collecting " + std::to_string(collecting));
        if (l_.gc_generations < 0) return;
        if (l_.gc_kind == GcKind::WholeHeap) {  // no generation lists: the young threshold is a count
            const auto threshold = value<int32_t>(gc + l_.gc_generations + l_.gc_generation_threshold,
                                                  "gc young threshold");
            if (threshold < 0) fail("gc young threshold is " + std::to_string(threshold));
            return;
        }
        // A generation's list head is circular: never NULL, even when empty.
        const uint64_t next = ptr(gc + l_.gc_generations, "gc generation head");
        if (!plausible_ptr(next)) fail("gc generation 0 list head is " + hex(next));
    }

    std::optional<std::string> type_name(uint64_t obj) const {
        auto type = mem_.read_ptr(obj + l_.object_type);
        if (!type || !plausible_ptr(*type)) return std::nullopt;
        auto name_ptr = mem_.read_ptr(*type + l_.type_name);
        if (!name_ptr || *name_ptr == 0 || *name_ptr >= kUserSpaceEnd) return std::nullopt;
        return mem_.read_cstring(*name_ptr, 64);
    }

    // The first code object on the thread's frame chain, if any.
    std::optional<uint64_t> first_code(uint64_t tstate) const {
        uint64_t frame = ptr(tstate + l_.tstate_frame, "thread state frame");
        if (frame && l_.cframe_current_frame >= 0)
            frame = ptr(frame + l_.cframe_current_frame, "cframe.current_frame");
        for (size_t n = 0; frame && n < LS_MAX_FRAMES;
             ++n, frame = ptr(frame + l_.frame_previous, "frame previous")) {
            if (!plausible_ptr(frame)) fail("frame link " + hex(frame) + " is not a pointer");
            if (l_.frame_kind == LS_FRAME_OBJECT) {
                auto name = type_name(frame);
                if (name != "frame")
                    fail("thread " + hex(tstate) + " frame " + hex(frame) + " has type '" +
                         name.value_or("?") + "', not 'frame'");
            } else if (value<uint8_t>(frame + l_.frame_owner, "frame owner") >=
                       l_.owner_skip_from) {
                continue;
            }
            const uint64_t code = ptr(frame + l_.frame_code, "frame code") & l_.frame_code_mask;
            if (code == 0) continue;
            // 3.13's entry frames hold None.
            if (type_name(code) == "NoneType") continue;
            return code;
        }
        return std::nullopt;
    }

    // Empty when the code object matches the layout, else what is wrong.
    std::string code_problem(uint64_t code) const {
        auto name = type_name(code);
        if (name != "code") return "has type '" + name.value_or("?") + "', not 'code'";
        const uint64_t type = ptr(code + l_.object_type, "ob_type");
        // From 3.11 the bytecode is inline: tp_basicsize stops at co_code_adaptive.
        const int64_t want = l_.code_adaptive >= 0 ? l_.code_adaptive : l_.code_size;
        const auto basic = value<int64_t>(type + l_.type_basicsize, "tp_basicsize");
        if (basic != want)
            return "code type has tp_basicsize " + std::to_string(basic) + ", expected " +
                   std::to_string(want);
        const std::pair<const char*, int64_t> strings[] = {{"co_filename", l_.code_filename},
                                                           {"co_name", l_.code_name}};
        for (const auto& [field, offset] : strings) {
            auto s = mem_.read_ptr(code + offset);
            if (!s || type_name(*s) != "str")
                return std::string(field) + " at +" + std::to_string(offset) + " is not a str";
        }
        return {};
    }

    // Threads run while we read, so a chain may change under us (a frame
    // popped and its memory reused between two reads): the check passes if
    // any thread's first code object is sound in any of a few reads, and
    // fails only if none is in all of them, as a wrong layout would.
    void code_objects(const std::vector<uint64_t>& tstates) const {
        std::string problem;
        for (int attempt = 0; attempt < kCodeAttempts; ++attempt) {
            if (attempt) std::this_thread::sleep_for(kCodeRetryPause);
            for (uint64_t t : tstates) {
                std::string p;
                try {
                    auto code = first_code(t);
                    if (!code) continue;
                    p = code_problem(*code);
                    if (p.empty()) return;
                    p = mismatch("code object " + hex(*code) + " of thread " + hex(t) + " " + p);
                } catch (const Error& e) {
                    if (e.code() != Errc::LayoutMismatch) throw;
                    p = e.what();
                }
                if (problem.empty()) problem = p;
            }
            if (problem.empty()) return;  // no thread is running Python code
        }
        throw Error(Errc::LayoutMismatch, problem);
    }

private:
    const PyLayout& l_;
    const proc::MemoryReader& mem_;
    uint64_t runtime_;
};

}  // namespace

std::vector<uint64_t> thread_states(const PyLayout& layout, const proc::MemoryReader& mem,
                                    uint64_t runtime_addr, size_t max) {
    std::vector<uint64_t> out;
    auto interp = mem.read_ptr(runtime_addr + layout.runtime_interp_head);
    if (!interp || !*interp) return out;
    auto t = mem.read_ptr(*interp + layout.interp_threads_head);
    while (t && *t && out.size() < max) {
        out.push_back(*t);
        t = mem.read_ptr(*t + layout.tstate_next);
    }
    return out;
}

void check_layout(const PyLayout& layout, const proc::MemoryReader& mem, uint64_t runtime_addr) {
    const Checker c(layout, mem, runtime_addr);
    c.debug_offsets_agree();
    const uint64_t interp = c.head_interpreter();
    const std::vector<uint64_t> tstates = c.threads(interp);
    c.current_tstate(interp);
    c.gil(interp);
    c.gc(interp);
    c.code_objects(tstates);
}

}  // namespace leakscope::python
