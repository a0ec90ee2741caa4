/* SPDX-License-Identifier: MIT */
/*
 * The upload engine's parsers of untrusted text: Upload= URLs and S3Endpoint= (settings a
 * container's image may carry), object name templates and the values put into them (a crashed
 * process's comm and hostname are attacker text), the credentials file, and S3's XML replies
 * (a server's words). Each is bounded and fuzzed (tests/fuzz/fuzz-upload.c); none logs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "macro.h"
#include "upload-internal.h"

static const struct {
        const char *prefix;
        enum upload_scheme scheme;
} schemes[] = {
        {"s3://", UPLOAD_S3},     {"ftp://", UPLOAD_FTP},     {"ftps://", UPLOAD_FTPS},
        {"sftp://", UPLOAD_SFTP}, {"https://", UPLOAD_HTTPS}, {"http://", UPLOAD_HTTP},
};

#define URL_EXPECT                                                                                                     \
        "s3://BUCKET[/PREFIX], ftp://, ftps://, sftp://, https:// or http://[USER@]HOST[:PORT][/PATH] (path of "       \
        "A-Z a-z 0-9 . _ ~ - and /; no password: it belongs in the credentials)"

const char *upload_scheme_name(enum upload_scheme s) {
        for (size_t i = 0; i < ELEMENTSOF(schemes); i++)
                if (schemes[i].scheme == s)
                        return schemes[i].prefix;
        return "?";
}

static bool is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 3986's unreserved characters: the same in a URL, S3's canonical request and a file name. */
static bool is_unreserved(char c) {
        return is_alnum(c) || c == '.' || c == '_' || c == '~' || c == '-';
}

static int parse_port(const char *s, size_t len) {
        if (len == 0 || len > 5)
                return -EINVAL;
        unsigned v = 0;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        return v >= 1 && v <= 65535 ? 0 : -EINVAL;
}

/* host[:port], host a name or an IPv4 address or [IPv6]. */
static int check_hostport(const char *s, size_t len) {
        size_t i = 0;
        if (len > 0 && s[0] == '[') {
                for (i = 1; i < len && s[i] != ']'; i++)
                        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
                              (s[i] >= 'A' && s[i] <= 'F') || s[i] == ':' || s[i] == '.'))
                                return -EINVAL;
                if (i >= len || i == 1)
                        return -EINVAL;
                i++;
        } else {
                for (; i < len && s[i] != ':'; i++)
                        if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
                                return -EINVAL;
                if (i == 0 || i > 253)
                        return -EINVAL;
        }
        if (i == len)
                return 0;
        if (s[i] != ':')
                return -EINVAL;
        return parse_port(s + i + 1, len - i - 1);
}

/* S3's bucket names: 3..63 of a-z 0-9 . -, starting and ending with a letter or digit. */
static int check_bucket(const char *s, size_t len) {
        if (len < 3 || len > 63 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-'))
                        return -EINVAL;
        return 0;
}

/* Copies the path without its leading and trailing "/" and with empty segments dropped; refuses
 * "." and ".." segments and anything but unreserved characters and "/". */
static int copy_path(const char *s, char *out, size_t size) {
        size_t n = 0;
        while (*s) {
                while (*s == '/')
                        s++;
                size_t seg = strcspn(s, "/");
                if (seg == 0)
                        break;
                if ((seg == 1 && s[0] == '.') || (seg == 2 && s[0] == '.' && s[1] == '.'))
                        return -EINVAL;
                for (size_t i = 0; i < seg; i++)
                        if (!is_unreserved(s[i]))
                                return -EINVAL;
                if (n + (n > 0) + seg + 1 > size)
                        return -EINVAL;
                if (n > 0)
                        out[n++] = '/';
                memcpy(out + n, s, seg);
                n += seg;
                s += seg;
        }
        out[n] = '\0';
        return 0;
}

static int split_user(const char *auth, size_t len, struct upload_target *t, size_t *ret_skip) {
        const char *at = memchr(auth, '@', len);
        *ret_skip = 0;
        if (!at)
                return 0;
        size_t ulen = (size_t) (at - auth);
        if (memchr(auth, ':', ulen) || memchr(at + 1, '@', len - ulen - 1))
                return -EINVAL;
        if (ulen == 0 || ulen >= sizeof(t->user))
                return -EINVAL;
        for (size_t i = 0; i < ulen; i++)
                if (!is_unreserved(auth[i]) && auth[i] != '+')
                        return -EINVAL;
        memcpy(t->user, auth, ulen);
        t->user[ulen] = '\0';
        *ret_skip = ulen + 1;
        return 0;
}

int upload_target_parse(const char *url, struct upload_target *ret, const char **ret_expect) {
        struct upload_target t = {0};
        const char *rest = NULL;
        for (size_t i = 0; i < ELEMENTSOF(schemes) && !rest; i++)
                if (strncasecmp(url, schemes[i].prefix, strlen(schemes[i].prefix)) == 0) {
                        t.scheme = schemes[i].scheme;
                        rest = url + strlen(schemes[i].prefix);
                }
        if (!rest || strlen(url) >= 1024)
                goto invalid;
        size_t alen = strcspn(rest, "/");
        size_t skip;
        if (split_user(rest, alen, &t, &skip) < 0)
                goto invalid;
        const char *host = rest + skip;
        size_t hlen = alen - skip;
        if (t.scheme == UPLOAD_S3 ? (skip > 0 || check_bucket(host, hlen) < 0) : check_hostport(host, hlen) < 0)
                goto invalid;
        if (hlen >= sizeof(t.host))
                goto invalid;
        memcpy(t.host, host, hlen);
        if (copy_path(rest + alen, t.path, sizeof(t.path)) < 0)
                goto invalid;
        *ret = t;
        return 0;
invalid:
        if (ret_expect)
                *ret_expect = URL_EXPECT;
        return -EINVAL;
}

int upload_url_check(const char *url, const char **ret_expect) {
        struct upload_target t;
        return upload_target_parse(url, &t, ret_expect);
}

int upload_endpoint_check(const char *endpoint, const char **ret_expect) {
        static const char expect[] = "http://HOST[:PORT] or https://HOST[:PORT], no path, no user";
        const char *host = NULL;
        if (endpoint[0] == '\0')
                return 0;
        if (strncasecmp(endpoint, "https://", 8) == 0)
                host = endpoint + 8;
        else if (strncasecmp(endpoint, "http://", 7) == 0)
                host = endpoint + 7;
        size_t len = host ? strlen(host) : 0;
        if (len > 0 && host[len - 1] == '/')
                len--;
        if (!host || len >= 256 || check_hostport(host, len) < 0) {
                if (ret_expect)
                        *ret_expect = expect;
                return -EINVAL;
        }
        return 0;
}

int upload_target_object_path(const struct upload_target *t, const char *name, char *out, size_t size) {
        int n = snprintf(out, size, "%s%s%s", t->path, t->path[0] ? "/" : "", name);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

int upload_target_object_url(const struct upload_target *t, const char *name, char *out, size_t size) {
        int n = snprintf(out, size, "%s%s/%s%s%s", upload_scheme_name(t->scheme), t->host, t->path,
                         t->path[0] ? "/" : "", name);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

/* ---- object names ---- */

#define NAME_EXPECT                                                                                                    \
        "text of A-Z a-z 0-9 . _ - and / with {container} {hostname} {file} {comm} {pid} {signal} {time} {date} "      \
        "{boot_id} {machine_id}; no leading /, no .."

static const char *const name_fields[] = {
        "container", "hostname", "file", "comm", "pid", "signal", "time", "date", "boot_id", "machine_id",
};

static int field_index(const char *s, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(name_fields); i++)
                if (strlen(name_fields[i]) == len && memcmp(name_fields[i], s, len) == 0)
                        return (int) i;
        return -EINVAL;
}

/* Writes field i's value, made safe, to out (at least 130 bytes). */
static void field_value(int i, const struct upload_name_fields *f, char *out, size_t size) {
        const char *texts[] = {f->container, f->hostname, f->file, f->comm};
        const char *text = NULL;
        struct tm tm;
        time_t secs = (time_t) (f->time_usec / USEC_PER_SEC);
        switch (i) {
        case 4:
                snprintf(out, size, "%" PRIu64, f->pid);
                return;
        case 5:
                snprintf(out, size, "%" PRIu32, f->signal);
                return;
        case 6:
                snprintf(out, size, "%" PRIu64, (uint64_t) (f->time_usec / USEC_PER_SEC));
                return;
        case 7:
                if (!gmtime_r(&secs, &tm) || strftime(out, size, "%Y-%m-%d", &tm) == 0)
                        snprintf(out, size, "unknown");
                return;
        case 8:
                text = f->boot_id;
                break;
        case 9:
                text = f->machine_id;
                break;
        default:
                text = texts[i];
        }
        size_t n = 0;
        for (; text && text[n] && n < MIN(size - 1, (size_t) 128); n++)
                out[n] = (is_alnum(text[n]) || text[n] == '.' || text[n] == '_' || text[n] == '-') ? text[n] : '_';
        out[n] = '\0';
        if (n == 0)
                snprintf(out, size, "unknown");
        else if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
                snprintf(out, size, "_");
}

/* Renders (or, with f NULL, only checks) the template into out. */
static int render_name(const char *tpl, const struct upload_name_fields *f, char *out, size_t size) {
        size_t n = 0;
        for (const char *p = tpl; *p;) {
                char value[160];
                const char *piece = value;
                size_t plen;
                if (*p == '{') {
                        const char *end = strchr(p, '}');
                        int i = end ? field_index(p + 1, (size_t) (end - p - 1)) : -EINVAL;
                        if (i < 0)
                                return -EINVAL;
                        if (f)
                                field_value(i, f, value, sizeof(value));
                        else
                                snprintf(value, sizeof(value), "x");
                        plen = strlen(value);
                        p = end + 1;
                } else {
                        if (!is_alnum(*p) && *p != '.' && *p != '_' && *p != '-' && *p != '/')
                                return -EINVAL;
                        piece = p++;
                        plen = 1;
                }
                if (n + plen >= size)
                        return -ENAMETOOLONG;
                memcpy(out + n, piece, plen);
                n += plen;
        }
        out[n] = '\0';
        return (int) n;
}

/* Drops empty segments in place; refuses "." and ".." segments, a leading "/" and nothing. */
static int normalize_name(char *s) {
        if (s[0] == '/')
                return -EINVAL;
        char *w = s;
        for (char *p = s; *p;) {
                size_t seg = strcspn(p, "/");
                if ((seg == 1 && p[0] == '.') || (seg == 2 && p[0] == '.' && p[1] == '.') || seg > 255)
                        return -EINVAL;
                if (seg > 0) {
                        if (w != s)
                                *w++ = '/';
                        memmove(w, p, seg);
                        w += seg;
                }
                p += seg;
                if (*p == '/')
                        p++;
        }
        *w = '\0';
        return w == s ? -EINVAL : 0;
}

int upload_name_check(const char *template, const char **ret_expect) {
        char buf[1024];
        int r = template[0] == '\0' ? 0 : render_name(template, NULL, buf, sizeof(buf));
        if (r >= 0 && template[0] != '\0')
                r = normalize_name(buf);
        if (r < 0 && ret_expect)
                *ret_expect = NAME_EXPECT;
        return r < 0 ? -EINVAL : 0;
}

int upload_object_name(const char *template, const struct upload_name_fields *f, char *out, size_t size) {
        char buf[1024];
        if (!template || template[0] == '\0')
                template = UPLOAD_NAME_TEMPLATE_DEFAULT;
        int r = render_name(template, f, buf, sizeof(buf));
        if (r < 0)
                return r == -ENAMETOOLONG && size < sizeof(buf) ? -ENAMETOOLONG : r;
        r = normalize_name(buf);
        if (r < 0)
                return r;
        if (strlen(buf) >= size)
                return -ENAMETOOLONG;
        memcpy(out, buf, strlen(buf) + 1);
        return 0;
}

/* ---- the credentials text ---- */

static char *credential_field(struct upload_credentials *c, const char *key, size_t len, size_t *ret_size) {
        static const struct {
                const char *name;
                size_t offset, size;
        } keys[] = {
#define KEY(n, f) {n, offsetof(struct upload_credentials, f), sizeof(((struct upload_credentials *) 0)->f)}
                KEY("AWS_ACCESS_KEY_ID", access_key),       KEY("AWS_SECRET_ACCESS_KEY", secret_key),
                KEY("AWS_SESSION_TOKEN", session_token),    KEY("UPLOAD_USER", user),
                KEY("UPLOAD_PASSWORD", password),           KEY("UPLOAD_SSH_KEY", ssh_key),
                KEY("UPLOAD_SSH_KNOWN_HOSTS", known_hosts), KEY("UPLOAD_CA_FILE", ca_file),
#undef KEY
        };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strlen(keys[i].name) == len && memcmp(keys[i].name, key, len) == 0) {
                        *ret_size = keys[i].size;
                        return (char *) c + keys[i].offset;
                }
        return NULL;
}

static int credentials_line(const char *line, size_t len, struct upload_credentials *c, const char **ret_why) {
        while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
                len--;
        size_t lead = 0;
        while (lead < len && (line[lead] == ' ' || line[lead] == '\t'))
                lead++;
        if (lead == len || line[lead] == '#')
                return 0;
        const char *eq = memchr(line, '=', len);
        size_t field_size;
        char *field = eq ? credential_field(c, line + lead, (size_t) (eq - line) - lead, &field_size) : NULL;
        if (!field) {
                *ret_why = eq ? "not a known key" : "not KEY=VALUE";
                return -EINVAL;
        }
        size_t vlen = len - (size_t) (eq + 1 - line);
        for (size_t i = 0; i < vlen; i++)
                if ((unsigned char) eq[1 + i] < 0x20 || eq[1 + i] == 0x7f) {
                        *ret_why = "a control character in the value";
                        return -EINVAL;
                }
        if (vlen >= field_size) {
                *ret_why = "value too long";
                return -EINVAL;
        }
        memcpy(field, eq + 1, vlen);
        field[vlen] = '\0';
        return 0;
}

int upload_credentials_parse(const char *text, size_t len, struct upload_credentials *c, char *err, size_t size) {
        unsigned lineno = 0;
        for (size_t pos = 0; pos < len;) {
                const char *nl = memchr(text + pos, '\n', len - pos);
                size_t llen = nl ? (size_t) (nl - (text + pos)) : len - pos;
                const char *why = NULL;
                lineno++;
                if (credentials_line(text + pos, llen, c, &why) < 0) {
                        snprintf(err, size, "line %u: %s", lineno, why);
                        return -EINVAL;
                }
                pos += llen + 1;
        }
        return 0;
}

void upload_text_mask(char *text, const char *needle) {
        size_t n = strlen(needle), len = strlen(text);
        if (n == 0)
                return;
        for (char *p = strstr(text, needle); p; p = strstr(p + n, needle))
                memset(p, '*', n);
        /* A text cut in the middle of a secret keeps no start of it either. */
        for (size_t k = MIN(n - 1, len); k >= MIN((size_t) 4, n) && k > 0; k--)
                if (memcmp(text + len - k, needle, k) == 0) {
                        memset(text + len - k, '*', k);
                        break;
                }
}

void upload_credentials_scrub(const struct upload_credentials *c, char *text) {
        const char *secrets[] = {c->secret_key, c->session_token, c->password, c->access_key};
        for (size_t i = 0; i < ELEMENTSOF(secrets); i++)
                upload_text_mask(text, secrets[i]);
}

/* ---- S3's XML replies ---- */

static const char *find_mem(const char *hay, size_t len, const char *needle) {
        size_t n = strlen(needle);
        for (size_t i = 0; n <= len && i <= len - n; i++)
                if (memcmp(hay + i, needle, n) == 0)
                        return hay + i;
        return NULL;
}

static size_t xml_entity(const char *s, size_t len, char *ret_c) {
        static const struct {
                const char *name;
                char c;
        } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        for (size_t i = 0; i < ELEMENTSOF(ents); i++) {
                size_t n = strlen(ents[i].name);
                if (n <= len && memcmp(s, ents[i].name, n) == 0) {
                        *ret_c = ents[i].c;
                        return n;
                }
        }
        return 0;
}

int upload_xml_value(const char *xml, size_t len, const char *tag, char *out, size_t size) {
        char open[80], close[80];
        if (strlen(tag) > 64 || size == 0)
                return -EINVAL;
        snprintf(open, sizeof(open), "<%s>", tag);
        snprintf(close, sizeof(close), "</%s>", tag);
        const char *start = find_mem(xml, len, open);
        if (!start)
                return -ENOENT;
        start += strlen(open);
        const char *end = find_mem(start, len - (size_t) (start - xml), close);
        if (!end)
                return -EBADMSG;
        size_t n = 0;
        for (const char *p = start; p < end;) {
                char c = *p;
                size_t used = 1;
                if (c == '<')
                        return -EBADMSG; /* a nested element: not a value */
                if (c == '&' && (used = xml_entity(p, (size_t) (end - p), &c)) == 0)
                        return -EBADMSG;
                if (n + 1 >= size)
                        return -ENAMETOOLONG;
                out[n++] = ((unsigned char) c < 0x20 || c == 0x7f) ? '?' : c;
                p += used;
        }
        out[n] = '\0';
        return 0;
}

bool upload_xml_root_is(const char *xml, size_t len, const char *name) {
        size_t i = 0, n = strlen(name);
        while (i < len && (xml[i] == ' ' || xml[i] == '\n' || xml[i] == '\r' || xml[i] == '\t'))
                i++;
        if (i + 5 <= len && memcmp(xml + i, "<?xml", 5) == 0) {
                const char *end = find_mem(xml + i, len - i, "?>");
                if (!end)
                        return false;
                i = (size_t) (end - xml) + 2;
                while (i < len && (xml[i] == ' ' || xml[i] == '\n' || xml[i] == '\r' || xml[i] == '\t'))
                        i++;
        }
        return i + 1 + n <= len && xml[i] == '<' && memcmp(xml + i + 1, name, n) == 0 &&
               (i + 1 + n == len || xml[i + 1 + n] == '>' || xml[i + 1 + n] == ' ');
}

bool upload_xml_is_error(const char *xml, size_t len) {
        return upload_xml_root_is(xml, len, "Error");
}
