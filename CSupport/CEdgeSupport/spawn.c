#define _GNU_SOURCE
#include "edge_support.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <spawn.h>
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

/* The common case (no credentials change, no source fd among 0-2 but its own): glibc's posix_spawn,
 * which starts the child with CLONE_VM|CLONE_VFORK. A fork copies the agent's page tables and
 * then takes a copy-on-write fault on every page either side touches before the exec: under an
 * emulated CPU (qemu TCG) that was the larger part of starting a service. Returns 0 when it does
 * not apply (the caller forks), else the pid or -errno. */
static pid_t spawn_vfork(const struct edge_spawn_opts *o) {
#ifdef EDGE_MUSL
  /* musl's posix_spawn has no action that closes every descriptor above 2 (glibc's
   * addclosefrom_np), and one inherited without CLOEXEC must not reach a service: the fork path
   * below closes them with close_range. */
  (void)o;
  return 0;
#else
  if (o->uid >= 0 || o->gid >= 0 || o->ngroups >= 0) return 0;
  int fds[3] = {o->stdin_fd, o->stdout_fd, o->stderr_fd};
  for (int i = 0; i < 3; i++) if (fds[i] >= 0 && fds[i] <= 2 && fds[i] != i) return 0;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  if (posix_spawn_file_actions_init(&fa) != 0) return 0;
  if (posix_spawnattr_init(&at) != 0) { posix_spawn_file_actions_destroy(&fa); return 0; }
  int bad = 0;
  for (int i = 0; i < 3; i++) {
    if (fds[i] < 0) bad |= posix_spawn_file_actions_addopen(&fa, i, "/dev/null", O_RDWR, 0);
    else bad |= posix_spawn_file_actions_adddup2(&fa, fds[i], i); /* same fd: drops CLOEXEC */
  }
  bad |= posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  if (o->cwd) bad |= posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  bad |= posix_spawnattr_setsigmask(&at, &none);
  bad |= posix_spawnattr_setsigdefault(&at, &all);
  bad |= posix_spawnattr_setflags(&at, (short)(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                               (o->setsid ? POSIX_SPAWN_SETSID : 0)));
  pid_t pid = 0;
  int e = bad ? -1 : posix_spawn(&pid, o->path, &fa, &at, o->argv, o->envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (e < 0) return 0;
  return e == 0 ? pid : -e;
#endif
}

pid_t edge_spawn(const struct edge_spawn_opts *o) {
  if (o->uid >= 0 && o->gid < 0) return -EINVAL;
  pid_t vp = spawn_vfork(o);
  if (vp != 0) return vp;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -errno;
  /* Block all signals across fork so the child cannot run one of our handlers before it resets them. */
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  /* A bare clone, not fork: the child only execs, so fork's atfork handlers and the C
   * library's lock resets have nothing to do. */
  pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(p[0]); close(p[1]);
    return -e;
  }
  if (pid == 0) {
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (o->setsid && setsid() < 0) child_fail(p[1]);
    /* The pipe's write end must not land on 0-2 before the dups. */
    if (p[1] <= 2) {
      int n = fcntl(p[1], F_DUPFD_CLOEXEC, 3);
      if (n < 0) child_fail(p[1]);
      p[1] = n;
    }
    int in = o->stdin_fd, out = o->stdout_fd, err = o->stderr_fd;
    /* Source fds in 0-2 could be clobbered by an earlier dup2: lift them first. */
    if (in >= 0 && in <= 2 && in != 0) in = fcntl(in, F_DUPFD_CLOEXEC, 3);
    if (out >= 0 && out <= 2 && out != 1) out = fcntl(out, F_DUPFD_CLOEXEC, 3);
    if (err >= 0 && err <= 2 && err != 2) err = fcntl(err, F_DUPFD_CLOEXEC, 3);
    if (move_fd(in, 0, p[1]) < 0 || move_fd(out, 1, p[1]) < 0 || move_fd(err, 2, p[1]) < 0) child_fail(p[1]);
    close_from(3, p[1]);
    if (o->ngroups >= 0 && setgroups((size_t)o->ngroups, o->groups) < 0) child_fail(p[1]);
    if (o->gid >= 0 && setgid((gid_t)o->gid) < 0) child_fail(p[1]);
    if (o->uid >= 0 && setuid((uid_t)o->uid) < 0) child_fail(p[1]);
    if (o->cwd && chdir(o->cwd) < 0) child_fail(p[1]);
    execve(o->path, o->argv, o->envp);
    child_fail(p[1]);
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
