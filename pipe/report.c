/* SPDX-License-Identifier: MIT */
/*
 * The one host log line per crash: who crashed (head), then what became of the core (outcome).
 * Every piece of text that the crashed process, its container or a receiver could shape is
 * escaped; the wording and the priority follow the typed outcome only.
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "crash.h"
#include "fate.h"
#include "parse.h"

enum outcome_kind outcome_from_conversation(const struct conversation *c) {
        switch (c->state) {
        case CONVERSATION_SKIPPED:
                return OUTCOME_SKIPPED;
        case CONVERSATION_HANDED_OVER:
                if (!c->have_outcome)
                        return OUTCOME_RECEIVER_DIED;
                return c->outcome.error == 0 ? OUTCOME_STORED : OUTCOME_FAILED;
        default:
                return OUTCOME_FAILED;
        }
}

int outcome_log_priority(enum outcome_kind kind) {
        return kind == OUTCOME_STORED || kind == OUTCOME_SKIPPED ? LOG_INFO : LOG_WARNING;
}

static const char *receiver_name(enum receiver_kind r) {
        switch (r) {
        case RECEIVER_CONTAINER:
                return "container";
        case RECEIVER_HOST:
                return "host";
        case RECEIVER_FALLBACK:
                return "fallback";
        default:
                return "none";
        }
}

static void describe_head(const struct crash *c, char *out, size_t size) {
        const struct kernel_args *a = &c->args;
        const struct crashed_process *p = &c->proc;
        char comm[4 * KERNEL_COMM_MAX + 8];

        escape_for_log(a->comm, strlen(a->comm), comm, sizeof(comm));
        /* The kernel's coredump socket carries no signal (before Linux 6.19): said, never 0. */
        char signal[48];
        if (c->kernel)
                snprintf(signal, sizeof(signal), "signal=unknown transport=socket");
        else
                snprintf(signal, sizeof(signal), "signal=%u", a->signal);
        if (!c->pinned) {
                snprintf(out, size, "pid=%d comm=\"%s\" uid=%u gid=%u %s", (int) a->pid, comm, a->uid, a->gid, signal);
                return;
        }
        char container[256] = "", id[4 * sizeof(p->container.id) + 8];
        if (p->container.runtime[0]) {
                /* Parsed out of a path the container may shape: escaped like everything else. */
                escape_for_log(p->container.id, strlen(p->container.id), id, sizeof(id));
                snprintf(container, sizeof(container), " container=\"%s:%s\"%s%s", p->container.runtime, id,
                         p->container.pod_uid[0] ? " pod=" : "", p->container.pod_uid);
        }
        snprintf(out, size,
                 "pid=%d comm=\"%s\" uid=%u gid=%u %s origin=%s ct=%s mntns=%llu root=\"%s\" cgroup=\"%s\"%s",
                 (int) a->pid, comm, a->uid, a->gid, signal, p->root_is_ours ? "host" : "container", p->container_key,
                 (unsigned long long) p->mntns, p->root_path, p->cgroup, container);
}

/* A stored core's details from the receiver (a receiver of before sends none): its expected length
 * and, when cut, why. The receiver's text is escaped like everything it sends. */
static void append_detail(const struct conversation *c, char *out, size_t size) {
        char reason[4 * CP_DETAIL_REASON_MAX + 8], cause[4 * CP_DETAIL_CAUSE_MAX + 8];
        size_t n = strlen(out);
        if (!c->have_detail)
                return;
        if (c->detail.expected_size > 0) {
                snprintf(out + n, size - n, " expected_bytes=%llu", (unsigned long long) c->detail.expected_size);
                n = strlen(out);
        }
        if (!(c->outcome.flags & CP_OUTCOME_TRUNCATED))
                return;
        escape_for_log(c->detail.reason, strlen(c->detail.reason), reason, sizeof(reason));
        escape_for_log(c->detail.cause, strlen(c->detail.cause), cause, sizeof(cause));
        snprintf(out + n, size - n, " truncated_reason=\"%s\"%s%s%s", reason, cause[0] ? " truncated_cause=\"" : "",
                 cause, cause[0] ? "\"" : "");
}

/* The crash's signature from the receiver's backtrace (receivers of before, and one that made
 * none, send none), and for a repeat of a crash loop its count and that no core was kept. */
static void append_trace(const struct conversation *c, char *out, size_t size) {
        char sig[4 * CP_TRACE_SIGNATURE_MAX + 8];
        size_t n = strlen(out);
        if (!c->have_trace)
                return;
        escape_for_log(c->trace.signature, strlen(c->trace.signature), sig, sizeof(sig));
        snprintf(out + n, size - n, " signature=%s", sig);
        n = strlen(out);
        if (c->trace.flags & CP_TRACE_REPEAT)
                snprintf(out + n, size - n, " repeat=%u kept=%u core=%s", c->trace.nth, c->trace.kept,
                         c->trace.flags & CP_TRACE_CORE_REMOVED ? "removed" : "kept");
}

/* The helper's own reading of the crashed process's memory cgroup's OOM kill counter, from before
 * the receiver was asked to after the core: on a cut core and on a receiver that died. */
static void append_oom(const struct conversation *c, char *out, size_t size) {
        size_t n = strlen(out);
        if (c->have_oom)
                snprintf(out + n, size - n, " oom_kill=\"%llu -> %llu\"%s", (unsigned long long) c->oom_before,
                         (unsigned long long) c->oom_after,
                         c->oom_after > c->oom_before ? " oom=\"its memory cgroup's OOM killer struck during the dump\""
                                                      : "");
}

/* A receiver that took the core and sent no report: what the helper saw itself of the crashed
 * process (its end, its memory cgroup's OOM kills meanwhile). */
static void append_fate(const struct conversation *c, char *out, size_t size) {
        char how[96];
        size_t n = strlen(out);
        if (c->have_exit) {
                describe_exit_status(c->exit_status, how, sizeof(how));
                snprintf(out + n, size - n, " process=\"%s\"", how);
        }
        append_oom(c, out, size);
}

/* What the receiver said or did, in the words of the outcome kind. */
static void describe_conversation(const struct crash_outcome *o, char *out, size_t size) {
        const struct conversation *c = &o->conversation;
        const char *where = receiver_name(o->receiver);
        char reason[4 * CP_TEXT_MAX + 8], text[4 * CP_TEXT_MAX + 8];

        escape_for_log(c->reason, strlen(c->reason), reason, sizeof(reason));
        escape_for_log(c->outcome.text, strlen(c->outcome.text), text, sizeof(text));
        switch (o->kind) {
        case OUTCOME_SKIPPED:
                snprintf(out, size, "outcome=skipped receiver=%s reason=\"%s\"", where, reason);
                break;
        case OUTCOME_RECEIVER_DIED:
                snprintf(out, size, "outcome=receiver-died receiver=%s note=\"%s\"", where, reason);
                append_fate(c, out, size);
                break;
        case OUTCOME_STORED:
                snprintf(out, size,
                         "outcome=stored receiver=%s file=\"%s\" core_bytes=%llu stored_bytes=%llu truncated=%s", where,
                         text, (unsigned long long) c->outcome.core_size, (unsigned long long) c->outcome.stored_size,
                         c->outcome.flags & CP_OUTCOME_TRUNCATED ? "yes" : "no");
                append_detail(c, out, size);
                append_trace(c, out, size);
                append_oom(c, out, size);
                break;
        default:
                if (c->have_outcome)
                        snprintf(out, size, "outcome=failed receiver=%s error=\"%s\" reason=\"%s\"", where,
                                 strerror(c->outcome.error), text);
                else
                        snprintf(out, size, "outcome=failed receiver=%s reason=\"%s\"", where, reason);
                break;
        }
        if (c->interrupted) {
                size_t n = strlen(out);
                snprintf(out + n, size - n, " interrupted=\"%s\"", c->interruption);
        }
}

static void describe_outcome(const struct crash_outcome *o, char *out, size_t size) {
        char why[sizeof(o->why_fallback)];
        /* why_fallback holds a receiver's reason text already escaped where it quotes one. */
        snprintf(why, sizeof(why), "%s", o->why_fallback);
        if (o->kind == OUTCOME_DROPPED) {
                snprintf(out, size, "outcome=dropped reason=\"%s\"%s%s", why, o->dropped[0] ? " " : "", o->dropped);
                return;
        }
        describe_conversation(o, out, size);
        if (o->receiver == RECEIVER_FALLBACK) {
                size_t n = strlen(out);
                snprintf(out + n, size - n, " dir=\"%s\" why=\"%s\"%s", o->fallback_dir, why,
                         o->fallback_killed ? " fallback_killed=\"no report in time\"" : "");
        }
}

void crash_describe(const struct crash *c, char *out, size_t size) {
        char head[1024], outcome[2048];
        describe_head(c, head, sizeof(head));
        describe_outcome(&c->outcome, outcome, sizeof(outcome));
        snprintf(out, size, "%s %s", head, outcome);
}
