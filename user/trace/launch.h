// SPDX-License-Identifier: BSD-2-Clause
// `leakscope run`: start a command held under ptrace until its interpreter
// and C library are mapped, so probes are in place before the first Python
// instruction. The child is then released and runs untouched.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace leakscope::trace {

class LaunchedCommand {
public:
    // Forks and execs argv; returns once the interpreter and libc are mapped
    // (still stopped). Throws Error(NotPython) when the command exits or
    // exec's into something that never maps a Python interpreter.
    explicit LaunchedCommand(const std::vector<std::string>& argv);
    ~LaunchedCommand();  // kills a child that was never released
    LaunchedCommand(const LaunchedCommand&) = delete;
    LaunchedCommand& operator=(const LaunchedCommand&) = delete;

    pid_t pid() const { return pid_; }
    void release();  // detach: the command runs on
    // Non-blocking: true once the command has exited.
    bool exited();
    int wait();  // blocks until the command exits; returns its exit status (128 + signal when killed)

private:
    pid_t pid_ = -1;
    bool released_ = false;
    bool exited_ = false;
    int status_ = 0;
};

}  // namespace leakscope::trace
