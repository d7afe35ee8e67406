// SPDX-License-Identifier: BSD-2-Clause
// A report with every section filled, shared by the reporter tests.
#pragma once

#include "report/build.h"
#include "report/report.h"

namespace leakscope::report {

inline Report sample_report() {
    Report r;
    r.target = {4242, "3.11.7", "/usr/bin/python3.11"};
    r.mode = "trace";
    r.start_unix_s = 1796194800;
    r.elapsed_s = 14;
    r.interval = 7;
    r.final = true;
    r.memory = {100u << 20, 90u << 20, 50u << 20};

    Site cache;
    cache.site_id = 0xabc;
    cache.frames = {{"app/cache.py", 42, "remember"}, {"app/views.py", 10, "handle"}, {"app/main.py", 3, "<module>"}};
    cache.live_bytes = 1200000;
    cache.live_objects = 9000;
    cache.delta_bytes = 100000;
    cache.delta_objects = 700;
    cache.alloc_bytes = 1300000;
    cache.alloc_objects = 9800;
    cache.free_bytes = 100000;
    cache.free_objects = 800;
    cache.trend = "leak";
    Site buffers;
    buffers.site_id = 0xdef;
    buffers.frames = {{"app/io.py", 7, "read"}};
    buffers.live_bytes = 800000;
    buffers.delta_bytes = -5000;
    buffers.trend = "stable";
    r.top_sites = {cache, buffers};

    Suspect s;
    s.site_id = 0xabc;
    s.verdict = "leak";
    s.score = 0.8123456;
    s.live_bytes = 1200000;
    s.live_objects = 9000;
    s.growth_bytes_per_s = 85000;
    s.frames = cache.frames;
    s.evidence.readings = 8;
    s.evidence.window_s = 14;
    s.evidence.intervals = 7;
    s.evidence.grew_intervals = 7;
    s.evidence.growth_bytes = 1190000;
    s.evidence.r2 = 0.998;
    s.evidence.trend_tau = 1;
    s.evidence.trend_z = 3.3;
    s.evidence.recent_growth_bytes_per_s = 84000;
    s.evidence.earlier_growth_bytes_per_s = 86000;
    s.evidence.full_collections = 3;
    s.evidence.full_collections_survived = 3;
    s.evidence.survived_full_gc_bytes = 1000000;
    s.evidence.growth_running_share = 0.125;
    s.explanation = explain(s);
    s.history = {{2, 10000}, {4.5, 400000}, {14, 1200000}};
    s.held_by = {"__main__.SESSIONS", "__main__.Cache.entries"};
    r.suspects = {s};

    r.intervals = {{2, 100000, 50, 10, 6400, 640, 90u << 20, 40u << 20}, {4, 200000, 60, 12, 7000, 700, 91u << 20, 41u << 20}};
    r.profile = {{cache.site_id, cache.frames, cache.live_bytes, cache.live_objects, cache.alloc_bytes, cache.alloc_objects},
                 {buffers.site_id, buffers.frames, buffers.live_bytes, 10, 900000, 12},
                 {0x123, {{"app/views.py", 12, "handle"}, {"app/main.py", 3, "<module>"}}, 0, 0, 5000, 50},
                 {0x456, {}, 4096, 1, 4096, 1}};
    r.gc.observed = true;
    r.gc.enabled = true;
    r.gc.generations = {{120, 4567, 0}, {11, 300, 0}, {3, 20, 1}};
    r.gc.pauses = GcPauses{134, 24.75, 3.5};
    r.gc.old_generation_objects = 12345;
    r.gc.full_collections = 3;
    r.drops = {{"LIVE_MAP_FULL", 12, "live-allocation table full; raise --max-live or --sample-bytes"},
               {"STACK_TRUNCATED", 0, "stacks deeper than 128 frames were cut; outer frames are missing"}};
    r.growth = Growth{64, 150, 150u * 64 * 4096,
                      {{cache.frames, 120, 120u * 64 * 4096, ""},
                       {{}, 30, 30u * 64 * 4096, "no Python frame running: the interpreter starting"}}};
    r.pools = Pools{16384, 310, 200, 200u * 16384,
                    {{64, 210, 195, 195u * 16384,
                      {{cache.frames, 150, ""}, {{}, 60, "no Python frame running: the interpreter starting"}}},
                     {32, 100, 5, 5u * 16384, {}}},
                    8.5};
    r.sampling = {65536, 123456};
    r.overhead = {40000, 0.5, 3.2, 2.0, 850, 2100, 0.25, {"sampling lowered to one stack per 32.0 KiB"}};
    return r;
}

}  // namespace leakscope::report
