// SPDX-License-Identifier: BSD-2-Clause
#include "trace/signals.h"

#include <signal.h>

#include <atomic>

namespace leakscope::trace {
namespace {

std::atomic<int> g_stop_signal{0};

void on_stop_signal(int sig) { g_stop_signal = sig; }

}  // namespace

void install_stop_signals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
}

int stop_signal() { return g_stop_signal; }

}  // namespace leakscope::trace
