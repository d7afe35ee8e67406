// SPDX-License-Identifier: BSD-2-Clause
// Checks run before anything is attached. Each failure is one clear line.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace leakscope::preflight {

// A file a command will write, and the option that named it.
struct OutputPath {
    std::string option;  // "--json"
    std::string path;
};

// Each path can be written (created, or an existing file opened for writing);
// nothing is truncated and a file created to find out is removed again.
void check_writable(const std::vector<OutputPath>& paths);

// Reading another process's memory needs CAP_SYS_PTRACE unless the target runs
// as the same user, and its memory map must be readable: says why when not.
void check_can_read(pid_t pid);

// Why /proc/PID/maps cannot be read although leakscope has CAP_SYS_PTRACE
// (another user namespace, Yama, a security module): one clause.
std::string why_unreadable(pid_t pid);

// trace/run: BPF and uprobes need root or CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE
// (CAP_SYS_ADMIN stands in for the first two).
void check_can_trace();

// Kernel BTF (CO-RE) and the uprobe PMU.
void check_kernel();

// The PID exists.
void check_process(pid_t pid);

}  // namespace leakscope::preflight
