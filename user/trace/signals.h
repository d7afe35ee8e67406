// SPDX-License-Identifier: BSD-2-Clause
// SIGINT, SIGTERM and SIGHUP end a session cleanly: the loop sees the signal,
// writes the final report and detaches everything.
#pragma once

namespace leakscope::trace {

void install_stop_signals();

// The signal that asked to stop, 0 while none has.
int stop_signal();

}  // namespace leakscope::trace
