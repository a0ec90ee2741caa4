/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Whether a crash's core is taken: the receiver's answer to the helper before a byte of the core
 * is read. Pure functions of facts the connection code gathered (no I/O, no logging), so that the
 * rules can be read in one place and tested alone.
 *
 * Two stages, because looking at the store has a cost and a side effect (the rate limit counts
 * an admitted crash): policy_before_store() decides from the crash alone; only when it leaves the
 * crash open is the store consulted and policy_with_store() decides.
 */

#include <stdbool.h>
#include <stdint.h>

#include "protocol.h"
#include "settings.h"

struct crash_facts {
        bool fallback;       /* this receiver is the host's fallback */
        uint32_t dump_mode;  /* 1 = normal, 2 = suid_dumpable "root only" */
        uint64_t core_limit; /* the crashed process's RLIMIT_CORE */
        enum storage_mode storage;
        bool streaming; /* Storage=none with Upload=: the core goes to the targets, not the store */
        /* The receiver's memory cgroup (memcg.h, memplan.h): its headroom, and what the smallest
         * store needs (memory_short: more than the headroom). */
        bool memory_short;
        uint64_t memory_headroom;
        uint64_t memory_need;
};

struct store_facts {
        int open_error;        /* opening the store failed (negative errno), else 0 */
        const char *open_note; /* with open_error: why, naming the path, owner and mode ("" if not known) */
        const char *store;     /* its path, for the reason */
        bool over_rate;        /* MaxCoresPerInterval= reached */
        unsigned recent;       /* cores admitted within Interval= */
        uint64_t interval_usec;
        unsigned max_per_interval;
        bool no_room;        /* not one block fits within KeepFree= */
        uint64_t free_bytes; /* with no_room: what the file system has free */
        uint64_t keep_free;  /* with no_room: KeepFree= resolved */
};

struct verdict {
        uint32_t verdict;             /* CP_VERDICT_SEND, _SKIP or _REFUSE */
        int level;                    /* syslog level of the crash's log line */
        char reason[CP_TEXT_MAX + 1]; /* what the helper hears and logs */
        /* The receiver's own log line: for a skip, what follows "crashed with signal N; "; for a
         * refusal, "<verb> pid N (comm): <note>". */
        char note[CP_TEXT_MAX + 64];
        const char *verb;
};

/* True when the crash is decided without the store: *ret is the verdict. */
bool policy_before_store(const struct crash_facts *f, struct verdict *ret);

/* The verdict of a streamed core (Storage=none + Upload=), after policy_before_store() returned
 * false: there is no store to consult (nor its rate limit, which lives in the store). */
void policy_streaming(struct verdict *ret);

/* The verdict once the store's facts are known (after policy_before_store() returned false). */
void policy_with_store(const struct store_facts *s, struct verdict *ret);
