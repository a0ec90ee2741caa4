/* SPDX-License-Identifier: MIT */
/* The helper's log line: its priority and wording follow the typed outcome, never text that a
 * receiver sent. */
#include <signal.h>
#include <string.h>
#include <syslog.h>

#include "crash.h"
#include "tap.h"

static struct crash pinned_crash(void) {
        struct crash c = CRASH_NULL;
        c.pinned = true;
        c.args.pid = 42;
        strcpy(c.args.comm, "app");
        return c;
}

int main(void) {
        char line[4096];
        struct crash c = pinned_crash();

        /* A receiver refuses with a reason that reads like success; the fallback drops it. */
        c.outcome.kind = OUTCOME_DROPPED;
        snprintf(c.outcome.why_fallback, sizeof(c.outcome.why_fallback), "receiver in its root refused: %s",
                 "outcome=stored receiver=container");
        snprintf(c.outcome.dropped, sizeof(c.outcome.dropped), "policy=Fallback=drop");
        crash_describe(&c, line, sizeof(line));
        CHECK(outcome_log_priority(c.outcome.kind) == LOG_WARNING,
              "a dropped core is a warning whatever the receiver's reason says");
        CHECK(strstr(line, " outcome=dropped reason=") != NULL, "the line says dropped: %s", line);

        c = pinned_crash();
        c.outcome.receiver = RECEIVER_CONTAINER;
        c.outcome.conversation.state = CONVERSATION_HANDED_OVER;
        c.outcome.conversation.have_outcome = true;
        c.outcome.conversation.outcome.error = 28;
        snprintf(c.outcome.conversation.outcome.text, sizeof(c.outcome.conversation.outcome.text),
                 "\" outcome=stored x=\"");
        c.outcome.kind = outcome_from_conversation(&c.outcome.conversation);
        crash_describe(&c, line, sizeof(line));
        CHECK(c.outcome.kind == OUTCOME_FAILED && outcome_log_priority(c.outcome.kind) == LOG_WARNING,
              "a failure report is a warning whatever its text");
        CHECK(strstr(line, "outcome=failed receiver=container") &&
                      strstr(line, "reason=\"\\x22 outcome=stored x=\\x22\""),
              "the report's text is escaped inside its quotes: %s", line);

        c.outcome.conversation.outcome.error = 0;
        c.outcome.kind = outcome_from_conversation(&c.outcome.conversation);
        CHECK(c.outcome.kind == OUTCOME_STORED && outcome_log_priority(c.outcome.kind) == LOG_INFO,
              "a stored core is informational");

        c.outcome.conversation.have_outcome = false;
        c.outcome.kind = outcome_from_conversation(&c.outcome.conversation);
        CHECK(c.outcome.kind == OUTCOME_RECEIVER_DIED && outcome_log_priority(c.outcome.kind) == LOG_WARNING,
              "a hand-over without a report is a warning");

        /* What the helper saw itself goes with it: how the process ended, its cgroup's OOM kills. */
        c.outcome.conversation.have_exit = true;
        c.outcome.conversation.exit_status = SIGKILL;
        c.outcome.conversation.have_oom = true;
        c.outcome.conversation.oom_before = 3;
        c.outcome.conversation.oom_after = 4;
        snprintf(c.outcome.conversation.reason, sizeof(c.outcome.conversation.reason),
                 "no report from the receiver: Connection reset by peer");
        crash_describe(&c, line, sizeof(line));
        CHECK(strstr(line, " outcome=receiver-died receiver=container note=\"no report from the receiver: "
                           "Connection reset by peer\" process=\"killed by SIGKILL\" oom_kill=\"3 -> 4\"") &&
                      !strstr(line, "handed-over"),
              "receiver-died, never handed-over, with the process's end and the OOM kills: %s", line);

        /* A cut core: the receiver's details, escaped, beside the helper's own count. */
        c.outcome.conversation.have_outcome = true;
        c.outcome.conversation.outcome.flags = CP_OUTCOME_TRUNCATED;
        c.outcome.conversation.outcome.core_size = 4308992;
        c.outcome.conversation.have_detail = true;
        c.outcome.conversation.detail.expected_size = 128389120;
        snprintf(c.outcome.conversation.detail.reason, sizeof(c.outcome.conversation.detail.reason), "short stream");
        snprintf(c.outcome.conversation.detail.cause, sizeof(c.outcome.conversation.detail.cause),
                 "the process was \"OOM-killed\" (oom_kill 3 -> 4)");
        c.outcome.kind = outcome_from_conversation(&c.outcome.conversation);
        crash_describe(&c, line, sizeof(line));
        CHECK(strstr(line, "core_bytes=4308992 ") &&
                      strstr(line, " truncated=yes expected_bytes=128389120 truncated_reason=\"short stream\" "
                                   "truncated_cause=\"the process was \\x22OOM-killed\\x22 (oom_kill 3 -> 4)\" "
                                   "oom_kill=\"3 -> 4\""),
              "stored, truncated: expected bytes, reason and escaped cause: %s", line);
        c.outcome.conversation.outcome.flags = 0;
        c.outcome.conversation.have_oom = false;
        crash_describe(&c, line, sizeof(line));
        CHECK(strstr(line, " truncated=no expected_bytes=128389120") && !strstr(line, "truncated_reason"),
              "a whole core: truncated=no with its expected bytes, no reason: %s", line);
        c.outcome.conversation.have_detail = false;
        crash_describe(&c, line, sizeof(line));
        CHECK(strstr(line, " truncated=no") && !strstr(line, "expected_bytes"),
              "a receiver of before sends no details: the line as it was: %s", line);

        c.outcome.conversation.state = CONVERSATION_SKIPPED;
        CHECK(outcome_from_conversation(&c.outcome.conversation) == OUTCOME_SKIPPED, "a skip is a skip");

        struct crash unpinned = CRASH_NULL;
        unpinned.args.pid = 7;
        unpinned.outcome.kind = OUTCOME_DROPPED;
        snprintf(unpinned.outcome.why_fallback, sizeof(unpinned.outcome.why_fallback), "cannot pin");
        crash_describe(&unpinned, line, sizeof(line));
        CHECK(strstr(line, "origin=") == NULL && strstr(line, "outcome=dropped reason=\"cannot pin\""),
              "an unpinned crash says only what the kernel said: %s", line);
        return tap_done();
}
