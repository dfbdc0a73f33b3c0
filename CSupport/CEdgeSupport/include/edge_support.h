/* What needs a real C definition: argv capture (Embedded Swift has no CommandLine), allocation
 * and syscall counting, and the child side of fork/exec, where only async-signal-safe code may run. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int edge_argc(void);
char **edge_argv(void);
char **edge_envp(void);

/* Allocation counters: malloc, calloc, realloc, posix_memalign and aligned_alloc calls the calling
 * thread made since it started. */
uint64_t edge_alloc_count(void);

/* What the static binaries' C libraries call for a failed assertion (assert.c): the message,
 * then abort(). */
_Noreturn void edge_assert_fail(const char *expr, const char *file, int line, const char *func);
_Noreturn void edge_assert_at(const char *file, int line);
uint64_t edge_free_count(void);

/* Syscall counters: calls through EdgeHost's seam the calling thread made, and how many of them
 * failed (returned -1 or NULL). */
void edge_syscall_note(int failed);
uint64_t edge_syscall_count(void);
uint64_t edge_syscall_failed_count(void);

/* What the child does between fork and exec. Unused fields are -1 (fds, uid, gid, ngroups) or
 * NULL (cwd). Credentials change in the only safe order: setgroups, setgid, setuid (after setuid
 * the others would fail). A uid without a gid is refused (EINVAL): the child would keep gid 0. */
struct edge_spawn_opts {
  const char *path;          /* executable; PATH is not searched */
  char *const *argv;         /* NULL-terminated */
  char *const *envp;         /* NULL-terminated */
  const char *cwd;
  int stdin_fd, stdout_fd, stderr_fd;   /* dup2'ed to 0, 1, 2; -1 means /dev/null */
  int setsid;                /* 1: new session and process group */
  long uid, gid;             /* -1: keep */
  const gid_t *groups;       /* supplementary groups, ngroups of them (0: drop all) */
  long ngroups;              /* -1: keep the agent's */
};

/* Starts the program: a vfork-like clone, or fork and exec when it must change credentials.
 * Returns the child's pid, or -errno when the child could not start or could not exec (the
 * child reports that errno through a close-on-exec pipe, then _exit(127)). Every fd but
 * 0, 1, 2 is closed in the child; signal mask and dispositions are reset to default. */
pid_t edge_spawn(const struct edge_spawn_opts *opts);
