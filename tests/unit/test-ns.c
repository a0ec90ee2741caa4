/* SPDX-License-Identifier: MIT */
/*
 * The helper's namespace code (pipe/ns.c) on the real kernel, without root where the machine
 * allows unprivileged user namespaces: namespace ancestry, the container of a process (the
 * outermost pid namespace below ours) and its key, and which listener may receive a core.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"
#include "ns.h"
#include "nscompat.h"
#include "tap.h"

static void test_format_key(void) {
        char key[CONTAINER_KEY_MAX];
        CHECK(format_container_key(4026532182, 864805, "721ea9a7-8d56-4aa1-9d36-87b5d0f2e6c6\n", key, sizeof(key)) ==
                              0 &&
                      strcmp(key, "pidns-4026532182-864805-721ea9a7") == 0,
              "key: pidns-INODE-TICKS-BOOT8 (%s)", key);
        CHECK(format_container_key(1, 2, "721EA9A7-8d56", key, sizeof(key)) == -EBADMSG,
              "key: upper-case boot id refused");
        CHECK(format_container_key(1, 2, "721ea9", key, sizeof(key)) == -EBADMSG, "key: short boot id refused");
        char small[16] = "untouched";
        CHECK(format_container_key(4026532182, 864805, "721ea9a7", small, sizeof(small)) == -ENOBUFS &&
                      strcmp(small, "untouched") == 0,
              "key: a small buffer is refused and left alone");
        CHECK(format_container_key(UINT64_MAX, UINT64_MAX, "ffffffff", key, sizeof(key)) == 0,
              "key: the largest numbers fit CONTAINER_KEY_MAX");
}

/* A child that enters a new user and pid namespace and forks the namespace's init, which
 * sleeps. Returns the init's pid (ours) with the child's in *ret_child, or -1 when unshare() is
 * not allowed here. */
static pid_t spawn_container(pid_t *ret_child) {
        int p[2];
        if (pipe(p) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                close(p[0]);
                char ok = 0;
                if (unshare(CLONE_NEWUSER | CLONE_NEWPID) == 0) {
                        if (fork() == 0) {
                                pause();
                                _exit(0);
                        }
                        ok = 1;
                }
                (void) write(p[1], &ok, 1);
                pause();
                _exit(0);
        }
        close(p[1]);
        char ok = 0;
        if (read(p[0], &ok, 1) != 1)
                ok = 0;
        close(p[0]);
        /* The init is the child's only child. */
        char path[64], text[64] = "";
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) pid, (int) pid);
        for (int i = 0; ok && i < 100 && !text[0]; i++)
                if (read_small_file_at(AT_FDCWD, path, text, sizeof(text), NULL) < 0 || !text[0])
                        usleep(10000);
        pid_t init = ok ? (pid_t) atoi(text) : -1;
        if (init <= 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                return -1;
        }
        *ret_child = pid;
        return init;
}

static void test_ancestry(void) {
        _cleanup_close_ int self = pidfd_open_pid(getpid());
        _cleanup_close_ int own_user = ioctl(self, PIDFD_GET_USER_NAMESPACE, 0);
        CHECK(own_user >= 0 && ns_is_same_or_ancestor(own_user, own_user) == 1, "a user namespace is its own ancestor");

        char key[CONTAINER_KEY_MAX];
        const char *why = "";
        struct container_init init;
        int nsfd = -EBADF;
        CHECK(container_pidns_open(self, &nsfd) == 0, "our own process: in our pid namespace, no container");
        CHECK(crash_container_key(self, key, sizeof(key), &init, &why) == 0 && strcmp(key, "host") == 0 &&
                      init.rootfd < 0,
              "our own process: key host");

        pid_t holder;
        pid_t inner = spawn_container(&holder);
        if (inner < 0) {
                printf("# unshare(CLONE_NEWUSER|CLONE_NEWPID) not allowed here: namespace checks skipped\n");
                return;
        }
        _cleanup_close_ int child = pidfd_open_pid(inner);
        _cleanup_close_ int child_user = ioctl(child, PIDFD_GET_USER_NAMESPACE, 0);
        CHECK(ns_is_same_or_ancestor(own_user, child_user) == 1, "our user namespace is an ancestor of a child's");
        CHECK(ns_is_same_or_ancestor(child_user, own_user) == 0, "a child's user namespace is not an ancestor of ours");
        CHECK(container_pidns_open(child, &nsfd) == 1, "a process in a new pid namespace: a container");
        CHECK(nsfd >= 0 && ioctl(nsfd, NS_GET_PID_FROM_PIDNS, 1) == inner, "its init (pid 1 there) is the process");
        struct stat st;
        char want[CONTAINER_KEY_MAX];
        char boot[64] = "";
        (void) read_small_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", boot, sizeof(boot), NULL);
        CHECK(crash_container_key(child, key, sizeof(key), &init, &why) == 0 && init.pid == inner &&
                      fstat(nsfd, &st) == 0 &&
                      format_container_key(st.st_ino, init.starttime, boot, want, sizeof(want)) == 0 &&
                      strcmp(key, want) == 0 && init.rootfd >= 0,
              "its key: its pid namespace and init (%s)", key);
        safe_close(init.rootfd);
        safe_close(nsfd);
        kill(inner, SIGKILL);
        kill(holder, SIGKILL);
        waitpid(holder, NULL, 0);
}

static int write_file_text(const char *path, const char *fmt, ...) _printf_(2, 3);
static int write_file_text(const char *path, const char *fmt, ...) {
        char buf[128];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        int r = write(fd, buf, (size_t) n) == n ? 0 : -1;
        close(fd);
        return r;
}

/* Listens on a fresh socket in dir; returns the listening socket. */
static int listen_at(const char *path) {
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        unlink(path);
        if (s < 0 || bind(s, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(s, 4) < 0)
                return -1;
        return s;
}

static int connect_to(const char *path) {
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        if (s < 0 || connect(s, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -1;
        return s;
}

static void test_listener(void) {
        char dir[] = "/tmp/test-ns.XXXXXX", path[128];
        const char *why = "";
        if (!mkdtemp(dir))
                return;
        snprintf(path, sizeof(path), "%s/sock", dir);
        _cleanup_close_ int self = pidfd_open_pid(getpid());

        /* We are the listener, the crashed process is ourselves. */
        _cleanup_close_ int l = listen_at(path);
        _cleanup_close_ int c = connect_to(path);
        int r = check_receiver_listener(c, self, geteuid(), &why);
        if (geteuid() == 0)
                CHECK(r == 0, "root of the host's user namespace, same pid namespace: eligible (%s)", r ? why : "");
        else
                CHECK(r == -EPERM && strstr(why, "not root of its user namespace"),
                      "not root of its user namespace: not eligible (%s)", why);
        CHECK(check_receiver_listener(c, self, geteuid() + 1, &why) == -EPERM,
              "a socket not owned by its listener: not eligible (%s)", why);

        /* The process that called listen() exits; its child keeps the socket. */
        l = safe_close(l);
        c = safe_close(c);
        int p[2];
        if (pipe(p) < 0)
                return;
        pid_t pid = fork();
        if (pid == 0) {
                int s = listen_at(path);
                pid_t keeper = s >= 0 ? fork() : -1;
                if (keeper == 0) {
                        pause();
                        _exit(0);
                }
                (void) write(p[1], &keeper, sizeof(keeper));
                _exit(0);
        }
        pid_t keeper = -1;
        if (read(p[0], &keeper, sizeof(keeper)) != sizeof(keeper))
                keeper = -1;
        close(p[0]);
        close(p[1]);
        waitpid(pid, NULL, 0);
        c = connect_to(path);
        r = check_receiver_listener(c, self, geteuid(), &why);
        CHECK(c >= 0 && r < 0 && (strstr(why, "exited") || strstr(why, "gone")),
              "a listener that exited: not eligible (%s)", why);
        c = safe_close(c);
        if (keeper > 0)
                kill(keeper, SIGKILL);
        unlink(path);
        rmdir(dir);
}

/* A listener that is root of a user namespace of its own, below ours: it could not read us. */
static void test_listener_in_child_userns(void) {
        char dir[] = "/tmp/test-ns.XXXXXX", path[128], map[64];
        const char *why = "";
        int go[2], ready[2];
        if (!mkdtemp(dir) || pipe(go) < 0 || pipe(ready) < 0)
                return;
        snprintf(path, sizeof(path), "%s/sock", dir);
        uid_t uid = geteuid();
        gid_t gid = getegid();
        pid_t pid = fork();
        if (pid == 0) {
                char c = 0;
                if (unshare(CLONE_NEWUSER) < 0)
                        _exit(1);
                (void) write(ready[1], &c, 1);
                if (read(go[0], &c, 1) != 1 || listen_at(path) < 0)
                        _exit(1);
                (void) write(ready[1], &c, 1);
                pause();
                _exit(0);
        }
        /* Our copies of the child's ends: a child that fails and exits must give EOF. */
        close(ready[1]);
        close(go[0]);
        char c;
        bool ok = read(ready[0], &c, 1) == 1;
        snprintf(map, sizeof(map), "/proc/%d/uid_map", (int) pid);
        ok = ok && write_file_text(map, "0 %u 1\n", uid) >= 0;
        snprintf(map, sizeof(map), "/proc/%d/setgroups", (int) pid);
        ok = ok && write_file_text(map, "deny\n") >= 0;
        snprintf(map, sizeof(map), "/proc/%d/gid_map", (int) pid);
        ok = ok && write_file_text(map, "0 %u 1\n", gid) >= 0;
        ok = ok && write(go[1], &c, 1) == 1 && read(ready[0], &c, 1) == 1;
        if (!ok)
                printf("# no user namespace of our own here: listener in a child user namespace skipped\n");
        else {
                _cleanup_close_ int self = pidfd_open_pid(getpid());
                _cleanup_close_ int s = connect_to(path);
                int r = check_receiver_listener(s, self, uid, &why);
                CHECK(r == -EPERM && strstr(why, "user namespace and its ancestors"),
                      "a listener root of a child user namespace: not eligible for us (%s)", why);
        }
        close(go[1]);
        close(ready[0]);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        unlink(path);
        rmdir(dir);
}

int main(void) {
        signal(SIGCHLD, SIG_DFL);
        test_format_key();
        test_ancestry();
        test_listener();
        test_listener_in_child_userns();
        return tap_done();
}
