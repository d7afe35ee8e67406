// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/freeze.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "core/error.h"

namespace leakscope::snapshot {
namespace {

constexpr int kStopPolls = 200;  // of 5 ms: how long to wait for every thread to stop

// Every thread of the target is in state T (stopped) or gone.
bool all_stopped(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t close = text.rfind(')');
    return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'T';
}

// The watchdog: waits for leakscope's end of the pipe to close, however
// leakscope ends, then resumes the target.
[[noreturn]] void watchdog(pid_t target, int read_fd) {
    setsid();  // out of leakscope's process group: a Ctrl-C there does not reach it
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) signal(sig, SIG_IGN);
    char byte;
    while (read(read_fd, &byte, 1) > 0) {
    }
    kill(target, SIGCONT);
    _exit(0);
}

}  // namespace

FreezeGuard::FreezeGuard(pid_t target) : target_(target) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw Error(Errc::Internal, "--freeze: cannot create the watchdog pipe");
    watchdog_ = fork();
    if (watchdog_ < 0) throw Error(Errc::Internal, "--freeze: cannot fork the watchdog");
    if (watchdog_ == 0) {
        close(fds[1]);
        watchdog(target, fds[0]);
    }
    close(fds[0]);
    pipe_fd_ = fds[1];
    if (kill(target_, SIGSTOP) != 0)
        throw Error(Errc::TargetExited, "--freeze: cannot stop process " + std::to_string(target_));
    stopped_ = true;
    since_ = std::chrono::steady_clock::now();
    for (int i = 0; i < kStopPolls && !all_stopped(target_); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

std::chrono::duration<double> FreezeGuard::resume() {
    std::chrono::duration<double> frozen{0};
    if (stopped_) {
        kill(target_, SIGCONT);
        frozen = std::chrono::steady_clock::now() - since_;
        stopped_ = false;
    }
    if (pipe_fd_ >= 0) {
        close(pipe_fd_);  // the watchdog resumes the target once more and exits
        pipe_fd_ = -1;
        waitpid(watchdog_, nullptr, 0);
    }
    return frozen;
}

FreezeGuard::~FreezeGuard() { resume(); }

}  // namespace leakscope::snapshot
