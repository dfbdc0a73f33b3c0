/* What needs a real C definition: argv capture (Embedded Swift has no CommandLine), allocation
 * counting, and the child side of fork/exec, where only async-signal-safe code may run. */
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
uint64_t edge_free_count(void);

/* What the child does between fork and exec. Unused fields are -1 (fds, uid, gid) or NULL (cwd). */
struct edge_spawn_opts {
  const char *path;          /* executable; PATH is not searched */
  char *const *argv;         /* NULL-terminated */
  char *const *envp;         /* NULL-terminated */
  const char *cwd;
  int stdin_fd, stdout_fd, stderr_fd;   /* dup2'ed to 0, 1, 2; -1 means /dev/null */
  int setsid;                /* 1: new session and process group */
  long uid, gid;             /* -1: keep */
};

/* Starts the program: posix_spawn (vfork-like), or fork and exec when it must change uid or gid.
 * Returns the child's pid, or -errno when the child could not start or could not exec (a forked
 * child reports that errno through a close-on-exec pipe, then _exit(127)). Every fd but
 * 0, 1, 2 is closed in the child; signal mask and dispositions are reset to default. */
pid_t edge_spawn(const struct edge_spawn_opts *opts);
