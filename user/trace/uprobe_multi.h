// SPDX-License-Identifier: BSD-2-Clause
// Multi-uprobe links (BPF_TRACE_UPROBE_MULTI, Linux 6.6+) created with a raw
// BPF_LINK_CREATE: the libbpf this builds against predates them.
#pragma once

#include <bpf/bpf.h>
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>

namespace leakscope::trace {

// BPF_TRACE_UPROBE_MULTI in newer UAPI headers.
constexpr auto kAttachUprobeMulti = static_cast<enum bpf_attach_type>(48);

// One link attaching prog_fd at every file offset of path, for pid's tasks
// only, each with its BPF cookie. Returns the link fd, or -errno.
int create_uprobe_multi_link(int prog_fd, const std::string& path, std::span<const uint64_t> offsets,
                             std::span<const uint64_t> cookies, pid_t pid, bool retprobe);

}  // namespace leakscope::trace
