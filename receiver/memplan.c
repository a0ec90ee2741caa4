/* SPDX-License-Identifier: MIT */
#include "memplan.h"

#include <errno.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_estimateCCtxSize_usingCParams(), in libzstd since 1.3 */
#include <zstd.h>

#include "macro.h"

#define KIB ((size_t) 1 << 10)
#define MIB ((size_t) 1 << 20)
/* What every plan charges besides its buffers: thread stacks and their malloc arenas, the
 * core's notes and record, the libraries' own state, and room for the kernel's pipe buffers
 * should the helper grow the pipe after we looked. */
#define MEM_PLAN_FIXED (2 * MIB)

static const struct {
        int workers;
        size_t chunk, stage, window;
} steps[MEM_PLAN_STEPS] = {
        {0, 0, 1 * MIB, 4 * MIB}, /* as configured (0: the configured value) */
        {2, 1 * MIB, 1 * MIB, 2 * MIB},
        {1, 256 * KIB, 256 * KIB, 512 * KIB},
        {1, 64 * KIB, 64 * KIB, 128 * KIB},
};

static int log2_ceil(size_t v) {
        int k = 0;
        while (k < 30 && ((size_t) 1 << k) < v)
                k++;
        return k;
}

struct mem_plan mem_plan_step(unsigned step, int workers, size_t chunk_size, int level) {
        step = MIN(step, (unsigned) MEM_PLAN_STEPS - 1);
        struct mem_plan p = {
                .workers = steps[step].workers ? MIN(workers, steps[step].workers) : workers,
                .chunk_size = steps[step].chunk ? MIN(chunk_size, steps[step].chunk) : chunk_size,
                .stage_size = steps[step].stage,
                .writeback_window = steps[step].window,
                .step = step,
        };
        p.workers = MAX(p.workers, 1);
        p.window_log = MAX(log2_ceil(p.chunk_size), ZSTD_WINDOWLOG_MIN);
        ZSTD_compressionParameters cp = ZSTD_getCParams(level, p.chunk_size, 0);
        cp.windowLog = (unsigned) MIN((int) cp.windowLog, p.window_log);
        uint64_t slot = p.chunk_size + ZSTD_compressBound(p.chunk_size);
        p.need = ((uint64_t) p.workers + 2) * slot + (uint64_t) p.workers * ZSTD_estimateCCtxSize_usingCParams(cp) +
                 p.stage_size + 2 * (uint64_t) p.writeback_window + MEM_PLAN_FIXED;
        return p;
}

int mem_plan_choose(uint64_t headroom, int workers, size_t chunk_size, int level, struct mem_plan *ret) {
        struct mem_plan p = {0};
        for (unsigned s = 0; s < MEM_PLAN_STEPS; s++) {
                p = mem_plan_step(s, workers, chunk_size, level);
                if (p.need <= headroom) {
                        *ret = p;
                        return 0;
                }
        }
        *ret = p;
        return -ENOBUFS;
}
