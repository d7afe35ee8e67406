// SPDX-License-Identifier: BSD-2-Clause
// The BPF side's lifecycle for one target process: configure, load, attach
// the probe plan, drain samples, read counters, detach. Owning a Tracer means
// probes are attached; destroying it removes every one of them.
#pragma once

#include <sys/types.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "trace/heap.h"
#include "trace/probe_plan.h"

extern "C" {
#include "leakscope.h"
}

struct leakscope_bpf;
struct bpf_link;
struct bpf_program;
struct ring_buffer;

namespace leakscope::trace {

struct TracerConfig {
    pid_t pid = 0;
    ls_py_offsets offsets{};
    ls_type_offsets types{};
    uint64_t runtime_addr = 0;  // &_PyRuntime in the target
    uint64_t pool_bytes = 0;    // pymalloc's POOL_SIZE (0: pool refills not traced)
    uint64_t sample_bytes = 16 * 1024;
    uint32_t stack_storage = 16384;
    uint32_t max_live = 262144;
    uint32_t fault_period = 0;  // sample one page fault in this many (0: none)
    bool multi_uprobe = true;   // false: one perf event per probe, as kernels before 6.6 must
    bool allocation_probes = true;  // false: attached later, by set_allocation_probes
};

struct FamilyCounters {
    uint64_t events = 0, bytes = 0, samples = 0, reused = 0, sample_ns = 0;
};

struct GcPauses {
    uint64_t collections = 0, pause_ns = 0, max_pause_ns = 0;
};

// What the allocation programs have cost so far: hits and time spent in BPF
// (kernel run-time statistics), not counting the trap itself.
class Tracer : public LiveMaps {
public:
    using SampleHandler = std::function<void(const ls_sample&)>;

    // Loads the programs and attaches every probe of the plan. Throws
    // leakscope::Error(AttachFailed) naming the probe the kernel refused;
    // whatever was attached by then is detached again.
    Tracer(const TracerConfig& config, const ProbePlan& plan, SampleHandler on_sample);
    ~Tracer();
    Tracer(const Tracer&) = delete;
    Tracer& operator=(const Tracer&) = delete;

    // Waits up to timeout_ms for the ring to fill (samples wake this only
    // when an eighth of it waits), then delivers what is in it to the handler.
    void poll(int timeout_ms);

    std::optional<ls_stack> stack(uint64_t stack_id) const;
    // Return addresses of a native stack, innermost first (empty when gone).
    std::vector<uint64_t> native_stack(int32_t native_stack_id) const;
    // The seq a sampled address still has in the kernel's live map.
    std::optional<uint64_t> live_seq(ls_family family, uint64_t addr) const override;
    void forget(ls_family family, uint64_t addr) override;

    // Allocation probes on or off (GC probes stay); for duty-cycled tracing.
    void set_allocation_probes(bool on);
    bool allocation_probes() const { return allocation_on_; }
    // Mean bytes between samples, changeable while tracing.
    void set_sample_bytes(uint64_t sample_bytes);
    ProgramCost allocation_cost() const;
    // Sampled page faults: whether the kernel took the event, what the
    // program cost, and the faults counted per stack id.
    bool samples_faults() const { return !fault_links_.empty(); }
    ProgramCost fault_cost() const;
    std::vector<std::pair<uint64_t, uint64_t>> fault_sites() const;
    // pymalloc pool refills: attached from the start where the build has
    // them; detaching them is for good.
    ProgramCost pool_refill_cost() const;
    void detach_pool_refills();
    // What hits of an empty program on an emulated instruction cost here.
    ProbeFloor measure_probe_floors();

    std::array<FamilyCounters, LS_FAMILY_COUNT> family_counters() const;
    // The BPF side's error counters (the LS_ERRORS vocabulary), each with its
    // name and the remedy a report shows.
    struct ErrorCount {
        const char* name;
        uint64_t count;
        const char* remedy;
    };
    std::vector<ErrorCount> error_counters() const;
    GcPauses gc_pauses() const;
    size_t attached() const { return attached_; }

private:
    int open_and_load(const TracerConfig& config, bool multi);
    bpf_link* attach(const Probe& probe);  // one perf-event uprobe / USDT probe
    void attach_grouped(const std::vector<Probe>& probes);
    void sample_page_faults(uint32_t period);
    int attach_multi(ProbeKind kind, const std::string& binary, const std::vector<const Probe*>& probes,
                     bpf_program* prog, pid_t pid);
    void detach_all();
    void teardown();
    std::string held_path(const std::string& binary) const;

    pid_t pid_;
    leakscope_bpf* skel_ = nullptr;
    std::vector<bpf_link*> links_;
    std::vector<bpf_link*> fault_links_;  // one page-fault perf event per CPU
    std::vector<int> multi_links_;        // GC (always on)
    std::vector<int> pool_links_;         // pool refills
    std::vector<bpf_link*> pool_perf_links_;  // the same, one perf event each, without multi-uprobe links
    std::vector<int> allocation_links_;   // allocation probes (duty-cycled)
    std::vector<bpf_link*> allocation_perf_links_;  // the same, one perf event each, without multi-uprobe links
    std::vector<Probe> allocation_plan_;
    bool allocation_on_ = false;
    bool multi_ = false;
    size_t attached_ = 0;
    int stats_fd_ = -1;
    std::map<std::string, int> binary_fds_;  // plan path -> open descriptor
    ring_buffer* ring_ = nullptr;
    SampleHandler on_sample_;
    int ncpus_ = 1;
};

}  // namespace leakscope::trace
