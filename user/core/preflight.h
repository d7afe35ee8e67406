// SPDX-License-Identifier: BSD-2-Clause
// Checks run before anything is attached. Each failure is one clear line.
#pragma once

#include <sys/types.h>

namespace leakscope::preflight {

// dump: reading another process's memory needs CAP_SYS_PTRACE unless the
// target runs as the same user.
void check_can_read(pid_t pid);

// trace/run: BPF and uprobes need root or CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE
// (CAP_SYS_ADMIN stands in for the first two).
void check_can_trace();

// Kernel BTF (CO-RE) and the uprobe PMU.
void check_kernel();

// The PID exists.
void check_process(pid_t pid);

}  // namespace leakscope::preflight
