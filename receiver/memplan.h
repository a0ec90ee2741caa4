/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * How much memory the store of one core may take, sized to the headroom of the receiver's
 * memory cgroup (memcg.h). The store's memory is fixed whatever the size of the core: (workers +
 * 2) chunks with room for their frames, a zstd context per worker, the O_DIRECT staging buffer,
 * and where the file system refuses O_DIRECT, the page cache of two writeback windows. With
 * little headroom the store uses fewer workers and smaller chunks (smaller zstd frames and
 * window, a few percent larger cores and a slower dump); below the smallest plan's need no
 * complete core can be stored in the cgroup without pushing it over its limit, where the OOM
 * killer would pick the process being dumped.
 */

#include <stddef.h>
#include <stdint.h>

struct mem_plan {
        int workers;             /* compressing threads */
        size_t chunk_size;       /* uncompressed bytes per zstd frame */
        size_t stage_size;       /* the O_DIRECT staging buffer */
        size_t writeback_window; /* without O_DIRECT: bytes of page cache per writeback step */
        int window_log;          /* zstd's window: log2 of the chunk */
        uint64_t need;           /* bytes the store may charge with this plan, margin included */
        unsigned step;           /* 0: as configured; each step is smaller */
};

#define MEM_PLAN_STEPS 4

/*
 * The largest plan within headroom, from the configured workers and chunk size (step 0) down to
 * one worker with 64 KiB chunks: 0, or -ENOBUFS when not even the smallest fits (ret is then the
 * smallest, whose need says what was missing). level is the zstd level (its contexts' size).
 */
int mem_plan_choose(uint64_t headroom, int workers, size_t chunk_size, int level, struct mem_plan *ret);

/* Plan number step (0 .. MEM_PLAN_STEPS-1) for the configured workers and chunk size. */
struct mem_plan mem_plan_step(unsigned step, int workers, size_t chunk_size, int level);
