/* Static builds only (EDGE_TRIM_LIBC, defined by Package.swift when EDGE_STATIC=1). These are
 * definitions, not link-time wraps: lld extracts an archive member for a reference before it
 * applies --wrap, so only a definition of our own keeps glibc's object out of the link.
 *
 * In a static glibc, three calls drag in hundreds of kilobytes that cannot work there anyway:
 * assert's failure path and strerror translate their text through gettext, which loads message
 * catalogues and character-set converters (gconv, with a dynamic loader); getpwuid_r goes
 * through NSS, which dlopens modules a static binary does not have. libuv and LMDB reference
 * them (uv_os_get_passwd, assert, mdb_strerror), and so does our Errno. These wrappers answer
 * the same questions with no locale: messages are glibc's English text, a failed assertion
 * says so on stderr and aborts, and the password database is read by the agent itself from the
 * managed root's /etc/passwd (Accounts), so NSS has nothing to add. */
#ifdef EDGE_TRIM_LIBC
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>

static const char *const messages[] = {
  [0] = "Success",
  [EPERM] = "Operation not permitted",
  [ENOENT] = "No such file or directory",
  [ESRCH] = "No such process",
  [EINTR] = "Interrupted system call",
  [EIO] = "Input/output error",
  [ENXIO] = "No such device or address",
  [E2BIG] = "Argument list too long",
  [ENOEXEC] = "Exec format error",
  [EBADF] = "Bad file descriptor",
  [ECHILD] = "No child processes",
  [EAGAIN] = "Resource temporarily unavailable",
  [ENOMEM] = "Cannot allocate memory",
  [EACCES] = "Permission denied",
  [EFAULT] = "Bad address",
  [EBUSY] = "Device or resource busy",
  [EEXIST] = "File exists",
  [EXDEV] = "Invalid cross-device link",
  [ENODEV] = "No such device",
  [ENOTDIR] = "Not a directory",
  [EISDIR] = "Is a directory",
  [EINVAL] = "Invalid argument",
  [ENFILE] = "Too many open files in system",
  [EMFILE] = "Too many open files",
  [ETXTBSY] = "Text file busy",
  [EFBIG] = "File too large",
  [ENOSPC] = "No space left on device",
  [ESPIPE] = "Illegal seek",
  [EROFS] = "Read-only file system",
  [EMLINK] = "Too many links",
  [EPIPE] = "Broken pipe",
  [ERANGE] = "Numerical result out of range",
  [EDEADLK] = "Resource deadlock avoided",
  [ENAMETOOLONG] = "File name too long",
  [ENOSYS] = "Function not implemented",
  [ENOTEMPTY] = "Directory not empty",
  [ELOOP] = "Too many levels of symbolic links",
  [ENODATA] = "No data available",
  [ETIME] = "Timer expired",
  [EOVERFLOW] = "Value too large for defined data type",
  [EILSEQ] = "Invalid or incomplete multibyte or wide character",
  [ENOTSOCK] = "Socket operation on non-socket",
  [EADDRINUSE] = "Address already in use",
  [EADDRNOTAVAIL] = "Cannot assign requested address",
  [ENETDOWN] = "Network is down",
  [ENETUNREACH] = "Network is unreachable",
  [ECONNABORTED] = "Software caused connection abort",
  [ECONNRESET] = "Connection reset by peer",
  [ENOBUFS] = "No buffer space available",
  [EISCONN] = "Transport endpoint is already connected",
  [ENOTCONN] = "Transport endpoint is not connected",
  [ETIMEDOUT] = "Connection timed out",
  [ECONNREFUSED] = "Connection refused",
  [EHOSTUNREACH] = "No route to host",
  [EALREADY] = "Operation already in progress",
  [EINPROGRESS] = "Operation now in progress",
  [ECANCELED] = "Operation canceled",
  [EDQUOT] = "Disk quota exceeded",
  [EOPNOTSUPP] = "Operation not supported",
  [EPROTO] = "Protocol error",
};

char *strerror(int e) {
  if (e >= 0 && (size_t)e < sizeof messages / sizeof messages[0] && messages[e]) return (char *)messages[e];
  return (char *)"Unknown error";
}

/* glibc's vfprintf calls this for %m; defining it keeps _strerror.o, and with it gettext, out. */
char *__strerror_r(int e, char *buf, size_t len) { (void)buf; (void)len; return strerror(e); }

static void say(const char *s) { ssize_t r = write(2, s, strlen(s)); (void)r; }

__attribute__((noreturn))
void __assert_fail(const char *assertion, const char *file, unsigned int line, const char *function) {
  char num[16];
  int i = (int)sizeof num - 1;
  num[i] = 0;
  do { num[--i] = (char)('0' + line % 10); line /= 10; } while (line && i > 0);
  say("edgeagent: fatal: assertion failed: ");
  say(assertion); say(" ("); say(file); say(":"); say(num + i); say(", "); say(function); say(")\n");
  abort();
}

/* A static binary cannot load shared objects; libuv references these for uv_dlopen, which the
 * agent never calls. Defining them keeps glibc's dynamic loader and its gettext out. */
void *dlopen(const char *file, int mode) { (void)file; (void)mode; return NULL; }
char *dlerror(void) { return (char *)"dynamic loading is not supported by a static edgeagent"; }
void *dlsym(void *handle, const char *name) { (void)handle; (void)name; return NULL; }
int dlclose(void *handle) { (void)handle; return 0; }

/* IPv6 scope names (uv_ip6_addr "fe80::1%eth0"): the agent's addresses are IPv4 literals. */
unsigned int if_nametoindex(const char *name) { (void)name; errno = ENODEV; return 0; }

int getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t len, struct passwd **result) {
  (void)uid; (void)pwd; (void)buf; (void)len;
  *result = NULL;
  return ENOENT;
}
#endif
