/* SPDX-License-Identifier: MIT */
#include "jsontext.h"

#include <errno.h>
#include <stdbool.h>
#include <json-c/json.h>

void json_putp(struct json_object **o) {
        if (*o)
                json_object_put(*o);
        *o = NULL;
}

int json_object_from_text(const char *text, size_t len, int max_depth, struct json_object **ret) {
        struct json_tokener *tok = json_tokener_new_ex(max_depth);
        if (!tok)
                return -ENOMEM;
        struct json_object *o = json_tokener_parse_ex(tok, text, (int) len);
        enum json_tokener_error err = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        bool ok = o && err == json_tokener_success && json_object_is_type(o, json_type_object);
        for (size_t i = end; ok && i < len; i++)
                ok = text[i] == ' ' || text[i] == '\t' || text[i] == '\n';
        if (!ok) {
                json_putp(&o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}
