/* SPDX-License-Identifier: MIT */
/* The helper's log line: its priority and wording follow the typed outcome, never text that a
 * receiver sent. */
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
