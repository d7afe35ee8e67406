// SPDX-License-Identifier: BSD-2-Clause
#include "trace/tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <sys/resource.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "leakscope_bpf.skel.h"

namespace leakscope::trace {
namespace {

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

}  // namespace

Tracer::Tracer(const TracerConfig& c, const ProbePlan& plan, SampleHandler on_sample)
    : pid_(c.pid), on_sample_(std::move(on_sample)) {
    libbpf_set_print(silence_libbpf);
    raise_fd_limit();
    ncpus_ = libbpf_num_possible_cpus();
    if (ncpus_ < 1) ncpus_ = 1;

    skel_ = leakscope_bpf__open();
    if (!skel_) throw Error(Errc::AttachFailed, fmt::format("cannot open the BPF object: {}", strerror(errno)));
    skel_->rodata->target_tgid = static_cast<__u32>(c.pid);
    skel_->bss->py = c.offsets;
    skel_->rodata->types = c.types;
    skel_->rodata->runtime_addr = c.runtime_addr;
    // Exponential draws with mean sample_bytes at evenly spaced quantiles.
    for (int i = 0; i < 64; ++i) {
        double u = (i + 0.5) / 64.0;
        skel_->rodata->countdown_draws[i] = static_cast<__s64>(std::ceil(-std::log(u) * double(c.sample_bytes)));
    }
    bpf_map__set_max_entries(skel_->maps.stacks, c.stack_storage);
    bpf_map__set_max_entries(skel_->maps.live_objects, c.max_live);
    bpf_map__set_max_entries(skel_->maps.live_native, c.max_live);

    if (int err = leakscope_bpf__load(skel_)) {
        leakscope_bpf__destroy(skel_);
        throw Error(Errc::AttachFailed, fmt::format("the kernel refused leakscope's BPF programs: {}", strerror(-err)));
    }
    try {
        for (const auto& probe : plan.probes) attach(probe);
        ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.samples), handle_sample, &on_sample_, nullptr);
        if (!ring_) throw Error(Errc::AttachFailed, "cannot open the sample ring buffer");
    } catch (...) {
        for (auto* l : links_) bpf_link__destroy(l);
        leakscope_bpf__destroy(skel_);
        throw;
    }
}

Tracer::~Tracer() {
    if (ring_) ring_buffer__free(ring_);
    for (auto* l : links_) bpf_link__destroy(l);
    leakscope_bpf__destroy(skel_);
}

void Tracer::attach(const Probe& probe) {
    bpf_program* prog = program_for(skel_, probe.kind);
    bpf_link* link = nullptr;
    if (probe.kind == ProbeKind::UsdtGcStart || probe.kind == ProbeKind::UsdtGcDone) {
        const char* name = probe.kind == ProbeKind::UsdtGcStart ? "gc__start" : "gc__done";
        link = bpf_program__attach_usdt(prog, pid_, probe.binary.c_str(), "python", name, nullptr);
    } else {
        LIBBPF_OPTS(bpf_uprobe_opts, opts);
        opts.retprobe = probe.kind == ProbeKind::MallocReturn || probe.kind == ProbeKind::GcExit;
        opts.bpf_cookie = probe.cookie;
        link = bpf_program__attach_uprobe_opts(prog, pid_, probe.binary.c_str(), probe.file_offset, &opts);
    }
    if (!link) {
        int err = errno;
        if (err == ESRCH) throw Error(Errc::TargetExited, fmt::format("PID {} exited while probes were attached", pid_));
        throw Error(Errc::AttachFailed, fmt::format("cannot attach {} probe at {} in {}: {}",
                                                    probe_kind_name(probe.kind), probe.where, probe.binary,
                                                    strerror(err)));
    }
    links_.push_back(link);
}

void Tracer::poll(int timeout_ms) { ring_buffer__poll(ring_, timeout_ms); }

std::optional<ls_stack> Tracer::stack(uint64_t stack_id) const {
    ls_stack st{};
    if (bpf_map__lookup_elem(skel_->maps.stacks, &stack_id, sizeof stack_id, &st, sizeof st, 0)) return std::nullopt;
    return st;
}

std::optional<uint64_t> Tracer::live_seq(ls_family family, uint64_t addr) const {
    auto* map = family == LS_FAMILY_OBJECT ? skel_->maps.live_objects : skel_->maps.live_native;
    uint64_t seq = 0;
    if (bpf_map__lookup_elem(map, &addr, sizeof addr, &seq, sizeof seq, 0)) return std::nullopt;
    return seq;
}

void Tracer::forget(ls_family family, uint64_t addr) {
    auto* map = family == LS_FAMILY_OBJECT ? skel_->maps.live_objects : skel_->maps.live_native;
    bpf_map__delete_elem(map, &addr, sizeof addr, 0);
}

std::array<FamilyCounters, LS_FAMILY_COUNT> Tracer::family_counters() const {
    std::array<FamilyCounters, LS_FAMILY_COUNT> out{};
    std::vector<ls_family_stats> per_cpu(ncpus_);
    for (uint32_t f = 0; f < LS_FAMILY_COUNT; ++f) {
        if (bpf_map__lookup_elem(skel_->maps.family_stats, &f, sizeof f, per_cpu.data(),
                                 per_cpu.size() * sizeof(ls_family_stats), 0))
            continue;
        for (const auto& s : per_cpu) {
            out[f].events += s.events;
            out[f].bytes += s.bytes;
            out[f].samples += s.samples;
            out[f].reused += s.reused;
        }
    }
    return out;
}

std::array<uint64_t, LS_ERR_COUNT> Tracer::error_counters() const {
    std::array<uint64_t, LS_ERR_COUNT> out{};
    std::vector<uint64_t> per_cpu(ncpus_);
    for (uint32_t e = 0; e < LS_ERR_COUNT; ++e) {
        if (bpf_map__lookup_elem(skel_->maps.errors, &e, sizeof e, per_cpu.data(), per_cpu.size() * sizeof(uint64_t), 0))
            continue;
        for (uint64_t v : per_cpu) out[e] += v;
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
