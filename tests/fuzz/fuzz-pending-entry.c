/* SPDX-License-Identifier: MIT */
/* An upload queue entry (receiver/pending.c), read back from a store that whoever is root in the
 * container may write: any bytes are taken or refused, and what is taken names a core of the
 * store, never a path, and writes back to the same entry. */
#include "fuzz.h"
#include "pending.h"

#include <errno.h>

static struct pending_entry e, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > PENDING_ENTRY_MAX + 1)
                return 0;
        /* Not terminated: the parser must stay within size. */
        char *copy = malloc(size ? size : 1);
        if (!copy)
                abort();
        memcpy(copy, data, size);
        int r = pending_entry_parse(copy, size, &e);
        FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r == 0) {
                FUZZ_ASSERT(strncmp(e.core, "core.", 5) == 0 && !strchr(e.core, '/') && !strstr(e.core, ".."));
                FUZZ_ASSERT(strncmp(e.core, e.stem, strlen(e.stem)) == 0 && e.n_done <= UPLOAD_URLS_MAX);
                FUZZ_ASSERT(strlen(e.last_error) < sizeof(e.last_error));
                char *text = pending_entry_to_json(&e);
                FUZZ_ASSERT(text && pending_entry_parse(text, strlen(text), &again) == 0);
                FUZZ_ASSERT(strcmp(again.core, e.core) == 0 && again.attempts == e.attempts &&
                            again.next_usec == e.next_usec && again.n_done == e.n_done);
                free(text);
        }
        free(copy);
        return 0;
}
