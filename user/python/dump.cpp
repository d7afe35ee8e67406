// SPDX-License-Identifier: BSD-2-Clause
#include "python/dump.h"

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "proc/maps.h"
#include "python/stack_walk.h"

namespace leakscope::python {
namespace {

// glibc 2.36 keeps struct pthread's tid here; other layouts are found by scanning.
constexpr uint64_t kGlibcPthreadTid = 720;
constexpr uint64_t kPthreadScan = 2048;

// Thread ids as the target sees them (its innermost PID namespace) -> as
// leakscope sees them. The interpreter records the former.
std::map<int64_t, int64_t> task_ids(pid_t pid) {
    std::map<int64_t, int64_t> ids;
    for (pid_t host : proc::thread_ids(pid)) {
        int64_t inner = host;
        std::ifstream status(fmt::format("/proc/{}/task/{}/status", pid, host));
        for (std::string line; std::getline(status, line);) {
            if (line.rfind("NSpid:", 0) != 0) continue;
            std::istringstream fields(line.substr(6));
            for (int64_t v; fields >> v;) inner = v;
        }
        ids[inner] = host;
    }
    return ids;
}

// Before 3.11 a thread state only knows its pthread_t (a struct pthread*):
// find where that struct keeps the kernel tid, checked against every thread.
std::optional<uint64_t> pthread_tid_offset(const Target& t, const std::vector<uint64_t>& pthreads,
                                           const std::map<int64_t, int64_t>& ids) {
    auto fits = [&](uint64_t off) {
        std::set<int64_t> seen;
        for (uint64_t p : pthreads) {
            auto v = t.mem->read_as<int32_t>(p + off);
            if (!v || !ids.count(*v) || !seen.insert(*v).second) return false;
        }
        return !pthreads.empty();
    };
    if (fits(kGlibcPthreadTid)) return kGlibcPthreadTid;
    for (uint64_t off = 0; off < kPthreadScan; off += 4)
        if (fits(off)) return off;
    return std::nullopt;
}

uint64_t gil_holder(const Target& t) {
    const PyLayout& L = t.layout;
    if (L.gil_offset < 0 || L.gil_last_holder < 0) return 0;
    uint64_t base = L.gil_in_interp ? t.interpreter() : t.interp.runtime_addr;
    if (!base) return 0;
    uint64_t gil = base + L.gil_offset;
    if (L.gil_indirect) gil = t.mem->read_ptr(gil).value_or(0);
    if (!gil) return 0;
    if (L.gil_locked >= 0 && t.mem->read_as<int32_t>(gil + L.gil_locked).value_or(0) == 0) return 0;
    return t.mem->read_ptr(gil + L.gil_last_holder).value_or(0);
}

// The symbolizer's counters and the dump's own, as the JSON and the text list them.
std::vector<SymbolizeDrops::Counter> dump_drops(const Dump& dump) {
    auto out = dump.drops.counters();
    out.push_back({"LOOPING_FRAME_CHAIN", dump.looping_chains,
                   "threads whose frame chain loops back on itself (corrupt memory): each frame shown once"});
    out.push_back({"STACK_TRUNCATED", dump.truncated_stacks,
                   "threads whose stack is deeper than the walk's bound: outer frames are missing"});
    out.push_back({"STACK_READ_FAILED", dump.unreadable_stacks,
                   "threads whose frame chain could not be read to its end: the frames read are shown"});
    out.push_back({"THREAD_LIST_CUT", dump.thread_list_cut ? 1u : 0u,
                   "the thread list was longer than leakscope reads, or looped back: threads past that are not shown"});
    return out;
}

}  // namespace

std::vector<int64_t> thread_tids(const Target& t, const std::vector<uint64_t>& tstates) {
    const PyLayout& L = t.layout;
    std::vector<uint64_t> pthreads;
    if (L.tstate_native_thread_id < 0)
        for (uint64_t ts : tstates) pthreads.push_back(t.mem->read_ptr(ts + L.tstate_thread_id).value_or(0));
    const auto ids = task_ids(t.interp.pid);
    auto tid_off = pthreads.empty() ? std::nullopt : pthread_tid_offset(t, pthreads, ids);

    std::vector<int64_t> tids;
    for (size_t i = 0; i < tstates.size(); ++i) {
        int64_t tid = -1;
        if (L.tstate_native_thread_id >= 0)
            tid = t.mem->read_as<uint64_t>(tstates[i] + L.tstate_native_thread_id).value_or(0);
        else if (tid_off)
            tid = t.mem->read_as<int32_t>(pthreads[i] + *tid_off).value_or(-1);
        if (auto it = ids.find(tid); it != ids.end()) tid = it->second;
        tids.push_back(tid);
    }
    return tids;
}

Dump dump_threads(const Target& t) {
    const PyLayout& L = t.layout;
    const ls_py_offsets o = L.bpf_offsets();
    Symbolizer symbolizer(*t.mem, L, t.code_type);
    Dump out;
    auto tstates = t.thread_states(&out.thread_list_cut);
    const uint64_t holder = gil_holder(t);
    const auto tids = thread_tids(t, tstates);

    for (size_t i = 0; i < tstates.size(); ++i) {
        ThreadDump d;
        uint64_t ts = tstates[i];
        d.holds_gil = holder && holder == ts;
        d.tid = tids[i];

        WalkedStack walked = walk_stack(*t.mem, o, ts);
        d.flags = walked.flags;
        d.frames = symbolizer.symbolize(walked.frames.data(), walked.frames.size());
        if (d.flags & LS_STACK_CYCLE) ++out.looping_chains;
        if (d.flags & LS_STACK_TRUNCATED) ++out.truncated_stacks;
        if (d.flags & LS_STACK_READ_FAILED) ++out.unreadable_stacks;
        out.threads.push_back(std::move(d));
    }
    out.drops = symbolizer.drops();
    return out;
}

nlohmann::json dump_json(const Target& t, const Dump& dump) {
    nlohmann::json j = {{"pid", t.interp.pid},
                        {"python", t.interp.version.str()},
                        {"free_threaded", t.interp.free_threaded},
                        {"threads", nlohmann::json::array()}};
    for (const auto& th : dump.threads) {
        nlohmann::json frames = nlohmann::json::array();
        for (const auto& f : th.frames) frames.push_back({{"file", f.file}, {"line", f.line}, {"function", f.function}});
        j["threads"].push_back({{"tid", th.tid},
                                {"holds_gil", th.holds_gil},
                                {"truncated", bool(th.flags & LS_STACK_TRUNCATED)},
                                {"read_failed", bool(th.flags & LS_STACK_READ_FAILED)},
                                {"loops", bool(th.flags & LS_STACK_CYCLE)},
                                {"frames", std::move(frames)}});
    }
    nlohmann::json drops = nlohmann::json::object();
    for (const auto& d : dump_drops(dump)) drops[d.name] = {{"count", d.count}, {"remedy", d.remedy}};
    j["drops"] = std::move(drops);
    return j;
}

void print_dump(std::ostream& out, const Target& t, const Dump& dump) {
    out << fmt::format("Process {}: CPython {}{} ({})\n", t.interp.pid, t.interp.version.str(),
                       t.interp.free_threaded ? " free-threaded" : "", escape_control(t.interp.binary_path));
    for (const auto& th : dump.threads) {
        out << fmt::format("\nThread {}{}{}\n", th.tid, th.holds_gil ? " (holds the GIL)" : "",
                           th.frames.empty() ? " (no Python frames)" : "");
        for (const auto& f : th.frames) out << fmt::format("    {} ({}:{})\n", f.function, f.file, f.line);
        if (th.flags & LS_STACK_TRUNCATED) out << "    ... (stack truncated)\n";
        if (th.flags & LS_STACK_READ_FAILED) out << "    ... (a frame could not be read; the stack changed during the walk)\n";
        if (th.flags & LS_STACK_CYCLE) out << "    ... (the frame chain loops back on itself: each frame shown once)\n";
    }
    bool heading = false;
    for (const auto& d : dump_drops(dump)) {
        if (!d.count) continue;
        if (!heading) out << "\nCould not be read:\n";
        heading = true;
        out << fmt::format("  {}: {} ({})\n", d.name, d.count, d.remedy);
    }
}

}  // namespace leakscope::python
