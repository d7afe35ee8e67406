// SPDX-License-Identifier: BSD-2-Clause
#include "trace/session.h"

#include <fmt/format.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <optional>

#include "analysis/leak_analyzer.h"
#include "core/error.h"
#include "core/preflight.h"
#include "proc/maps.h"
#include "python/layout_check.h"
#include "python/symbolizer.h"
#include "python/target.h"
#include "report/build.h"
#include "report/json_reporter.h"
#include "report/text_reporter.h"
#include "trace/gc_state.h"
#include "trace/governor.h"
#include "trace/heap.h"
#include "trace/launch.h"
#include "trace/probe_plan.h"
#include "trace/tracer.h"

namespace leakscope::trace {
namespace {

std::atomic<int> g_stop_signal{0};

void on_stop_signal(int sig) { g_stop_signal = sig; }

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
}

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

// What walking one Python stack in a probe costs, for the budget's choice
// between sampling less and attaching less (a deep stack: ~20 frames of reads).
constexpr double kStackWalkS = 10e-6;

// Stacks listed under memory growth.
constexpr size_t kGrowthSites = 10;

// Trace mode warns once its estimated overhead passes this.
constexpr double kTraceWarnPct = 50;

GovernorConfig governor_config(const cli::Config& c) {
    GovernorConfig g;
    const bool continuous = c.mode == "continuous";
    g.budget_pct = c.max_overhead_pct > 0 ? c.max_overhead_pct : continuous ? cli::kContinuousBudgetPct : 0;
    g.escalate = continuous;
    g.window_s = continuous ? 1 : 2;
    g.sample_bytes = c.sample_bytes;
    return g;
}

class Session {
public:
    Session(const cli::Config& c, python::Target target, LaunchedCommand* command)
        : c_(c), target_(std::move(target)), command_(command), symbolizer_(*target_.mem, target_.layout, target_.code_type),
          start_ns_(monotonic_ns()),
          heap_(c.sample_bytes, start_ns_, [this](uint64_t id) { return resolve(id); }),
          governor_(governor_config(c)) {}

    void attach() {
        libc_ = find_libc(target_.interp.pid);
        Binary python{target_.interp.elf.get(), target_.interp.open_path};
        plan_ = plan_probes(python, {libc_.elf.get(), libc_.path});

        TracerConfig tc;
        tc.pid = target_.interp.pid;
        tc.offsets = target_.layout.bpf_offsets();
        tc.types = target_.layout.bpf_type_offsets();
        tc.runtime_addr = target_.interp.runtime_addr;
        tc.sample_bytes = c_.sample_bytes;
        tc.stack_storage = c_.stack_storage;
        tc.max_live = c_.max_live;
        tc.fault_period = c_.fault_period;
        tracer_ = std::make_unique<Tracer>(tc, plan_, [this](const ls_sample& s) { heap_.add(s); });
        floor_ns_ = tracer_->measure_probe_floor_ns();
        if (c_.fault_period && !tracer_->samples_faults())
            std::cerr << "leakscope: warning: the kernel refused the page-fault event; memory growth is not reported\n";
        if (c_.verbose) print_plan();
        std::cerr << fmt::format("leakscope: tracing PID {} (CPython {}), {} probes attached; reports every {:g} s{}\n",
                                 target_.interp.pid, target_.interp.version.str(), tracer_->attached(), c_.interval_s,
                                 c_.duration_s > 0 ? fmt::format(" for {:g} s", c_.duration_s) : ", Ctrl-C to stop");
    }

    // Runs until the duration, a stop signal or the target's exit; returns true when suspects were found.
    bool loop() {
        const uint64_t interval_ns = uint64_t(c_.interval_s * 1e9);
        const uint64_t end_ns = c_.duration_s > 0 ? start_ns_ + uint64_t(c_.duration_s * 1e9) : UINT64_MAX;
        uint64_t next_report = start_ns_ + interval_ns;
        bool target_gone = false;
        while (!g_stop_signal) {
            tracer_->poll(100);
            govern();
            target_gone = command_ ? command_->exited() : !proc::process_running(target_.interp.pid);
            if (target_gone) break;
            uint64_t now = monotonic_ns();
            if (now >= end_ns) break;
            if (now >= next_report) {
                interval(false, true);
                next_report += interval_ns;
            }
        }
        tracer_->poll(0);
        return interval(true, !target_gone && proc::process_running(target_.interp.pid));
    }

private:
    // Keeps the probes' cost within the budget: duty cycle and sampling rate.
    void govern() {
        auto r = cost_reading();
        if (!r) return;
        bool on = governor_.update(*r);
        if (governor_.sample_bytes() != sample_bytes_) {
            sample_bytes_ = governor_.sample_bytes();
            tracer_->set_sample_bytes(sample_bytes_);
        }
        if (on != tracer_->allocation_probes()) {
            tracer_->set_allocation_probes(on);
            if (auto after = cost_reading()) governor_.switched(*after);
        }
        if (!warned_ && governor_.budget_pct() <= 0 && r->t_s > 3 && governor_.estimated_pct() > kTraceWarnPct) {
            warned_ = true;
            std::cerr << fmt::format("leakscope: warning: tracing costs the target about {:.0f}% of its CPU time; "
                                     "use --max-overhead PCT or --mode continuous to bound it\n",
                                     governor_.estimated_pct());
        }
        probe_cpu_s_ = r->probe_s;
    }

    std::optional<CostReading> cost_reading() const {
        auto cost = proc::read_process_cost(target_.interp.pid);
        if (!cost) return std::nullopt;
        ProgramCost p = tracer_->allocation_cost();
        uint64_t samples = 0;
        for (const auto& f : tracer_->family_counters()) samples += f.samples;
        // Sampled faults trap nothing extra: only their programs' run time counts.
        const double probe_s = (double(p.hits) * floor_ns_ + double(p.run_ns + tracer_->fault_cost().run_ns)) / 1e9;
        return CostReading{double(monotonic_ns() - start_ns_) / 1e9, probe_s,
                           std::min(probe_s, double(samples) * kStackWalkS), cost->cpu_s, cost->rss};
    }

    std::pair<Stack, uint32_t> resolve(uint64_t stack_id) {
        auto st = stack_id ? tracer_->stack(stack_id) : std::nullopt;
        if (!st) return {{}, 0};
        return {symbolizer_.symbolize(st->frames, std::min<uint32_t>(st->depth, LS_MAX_FRAMES)), st->flags};
    }

    void print_plan() const {
        std::cerr << fmt::format("probe plan for {} (CPython {}, layout: {}):\n", target_.interp.open_path,
                                 target_.interp.version.str(), target_.layout.source);
        for (const auto& n : plan_.notes) std::cerr << "  " << n << "\n";
        std::cerr << fmt::format("  measured here: an empty probe hit on an emulated instruction costs {:.0f} ns; "
                                 "single-stepped ones cost roughly 15 times more\n", floor_ns_);
        for (const auto& p : plan_.probes)
            std::cerr << fmt::format("  {:<14} {:#x} {}  [{}]\n", probe_kind_name(p.kind), p.vaddr, p.where,
                                     p.emulated ? "emulated" : "single-stepped");
    }

    // One report: sweep (when the target can still be read), analyse, print.
    bool interval(bool final, bool readable) {
        const double t = double(monotonic_ns() - start_ns_) / 1e9;
        if (readable) {
            if (command_ && !layout_checked_) {
                python::check_layout(target_.layout, *target_.mem, target_.interp.runtime_addr);
                layout_checked_ = true;
            }
            if (auto gc = read_gc_state(target_)) last_gc_ = gc;
            heap_.sweep(*tracer_, *target_.mem, t, last_gc_ ? last_gc_->full_collections() : 0);
            auto mem = proc::read_memory_usage(target_.interp.pid);
            if (mem) last_memory_ = *mem;
            analyzer_.add(heap_.snapshot(t, last_gc_ ? last_gc_->full_collections() : 0,
                                         last_gc_ ? last_gc_->collections() : 0, last_memory_.rss));
        }
        report::Report r = build(t, final);
        ++reports_;
        report::TextReporter({.tty = use_color()}).write(r, std::cout);
        std::cout.flush();
        if (final && !c_.json_file.empty()) {
            std::ofstream out(c_.json_file);
            if (!out) throw Error(Errc::Io, fmt::format("cannot write {}", c_.json_file));
            report::JsonReporter({.indent = 2}).write(r, out);
        }
        return !r.suspects.empty();
    }

    bool use_color() const {
        return c_.color == "always" || (c_.color == "auto" && isatty(STDOUT_FILENO));
    }

    Stack frames_of(analysis::SiteId id) const {
        const SiteInfo* s = heap_.site(id);
        return s ? s->frames : Stack{};
    }

    report::Report build(double t, bool final) {
        report::Report r;
        r.target = {target_.interp.pid, target_.interp.version.str(), target_.interp.binary_path};
        r.mode = c_.mode;
        r.elapsed_s = t;
        r.interval = reports_ + 1;
        r.final = final;
        r.memory.rss_bytes = last_memory_.rss;
        r.memory.pss_bytes = last_memory_.pss;
        if (!analyzer_.intervals().empty()) r.memory.python_heap_bytes = heap_python_bytes();
        for (const auto& s : analyzer_.top_sites(10)) r.top_sites.push_back(report::make_site(s, frames_of(s.site)));
        for (const auto& s : analyzer_.suspects()) r.suspects.push_back(report::make_suspect(s, frames_of(s.site)));
        r.intervals = report::make_intervals(analyzer_.intervals());
        r.growth = growth();

        r.gc.observed = last_gc_.has_value();
        if (last_gc_) {
            r.gc.enabled = last_gc_->enabled;
            r.gc.old_generation_objects = last_gc_->old_generation_objects;
            r.gc.full_collections = last_gc_->full_collections();
            for (const auto& g : last_gc_->generations)
                r.gc.generations.push_back({g.collections, g.collected, g.uncollectable});
        }
        if (has_gc_probe()) {
            GcPauses p = tracer_->gc_pauses();
            r.gc.pauses = report::GcPauses{p.collections, double(p.pause_ns) / 1e6, double(p.max_pause_ns) / 1e6};
        }

        auto errors = tracer_->error_counters();
        static const char* kNames[] = {
#define LS_ERR_NAME(name, remedy) #name,
            LS_ERRORS(LS_ERR_NAME)
#undef LS_ERR_NAME
        };
        static const char* kRemedies[] = {
#define LS_ERR_REMEDY(name, remedy) remedy,
            LS_ERRORS(LS_ERR_REMEDY)
#undef LS_ERR_REMEDY
        };
        for (size_t e = 0; e < errors.size(); ++e)
            if (errors[e]) r.drops.push_back({kNames[e], errors[e], kRemedies[e]});
        if (symbolizer_.failed_reads())
            r.drops.push_back({"SYMBOLIZE_FAILED", symbolizer_.failed_reads(),
                               "code objects that could not be read (freed before symbolization)"});

        auto counters = tracer_->family_counters();
        r.sampling.sample_bytes = sample_bytes_;
        for (const auto& f : counters) r.sampling.events += f.events;
        r.overhead.probe_hits = tracer_->allocation_cost().hits;
        r.overhead.estimated_cpu_s = probe_cpu_s_;
        r.overhead.estimated_pct = governor_.estimated_pct();
        if (governor_.budget_pct() > 0) r.overhead.budget_pct = governor_.budget_pct();
        r.overhead.probe_floor_ns = floor_ns_;
        r.overhead.duty_cycle = governor_.duty_cycle();
        r.overhead.adjustments = governor_.adjustments();
        return r;
    }

    std::optional<report::Growth> growth() {
        if (!tracer_->samples_faults()) return std::nullopt;
        static const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
        report::Growth g;
        g.fault_period = c_.fault_period;
        auto sites = tracer_->fault_sites();
        std::sort(sites.begin(), sites.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        for (const auto& [id, faults] : sites) g.sampled_faults += faults;
        g.bytes = g.sampled_faults * g.fault_period * page;
        for (size_t i = 0; i < std::min<size_t>(sites.size(), kGrowthSites); ++i)
            g.sites.push_back({resolve(sites[i].first).first, sites[i].second, sites[i].second * g.fault_period * page});
        return g;
    }

    bool has_gc_probe() const {
        for (const auto& p : plan_.probes)
            if (p.kind == ProbeKind::GcEnter || p.kind == ProbeKind::UsdtGcStart) return true;
        return false;
    }

    uint64_t heap_python_bytes() const {
        const auto& iv = analyzer_.intervals();
        return iv.empty() ? 0 : uint64_t(iv.back().python_heap_bytes);
    }

    const cli::Config& c_;
    python::Target target_;
    LaunchedCommand* command_;
    python::Symbolizer symbolizer_;
    uint64_t start_ns_;
    HeapTracker heap_;
    Governor governor_;
    uint64_t sample_bytes_ = c_.sample_bytes;
    double floor_ns_ = 0;
    double probe_cpu_s_ = 0;
    bool warned_ = false;
    analysis::LeakAnalyzer analyzer_;
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
    preflight::check_can_trace();
    preflight::check_kernel();
    install_signal_handlers();

    std::unique_ptr<LaunchedCommand> command;
    pid_t pid = c.pid;
    if (c.command == cli::Command::Run) {
        command = std::make_unique<LaunchedCommand>(c.run_argv);
        pid = command->pid();
    } else {
        preflight::check_process(pid);
    }

    bool leaked = false;
    {
        Session session(c, python::open_target(pid, {c.debug_dir}, !command), command.get());
        session.attach();
        if (command) command->release();
        leaked = session.loop();
    }  // every probe is detached here

    if (!command) return 0;
    if (g_stop_signal && !command->exited()) kill(command->pid(), g_stop_signal);
    int status = command->wait();
    return c.fail_on_leak && leaked ? cli::kLeakFoundStatus : status;
}

}  // namespace leakscope::trace
