/* SPDX-License-Identifier: MIT */
#include "policy.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "macro.h"

static bool decide(struct verdict *v, uint32_t verdict, int level, const char *reason, const char *note) {
        v->verdict = verdict;
        v->level = level;
        snprintf(v->reason, sizeof(v->reason), "%s", reason);
        snprintf(v->note, sizeof(v->note), "%s", note);
        v->verb = "Refusing the core of";
        return true;
}

/*
 * Less headroom in our memory cgroup than the smallest store needs: storing would push the
 * cgroup over its limit, and its OOM killer would pick the largest task, the process being
 * dumped, cutting its core. Refused before the first byte, so that the host's fallback (which
 * may run where memory is to spare, FallbackCgroup=) takes the core whole. The fallback itself
 * never refuses for memory: nothing comes after it, and a core it stores with its smallest
 * buffers is more than none.
 */
static bool refuse_for_memory(const struct crash_facts *f, struct verdict *ret) {
        char reason[CP_TEXT_MAX + 1];
        if (!f->memory_short || f->fallback)
                return false;
        snprintf(reason, sizeof(reason), "memory: %.1f MiB of headroom in the cgroup, %.1f MiB needed",
                 (double) f->memory_headroom / (1 << 20), (double) f->memory_need / (1 << 20));
        return decide(ret, CP_VERDICT_REFUSE, LOG_WARNING, reason, reason);
}

bool policy_before_store(const struct crash_facts *f, struct verdict *ret) {
        /* A privileged dump (suid_dumpable=2) is for host root's eyes only: only the host's
         * fallback receiver stores one. The helper never forwards it; this is the second wall. */
        if (f->dump_mode != 1 && !f->fallback) {
                char reason[64];
                snprintf(reason, sizeof(reason), "privileged dump (dump mode %u) is not forwarded", f->dump_mode);
                return decide(ret, CP_VERDICT_REFUSE, LOG_WARNING, reason, reason);
        }
        /* The kernel does not apply RLIMIT_CORE to a pipe: the receiver does. */
        if (f->core_limit == 0)
                return decide(ret, CP_VERDICT_SKIP, LOG_INFO, "RLIMIT_CORE is 0, no core stored",
                              "RLIMIT_CORE is 0 (ulimit -c 0), so no core was stored");
        if (f->storage == STORAGE_NONE && !f->streaming)
                return decide(ret, CP_VERDICT_SKIP, LOG_INFO, "Storage=none: cores are not kept",
                              "Storage=none, so no core was stored");
        return refuse_for_memory(f, ret);
}

void policy_streaming(struct verdict *ret) {
        decide(ret, CP_VERDICT_SEND, LOG_INFO, "", "");
}

void policy_with_store(const struct store_facts *s, struct verdict *ret) {
        char reason[CP_TEXT_MAX + 1], note[CP_TEXT_MAX + 64];

        /* A store we cannot use: the host's fallback policy applies. */
        if (s->open_error < 0) {
                if (s->open_note && s->open_note[0])
                        snprintf(reason, sizeof(reason), "%s", s->open_note);
                else
                        snprintf(reason, sizeof(reason), "store %s unavailable: %s", s->store,
                                 strerror(-s->open_error));
                decide(ret, CP_VERDICT_REFUSE, LOG_ERR, reason, reason);
                ret->verb = "Cannot store core of";
                return;
        }
        /* A crash loop must not fill the store nor the host's: skipped, and logged. */
        if (s->over_rate) {
                snprintf(reason, sizeof(reason), "rate limit: %u cores in the last %llus (MaxCoresPerInterval=%u)",
                         s->recent, (unsigned long long) (s->interval_usec / USEC_PER_SEC), s->max_per_interval);
                snprintf(note, sizeof(note), "core not stored: %s", reason);
                decide(ret, CP_VERDICT_SKIP, LOG_WARNING, reason, note);
                return;
        }
        /* Not a byte fits within KeepFree=: refused before the first byte, so that the host's
         * fallback policy applies instead of a core cut to nothing. */
        if (s->no_room) {
                snprintf(reason, sizeof(reason), "store full: %llu bytes free, KeepFree=%llu",
                         (unsigned long long) s->free_bytes, (unsigned long long) s->keep_free);
                snprintf(note, sizeof(note), "%s in %s", reason, s->store);
                decide(ret, CP_VERDICT_REFUSE, LOG_ERR, reason, note);
                return;
        }
        decide(ret, CP_VERDICT_SEND, LOG_INFO, "", "");
}
