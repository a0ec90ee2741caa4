/* SPDX-License-Identifier: MIT */
/*
 * The receiver takes a core over the kernel's coredump connection (protocol version 2, transport
 * socket), end to end with the built core_pipe-receiver and no privileges: a child plays the
 * crashed process and its host helper at once (its own connection to a listener of its own is a
 * connection whose peer is the crashed process, as the kernel's is), writes a kernel-written core
 * head into it, and the record must say the signal and where it came from. A socket whose peer
 * is another process, or a pipe under a socket request, is refused before anything is stored.
 *
 *   test-receiver-socket RECEIVER CORE_HEAD
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"
#include "protocol.h"
#include "tap.h"

enum core_kind {
        CORE_CONNECTION, /* the child's own connection: its peer is the crashed process */
        CORE_FOREIGN,    /* a stream pair made by the test: its peer is another process */
        CORE_PIPE,
};

struct scenario {
        const char *name;
        uint32_t transport;
        enum core_kind kind;
        size_t core_len;    /* bytes of the core head written */
        bool die_by_signal; /* SIGABRT after writing (not dumpable: no core of its own) */
        const char *release;
};

struct result {
        int receiver_status;
        int records, cores;
        int64_t signal;
        char source[32];
};

static char dir[] = "/tmp/cp-recv-socket-XXXXXX";
static const char *receiver;
static uint8_t *core_head;
static size_t core_head_len;

static int connection_to_self(const char *path, int *ret_client) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
        _cleanup_close_ int l = socket(AF_UNIX, SOCK_STREAM, 0);
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        if (l < 0 || c < 0 || bind(l, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
            connect(c, (struct sockaddr *) &a, sizeof(a)) < 0)
                return -1;
        *ret_client = c;
        return accept(l, NULL, NULL);
}

/* The crashed process and its helper: request, hand-over, the core, then its end. */
static int crashed_child(const struct scenario *s, int sock, int foreign[2], const char *path) {
        int core_fd = -1, writer = -1, p[2];
        if (s->kind == CORE_CONNECTION)
                core_fd = connection_to_self(path, &writer);
        else if (s->kind == CORE_FOREIGN)
                core_fd = foreign[0], writer = foreign[1];
        else if (pipe(p) == 0)
                core_fd = p[0], writer = p[1];
        if (core_fd < 0)
                return 10;
        bool sock_req = s->transport == CP_TRANSPORT_SOCKET;
        struct cp_request req = {.signal = sock_req ? 0 : 11,
                                 .dump_mode = 1,
                                 .dump_time = (uint64_t) time(NULL),
                                 .core_limit = UINT64_MAX,
                                 .transport = s->transport,
                                 .flags = sock_req ? CP_REQUEST_SIGNAL_UNKNOWN : 0};
        struct ucred cred = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
        uint8_t buf[CP_MSG_MAX];
        size_t len;
        uint64_t deadline = now_monotonic_usec() + 20 * USEC_PER_SEC;
        int n = cp_encode_request(&req, buf, sizeof(buf));
        if (n < 0 || send_message(sock, buf, (size_t) n, NULL, 0, &cred, deadline) < 0)
                return 11;
        struct cp_verdict_msg v;
        if (recv_message(sock, buf, sizeof(buf), deadline, &len, NULL, 0, NULL, NULL, NULL) < 0 ||
            cp_decode_verdict(buf, len, &v) < 0 || v.verdict != CP_VERDICT_SEND)
                return 12;
        int fds[2] = {core_fd, pidfd_open_pid(getpid())};
        n = cp_encode_handover(buf, sizeof(buf));
        if (send_message(sock, buf, (size_t) n, fds, 2, NULL, deadline) < 0)
                return 13;
        close(fds[0]);
        close(fds[1]);
        /* A refused hand-over closes the receiver's copy: the write then fails, as the kernel's. */
        (void) write_full(writer, core_head, s->core_len);
        close(writer);
        if (s->die_by_signal) {
                (void) prctl(PR_SET_DUMPABLE, 0);
                signal(SIGABRT, SIG_DFL);
                raise(SIGABRT);
        }
        struct cp_outcome out;
        if (recv_message(sock, buf, sizeof(buf), deadline, &len, NULL, 0, NULL, NULL, NULL) < 0 ||
            cp_decode_outcome(buf, len, &out) < 0)
                return 14;
        return out.error ? 15 : 0;
}

static pid_t start_receiver(int sock, const char *store, const char *release, const char *log) {
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        char lp[32], st[256], rel[64];
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || dup2(fd, 2) < 0 || dup2(sock, 3) != 3)
                _exit(120);
        snprintf(lp, sizeof(lp), "LISTEN_PID=%d", (int) getpid());
        snprintf(st, sizeof(st), "--store=%s", store);
        snprintf(rel, sizeof(rel), "--release=%s", release);
        char *env[] = {"LISTEN_FDS=1", lp, "PATH=/usr/bin:/bin", NULL};
        char *argv[] = {(char *) receiver, "--config=/dev/null", st, "--compress=no", rel, NULL};
        execve(receiver, argv, env);
        _exit(127);
}

static void read_store(const char *store, struct result *r) {
        DIR *d = opendir(store);
        struct dirent *e;
        while (d && (e = readdir(d))) {
                size_t n = strlen(e->d_name);
                if (strncmp(e->d_name, "core.", 5) != 0)
                        continue;
                if (n <= 5 || strcmp(e->d_name + n - 5, ".json") != 0) {
                        r->cores++;
                        continue;
                }
                r->records++;
                char path[512];
                snprintf(path, sizeof(path), "%s/%s", store, e->d_name);
                struct json_object *o = json_object_from_file(path), *f;
                if (o && json_object_object_get_ex(o, "signal", &f))
                        r->signal = json_object_get_int64(f);
                if (o && json_object_object_get_ex(o, "signal_source", &f))
                        snprintf(r->source, sizeof(r->source), "%s", json_object_get_string(f));
                json_object_put(o);
        }
        if (d)
                closedir(d);
}

/* Removes dir/name, a file or a directory of files. */
static void remove_tree(int dfd, const char *name) {
        if (unlinkat(dfd, name, 0) == 0 || errno != EISDIR)
                return;
        int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = sub >= 0 ? fdopendir(sub) : NULL;
        struct dirent *e;
        while (d && (e = readdir(d)))
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                        remove_tree(sub, e->d_name);
        if (d)
                closedir(d);
        (void) unlinkat(dfd, name, AT_REMOVEDIR);
}

static void run(const struct scenario *s, int index, struct result *r) {
        char store[256], log[256], path[256];
        snprintf(store, sizeof(store), "%s/store-%d", dir, index);
        snprintf(log, sizeof(log), "%s/receiver-%d.log", dir, index);
        snprintf(path, sizeof(path), "%s/k-%d.socket", dir, index);
        *r = (struct result){.signal = -1};
        int sp[2], foreign[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, foreign) < 0)
                return;
        uint64_t t0 = now_monotonic_usec();
        pid_t rcv = start_receiver(sp[1], store, s->release, log);
        pid_t child = fork();
        if (child == 0) {
                close(sp[1]); /* the receiver's end: its exit must end our wait for its OUTCOME */
                _exit(crashed_child(s, sp[0], foreign, path));
        }
        close(sp[0]);
        close(sp[1]);
        close(foreign[0]);
        close(foreign[1]);
        /* The child first: its end (PIDFD_INFO_EXIT) is kept once it is reaped. */
        (void) waitpid(child, NULL, 0);
        int status;
        uint64_t t1 = now_monotonic_usec();
        r->receiver_status = waitpid(rcv, &status, 0) == rcv && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        printf("# %s: the crashed process ended after %.2f s, the receiver after %.2f s\n", s->name,
               (double) (t1 - t0) / 1e6, (double) (now_monotonic_usec() - t0) / 1e6);
        read_store(store, r);
        if (r->receiver_status != 0 || s->kind != CORE_CONNECTION) {
                char text[2048] = "";
                (void) read_small_file_at(AT_FDCWD, log, text, sizeof(text), NULL);
                printf("# %s: the receiver said: %s", s->name, text);
        }
}

static const struct scenario scenarios[] = {
        {"notes", CP_TRANSPORT_SOCKET, CORE_CONNECTION, SIZE_MAX, false, "read"},
        {"exit", CP_TRANSPORT_SOCKET, CORE_CONNECTION, 64, true, "read"},
        {"held", CP_TRANSPORT_SOCKET, CORE_CONNECTION, 64, true, "store"},
        {"foreign peer", CP_TRANSPORT_SOCKET, CORE_FOREIGN, SIZE_MAX, false, "read"},
        {"pipe under a socket request", CP_TRANSPORT_SOCKET, CORE_PIPE, SIZE_MAX, false, "read"},
        {"pipe", CP_TRANSPORT_PIPE, CORE_PIPE, SIZE_MAX, false, "read"},
};

int main(int argc, char *argv[]) {
        if (argc != 3 || !mkdtemp(dir))
                return 2;
        receiver = argv[1];
        _cleanup_close_ int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
        core_head = malloc(1 << 20);
        ssize_t n = fd >= 0 && core_head ? read_full(fd, core_head, 1 << 20) : -1;
        if (n <= 64)
                return 2;
        core_head_len = (size_t) n;
        signal(SIGPIPE, SIG_IGN);
        alarm(120); /* every wait below is bounded; this bounds the test */

        struct result r[ELEMENTSOF(scenarios)];
        for (size_t i = 0; i < ELEMENTSOF(scenarios); i++) {
                struct scenario s = scenarios[i];
                s.core_len = MIN(s.core_len, core_head_len);
                run(&s, (int) i, &r[i]);
        }
        CHECK(r[0].receiver_status == 0 && r[0].cores == 1 && r[0].records == 1,
              "a core over the kernel's connection is stored (status %d, %d core(s))", r[0].receiver_status,
              r[0].cores);
        CHECK(r[0].signal == SIGABRT && strcmp(r[0].source, "core") == 0,
              "its signal comes from the core's notes (signal %lld from %s)", (long long) r[0].signal, r[0].source);
        CHECK(r[1].receiver_status == 0 && r[1].signal == SIGABRT && strcmp(r[1].source, "exit") == 0,
              "a core cut before its notes: the signal from the process's end (signal %lld from %s)",
              (long long) r[1].signal, r[1].source);
        CHECK(r[2].receiver_status == 0 && r[2].records == 1 && r[2].signal == 0 && strcmp(r[2].source, "unknown") == 0,
              "held until stored, no notes: stored with the signal unknown, not waited for (signal %lld from %s)",
              (long long) r[2].signal, r[2].source);
        CHECK(r[3].receiver_status != 0 && r[3].cores == 0 && r[3].records == 0,
              "a socket whose peer is not the crashed process is refused, nothing stored");
        CHECK(r[4].receiver_status != 0 && r[4].cores == 0 && r[4].records == 0,
              "a pipe handed over under a socket request is refused, nothing stored");
        CHECK(r[5].receiver_status == 0 && r[5].signal == 11 && strcmp(r[5].source, "kernel") == 0,
              "a pipe request is stored as before, its signal the kernel's (signal %lld from %s)",
              (long long) r[5].signal, r[5].source);
        remove_tree(AT_FDCWD, dir);
        return tap_done();
}
