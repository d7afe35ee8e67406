// SPDX-License-Identifier: BSD-2-Clause
#include "core/preflight.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace leakscope::preflight {
namespace {

// Bit numbers from linux/capability.h.
constexpr int kCapSysPtrace = 19;
constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

uint64_t effective_caps() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("CapEff:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
    return 0;
}

bool has(uint64_t caps, int bit) { return caps & (1ull << bit); }

bool exists(const char* path) {
    struct stat st;
    return stat(path, &st) == 0;
}

}  // namespace

void check_process(pid_t pid) {
    if (kill(pid, 0) != 0 && errno == ESRCH)
        throw Error(Errc::NoSuchProcess, fmt::format("no process with PID {}", pid));
}

void check_can_read(pid_t pid) {
    if (has(effective_caps(), kCapSysPtrace)) return;
    struct stat st;
    if (stat(fmt::format("/proc/{}", pid).c_str(), &st) == 0 && st.st_uid == geteuid()) return;
    throw Error(Errc::Permission,
                fmt::format("cannot read PID {}: it belongs to another user; run leakscope as root "
                            "(or with CAP_SYS_PTRACE)", pid));
}

void check_can_trace() {
    uint64_t caps = effective_caps();
    std::vector<std::string> missing;
    bool admin = has(caps, kCapSysAdmin);
    if (!admin && !has(caps, kCapBpf)) missing.push_back("CAP_BPF");
    if (!admin && !has(caps, kCapPerfmon)) missing.push_back("CAP_PERFMON");
    if (!has(caps, kCapSysPtrace)) missing.push_back("CAP_SYS_PTRACE");
    if (missing.empty()) return;
    if (geteuid() != 0)
        throw Error(Errc::Permission,
                    fmt::format("leakscope needs root to attach probes (missing {}): run it with sudo",
                                fmt::join(missing, ", ")));
    throw Error(Errc::Permission,
                fmt::format("missing capabilities {}: run leakscope with full root privileges",
                            fmt::join(missing, ", ")));
}

void check_kernel() {
    if (!exists("/sys/kernel/btf/vmlinux"))
        throw Error(Errc::KernelSupport,
                    "no kernel BTF (/sys/kernel/btf/vmlinux is missing): leakscope needs a kernel "
                    "built with CONFIG_DEBUG_INFO_BTF=y");
    if (!exists("/sys/bus/event_source/devices/uprobe/type"))
        throw Error(Errc::KernelSupport,
                    "uprobes are not supported by this kernel (no uprobe PMU in "
                    "/sys/bus/event_source/devices): leakscope needs CONFIG_UPROBE_EVENTS=y");
}

}  // namespace leakscope::preflight
