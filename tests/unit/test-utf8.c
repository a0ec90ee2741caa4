/* SPDX-License-Identifier: MIT */
/* Records are valid UTF-8 JSON whatever bytes the crashed process and its container chose. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "tap.h"
#include "utf8.h"

static bool made_valid(const char *in, size_t len, const char *want, size_t want_len) {
        size_t n;
        char *out = utf8_make_valid(in, len, &n);
        bool ok = out && n == want_len && memcmp(out, want, n) == 0 && utf8_is_valid(out, n);
        free(out);
        return ok;
}

#define R UTF8_REPLACEMENT

static void test_sequences(void) {
        CHECK(made_valid("crasher", 7, "crasher", 7), "ASCII is copied unchanged");
        CHECK(made_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xa5", 14, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xa5",
                         14),
              "valid two, three and four byte sequences are copied unchanged");
        CHECK(made_valid("a\xff"
                         "b",
                         3, "a" R "b", 5),
              "0xff becomes U+FFFD");
        CHECK(made_valid("\xc3", 1, R, 3), "a sequence cut at the end becomes U+FFFD");
        CHECK(made_valid("\xc3(", 2, R "(", 4), "a lead byte without its continuation: only it is replaced");
        CHECK(made_valid("\x80\xbf", 2, R R, 6), "stray continuation bytes each become U+FFFD");
        CHECK(made_valid("\xc0\xaf", 2, R R, 6), "an overlong '/' (C0 AF) is not a slash");
        CHECK(made_valid("\xe0\x80\xaf", 3, R R R, 9), "an overlong three byte sequence is replaced");
        CHECK(made_valid("\xed\xa0\x80", 3, R R R, 9), "a surrogate (U+D800) is replaced");
        CHECK(made_valid("\xf4\x90\x80\x80", 4, R R R R, 12), "above U+10FFFF is replaced");
        CHECK(made_valid("\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf", 4), "U+10FFFF itself is kept");
        CHECK(made_valid("a\0b", 3, "a\0b", 3), "NUL is copied (the length says where the text ends)");
        CHECK(made_valid("", 0, "", 0), "empty stays empty");
        CHECK(!utf8_is_valid("\xc3\xa9\xff", 3) && utf8_is_valid("\xc3\xa9", 2), "utf8_is_valid");
}

/* The record of a crash whose every text is hostile, parsed back by json-c with its UTF-8 check. */
static void test_record(void) {
        static char cmdline[] = "/bin/\xff\xfe\0--name=\xc3\0\xe2\x82\0";
        static char maps[] = "00400000-00401000 r-xp 00000000 08:01 1 /usr/bin/\xc3(x\n"
                             "00401000-00402000 r--p 00000000 08:01 1 /lib/\xed\xa0\x80.so\n";
        struct core_metadata m = {.pid = 7, .signal = 11, .core_limit = UINT64_MAX};
        memcpy(m.comm,
               "\xff\xc3"
               "bad\x80",
               6);
        memcpy(m.hostname, "host\xfe\xc0\xaf", 8);
        m.exe = (char *) "/usr/bin/\xc3(x";
        m.cwd = (char *) "/tmp/\xf8\x88\x80\x80\x80";
        m.cmdline = cmdline;
        m.cmdline_len = sizeof(cmdline) - 1;
        m.maps = maps;
        m.maps_len = sizeof(maps) - 1;
        m.cgroup = (char *) "0::/sys\xff.slice/x.scope\n";
        struct store_result res = {.truncated = true, .truncated_reason = "KeepFree"};
        struct record_info info = {.core_file = "core.x", .handled_by = "host-fallback", .result = &res};
        char *json = record_to_json(&m, &info);
        CHECK(json != NULL, "a record is made");
        if (!json)
                return;
        CHECK(utf8_is_valid(json, strlen(json)), "the record is valid UTF-8");
        struct json_tokener *tok = json_tokener_new();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        struct json_object *o = json_tokener_parse_ex(tok, json, (int) strlen(json));
        CHECK(o && json_tokener_get_error(tok) == json_tokener_success, "json-c parses it, validating UTF-8");
        struct json_object *v;
        CHECK(o && json_object_object_get_ex(o, "comm", &v) && strcmp(json_object_get_string(v), R R "bad" R) == 0,
              "comm keeps its ASCII, each bad byte is U+FFFD");
        CHECK(o && json_object_object_get_ex(o, "hostname", &v) && strcmp(json_object_get_string(v), "host" R R R) == 0,
              "hostname likewise");
        CHECK(o && json_object_object_get_ex(o, "cmdline", &v) && json_object_array_length(v) == 3 &&
                      strcmp(json_object_get_string(json_object_array_get_idx(v, 1)), "--name=" R) == 0,
              "each argument of the command line is made valid on its own");
        json_object_put(o);
        json_tokener_free(tok);
        free(json);
}

int main(void) {
        test_sequences();
        test_record();
        return tap_done();
}
