// SPDX-License-Identifier: BSD-2-Clause
#include "trace/session.h"

#include <fmt/format.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <unordered_map>

#include "analysis/leak_analyzer.h"
#include "core/error.h"
#include "core/preflight.h"
#include "proc/maps.h"
#include "native/native_frames.h"
#include "python/stack_walk.h"
#include "python/layout_check.h"
#include "python/object_content.h"
#include "python/symbolizer.h"
#include "python/target.h"
#include "report/build.h"
#include "report/outputs.h"
#include "report/text_reporter.h"
#include "snapshot/held_by.h"
#include "trace/gc_state.h"
#include "trace/governor.h"
#include "trace/heap.h"
#include "trace/launch.h"
#include "trace/lineage.h"
#include "trace/pool_growth.h"
#include "trace/probe_plan.h"
#include "trace/session_lock.h"
#include "trace/signals.h"
#include "trace/tracer.h"

namespace leakscope::trace {
namespace {

uint64_t monotonic_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);  // the clock bpf_ktime_get_ns() reads
    return uint64_t(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

struct LibC {
    std::unique_ptr<elf::ElfFile> elf;
    std::string path;
};

LibC find_libc(pid_t pid) {
    for (const auto& m : proc::read_maps(pid)) {
        if (!m.is_libc()) continue;
        std::string path = proc::openable_path(pid, m);
        try {
            return {std::make_unique<elf::ElfFile>(path), path};
        } catch (const Error&) {
            break;
        }
    }
    return {};
}

// How often the threads' current stacks are sampled (a few reads each).
constexpr uint64_t kStackSampleNs = 250'000'000;

// Stacks listed under memory growth, and per pool size class.
constexpr size_t kGrowthSites = 10;
constexpr size_t kPoolTakers = 3;
// Sampled live objects per suspect whose holders are looked up at the end.
constexpr size_t kHeldBySamples = 64;

// Trace mode warns once its estimated overhead passes this.
constexpr double kTraceWarnPct = 50;

// What a thread whose sampled fault has no Python frame was doing, from its
// stack's flags (enum ls_stack_flags).
std::string without_frames(uint32_t flags) {
    if (flags & LS_STACK_NO_THREAD) return "no Python thread state: a thread that runs no Python, or the interpreter not yet started";
    if (flags & LS_STACK_READ_FAILED) return "the Python stack could not be read";
    return "no Python frame running: the interpreter starting, compiling or exiting, or C code outside any Python call";
}

GovernorConfig governor_config(const cli::Config& c) {
    GovernorConfig g;
    const bool continuous = c.mode == "continuous";
    g.budget_pct = cli::budget_pct(c);
    g.escalate = continuous;
    g.window_s = continuous ? 1 : 2;
    g.max_pause_s = Governor::longest_pause(c.interval_s, g.window_s);
    g.sample_bytes = c.sample_bytes;
    return g;
}

class Session {
public:
    Session(const cli::Config& c, python::Target target, LaunchedCommand* command)
        : c_(c), target_(std::move(target)), command_(command), symbolizer_(*target_.mem, target_.layout, target_.code_type),
          native_symbolizer_(target_.interp.pid),
          start_ns_(monotonic_ns()), start_unix_s_(double(time(nullptr))),
          object_content_(*target_.mem, target_.layout),
          heap_(start_ns_, [this](uint64_t id, int32_t native_id) { return resolve(id, native_id); },
                [this](uint64_t addr, uint64_t type) { return object_content_.fingerprint(addr, type); },
                sizes_after_birth(), target_.layout),
          governor_(governor_config(c)), lineage_(target_.interp.pid),
          pools_(uint64_t(std::max<int64_t>(target_.layout.pymalloc_pool_size, 0))) {}

    // Free-threaded builds size objects once they exist (ob_size is set after
    // birth). GIL builds keep the size read at birth: an object found larger
    // than 512 bytes there is malloc'd, and the native family counts it.
    HeapTracker::SizeReader sizes_after_birth() {
        if (!target_.layout.free_threaded) return {};
        return [this](uint64_t addr, uint64_t type) { return object_content_.size(addr, type); };
    }

    void attach() {
        libc_ = find_libc(target_.interp.pid);
        Binary python{target_.interp.elf.get(), target_.interp.open_path};
        plan_ = plan_probes(python, {libc_.elf.get(), libc_.path}, target_.layout.free_threaded);

        TracerConfig tc;
        tc.pid = target_.interp.pid;
        tc.offsets = target_.layout.bpf_offsets();
        tc.types = target_.layout.bpf_type_offsets();
        tc.runtime_addr = target_.interp.runtime_addr;
        tc.pool_bytes = pools_.pool_bytes();
        tc.sample_bytes = c_.sample_bytes;
        tc.stack_storage = c_.stack_storage;
        tc.max_live = c_.max_live;
        tc.fault_period = c_.fault_period;
        tc.multi_uprobe = !c_.per_probe_links;
        // Under a budget the governor opens the first window after its first
        // reading, so every trap is charged (none while the floors are measured).
        tc.allocation_probes = governor_.budget_pct() <= 0;
        tracer_ = std::make_unique<Tracer>(tc, plan_, [this](const ls_sample& s) {
            if (s.family != LS_POOL_REFILL) return heap_.add(s);
            pools_.add(s);
            named(s.stack_id);  // while its code objects are still there
        });
        floor_ = tracer_->measure_probe_floors();
        if (c_.fault_period && !tracer_->samples_faults())
            std::cerr << "leakscope: warning: the kernel refused the page-fault event; memory growth is not reported\n";
        if (c_.verbose)
            std::cerr << fmt::format("probe plan for {} (CPython {}, layout: {}):\n{}", target_.interp.open_path,
                                     target_.interp.version.str(), target_.layout.source,
                                     describe_plan(plan_, floor_));
        std::cerr << fmt::format("leakscope: tracing PID {} (CPython {}), {} probes attached; reports every {:g} s{}\n",
                                 target_.interp.pid, target_.interp.version.str(), tracer_->attached(), c_.interval_s,
                                 c_.duration_s > 0 ? fmt::format(" for {:g} s", c_.duration_s) : ", Ctrl-C to stop");
    }

    // Runs until the duration, a stop signal or the target's exit; returns true when suspects were found.
    bool loop() {
        const uint64_t interval_ns = uint64_t(c_.interval_s * 1e9);
        const uint64_t end_ns = c_.duration_s > 0 ? start_ns_ + uint64_t(c_.duration_s * 1e9) : UINT64_MAX;
        uint64_t next_report = start_ns_ + interval_ns, next_stack_sample = start_ns_;
        bool target_gone = false;
        while (!stop_signal()) {
            // A window ends on time only if the governor reads often while it is open.
            tracer_->poll(tracer_->allocation_probes() ? 20 : 100);
            govern();
            target_gone = command_ ? command_->exited() : !proc::process_running(target_.interp.pid);
            if (target_gone) break;
            lineage_.poll();
            if (lineage_.exec_seen()) break;  // the probes and the layout were made for the old program
            uint64_t now = monotonic_ns();
            if (now >= end_ns) break;
            if (now >= next_stack_sample && (layout_checked_ || !command_)) {
                sample_running_stacks();
                next_stack_sample = now + kStackSampleNs;
            }
            if (now >= next_report) {
                interval(false, true);
                next_report += interval_ns;
            }
        }
        tracer_->poll(0);
        const bool readable = !target_gone && !lineage_.exec_seen() && proc::process_running(target_.interp.pid);
        if (!readable) symbolizer_.target_gone();
        return interval(true, readable);
    }

private:
    // Keeps the probes' cost within the budget: duty cycle and sampling rate.
    void govern() {
        auto r = cost_reading();
        if (!r) return;
        bool on = governor_.update(*r);
        if (!governor_.pool_refills() && pools_detached_s_ < 0) {
            tracer_->detach_pool_refills();
            pools_detached_s_ = r->t_s;
        }
        if (governor_.sample_bytes() != sample_bytes_) {
            sample_bytes_ = governor_.sample_bytes();
            tracer_->set_sample_bytes(sample_bytes_);
        }
        if (on != tracer_->allocation_probes()) {
            // The window spans from before its breakpoints are in until after they are out.
            if (on) heap_.probes_attached(seconds_since_start());
            else seal_built_samples();
            tracer_->set_allocation_probes(on);
            if (!on) close_window(seconds_since_start());
            if (auto after = cost_reading()) governor_.switched(*after);
        }
        const auto estimate = governor_.estimated_pct();
        if (!warned_ && governor_.budget_pct() <= 0 && r->t_s > 3 && (!estimate || *estimate > kTraceWarnPct)) {
            warned_ = true;
            const std::string cost = estimate ? fmt::format("about {:.0f}% of its CPU time", *estimate)
                                              : "over 100x its CPU time";
            std::cerr << fmt::format("leakscope: warning: tracing costs the target {}; with --max-overhead off "
                                     "nothing bounds it (drop the option for a {:g}% budget)\n",
                                     cost, cli::kTraceBudgetPct);
        }
        probe_cpu_s_ = r->probe_s;
    }

    double seconds_since_start() const { return double(monotonic_ns() - start_ns_) / 1e9; }

    std::optional<CostReading> cost_reading() const {
        auto cost = proc::read_process_cost(target_.interp.pid);
        if (!cost) return std::nullopt;
        ProgramCost p = tracer_->allocation_cost();
        uint64_t sample_ns = 0;
        for (const auto& f : tracer_->family_counters()) sample_ns += f.sample_ns;
        const double pool_s = floor_.cost_ns(tracer_->pool_refill_cost()) / 1e9;
        // Of which churn: the share of pools taken that had been emptied since they were last taken.
        const double churn_s = pools_.taken() ? pool_s * double(pools_.retaken()) / double(pools_.taken()) : 0;
        // Sampled faults trap nothing extra: only their programs' run time counts.
        const double probe_s = (floor_.cost_ns(p) + double(tracer_->fault_cost().run_ns)) / 1e9 + pool_s;
        return CostReading{seconds_since_start(), probe_s, std::min(probe_s, double(sample_ns) / 1e9),
                           cost->cpu_s, cost->rss, churn_s};
    }

    // Oldest-generation collections so far, from the last GC state read (0 before one).
    uint64_t full_collections() const { return last_gc_ ? last_gc_->full_collections() : 0; }

    // Removing the probes takes 0.05-0.1 s (tracer.cpp): a native block freed
    // meanwhile, unseen, would count as live for good unless it was
    // fingerprinted, so the built ones are while frees are still seen.
    void seal_built_samples() {
        tracer_->poll(0);
        heap_.seal_window(*target_.mem, seconds_since_start() - kBuiltS);
    }

    // While the probes are attached, a death shows (the memory changes, or a
    // birth at the address retires the sample); in the pause after, an object
    // of the same kind reborn at a dead sample's address would pass for it
    // for good. So once the probes are out, the window's samples are read
    // in, those dead by now are retired, and the survivors that cannot change
    // and were not sealed before the removal are fingerprinted.
    void close_window(double detached_s) {
        tracer_->poll(0);
        heap_.sweep(*tracer_, *target_.mem, detached_s, full_collections());
        heap_.seal_window(*target_.mem);
        heap_.probes_detached(detached_s);
    }

    // What each thread is running now: a site whose whole stack is running
    // in nearly every sample is a heap still being built by one call.
    void sample_running_stacks() {
        std::vector<Stack> stacks;
        const ls_py_offsets offsets = target_.layout.bpf_offsets();
        for (uint64_t ts : target_.thread_states()) {
            const python::WalkedStack w = python::walk_stack(*target_.mem, offsets, ts, LS_MAX_FRAMES);
            if (!(w.flags & (LS_STACK_READ_FAILED | LS_STACK_TRUNCATED | LS_STACK_CYCLE)))
                stacks.push_back(symbolizer_.symbolize(w.frames.data(), w.frames.size()));
        }
        heap_.sample_running(stacks);
    }

    // The Python stack, with the native frames under it for native blocks.
    std::pair<Stack, uint32_t> resolve(uint64_t stack_id, int32_t native_stack_id = -1) {
        auto st = stack_id ? tracer_->stack(stack_id) : std::nullopt;
        Stack python = st ? symbolizer_.symbolize(st->frames, std::min<uint32_t>(st->depth, LS_MAX_FRAMES)) : Stack{};
        const uint32_t flags = st ? st->flags : 0;
        if (native_stack_id < 0) return {std::move(python), flags};
        auto merged = native::merge(native_symbolizer_.symbolize(tracer_->native_stack(native_stack_id)), python);
        native_incomplete_ += merged.incomplete;
        return {std::move(merged.frames), flags};
    }

    // One report: sweep (when the target can still be read), analyse, print.
    bool interval(bool final, bool readable) {
        const double t = seconds_since_start();
        if (readable) {
            if (command_ && !layout_checked_) {
                python::check_layout(target_.layout, *target_.mem, target_.interp.runtime_addr);
                layout_checked_ = true;
            }
            if (auto gc = read_gc_state(target_)) last_gc_ = gc;
            heap_.sweep(*tracer_, *target_.mem, t, full_collections());
            pools_.sweep(*target_.mem);
            auto mem = proc::read_memory_usage(target_.interp.pid);
            if (mem) last_memory_ = *mem;
            // A reading with no window since the last one counts no births
            // the last did not: nothing new of growth, so it is not taken
            // (its interval's stack samples count towards the next).
            if (heap_.births_until(t) > births_read_s_) {
                analysis::Snapshot snap = heap_.snapshot(t, full_collections(),
                                                         last_gc_ ? last_gc_->collections() : 0, last_memory_.rss);
                births_read_s_ = snap.t_s;
                if (held_) analyzer_.add(*held_);
                held_ = std::move(snap);
            }
            if (final && held_) {
                analyzer_.add(*held_);
                held_.reset();
            }
        } else if (final && held_) {
            commit_held_at_exit();
        }
        if (final) analyzer_.conclude();
        // Reports show the held reading too; only the analysis keeps it back.
        if (held_) {
            shown_ = analyzer_;
            shown_.add(*held_);
        }
        report::Report r = build(t, final, held_ ? shown_ : analyzer_);
        ++reports_;
        write_report(r);
        return !r.suspects.empty();
    }

    // The latest reading is held back from the analysis until the next one.
    // If the target exits first and the reading holds less than the one
    // before, it caught interpreter shutdown freeing the heap: not what the
    // program does, so it is left out (and said).
    void commit_held_at_exit() {
        double live = 0;
        for (const auto& site : held_->sites) live += site.live_bytes;
        const auto& iv = analyzer_.intervals();
        if (!iv.empty() && live < iv.back().live_bytes)
            shutdown_reading_s_ = held_->t_s;
        else
            analyzer_.add(*held_);
        held_.reset();
    }

    // Every report goes to stdout as text; the final one also to each output
    // file (Config::output_paths(), all checked for writability before attaching).
    void write_report(const report::Report& r) const {
        report::TextReporter({.tty = use_color()}).write(r, std::cout);
        std::cout.flush();
        if (r.final) report::write_outputs(r, c_.outputs);
    }

    bool use_color() const {
        return c_.color == "always" || (c_.color == "auto" && isatty(STDOUT_FILENO));
    }

    Stack frames_of(analysis::SiteId id) const {
        const SiteInfo* s = heap_.site(id);
        return s ? s->frames : Stack{};
    }

    // What keeps a few of each suspect's sampled live objects alive, from one
    // heap read; a target that cannot be read any more just has none.
    void add_held_by(report::Report& r) {
        if (r.suspects.empty() || !proc::process_running(target_.interp.pid)) return;
        std::vector<std::vector<uint64_t>> objects;
        for (const auto& s : r.suspects) objects.push_back(heap_.live_objects(s.site_id, kHeldBySamples));
        try {
            auto paths = snapshot::held_by(target_, objects);
            for (size_t i = 0; i < r.suspects.size(); ++i) r.suspects[i].held_by = std::move(paths[i]);
        } catch (const Error& e) {
            std::cerr << "leakscope: holders of the suspects not found: " << e.what() << "\n";
        }
    }

    report::Report build(double t, bool final, const analysis::LeakAnalyzer& analysis) {
        report::Report r;
        r.target = {target_.interp.pid, target_.interp.version.str(), target_.interp.binary_path, lineage_.exec_seen(),
                    {lineage_.children().begin(), lineage_.children().end()}};
        r.mode = c_.mode;
        r.start_unix_s = start_unix_s_;
        r.elapsed_s = t;
        r.interval = reports_ + 1;
        r.final = final;
        r.memory.rss_bytes = last_memory_.rss;
        r.memory.pss_bytes = last_memory_.pss;
        if (const auto& iv = analysis.intervals(); !iv.empty())
            r.memory.python_heap_bytes = uint64_t(iv.back().python_heap_bytes);
        for (const auto& s : analysis.top_sites(10)) r.top_sites.push_back(report::make_site(s, frames_of(s.site)));
        for (const auto& s : analysis.suspects())
            r.suspects.push_back(report::make_suspect(s, frames_of(s.site), analysis.history(s.site)));
        if (final) add_held_by(r);
        for (const auto& s : analysis.all_sites()) r.profile.push_back(report::make_profile_stack(s, frames_of(s.site)));
        r.intervals = report::make_intervals(analysis.intervals());
        r.growth = growth();
        r.pools = pools();

        r.gc.observed = last_gc_.has_value();
        if (last_gc_) {
            r.gc.enabled = last_gc_->enabled;
            r.gc.old_generation_objects = last_gc_->old_generation_objects;
            r.gc.full_collections = last_gc_->full_collections();
            for (const auto& g : last_gc_->generations)
                r.gc.generations.push_back({g.collections, g.collected, g.uncollectable});
        }
        if (has_probe(ProbeKind::GcEnter) || has_probe(ProbeKind::UsdtGcStart)) {
            GcPauses p = tracer_->gc_pauses();
            r.gc.pauses = report::GcPauses{p.collections, double(p.pause_ns) / 1e6, double(p.max_pause_ns) / 1e6};
        }

        for (const auto& e : tracer_->error_counters()) r.drops.push_back({e.name, e.count, e.remedy});
        for (const auto& d : symbolizer_.drops().counters()) r.drops.push_back({d.name, d.count, d.remedy});
        if (native_incomplete_)
            r.drops.push_back({"NATIVE_STACK_INCOMPLETE", native_incomplete_,
                               "native stacks that stop before the interpreter: a binary without frame pointers "
                               "(most distribution builds, glibc) ends the walk; the innermost native frames and "
                               "all Python frames are shown"});
        if (pools_.unfollowed())
            r.drops.push_back({"POOL_REFILLS_UNFOLLOWED", pools_.unfollowed(),
                               fmt::format("pool refills not followed: taken while {} pools were followed (counted "
                                           "as taken, not as held), or with a size class read from the target "
                                           "that is none (left out)", PoolGrowth::kMaxFollowed)});
        if (shutdown_reading_s_ >= 0)
            r.drops.push_back({"READING_AT_EXIT", 1,
                               fmt::format("the reading at {:.1f} s held less than the one before and the target "
                                           "exited before the next: interpreter shutdown freeing the heap, left out "
                                           "of the analysis", shutdown_reading_s_)});

        auto counters = tracer_->family_counters();
        r.sampling.sample_bytes = sample_bytes_;
        for (const auto& f : counters) r.sampling.events += f.events;
        r.overhead.probe_hits = tracer_->allocation_cost().hits;
        r.overhead.estimated_cpu_s = probe_cpu_s_;
        r.overhead.estimated_pct = governor_.estimated_pct();
        if (governor_.budget_pct() > 0) r.overhead.budget_pct = governor_.budget_pct();
        r.overhead.probe_floor_ns = floor_.entry_ns;
        r.overhead.return_probe_floor_ns = floor_.return_ns;
        r.overhead.duty_cycle = governor_.duty_cycle();
        r.overhead.adjustments = governor_.adjustments();
        return r;
    }

    // Sampled page faults by Python stack.
    std::optional<report::Growth> growth() {
        if (!tracer_->samples_faults()) return std::nullopt;
        static const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
        report::Growth g;
        g.fault_period = c_.fault_period;
        for (const auto& [stack, faults] : by_named_stack(tracer_->fault_sites())) {
            g.sampled_faults += faults;
            g.sites.push_back({stack->first, faults, faults * g.fault_period * page, stack->second});
        }
        if (g.sites.size() > kGrowthSites) g.sites.resize(kGrowthSites);
        g.bytes = g.sampled_faults * g.fault_period * page;
        return g;
    }

    // Pools held by size class, each with the stacks that took most of its pools.
    std::optional<report::Pools> pools() {
        if (!has_probe(ProbeKind::PoolRefill) || !pools_.pool_bytes()) return std::nullopt;
        report::Pools p;
        p.pool_bytes = pools_.pool_bytes();
        for (const auto& c : pools_.classes()) {
            report::PoolClass pc{c.block_bytes, c.taken, c.held, c.held * p.pool_bytes, {}};
            for (const auto& [stack, taken] : by_named_stack(c.taken_by)) {
                if (pc.taken_by.size() == kPoolTakers) break;
                pc.taken_by.push_back({stack->first, taken, stack->second});
            }
            p.taken += c.taken;
            p.held += c.held;
            p.classes.push_back(std::move(pc));
        }
        p.held_bytes = p.held * p.pool_bytes;
        if (pools_detached_s_ >= 0) p.detached_s = pools_detached_s_;
        return p;
    }

    using NamedStack = std::pair<Stack, std::string>;  // frames, or what the thread was doing without any
    // Counts by stack id, summed by the stack they name (ids that differ only
    // in where on a line the thread was name one stack), largest first. The
    // pointers stay valid: named_stacks_ never moves its values.
    template <typename Counts>
    std::vector<std::pair<const NamedStack*, uint64_t>> by_named_stack(const Counts& counts) {
        auto by_content = [](const NamedStack* a, const NamedStack* b) { return *a < *b; };
        std::map<const NamedStack*, uint64_t, decltype(by_content)> summed(by_content);
        for (const auto& [stack_id, n] : counts) summed[&named(stack_id)] += n;
        std::vector<std::pair<const NamedStack*, uint64_t>> out(summed.begin(), summed.end());
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        return out;
    }

    // A growth stack's frames, or (none) what its thread was doing. Named
    // once, when it arrives or at the first report that sees it, while the
    // target can still be read: after it exits, only code objects read
    // before are known.
    const NamedStack& named(uint64_t stack_id) {
        auto it = named_stacks_.find(stack_id);
        if (it == named_stacks_.end()) {
            auto [frames, flags] = resolve(stack_id);
            std::string without = frames.empty() ? without_frames(flags) : "";
            it = named_stacks_.emplace(stack_id, std::pair{std::move(frames), std::move(without)}).first;
        }
        return it->second;
    }

    bool has_probe(ProbeKind kind) const {
        return std::any_of(plan_.probes.begin(), plan_.probes.end(), [&](const Probe& p) { return p.kind == kind; });
    }

    const cli::Config& c_;
    python::Target target_;
    LaunchedCommand* command_;
    python::Symbolizer symbolizer_;
    native::NativeSymbolizer native_symbolizer_;
    std::unordered_map<uint64_t, NamedStack> named_stacks_;  // growth stacks, by stack id
    uint64_t native_incomplete_ = 0;  // native stacks that did not reach the eval loop
    uint64_t start_ns_;
    double start_unix_s_;
    python::ObjectContent object_content_;
    HeapTracker heap_;
    Governor governor_;
    LineageWatch lineage_;
    PoolGrowth pools_;
    double pools_detached_s_ = -1;  // when the governor found the pool refills too dear
    uint64_t sample_bytes_ = c_.sample_bytes;
    ProbeFloor floor_;
    double probe_cpu_s_ = 0;
    bool warned_ = false;
    analysis::LeakAnalyzer analyzer_;
    std::optional<analysis::Snapshot> held_;  // the latest reading, not yet analysed
    double births_read_s_ = -1;               // births_until() of the latest reading
    analysis::LeakAnalyzer shown_;            // analyzer_ with held_, for the reports
    double shutdown_reading_s_ = -1;          // a reading left out: taken during shutdown
    LibC libc_;
    ProbePlan plan_;
    std::unique_ptr<Tracer> tracer_;
    std::optional<GcState> last_gc_;
    proc::MemoryUsage last_memory_{};
    uint64_t reports_ = 0;
    bool layout_checked_ = false;
};

}  // namespace

int run(const cli::Config& c) {
    preflight::check_writable(c.output_paths());
    preflight::check_can_trace();
    preflight::check_kernel();
    install_stop_signals();

    std::unique_ptr<LaunchedCommand> command;
    pid_t pid = c.pid;
    if (c.command == cli::Command::Run) {
        command = std::make_unique<LaunchedCommand>(c.run_argv);
        pid = command->pid();
    } else {
        preflight::check_process(pid);
        preflight::check_can_read(pid);
    }

    SessionLock lock(pid);
    bool leaked = false;
    {
        Session session(c, python::open_target(pid, {c.debug_dir}, !command), command.get());
        session.attach();
        if (command) command->release();
        leaked = session.loop();
    }  // every probe is detached here

    if (!command) return 0;
    if (stop_signal() && !command->exited()) kill(command->pid(), stop_signal());
    int status = command->wait();
    return c.fail_on_leak && leaked ? cli::kLeakFoundStatus : status;
}

}  // namespace leakscope::trace
