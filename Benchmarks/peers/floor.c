/* floor.c: the least a file agent can do on Benchmarks/peers' workload, as a measuring stick
 * beside edgeagent and cf-agent (run.py builds it with `cc -O2 -static`; not part of the product).
 *
 *   floor lstat DIR N   lstat DIR/f00000 .. DIR/f(N-1): what a run that finds every file kept
 *                       cannot do without (one stat per file, nothing read, nothing written).
 *   floor write DIR N   the durable work of a run from nothing, in edgeagent's order: each
 *                       file staged under a temporary name (create exclusive, 64 bytes, mode
 *                       0644), one syncfs for the filesystem, every rename, one fsync of DIR.
 *   floor spawn LOG CMD [ARG]...
 *                       runs CMD (output to LOG) and prints "WALL_NS PEAK_RSS_KIB EXIT": how
 *                       run.py times every tool. A child forked by Python reports Python's RSS
 *                       as its peak (exec keeps the old image's high-water mark), so the child
 *                       must come from a process smaller than anything it measures.
 *
 * The content is the workload's (run.py's content()), so what `write` leaves passes the same
 * check as the agents' output. Exit 0, or 1 with a message on the first failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what, const char *name) {
  fprintf(stderr, "floor: unable to %s %s: %s\n", what, name, strerror(errno));
  return 1;
}

static int do_lstat(const char *dir, long n) {
  char path[4096];
  struct stat st;
  for (long i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/f%05ld", dir, i);
    if (lstat(path, &st) != 0) return fail("lstat", path);
  }
  return 0;
}

static int do_write(const char *dir, long n) {
  char name[64], tmp[64], content[80];  /* 64 used: room to spare keeps -Wall quiet */
  /* The agents make the directory too, so the floor pays its mkdir. */
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) return fail("mkdir", dir);
  int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return fail("open", dir);
  for (long i = 0; i < n; i++) {
    snprintf(tmp, sizeof tmp, ".f%05ld.edgeagent-new", i);
    /* 63 characters and a newline, distinct per file: run.py writes the same. */
    snprintf(content, sizeof content, "file %05ld %-52s\n", i, "of the peers workload");
    int f = openat(d, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f < 0) return fail("create", tmp);
    if (write(f, content, 64) != 64) return fail("write", tmp);
    if (fchmod(f, 0644) != 0) return fail("fchmod", tmp);
    close(f);
  }
  /* One flush of the data for all files instead of N fsyncs: edgeagent's batching. */
  if (syncfs(d) != 0) return fail("syncfs", dir);
  for (long i = 0; i < n; i++) {
    snprintf(tmp, sizeof tmp, ".f%05ld.edgeagent-new", i);
    snprintf(name, sizeof name, "f%05ld", i);
    if (renameat(d, tmp, d, name) != 0) return fail("rename", tmp);
  }
  if (fsync(d) != 0) return fail("fsync", dir);
  close(d);
  return 0;
}

static int do_spawn(const char *log, char **argv) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) return fail("fork", argv[0]);
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(fail("open", log));
    execv(argv[0], argv);
    _exit(fail("exec", argv[0]) + 126);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) return fail("wait for", argv[0]);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long long ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  printf("%lld %ld %d\n", ns, ru.ru_maxrss, code);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "spawn") == 0) return do_spawn(argv[2], argv + 3);
  if (argc != 4 || (strcmp(argv[1], "lstat") && strcmp(argv[1], "write"))) {
    fprintf(stderr, "usage: floor lstat|write DIR N | floor spawn LOG CMD [ARG]...\n");
    return 2;
  }
  long n = strtol(argv[3], NULL, 10);
  if (n < 0 || n > 100000) { fprintf(stderr, "floor: N must be 0 to 100000 (five-digit names)\n"); return 2; }
  return strcmp(argv[1], "lstat") == 0 ? do_lstat(argv[2], n) : do_write(argv[2], n);
}
