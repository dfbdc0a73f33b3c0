#define _GNU_SOURCE
#include "edge_support.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* Between fork and exec only async-signal-safe calls may run, and Swift's runtime is not: this is
 * why the child side is C. Any failure is written to the close-on-exec pipe as an errno. */
static void child_fail(int pipe_w) {
  int e = errno;
  ssize_t r;
  do { r = write(pipe_w, &e, sizeof e); } while (r < 0 && errno == EINTR);
  _exit(127);
}

static int move_fd(int from, int to, int pipe_w) {
  if (from == to) return fcntl(to, F_SETFD, 0); /* keep it, but drop CLOEXEC */
  if (from < 0) {
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) return -1;
    from = devnull;
  }
  while (dup2(from, to) < 0) if (errno != EINTR) return -1;
  (void)pipe_w;
  return 0;
}

static void close_from(int lowfd, int keep) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, (unsigned)lowfd, (unsigned)keep - 1, 0) == 0 &&
      syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = lowfd; fd < max; fd++) if (fd != keep) close(fd);
}

/* The child, from its start to execve. It runs on its own stack, possibly in the agent's address
 * space (below), so it only reads `o` and keeps its state in its own frame. */
struct child_arg {
  const struct edge_spawn_opts *o;
  int pipe_w;
};

static int child_main(void *arg) {
  const struct edge_spawn_opts *o = ((const struct child_arg *)arg)->o;
  int pw = ((const struct child_arg *)arg)->pipe_w;
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (o->setsid && setsid() < 0) child_fail(pw);
  /* The pipe's write end must not land on 0-2 before the dups. */
  if (pw <= 2) {
    int n = fcntl(pw, F_DUPFD_CLOEXEC, 3);
    if (n < 0) child_fail(pw);
    pw = n;
  }
  int in = o->stdin_fd, out = o->stdout_fd, err = o->stderr_fd;
  /* Source fds in 0-2 could be clobbered by an earlier dup2: lift them first. */
  if (in >= 0 && in <= 2 && in != 0) in = fcntl(in, F_DUPFD_CLOEXEC, 3);
  if (out >= 0 && out <= 2 && out != 1) out = fcntl(out, F_DUPFD_CLOEXEC, 3);
  if (err >= 0 && err <= 2 && err != 2) err = fcntl(err, F_DUPFD_CLOEXEC, 3);
  if (move_fd(in, 0, pw) < 0 || move_fd(out, 1, pw) < 0 || move_fd(err, 2, pw) < 0) child_fail(pw);
  close_from(3, pw);
  if (o->ngroups >= 0 && setgroups((size_t)o->ngroups, o->groups) < 0) child_fail(pw);
  if (o->gid >= 0 && setgid((gid_t)o->gid) < 0) child_fail(pw);
  if (o->uid >= 0 && setuid((uid_t)o->uid) < 0) child_fail(pw);
  if (o->cwd && chdir(o->cwd) < 0) child_fail(pw);
  execve(o->path, o->argv, o->envp);
  child_fail(pw);
  return 127;
}

pid_t edge_spawn(const struct edge_spawn_opts *o) {
  if (o->uid >= 0 && o->gid < 0) return -EINVAL;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -errno;
  struct child_arg ca = {o, p[1]};
  /* Block all signals across the clone so the child cannot run one of our handlers before it
   * resets them. */
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  pid_t pid;
  if (o->uid < 0 && o->gid < 0 && o->ngroups < 0) {
    /* The common case, as posix_spawn does it: the child borrows the agent's address space and
     * the agent waits until it has exec'd (CLONE_VM|CLONE_VFORK). A fork copies the agent's page
     * tables and then takes a copy-on-write fault on every page either side touches before the
     * exec: under an emulated CPU (qemu TCG) that was the larger part of starting a service.
     * (posix_spawn itself cannot be used: musl's has no action that closes every descriptor
     * above 2.) The stack is this frame's, idle until the child has exec'd or exited. */
    _Alignas(16) char stack[16384];
    pid = clone(child_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &ca);
  } else {
    /* Credentials change: a separate copy, as the C library's setuid may act on memory it
     * believes its own. A bare clone, not fork: the child only execs, so fork's atfork handlers
     * and the C library's lock resets have nothing to do. */
    pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(child_main(&ca));
  }
  if (pid < 0) {
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(p[0]); close(p[1]);
    return -e;
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(p[1]);
  int e = 0;
  ssize_t r;
  do { r = read(p[0], &e, sizeof e); } while (r < 0 && errno == EINTR);
  close(p[0]);
  if (r == (ssize_t)sizeof e) {
    /* exec failed: reap the child now so the caller never sees it. */
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return -e;
  }
  return pid;
}
