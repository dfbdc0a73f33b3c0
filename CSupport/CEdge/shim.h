/* The C that Swift sees: libuv, LMDB, libsodium and the libc headers edgeagent uses, plus
 * static inline shims for what Swift cannot import (variadic calls, errno, wait macros, the
 * stdio globals in Swift 6 mode). No policy lives here. */
#pragma once
#include <uv.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <dirent.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/statvfs.h>
#include <sys/socket.h>
#include <ifaddrs.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <elf.h>
#include <malloc.h>
#include <linux/openat2.h>

static inline int edge_errno(void) { return errno; }
static inline void edge_set_errno(int e) { errno = e; }

/* Variadic in C, so not importable. */
static inline int edge_open(const char *p, int flags, mode_t mode) { return open(p, flags, mode); }
static inline int edge_openat(int dirfd, const char *p, int flags, mode_t mode) { return openat(dirfd, p, flags, mode); }
static inline int edge_fcntl_int(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }
static inline int edge_prctl(int opt, unsigned long a2) { return prctl(opt, a2, 0, 0, 0); }
/* SIG_IGN is a macro (a cast of 1 to a handler pointer). */
static inline void edge_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }
static inline int edge_fmt_double(char *buf, size_t n, double d, int prec) { return snprintf(buf, n, "%.*f", prec, d); }

/* O_PATH (an fd naming an object without opening it: fstat and readlinkat work on it, a
 * symlink included with O_NOFOLLOW) is declared by glibc only under _GNU_SOURCE. */
#if defined(O_PATH)
#define EDGE_O_PATH O_PATH
#else
#define EDGE_O_PATH __O_PATH
#endif

/* openat2(2) has no glibc wrapper and syscall(2) is variadic. Returns -1 with errno ENOSYS on
 * kernels (or qemu-user) without it. */
static inline int edge_openat2(int dirfd, const char *p, int flags, int mode, unsigned long long resolve) {
#ifdef SYS_openat2
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (unsigned long long)flags;
  how.mode = (unsigned long long)mode;
  how.resolve = resolve;
  return (int)syscall(SYS_openat2, dirfd, p, &how, sizeof how);
#else
  (void)dirfd; (void)p; (void)flags; (void)mode; (void)resolve;
  errno = ENOSYS;
  return -1;
#endif
}
/* ioctl(2) is variadic and struct ifreq a union: get (set = 0) or set an interface's flags. */
#include <net/if.h>
#include <sys/ioctl.h>
static inline int edge_ifflags(int fd, const char *name, int set, short *flags) {
  struct ifreq r;
  memset(&r, 0, sizeof r);
  strncpy(r.ifr_name, name, IFNAMSIZ - 1);
  if (set) r.ifr_flags = *flags;
  int rc = ioctl(fd, set ? SIOCSIFFLAGS : SIOCGIFFLAGS, &r);
  if (rc == 0 && !set) *flags = r.ifr_flags;
  return rc;
}
/* sysinfo(2): the function and its struct share a name, which Swift cannot tell apart. Bytes of
 * RAM, 0 when unknown. */
#include <sys/sysinfo.h>
static inline unsigned long long edge_total_memory(void) {
  struct sysinfo si;
  if (sysinfo(&si) != 0) return 0;
  return (unsigned long long)si.totalram * si.mem_unit;
}
/* finit_module(2) has no glibc wrapper. An init loads the drivers for its own disks with it. */
static inline int edge_finit_module(int fd, const char *params, int flags) {
  return (int)syscall(SYS_finit_module, fd, params, flags);
}
/* pidfd_open(2) (Linux 5.3) has no glibc wrapper: an fd that polls readable when the process
 * exits, so a command's exit can be waited for together with its output and a deadline. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
static inline int edge_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
/* syncfs is declared only under _GNU_SOURCE, which would change fd_set between this module and
 * CEdgeSupport; declare it here instead. */
extern int syncfs(int fd);
extern int pipe2(int fds[2], int flags);
static inline int edge_pipe2(int *fds, int flags) { return pipe2(fds, flags); }
static inline int edge_syncfs(int fd) { return syncfs(fd); }

/* Open file description locks (Linux 3.15): owned by the open file, like flock(2), so closing
 * it or exiting releases them and a forked child that closes its copy on exec holds none; unlike
 * flock, F_OFD_GETLK asks whether someone holds one without taking it, so `status` can name the
 * holder and never makes a starting daemon fail. Not declared without _GNU_SOURCE (see syncfs). */
#ifndef F_OFD_GETLK
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#endif
/* Takes an exclusive lock on the whole file without waiting: 0, or -1 with errno (EAGAIN or
 * EACCES when another open file holds it). */
static inline int edge_ofd_trylock(int fd) {
  struct flock l;
  memset(&l, 0, sizeof l);
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  return fcntl(fd, F_OFD_SETLK, &l);
}
/* 1 when another open file holds a lock that would block an exclusive one, 0 when none, -1 with errno. */
static inline int edge_ofd_held(int fd) {
  struct flock l;
  memset(&l, 0, sizeof l);
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  if (fcntl(fd, F_OFD_GETLK, &l) != 0) return -1;
  return l.l_type != F_UNLCK;
}

/* Which C library this binary was built against: allocation and syscall counts differ
 * between glibc and musl, so a bench baseline names it. */
static inline int edge_libc_is_glibc(void) {
#ifdef __GLIBC__
  return 1;
#else
  return 0;
#endif
}
/* glibc declares the socket types and the rlimit resources as enums (Swift sees a struct with a
 * rawValue), musl as plain macros: these names are the same integer under both. */
enum { EDGE_SOCK_DGRAM = SOCK_DGRAM, EDGE_SOCK_CLOEXEC = SOCK_CLOEXEC };
static inline int edge_getrlimit(int resource, struct rlimit *rl) { return getrlimit(resource, rl); }
static inline int edge_setrlimit(int resource, const struct rlimit *rl) { return setrlimit(resource, rl); }
enum { EDGE_RLIMIT_NOFILE = RLIMIT_NOFILE };

/* Macros. */
static inline int edge_WIFEXITED(int s) { return WIFEXITED(s); }
static inline int edge_WEXITSTATUS(int s) { return WEXITSTATUS(s); }
static inline int edge_WIFSIGNALED(int s) { return WIFSIGNALED(s); }
static inline int edge_WTERMSIG(int s) { return WTERMSIG(s); }
static inline long edge_stat_mtime_ns(const struct stat *st) { return st->st_mtim.tv_nsec; }
static inline long edge_stat_ctime_ns(const struct stat *st) { return st->st_ctim.tv_nsec; }

/* stdout/stderr are globals that Swift 6 mode refuses as not concurrency-safe. */
static inline FILE *edge_stdout(void) { return stdout; }
static inline FILE *edge_stderr(void) { return stderr; }
static inline void edge_stdio_linebuffered(void) { setvbuf(stdout, NULL, _IOLBF, 0); setvbuf(stderr, NULL, _IOLBF, 0); }
