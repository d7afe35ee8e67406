// SPDX-License-Identifier: BSD-2-Clause
#include "core/preflight.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/text.h"

namespace leakscope::preflight {
namespace {

// Bit numbers from linux/capability.h.
constexpr int kCapSysPtrace = 19;
constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

// A capability set ("CapEff", "CapPrm") from /proc/PID/status; nullopt when unreadable.
std::optional<uint64_t> caps_of(const std::string& pid, const char* field) {
    std::ifstream status("/proc/" + pid + "/status");
    const std::string key = std::string(field) + ":";
    for (std::string line; std::getline(status, line);)
        if (line.rfind(key, 0) == 0) return std::stoull(line.substr(key.size()), nullptr, 16);
    return std::nullopt;
}

uint64_t effective_caps() { return caps_of("self", "CapEff").value_or(0); }

// Outside the initial user namespace uid 0 maps to something narrower than all uids.
bool in_child_user_namespace() {
    std::ifstream map("/proc/self/uid_map");
    uint64_t inner = 1, outer = 1, count = 0;
    map >> inner >> outer >> count;
    return !(inner == 0 && outer == 0 && count == 4294967295u);
}

std::string first_line(const char* path) {
    std::ifstream f(path);
    std::string line;
    std::getline(f, line);
    return line;
}

void check_writable(const OutputPath& o) {
    auto fail = [&](const std::string& why) {
        throw Error(Errc::Io, fmt::format("cannot write {} {}: {}", o.option, quote_short(o.path, 200), why));
    };
    struct stat st;
    if (stat(o.path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) fail("it is a directory");
        int fd = open(o.path.c_str(), O_WRONLY | O_APPEND | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) fail(std::strerror(errno));
        close(fd);
        return;
    }
    if (errno != ENOENT) fail(std::strerror(errno));
    int fd = open(o.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) fail(std::strerror(errno));
    close(fd);
    unlink(o.path.c_str());  // written for real once the trace ends
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

void check_writable(const std::vector<OutputPath>& paths) {
    for (const auto& p : paths) check_writable(p);
}

void check_can_read(pid_t pid) {
    const bool ptrace_cap = has(effective_caps(), kCapSysPtrace);
    struct stat st;
    const bool same_user = stat(fmt::format("/proc/{}", pid).c_str(), &st) == 0 && st.st_uid == geteuid();
    if (!ptrace_cap && !same_user)
        throw Error(Errc::Permission,
                    fmt::format("cannot read PID {}: it belongs to another user; run leakscope as root "
                                "(or with CAP_SYS_PTRACE)", pid));
    const std::string maps = fmt::format("/proc/{}/maps", pid);
    int fd = open(maps.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return;
    }
    if (errno == ENOENT || errno == ESRCH) throw Error(Errc::NoSuchProcess, fmt::format("no process with PID {}", pid));
    if (!ptrace_cap) return;  // same user: the maps check below explains it the usual way
    throw Error(Errc::Permission, fmt::format("cannot read {}: {}", maps, why_unreadable(pid)));
}

std::string why_unreadable(pid_t pid) {
    if (in_child_user_namespace())
        return fmt::format("leakscope runs in a user namespace (a container) and PID {} is outside it; "
                           "run leakscope from the host", pid);
    const std::string id = std::to_string(pid);
    auto theirs = caps_of(id, "CapPrm"), ours = caps_of("self", "CapPrm");
    if (theirs && ours && (*theirs & ~*ours))
        return fmt::format("PID {} holds capabilities leakscope lacks ({:#x}), so the kernel refuses even root",
                           pid, *theirs & ~*ours);
    if (first_line("/proc/sys/kernel/yama/ptrace_scope") == "3")
        return "ptrace is disabled on this host (kernel.yama.ptrace_scope = 3)";
    return fmt::format("the kernel refuses access to PID {} even with CAP_SYS_PTRACE (a security module "
                       "such as SELinux or AppArmor protects it)", pid);
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
