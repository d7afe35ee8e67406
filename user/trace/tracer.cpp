// SPDX-License-Identifier: BSD-2-Clause
#include "trace/tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/perf_event.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <thread>

#include "core/error.h"
#include "proc/maps.h"
#include "leakscope_bpf.skel.h"
#include "trace/uprobe_multi.h"

// Calibration point: a function that starts with an instruction the kernel
// emulates (push), like the probe sites the plan picks.
extern "C" void leakscope_calibration_point();
asm(".pushsection .text\n"
    ".globl leakscope_calibration_point\n"
    ".type leakscope_calibration_point, @function\n"
    "leakscope_calibration_point:\n"
    "  push %rbp\n"
    "  pop %rbp\n"
    "  ret\n"
    ".size leakscope_calibration_point, .-leakscope_calibration_point\n"
    ".popsection\n");

namespace leakscope::trace {
namespace {

// enum bpf_attach_type BPF_TRACE_UPROBE_MULTI, newer than this libbpf's headers.

int silence_libbpf(enum libbpf_print_level level, const char* fmt, va_list args) {
    if (level == LIBBPF_WARN && std::getenv("LEAKSCOPE_DEBUG_LIBBPF")) return vfprintf(stderr, fmt, args);
    return 0;
}

// One uprobe per perf event fd: a plan of a few hundred probes needs more
// descriptors than the default soft limit.
void raise_fd_limit() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

bpf_program* program_for(leakscope_bpf* skel, ProbeKind kind) {
    switch (kind) {
    case ProbeKind::ObjectNew: return skel->progs.ls_object_new;
    case ProbeKind::Malloc: return skel->progs.ls_malloc;
    case ProbeKind::Calloc: return skel->progs.ls_calloc;
    case ProbeKind::Realloc: return skel->progs.ls_realloc;
    case ProbeKind::MallocReturn: return skel->progs.ls_malloc_return;
    case ProbeKind::Free: return skel->progs.ls_free;
    case ProbeKind::GcEnter: return skel->progs.ls_gc_enter;
    case ProbeKind::GcExit: return skel->progs.ls_gc_exit;
    case ProbeKind::UsdtGcStart: return skel->progs.ls_usdt_gc_start;
    case ProbeKind::UsdtGcDone: return skel->progs.ls_usdt_gc_done;
    case ProbeKind::PoolRefill: return skel->progs.ls_pool_refill;
    }
    return nullptr;
}

int handle_sample(void* ctx, void* data, size_t size) {
    if (size >= sizeof(ls_sample)) {
        auto* handler = static_cast<Tracer::SampleHandler*>(ctx);
        (*handler)(*static_cast<const ls_sample*>(data));
    }
    return 0;
}

// The probes duty-cycled with the overhead budget; the GC probes stay attached.
constexpr ProbeKind kAllocationKinds[] = {ProbeKind::ObjectNew, ProbeKind::Malloc,       ProbeKind::Calloc,
                                          ProbeKind::Realloc,   ProbeKind::MallocReturn, ProbeKind::Free};

bool is_allocation_probe(ProbeKind kind) {
    return std::find(std::begin(kAllocationKinds), std::end(kAllocationKinds), kind) != std::end(kAllocationKinds);
}

// Removing a uprobe waits for an RCU grace period (0.05-0.1 s in a VM) after
// its breakpoints are gone. Released one after another, later links would stay
// hot during the earlier ones' waits (a 0.1 s tracing window became 0.4 s) and
// hundreds of perf-event probes would take a minute to detach. Released from
// many threads at once, the waits overlap.
template <typename Link, typename Release>
void release_in_parallel(std::vector<Link>& links, Release release) {
    constexpr size_t kThreads = 64;
    std::vector<std::thread> workers;
    const size_t per = (links.size() + kThreads - 1) / kThreads;
    for (size_t start = 0; start < links.size(); start += per) {
        workers.emplace_back([&links, &release, start, per] {
            for (size_t i = start; i < std::min(links.size(), start + per); ++i) release(links[i]);
        });
    }
    for (auto& w : workers) w.join();
    links.clear();
}

void destroy_links(std::vector<bpf_link*>& links) { release_in_parallel(links, bpf_link__destroy); }
void close_links(std::vector<int>& fds) { release_in_parallel(fds, close); }

// Hits and run time of a program (kernel run-time statistics).
ProgramCost program_cost(const bpf_program* prog) {
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) != 0) return {};
    return {info.run_cnt, 0, info.run_time_ns};
}

}  // namespace

Tracer::Tracer(const TracerConfig& c, const ProbePlan& plan, SampleHandler on_sample)
    : pid_(c.pid), on_sample_(std::move(on_sample)) {
    libbpf_set_print(silence_libbpf);
    raise_fd_limit();
    ncpus_ = libbpf_num_possible_cpus();
    if (ncpus_ < 1) ncpus_ = 1;

    // Multi-uprobe links (Linux 6.6+) attach and detach a whole group of probes
    // at once; older kernels refuse the attach type at load and get one perf
    // event per probe instead.
    int err = c.multi_uprobe ? open_and_load(c, true) : -EOPNOTSUPP;
    if (err) err = open_and_load(c, false);
    if (err) throw Error(Errc::AttachFailed, fmt::format("the kernel refused leakscope's BPF programs: {}", strerror(-err)));
    // Run-time statistics of the programs, for the measured overhead (best effort).
    stats_fd_ = bpf_enable_stats(BPF_STATS_RUN_TIME);
    try {
        // Probes are attached again after pauses (duty cycle); by then a path such as
        // /proc/PID/map_files/RANGE may be gone (ld.so splits mappings it protects),
        // so each binary is held open and attached through its descriptor.
        for (const auto& probe : plan.probes) {
            if (binary_fds_.count(probe.binary)) continue;
            int fd = open(probe.binary.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) throw Error(Errc::AttachFailed, fmt::format("cannot open {}: {}", probe.binary, strerror(errno)));
            binary_fds_[probe.binary] = fd;
        }
        std::vector<Probe> always;
        for (const auto& probe : plan.probes)
            (is_allocation_probe(probe.kind) ? allocation_plan_ : always).push_back(probe);
        if (multi_) attach_grouped(always);
        else
            for (const auto& probe : always)
                (probe.kind == ProbeKind::PoolRefill ? pool_perf_links_ : links_).push_back(attach(probe));
        if (c.fault_period) sample_page_faults(c.fault_period);
        set_allocation_probes(c.allocation_probes);
        ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.samples), handle_sample, &on_sample_, nullptr);
        if (!ring_) throw Error(Errc::AttachFailed, "cannot open the sample ring buffer");
    } catch (...) {
        teardown();
        throw;
    }
}

int Tracer::open_and_load(const TracerConfig& c, bool multi) {
    skel_ = leakscope_bpf__open();
    if (!skel_) throw Error(Errc::AttachFailed, fmt::format("cannot open the BPF object: {}", strerror(errno)));
    skel_->rodata->target_tgid = static_cast<__u32>(c.pid);
    skel_->bss->py = c.offsets;
    skel_->rodata->types = c.types;
    skel_->rodata->runtime_addr = c.runtime_addr;
    skel_->rodata->pool_bytes = c.pool_bytes;
    set_sample_bytes(c.sample_bytes);
    bpf_map__set_max_entries(skel_->maps.stacks, c.stack_storage);
    bpf_map__set_max_entries(skel_->maps.live_objects, c.max_live);
    bpf_map__set_max_entries(skel_->maps.live_native, c.max_live);
    bpf_map__set_max_entries(skel_->maps.fault_sites, c.stack_storage);
    if (multi) {
        // Every uprobe program; the USDT ones stay perf-event based (libbpf attaches them).
        for (auto kind : kAllocationKinds)
            bpf_program__set_expected_attach_type(program_for(skel_, kind), kAttachUprobeMulti);
        for (auto* prog : {skel_->progs.ls_gc_enter, skel_->progs.ls_gc_exit, skel_->progs.ls_pool_refill,
                           skel_->progs.ls_calibrate})
            bpf_program__set_expected_attach_type(prog, kAttachUprobeMulti);
    }
    int err = leakscope_bpf__load(skel_);
    if (err) {
        leakscope_bpf__destroy(skel_);
        skel_ = nullptr;
    }
    multi_ = multi && !err;
    return err;
}

// One multi-uprobe link for `probes` (all of one kind, in one binary) on
// pid's tasks; returns its fd.
int Tracer::attach_multi(ProbeKind kind, const std::string& binary, const std::vector<const Probe*>& probes,
                         bpf_program* prog, pid_t pid) {
    std::vector<uint64_t> offsets, cookies;
    for (const Probe* p : probes) {
        offsets.push_back(p->file_offset);
        cookies.push_back(p->cookie);
    }
    int fd = create_uprobe_multi_link(bpf_program__fd(prog), held_path(binary), offsets, cookies, pid,
                                      is_return_probe(kind));
    if (fd == -ESRCH) throw Error(Errc::TargetExited, fmt::format("PID {} exited while probes were attached", pid));
    if (fd < 0)
        throw Error(Errc::AttachFailed, fmt::format("cannot attach {} {} probes in {}: {}", probes.size(),
                                                    probe_kind_name(kind), binary, strerror(-fd)));
    return fd;
}

void Tracer::attach_grouped(const std::vector<Probe>& probes) {
    std::map<std::pair<ProbeKind, std::string>, std::vector<const Probe*>> groups;
    for (const auto& probe : probes) {
        if (probe.kind == ProbeKind::UsdtGcStart || probe.kind == ProbeKind::UsdtGcDone) links_.push_back(attach(probe));
        else groups[{probe.kind, probe.binary}].push_back(&probe);
    }
    for (const auto& [key, group] : groups) {
        int fd = attach_multi(key.first, key.second, group, program_for(skel_, key.first), pid_);
        (is_allocation_probe(key.first) ? allocation_links_
         : key.first == ProbeKind::PoolRefill ? pool_links_
                                              : multi_links_).push_back(fd);
        attached_ += group.size();
    }
}

void Tracer::set_allocation_probes(bool on) {
    if (on == allocation_on_) return;
    allocation_on_ = on;
    if (!on) {
        close_links(allocation_links_);
        destroy_links(allocation_perf_links_);
        attached_ -= allocation_plan_.size();
        return;
    }
    // A malloc whose return was not seen while detached must not lend its size to another.
    for (uint32_t tid = 0; bpf_map__get_next_key(skel_->maps.pending_malloc, nullptr, &tid, sizeof tid) == 0;)
        bpf_map__delete_elem(skel_->maps.pending_malloc, &tid, sizeof tid, 0);
    if (multi_) {
        attach_grouped(allocation_plan_);
    } else {
        for (const auto& probe : allocation_plan_) allocation_perf_links_.push_back(attach(probe));
    }
}

void Tracer::set_sample_bytes(uint64_t sample_bytes) {
    // Exponential draws with mean sample_bytes at evenly spaced quantiles.
    for (int i = 0; i < LS_COUNTDOWN_DRAWS; ++i) {
        double u = (i + 0.5) / LS_COUNTDOWN_DRAWS;
        skel_->bss->countdown_draws[i] = static_cast<__s64>(std::ceil(-std::log(u) * double(sample_bytes)));
    }
    skel_->bss->sample_mean = sample_bytes;
}

ProgramCost Tracer::allocation_cost() const {
    ProgramCost cost;
    for (auto kind : kAllocationKinds) {
        ProgramCost p = program_cost(program_for(skel_, kind));
        cost.hits += p.hits;
        cost.return_hits += is_return_probe(kind) ? p.hits : 0;
        cost.run_ns += p.run_ns;
    }
    return cost;
}

ProgramCost Tracer::fault_cost() const { return program_cost(skel_->progs.ls_page_fault); }

ProgramCost Tracer::pool_refill_cost() const {
    ProgramCost cost = program_cost(skel_->progs.ls_pool_refill);
    cost.return_hits = cost.hits;  // a return probe
    return cost;
}

void Tracer::detach_pool_refills() {
    attached_ -= pool_links_.size() + pool_perf_links_.size();
    close_links(pool_links_);
    destroy_links(pool_perf_links_);
}

// A software event, counted in the fault path whether sampled or not: a
// process that is not growing takes few faults and pays next to nothing.
// One counter per CPU, not per thread: a thread's own counter starts at zero,
// so a server that starts a thread per request, each faulting in fewer pages
// than the period, was never sampled. Every fault on a CPU counts towards its
// next sample and the program keeps the target's, so each of the target's
// faults is sampled at the same rate, in threads of any age.
void Tracer::sample_page_faults(uint32_t period) {
    int cpus = libbpf_num_possible_cpus();
    for (int cpu = 0; cpu < cpus; ++cpu) {
        perf_event_attr attr{};
        attr.size = sizeof attr;
        attr.type = PERF_TYPE_SOFTWARE;
        attr.config = PERF_COUNT_SW_PAGE_FAULTS;
        attr.sample_period = period;
        int fd = static_cast<int>(syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
        if (fd < 0) continue;  // a possible CPU that is offline
        bpf_link* link = bpf_program__attach_perf_event(skel_->progs.ls_page_fault, fd);
        if (!link) {
            close(fd);
            continue;
        }
        fault_links_.push_back(link);
    }
}

std::vector<std::pair<uint64_t, uint64_t>> Tracer::fault_sites() const {
    std::vector<std::pair<uint64_t, uint64_t>> sites;
    const bpf_map* map = skel_->maps.fault_sites;
    uint64_t key = 0, next = 0, count = 0;
    for (const void* prev = nullptr; bpf_map__get_next_key(map, prev, &next, sizeof next) == 0; prev = &key) {
        key = next;
        if (bpf_map__lookup_elem(map, &key, sizeof key, &count, sizeof count, 0) == 0) sites.emplace_back(key, count);
    }
    return sites;
}

void Tracer::detach_all() {
    for (auto* fds : {&allocation_links_, &pool_links_}) {
        multi_links_.insert(multi_links_.end(), fds->begin(), fds->end());
        fds->clear();
    }
    close_links(multi_links_);
    for (auto* links : {&fault_links_, &allocation_perf_links_, &pool_perf_links_}) {
        links_.insert(links_.end(), links->begin(), links->end());
        links->clear();
    }
    destroy_links(links_);
}

Tracer::~Tracer() { teardown(); }

// The one way everything goes: the ring, every link, the programs, the descriptors.
void Tracer::teardown() {
    if (ring_) ring_buffer__free(ring_);
    ring_ = nullptr;
    detach_all();
    leakscope_bpf__destroy(skel_);
    skel_ = nullptr;
    if (stats_fd_ >= 0) close(stats_fd_);
    stats_fd_ = -1;
    for (const auto& [path, fd] : binary_fds_) close(fd);
    binary_fds_.clear();
}

std::string Tracer::held_path(const std::string& binary) const {
    auto it = binary_fds_.find(binary);
    return it == binary_fds_.end() ? binary : fmt::format("/proc/self/fd/{}", it->second);
}

ProbeFloor Tracer::measure_probe_floors() {
    // The calibration point's file offset, from where it is mapped in this process.
    const auto addr = reinterpret_cast<uint64_t>(&leakscope_calibration_point);
    std::optional<proc::Mapping> self;
    for (const auto& m : proc::read_maps(getpid()))
        if (m.start <= addr && addr < m.end && m.is_file()) self = m;
    if (!self) return {};

    // The fastest of several rounds: what the hardware does, not what a busy VM did once.
    constexpr int kCalls = 5000, kRounds = 5;
    auto time_calls = [] {
        double best = 1e300;
        for (int round = 0; round < kRounds; ++round) {
            auto start = std::chrono::steady_clock::now();
            for (int i = 0; i < kCalls; ++i) leakscope_calibration_point();
            best = std::min(best, std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count());
        }
        return best;
    };
    const double plain = time_calls();
    // The probe is on leakscope itself; the target's pid_ is never touched.
    auto probed_ns = [&](ProbeKind kind) {
        Probe probe{kind, proc::openable_path(getpid(), *self), 0, addr - self->start + self->offset, 0, true,
                    "leakscope_calibration_point"};
        int fd = -1;
        bpf_link* link = nullptr;
        if (multi_) {
            std::vector<const Probe*> one{&probe};
            fd = attach_multi(probe.kind, probe.binary, one, skel_->progs.ls_calibrate, getpid());
        } else {
            LIBBPF_OPTS(bpf_uprobe_opts, opts);
            opts.retprobe = is_return_probe(kind);
            link = bpf_program__attach_uprobe_opts(skel_->progs.ls_calibrate, getpid(), probe.binary.c_str(),
                                                   probe.file_offset, &opts);
        }
        if (fd < 0 && !link) return 0.0;
        const double probed = time_calls();
        if (fd >= 0) close(fd);
        if (link) bpf_link__destroy(link);
        return std::max(0.0, (probed - plain) / kCalls);
    };
    ProbeFloor floor;
    floor.entry_ns = probed_ns(ProbeKind::ObjectNew);
    floor.return_ns = std::max(probed_ns(ProbeKind::PoolRefill), floor.entry_ns);
    return floor;
}

bpf_link* Tracer::attach(const Probe& probe) {
    bpf_program* prog = program_for(skel_, probe.kind);
    bpf_link* link = nullptr;
    if (probe.kind == ProbeKind::UsdtGcStart || probe.kind == ProbeKind::UsdtGcDone) {
        const char* name = probe.kind == ProbeKind::UsdtGcStart ? "gc__start" : "gc__done";
        link = bpf_program__attach_usdt(prog, pid_, held_path(probe.binary).c_str(), "python", name, nullptr);
    } else {
        LIBBPF_OPTS(bpf_uprobe_opts, opts);
        opts.retprobe = is_return_probe(probe.kind);
        opts.bpf_cookie = probe.cookie;
        link = bpf_program__attach_uprobe_opts(prog, pid_, held_path(probe.binary).c_str(), probe.file_offset, &opts);
    }
    if (!link) {
        int err = errno;
        if (err == ESRCH) throw Error(Errc::TargetExited, fmt::format("PID {} exited while probes were attached", pid_));
        throw Error(Errc::AttachFailed, fmt::format("cannot attach {} probe at {} in {}: {}",
                                                    probe_kind_name(probe.kind), probe.where, probe.binary,
                                                    strerror(err)));
    }
    ++attached_;
    return link;
}

std::vector<uint64_t> Tracer::native_stack(int32_t id) const {
    std::array<uint64_t, LS_MAX_NATIVE_FRAMES> ips{};
    if (id < 0 || bpf_map__lookup_elem(skel_->maps.native_stacks, &id, sizeof id, ips.data(), sizeof ips, 0)) return {};
    std::vector<uint64_t> out;
    for (uint64_t ip : ips) {
        if (!ip) break;
        out.push_back(ip);
    }
    return out;
}

void Tracer::poll(int timeout_ms) {
    ring_buffer__poll(ring_, timeout_ms);
    ring_buffer__consume(ring_);
}

std::optional<ls_stack> Tracer::stack(uint64_t stack_id) const {
    ls_stack st{};
    if (bpf_map__lookup_elem(skel_->maps.stacks, &stack_id, sizeof stack_id, &st, sizeof st, 0)) return std::nullopt;
    return st;
}

std::optional<uint64_t> Tracer::live_seq(ls_family family, uint64_t addr) const {
    auto* map = family == LS_FAMILY_OBJECT ? skel_->maps.live_objects : skel_->maps.live_native;
    ls_sample live{};
    if (bpf_map__lookup_elem(map, &addr, sizeof addr, &live, sizeof live, 0)) return std::nullopt;
    return live.seq;
}

void Tracer::forget(ls_family family, uint64_t addr) {
    auto* map = family == LS_FAMILY_OBJECT ? skel_->maps.live_objects : skel_->maps.live_native;
    bpf_map__delete_elem(map, &addr, sizeof addr, 0);
}

std::array<FamilyCounters, LS_FAMILY_COUNT> Tracer::family_counters() const {
    std::array<FamilyCounters, LS_FAMILY_COUNT> out{};
    std::vector<ls_cpu_state> per_cpu(ncpus_);
    uint32_t zero = 0;
    if (bpf_map__lookup_elem(skel_->maps.cpu_state, &zero, sizeof zero, per_cpu.data(),
                             per_cpu.size() * sizeof(ls_cpu_state), 0))
        return out;
    for (const auto& cpu : per_cpu) {
        for (uint32_t f = 0; f < LS_FAMILY_COUNT; ++f) {
            out[f].events += cpu.family[f].events;
            out[f].bytes += cpu.family[f].bytes;
            out[f].samples += cpu.family[f].samples;
            out[f].reused += cpu.family[f].reused;
            out[f].sample_ns += cpu.family[f].sample_ns;
        }
    }
    return out;
}

std::vector<Tracer::ErrorCount> Tracer::error_counters() const {
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
    std::vector<ErrorCount> out;
    std::vector<uint64_t> per_cpu(ncpus_);
    for (uint32_t e = 0; e < LS_ERR_COUNT; ++e) {
        uint64_t total = 0;
        if (!bpf_map__lookup_elem(skel_->maps.errors, &e, sizeof e, per_cpu.data(), per_cpu.size() * sizeof(uint64_t), 0))
            for (uint64_t v : per_cpu) total += v;
        out.push_back({kNames[e], total, kRemedies[e]});
    }
    return out;
}

GcPauses Tracer::gc_pauses() const {
    uint32_t zero = 0;
    ls_gc_stats s{};
    bpf_map__lookup_elem(skel_->maps.gc_stats, &zero, sizeof zero, &s, sizeof s, 0);
    return {s.collections, s.pause_ns, s.max_pause_ns};
}

}  // namespace leakscope::trace
