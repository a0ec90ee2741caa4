/* SPDX-License-Identifier: MIT */
#include "backtrace.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"

#ifndef CORE_PIPE_NO_BACKTRACE
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#define NOTE_PACKAGE_TYPE 0xcafe1a7eu /* "FDO" .note.package: the packaging metadata as JSON */
#define PACKAGE_JSON_MAX 4096
#define MODULE_IN_FRAMES ((void *) 1) /* a Dwfl_Module's userdata: some frame is in it */

struct unwind {
        Dwfl *dwfl;
        const struct stack_capture *cap;
        struct backtrace *bt;
        size_t max_frames, max_threads;
        uint64_t deadline; /* CLOCK_MONOTONIC usec */
        bool timed_out;
        uint64_t offline_at; /* from then on, no more debuginfod queries */
        bool offline;
        int error;                /* ENOMEM while filling */
        struct bt_thread *thread; /* the one being unwound */
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void set_error(struct backtrace *b, const char *fmt, ...) _printf_(2, 3);
static void set_error(struct backtrace *b, const char *fmt, ...) {
        if (b->error[0])
                return; /* the first reason is the one that matters */
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->error, sizeof(b->error), fmt, ap);
        va_end(ap);
}

/* strdup of a string that may be NULL; *failed is set when memory ran out. */
static char *dup_or_null(const char *s, int *error) {
        if (!s)
                return NULL;
        char *d = strdup(s);
        if (!d)
                *error = -ENOMEM;
        return d;
}

static void build_id_hex(Dwfl_Module *mod, char out[41]) {
        const unsigned char *bits;
        GElf_Addr vaddr;
        int n = dwfl_module_build_id(mod, &bits, &vaddr);
        out[0] = '\0';
        for (int i = 0; i < n && i < 20; i++)
                snprintf(out + 2 * i, 3, "%02x", bits[i]);
}

/* ---- frames ---- */

static struct bt_frame *new_frame(struct unwind *u, uint64_t pc) {
        struct bt_thread *t = u->thread;
        if (t->n_frames >= u->max_frames) {
                t->cut = true;
                return NULL;
        }
        if (t->n_frames % 16 == 0) {
                struct bt_frame *f = realloc(t->frames, (t->n_frames + 16) * sizeof(*f));
                if (!f) {
                        u->error = -ENOMEM;
                        return NULL;
                }
                t->frames = f;
        }
        struct bt_frame *f = &t->frames[t->n_frames++];
        *f = (struct bt_frame){.pc = pc};
        return f;
}

/* The module's part of a frame: its path, build-id and pc's offset from its start. */
static void frame_module(struct unwind *u, struct bt_frame *f, Dwfl_Module *mod, uint64_t pc) {
        Dwarf_Addr start = 0;
        void **userdata = NULL;
        const char *name = dwfl_module_info(mod, &userdata, &start, NULL, NULL, NULL, NULL, NULL);
        if (userdata)
                *userdata = MODULE_IN_FRAMES; /* module_cb may then ask for its DWARF: no new lookup */
        f->module = dup_or_null(name, &u->error);
        f->module_offset = pc - start;
        build_id_hex(mod, f->build_id);
}

/* The file name of a DW_AT_call_file index in the DIE's unit. */
static const char *call_file(Dwarf_Die *cu, Dwarf_Die *die) {
        Dwarf_Attribute attr;
        Dwarf_Word idx;
        Dwarf_Files *files;
        size_t n;
        if (!dwarf_attr(die, DW_AT_call_file, &attr) || dwarf_formudata(&attr, &idx) != 0 ||
            dwarf_getsrcfiles(cu, &files, &n) != 0 || idx >= n)
                return NULL;
        return dwarf_filesrc(files, idx, NULL, NULL);
}

static int call_line(Dwarf_Die *die) {
        Dwarf_Attribute attr;
        Dwarf_Word line;
        if (!dwarf_attr(die, DW_AT_call_line, &attr) || dwarf_formudata(&attr, &line) != 0 || line > INT32_MAX)
                return 0;
        return (int) line;
}

/*
 * The inlined functions at pc, innermost first, each a frame of its own (as gdb and eu-stack
 * show them); returns the frame of the function they were inlined into (the symbol's), whose
 * file and line are the outermost call site, or NULL when memory or the frame cap ran out.
 */
static struct bt_frame *inline_frames(struct unwind *u, struct bt_frame *f, Dwfl_Module *mod, uint64_t pc_adj,
                                      const char **file, int *line) {
        Dwarf_Addr bias;
        Dwarf_Die *cu = dwfl_module_addrdie(mod, pc_adj, &bias);
        Dwarf_Die *scopes = NULL;
        int n = cu ? dwarf_getscopes(cu, pc_adj - bias, &scopes) : 0;
        for (int i = 0; i < n && f; i++) {
                if (dwarf_tag(&scopes[i]) != DW_TAG_inlined_subroutine)
                        continue;
                f->function = dup_or_null(dwarf_diename(&scopes[i]), &u->error);
                f->file = dup_or_null(*file, &u->error);
                f->line = *line;
                f->inlined = true;
                *file = call_file(cu, &scopes[i]);
                *line = call_line(&scopes[i]);
                struct bt_frame *outer = new_frame(u, f->pc);
                if (outer)
                        frame_module(u, outer, mod, f->pc);
                f = outer;
        }
        free(scopes);
        return f;
}

static void describe_frame(struct unwind *u, struct bt_frame *f, uint64_t pc_adj) {
        Dwfl_Module *mod = dwfl_addrmodule(u->dwfl, pc_adj);
        if (!mod)
                return;
        frame_module(u, f, mod, f->pc);

        const char *file = NULL;
        int line = 0;
        Dwfl_Line *l = dwfl_module_getsrc(mod, pc_adj);
        if (l)
                file = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
        f = inline_frames(u, f, mod, pc_adj, &file, &line);
        if (!f)
                return;
        GElf_Off off = 0;
        GElf_Sym sym;
        const char *name = dwfl_module_addrinfo(mod, pc_adj, &off, &sym, NULL, NULL, NULL);
        f->function = dup_or_null(name, &u->error);
        /* The offset of the return address itself, as coredumpctl shows it. */
        f->function_offset = name ? off + (f->pc - pc_adj) : 0;
        f->file = dup_or_null(file, &u->error);
        f->line = file ? line : 0;
}

/*
 * Whether the deadline has passed. At half the time debuginfod is given up (DEBUGINFOD_URLS
 * unset: libdwfl's client reads it at every query and then asks nobody), so that a server that
 * does not answer costs at most the query in flight (bound_debuginfod()) and the rest of the
 * unwinding, on local files only, ends in time with what was found.
 */
static bool past_deadline(struct unwind *u) {
        uint64_t now = now_usec();
        if (!u->offline && now >= u->offline_at && getenv("DEBUGINFOD_URLS")) {
                (void) unsetenv("DEBUGINFOD_URLS");
                u->offline = true;
        }
        return now > u->deadline;
}

static int frame_cb(Dwfl_Frame *state, void *arg) {
        struct unwind *u = arg;
        Dwarf_Addr pc;
        bool activation;
        if (past_deadline(u)) {
                u->timed_out = true;
                u->thread->cut = true;
                return DWARF_CB_ABORT;
        }
        if (!dwfl_frame_pc(state, &pc, &activation))
                return DWARF_CB_ABORT;
        /* A return address points after its call: look up the call itself. */
        uint64_t pc_adj = activation ? pc : pc - 1;
        struct bt_frame *f = new_frame(u, pc);
        if (!f)
                return DWARF_CB_ABORT;
        describe_frame(u, f, pc_adj);
        return u->error < 0 ? DWARF_CB_ABORT : DWARF_CB_OK;
}

/* ---- threads ---- */

static bool capture_cut(const struct stack_capture *cap, pid_t tid, bool *crashed) {
        struct stack_capture_thread t;
        for (size_t i = 0; stack_capture_thread(cap, i, &t) == 0; i++)
                if (t.tid == tid) {
                        *crashed = t.crashed;
                        return t.cut;
                }
        *crashed = false;
        return true; /* not planned: nothing of its stack was kept */
}

static int thread_cb(Dwfl_Thread *thread, void *arg) {
        struct unwind *u = arg;
        struct backtrace *b = u->bt;
        if (b->n_threads >= u->max_threads)
                return DWARF_CB_ABORT;
        if (b->n_threads % 16 == 0) {
                struct bt_thread *t = realloc(b->threads, (b->n_threads + 16) * sizeof(*t));
                if (!t) {
                        u->error = -ENOMEM;
                        return DWARF_CB_ABORT;
                }
                b->threads = t;
        }
        struct bt_thread *t = &b->threads[b->n_threads++];
        *t = (struct bt_thread){.tid = dwfl_thread_tid(thread)};
        t->cut = capture_cut(u->cap, t->tid, &t->crashed);
        u->thread = t;
        /* Ends when the unwinder finds no caller (the outermost frame, or memory not kept: a cut
         * stack, marked above) or when frame_cb stops it. */
        (void) dwfl_thread_getframes(thread, frame_cb, u);
        u->thread = NULL;
        return u->error < 0 ? DWARF_CB_ABORT : DWARF_CB_OK;
}

/* The crashing thread first, whatever order the notes had. */
static void crashed_first(struct backtrace *b) {
        for (size_t i = 1; i < b->n_threads; i++)
                if (b->threads[i].crashed) {
                        struct bt_thread t = b->threads[i];
                        memmove(b->threads + 1, b->threads, i * sizeof(t));
                        b->threads[0] = t;
                        return;
                }
}

/* ---- modules ---- */

/* The .note.package of the module's ELF file (FDO packaging metadata: a JSON object). */
static char *package_note(Dwfl_Module *mod, int *error) {
        GElf_Addr bias;
        Elf *elf = dwfl_module_getelf(mod, &bias);
        size_t n;
        if (!elf || elf_getphdrnum(elf, &n) != 0)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                GElf_Phdr ph;
                if (!gelf_getphdr(elf, (int) i, &ph) || ph.p_type != PT_NOTE)
                        continue;
                Elf_Data *d = elf_getdata_rawchunk(elf, ph.p_offset, ph.p_filesz, ELF_T_NHDR);
                GElf_Nhdr nh;
                size_t off = 0, name_off, desc_off;
                while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
                        if (nh.n_type != NOTE_PACKAGE_TYPE || nh.n_namesz != 4 ||
                            memcmp((const char *) d->d_buf + name_off, "FDO", 4) != 0)
                                continue;
                        size_t len = strnlen((const char *) d->d_buf + desc_off, MIN(nh.n_descsz, PACKAGE_JSON_MAX));
                        char *s = strndup((const char *) d->d_buf + desc_off, len);
                        if (!s)
                                *error = -ENOMEM;
                        return s;
                }
        }
        return NULL;
}

static int module_cb(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start, void *arg) {
        struct unwind *u = arg;
        struct backtrace *b = u->bt;
        if (b->n_modules % 16 == 0) {
                struct bt_module *m = realloc(b->modules, (b->n_modules + 16) * sizeof(*m));
                if (!m) {
                        u->error = -ENOMEM;
                        return DWARF_CB_ABORT;
                }
                b->modules = m;
        }
        struct bt_module *m = &b->modules[b->n_modules++];
        Dwarf_Addr end = 0, bias;
        (void) dwfl_module_info(mod, NULL, NULL, &end, NULL, NULL, NULL, NULL);
        /* Its file, looked for now if no frame needed it (by build-id; debuginfod's time is
         * bounded); its DWARF only when a frame asked for it already. */
        bool in_time = !past_deadline(u);
        *m = (struct bt_module){
                .start = start,
                .end = end,
                .path = dup_or_null(name, &u->error),
                .have_elf = (*userdata == MODULE_IN_FRAMES || in_time) && dwfl_module_getelf(mod, &bias),
                .have_debug = *userdata == MODULE_IN_FRAMES && dwfl_module_getdwarf(mod, &bias),
        };
        build_id_hex(mod, m->build_id);
        m->package_json = m->have_elf ? package_note(mod, &u->error) : NULL;
        return u->error < 0 ? DWARF_CB_ABORT : DWARF_CB_OK;
}

/* ---- the whole ---- */

/* debuginfod (loaded by libdwfl when DEBUGINFOD_URLS is set) reads its bounds from the
 * environment at every query, in whole seconds: a server that does not answer costs a quarter
 * of the time a query (DEBUGINFOD_TIMEOUT, without progress), a slow download half of it
 * (DEBUGINFOD_MAXTIME), so that the deadline, checked between frames, finds some time left
 * to finish with what was found. Smaller values in the environment are kept. */
static void bound_debuginfod(uint64_t timeout_usec) {
        if (!getenv("DEBUGINFOD_URLS"))
                return;
        static const char *const names[] = {"DEBUGINFOD_TIMEOUT", "DEBUGINFOD_MAXTIME"};
        const uint64_t secs[] = {MAX(timeout_usec / USEC_PER_SEC / 4, 1), MAX(timeout_usec / USEC_PER_SEC / 2, 1)};
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                const char *old = getenv(names[i]);
                char v[32];
                if (old && strtoull(old, NULL, 10) > 0 && strtoull(old, NULL, 10) <= secs[i])
                        continue;
                snprintf(v, sizeof(v), "%" PRIu64, secs[i]);
                (void) setenv(names[i], v, 1);
        }
}

/*
 * libdwfl's debuginfod client calls a progress function about every second while it waits,
 * and gives the query up when it returns non-zero: past half the time, every query ends
 * (at once for new ones). libdebuginfod is reached as libdwfl reaches it (dlopen): its header
 * is not needed for two functions. One unwinding at a time in a process: the bound is static.
 */
typedef int (*debuginfod_progress_fn)(debuginfod_client *client, long a, long b);
static uint64_t debuginfod_give_up_at;

static int debuginfod_progress(debuginfod_client *client, long a, long b) {
        return now_usec() >= debuginfod_give_up_at;
}

static void bound_debuginfod_client(Dwfl *dwfl, uint64_t give_up_at) {
        if (!getenv("DEBUGINFOD_URLS"))
                return;
        debuginfod_client *client = dwfl_get_debuginfod_client(dwfl);
        void *lib = client ? dlopen("libdebuginfod.so.1", RTLD_LAZY | RTLD_NOLOAD) : NULL;
        void (*set)(debuginfod_client *, debuginfod_progress_fn) = NULL;
        if (lib)
                *(void **) &set = dlsym(lib, "debuginfod_set_progressfn");
        if (set) {
                debuginfod_give_up_at = give_up_at;
                set(client, debuginfod_progress);
        }
        if (lib)
                dlclose(lib);
}

static int open_core(struct unwind *u, const struct stack_capture *cap, Elf **ret_elf) {
        const void *image;
        size_t size;
        int r = stack_capture_core(cap, &image, &size);
        if (r < 0) {
                set_error(u->bt, "nothing of the core was kept for unwinding: %s", strerror(-r));
                return r;
        }
        elf_version(EV_CURRENT);
        /* elf_memory() does not write to a native-endian image; the cast only meets its prototype. */
        Elf *elf = elf_memory((char *) (uintptr_t) image, size);
        if (!elf) {
                set_error(u->bt, "libelf refused the captured core: %s", elf_errmsg(-1));
                return -EBADMSG;
        }
        *ret_elf = elf;
        return 0;
}

static int report_core(struct unwind *u, Elf *elf) {
        dwfl_report_begin(u->dwfl);
        int n = dwfl_core_file_report(u->dwfl, elf, NULL);
        if (dwfl_report_end(u->dwfl, NULL, NULL) != 0 || n < 0) {
                set_error(u->bt, "libdwfl found no modules in the core: %s", dwfl_errmsg(-1));
                return -EBADMSG;
        }
        if (dwfl_core_file_attach(u->dwfl, elf) < 0) {
                set_error(u->bt, "libdwfl found no threads in the core: %s", dwfl_errmsg(-1));
                return -EBADMSG;
        }
        return 0;
}

static int unwind_all(struct unwind *u) {
        int r = dwfl_getthreads(u->dwfl, thread_cb, u);
        if (u->error < 0)
                return u->error;
        if (r < 0 && u->bt->n_threads == 0) {
                set_error(u->bt, "libdwfl could not list the threads: %s", dwfl_errmsg(-1));
                return -EBADMSG;
        }
        crashed_first(u->bt);
        if (stack_capture_n_threads(u->cap) > u->bt->n_threads)
                set_error(u->bt, "%zu threads of %zu left out (at most %zu are unwound)",
                          stack_capture_n_threads(u->cap) - u->bt->n_threads, stack_capture_n_threads(u->cap),
                          u->max_threads);
        if (dwfl_getmodules(u->dwfl, module_cb, u, 0) < 0 && u->error < 0)
                return u->error;
        if (u->timed_out)
                set_error(u->bt, "unwinding stopped at its time limit");
        return 0;
}

static int unwind_in_process(const struct stack_capture *cap, const struct backtrace_options *o,
                             struct backtrace *ret) {
        *ret = (struct backtrace){0};
        uint64_t start = now_usec();
        uint64_t timeout = o->timeout_usec ? o->timeout_usec : BACKTRACE_TIMEOUT_DEFAULT_USEC;
        char *debuginfo_path = (char *) (uintptr_t) o->debuginfo_path;
        const Dwfl_Callbacks callbacks = {
                .find_elf = dwfl_build_id_find_elf,
                .find_debuginfo = dwfl_standard_find_debuginfo,
                .debuginfo_path = &debuginfo_path,
        };
        struct unwind u = {
                .cap = cap,
                .bt = ret,
                .max_frames = o->max_frames ? o->max_frames : BACKTRACE_FRAMES_MAX,
                .max_threads = o->max_threads ? o->max_threads : BACKTRACE_THREADS_MAX,
                .deadline = start + timeout,
                .offline_at = start + timeout / 2,
        };
        bound_debuginfod(timeout);

        Elf *elf = NULL;
        int r = open_core(&u, cap, &elf);
        if (r >= 0) {
                u.dwfl = dwfl_begin(&callbacks);
                if (u.dwfl)
                        bound_debuginfod_client(u.dwfl, u.offline_at);
                r = u.dwfl ? report_core(&u, elf) : -ENOMEM;
        }
        if (r >= 0)
                r = unwind_all(&u);
        if (u.dwfl)
                dwfl_end(u.dwfl);
        if (elf)
                elf_end(elf);
        ret->usec = now_usec() - start;
        if (r < 0)
                return r;
        size_t with_frames = 0;
        for (size_t i = 0; i < ret->n_threads; i++)
                with_frames += ret->threads[i].n_frames > 0;
        if (with_frames == 0) {
                set_error(ret, "%s", u.timed_out ? "no frame before the time limit" : "no thread could be unwound");
                return u.timed_out ? -ETIME : -ENODATA;
        }
        return (int) MIN(with_frames, (size_t) INT32_MAX);
}

/* ---- in a child process ---- */

/* The child: unwinds, sends the result, ends. Never returns. */
static _Noreturn void child_unwind(const struct stack_capture *cap, const struct backtrace_options *o, int fd) {
        /* A crash here must not dump a core (through core_pattern, to a receiver: maybe this
         * very one), and the child must not outlive its parent. */
        (void) prctl(PR_SET_DUMPABLE, 0);
        (void) setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        struct backtrace b;
        int r = unwind_in_process(cap, o, &b);
        char *buf;
        size_t size;
        if (backtrace_serialize(&b, r, &buf, &size) < 0 || size > BACKTRACE_WIRE_MAX)
                _exit(EXIT_FAILURE);
        for (size_t done = 0; done < size;) {
                ssize_t n = write(fd, buf + done, size - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        _exit(EXIT_FAILURE);
                done += (size_t) n;
        }
        _exit(EXIT_SUCCESS);
}

/* The child's message, read until it closes the pipe or the deadline passes (-ETIME). */
static int read_child(int fd, uint64_t deadline, char **ret_buf, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, alloc = 0;
        for (;;) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        return -ETIME;
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int k = poll(&p, 1, (int) MIN((deadline - now + 999) / 1000, (uint64_t) INT32_MAX));
                if (k < 0 && errno != EINTR)
                        return negative_errno();
                if (k <= 0)
                        continue;
                if (size == alloc) {
                        if (alloc > BACKTRACE_WIRE_MAX)
                                return -EMSGSIZE;
                        char *b = realloc(buf, alloc = alloc ? alloc * 2 : 65536);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                ssize_t n = read(fd, buf + size, alloc - size);
                if (n < 0 && errno != EINTR && errno != EAGAIN)
                        return negative_errno();
                if (n == 0)
                        break;
                size += n > 0 ? (size_t) n : 0;
        }
        *ret_buf = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

/* Why the child gave nothing usable, in ret->error; the errno to return. */
static int child_failed(struct backtrace *ret, int r, int status, uint64_t timeout) {
        if (r == -ETIME)
                set_error(ret, "the unwinder took longer than %" PRIu64 " ms: killed",
                          (uint64_t) (timeout / USEC_PER_MSEC));
        else if (WIFSIGNALED(status))
                set_error(ret, "the unwinder died of signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
        else if (r < 0)
                set_error(ret, "the unwinder's answer could not be read: %s", strerror(-r));
        else
                set_error(ret, "the unwinder ended without an answer (exit status %d)", WEXITSTATUS(status));
        return r < 0 ? r : -ECHILD;
}

static int unwind_isolated(const struct stack_capture *cap, const struct backtrace_options *o, struct backtrace *ret) {
        uint64_t start = now_usec();
        uint64_t timeout = o->timeout_usec ? o->timeout_usec : BACKTRACE_TIMEOUT_DEFAULT_USEC;
        int fds[2];
        *ret = (struct backtrace){0};
        if (pipe2(fds, O_CLOEXEC) < 0)
                return negative_errno();
        pid_t pid = fork();
        if (pid == 0) {
                safe_close(fds[0]);
                child_unwind(cap, o, fds[1]);
        }
        safe_close(fds[1]);
        _cleanup_close_ int fd = fds[0];
        if (pid < 0)
                return negative_errno();
        /* The child stops itself at the deadline; a second more to send what it has. */
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        int status = 0, result = 0;
        int r = read_child(fd, start + timeout + USEC_PER_SEC, &buf, &size);
        if (r < 0)
                (void) kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SUCCESS)
                r = backtrace_deserialize(buf, size, &result, ret);
        else if (r >= 0)
                r = -ECHILD;
        if (r < 0 || !(WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SUCCESS))
                result = child_failed(ret, r, status, timeout);
        ret->usec = now_usec() - start;
        return result;
}

int backtrace_from_capture(const struct stack_capture *cap, const struct backtrace_options *o, struct backtrace *ret) {
        static const struct backtrace_options defaults = {0};
        o = o ? o : &defaults;
        return o->in_process ? unwind_in_process(cap, o, ret) : unwind_isolated(cap, o, ret);
}

#else /* CORE_PIPE_NO_BACKTRACE */

int backtrace_from_capture(const struct stack_capture *cap, const struct backtrace_options *o, struct backtrace *ret) {
        *ret = (struct backtrace){0};
        snprintf(ret->error, sizeof(ret->error), "this build has no unwinder (no elfutils)");
        return -EOPNOTSUPP;
}

#endif /* CORE_PIPE_NO_BACKTRACE */

void backtrace_done(struct backtrace *b) {
        for (size_t i = 0; i < b->n_threads; i++) {
                for (size_t j = 0; j < b->threads[i].n_frames; j++) {
                        free(b->threads[i].frames[j].module);
                        free(b->threads[i].frames[j].function);
                        free(b->threads[i].frames[j].file);
                }
                free(b->threads[i].frames);
        }
        for (size_t i = 0; i < b->n_modules; i++) {
                free(b->modules[i].path);
                free(b->modules[i].package_json);
        }
        free(b->threads);
        free(b->modules);
        b->threads = NULL;
        b->modules = NULL;
        b->n_threads = b->n_modules = 0;
}

/* ---- text ---- */

static const char *base_name(const char *path) {
        const char *s = path ? strrchr(path, '/') : NULL;
        return s ? s + 1 : path ? path : "n/a";
}

static void format_frame(FILE *f, size_t n, const struct bt_frame *fr) {
        fprintf(f, "#%-2zu 0x%016" PRIx64 " %s", n, fr->pc, fr->function ? fr->function : "n/a");
        if (fr->inlined)
                fputs(" (inlined)", f);
        if (fr->module)
                fprintf(f, " (%s + 0x%" PRIx64 ")", base_name(fr->module), fr->module_offset);
        if (fr->file)
                fprintf(f, " at %s:%d", fr->file, fr->line);
        fputc('\n', f);
}

int backtrace_format(const struct backtrace *b, size_t max_bytes, char **ret_text) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        size_t last_ok = 0;
        for (size_t i = 0; i < b->n_threads; i++) {
                const struct bt_thread *t = &b->threads[i];
                fprintf(f, "%sStack trace of thread %d:\n", i ? "\n" : "", (int) t->tid);
                for (size_t j = 0; j < t->n_frames; j++) {
                        format_frame(f, j, &t->frames[j]);
                        fflush(f);
                        if (max_bytes && size > max_bytes)
                                break;
                        last_ok = size;
                }
                if (t->cut)
                        fputs("(more frames: the stack was cut)\n", f);
                fflush(f);
                if (max_bytes && size > max_bytes)
                        break;
                last_ok = size;
        }
        if (fclose(f) != 0 || !text) {
                free(text);
                return -ENOMEM;
        }
        if (max_bytes && size > max_bytes)
                text[last_ok] = '\0';
        *ret_text = text;
        return 0;
}
