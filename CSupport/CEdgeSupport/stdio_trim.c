/* Static builds only (EDGE_TRIM_LIBC), like libc_trim.c: definitions that keep glibc's stdio,
 * locale and thread start-up out of the static binary. The agent itself writes with write(2);
 * only libuv and LMDB reach for stdio, and for little:
 *
 *   - formatting: snprintf and the _FORTIFY_SOURCE variants (libuv's error names and address
 *     text, LMDB's assertion text, our fixed-point numbers in edge_fmt_double). glibc's printf
 *     brings wide characters, and with them gconv, the dynamic loader and gettext (about 250 KB
 *     on aarch64). edge_vformat below covers the conversions those callers use.
 *   - stderr: libuv (an ancillary-data warning) and LMDB (its assertion message) print there.
 *     Our stderr is a token that fprintf writes to fd 2.
 *   - libuv's /proc readers (uv_cpu_info, uv_uptime, uv_loadavg, uv_get_free_memory, the cgroup
 *     limits) and uv_interface_addresses, which edgeagent never calls: fdopen, fscanf, sscanf and
 *     getifaddrs fail with ENOSYS, so such a call would return an error, not a wrong answer.
 *   - pthread_create: only libuv's threadpool starts threads (uv_queue_work, asynchronous uv_fs_*
 *     and uv_getaddrinfo, none of which the agent uses; it is one thread and one loop). glibc's
 *     pthread_create drags in the resolver's per-thread state. If the threadpool ever started,
 *     libuv would abort at once on the EAGAIN, not run without its workers.
 *   - fork: a bare clone (see below).
 *   - strtol and strtoul (libuv reads UV_THREADPOOL_SIZE, glibc's malloc the cpu count): glibc's
 *     go through the locale tables.
 */
#ifdef EDGE_TRIM_LIBC
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>

/* Not <stdio.h>: it renames sscanf and fscanf to their __isoc99_ forms, and libuv and LMDB
 * reference the plain names. */
typedef struct _IO_FILE FILE;

struct out { char *buf; size_t cap; size_t len; };

static void put(struct out *o, char c) {
  if (o->len + 1 < o->cap) o->buf[o->len] = c;
  o->len++;
}

static void pad(struct out *o, char c, int n) { while (n-- > 0) put(o, c); }

/* Digits of v in base, most significant first, into d (at least 24 bytes); returns the count. */
static int digits(char *d, uintmax_t v, unsigned base, int upper) {
  const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char rev[24];
  int n = 0, i = 0;
  do { rev[n++] = set[v % base]; v /= base; } while (v);
  while (n) d[i++] = rev[--n];
  return i;
}

static void field(struct out *o, const char *s, int n, const char *sign, int width, int left, int zero) {
  int sn = 0;
  while (sign[sn]) sn++;
  int fill = width - n - sn;
  if (!left && !zero) pad(o, ' ', fill);
  for (int i = 0; i < sn; i++) put(o, sign[i]);
  if (!left && zero) pad(o, '0', fill);
  for (int i = 0; i < n; i++) put(o, s[i]);
  if (left) pad(o, ' ', fill);
}

/* %f for the magnitudes the agent prints (durations, rates, sizes: below 2^63 after scaling),
 * at most 9 decimals, halves rounded up; beyond that range it prints "inf", never wrong digits. */
static void fixed(struct out *o, double d, int prec, int width, int left, int zero) {
  const char *sign = "";
  if (d != d) { field(o, "nan", 3, "", width, left, 0); return; }
  if (d < 0) { sign = "-"; d = -d; }
  if (prec > 9) prec = 9;
  uint64_t scale = 1;
  for (int i = 0; i < prec; i++) scale *= 10;
  if (d * (double)scale >= 9.2e18) { field(o, "inf", 3, sign, width, left, 0); return; }
  uint64_t v = (uint64_t)(d * (double)scale + 0.5);
  char text[48];
  int n = digits(text, v / scale, 10, 0);
  if (prec > 0) {
    char frac[24];
    int fn = digits(frac, v % scale, 10, 0);
    text[n++] = '.';
    for (int i = fn; i < prec; i++) text[n++] = '0';
    for (int i = 0; i < fn; i++) text[n++] = frac[i];
  }
  field(o, text, n, sign, width, left, zero);
}

/* The printf conversions d i u x X o c s p f and %%, with flags - 0 + and space, width and
 * precision (numbers or *), and the length modifiers hh h l ll j z t (z and t are 32 bits on
 * armv7). Returns the length the whole text needs, as snprintf does. */
static size_t edge_vformat(char *buf, size_t cap, const char *f, va_list ap) {
  struct out o = { buf, cap, 0 };
  for (; *f; f++) {
    if (*f != '%') { put(&o, *f); continue; }
    const char *start = f++;
    int left = 0, zero = 0, plus = 0, space = 0, width = 0, prec = -1, len = 0;
    for (;; f++) {
      if (*f == '-') left = 1;
      else if (*f == '0') zero = 1;
      else if (*f == '+') plus = 1;
      else if (*f == ' ') space = 1;
      else break;
    }
    if (*f == '*') { width = va_arg(ap, int); if (width < 0) { left = 1; width = -width; } f++; }
    else while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
    if (*f == '.') {
      f++;
      prec = 0;
      if (*f == '*') { prec = va_arg(ap, int); f++; }
      else while (*f >= '0' && *f <= '9') prec = prec * 10 + (*f++ - '0');
    }
    if (*f == 'h') { len = -1; f++; if (*f == 'h') { len = -2; f++; } }
    else if (*f == 'l') { len = 1; f++; if (*f == 'l') { len = 2; f++; } }
    else if (*f == 'j') { len = 2; f++; }
    else if (*f == 'z' || *f == 't') { len = 3; f++; }
    char d[24];
    switch (*f) {
    case 'd': case 'i': {
      intmax_t v = len == 3 ? va_arg(ap, ptrdiff_t) : len == 2 ? va_arg(ap, long long)
                 : len == 1 ? va_arg(ap, long) : va_arg(ap, int);
      if (len == -1) v = (short)v;
      if (len == -2) v = (signed char)v;
      uintmax_t m = v < 0 ? -(uintmax_t)v : (uintmax_t)v;
      int n = digits(d, m, 10, 0);
      field(&o, d, n, v < 0 ? "-" : plus ? "+" : space ? " " : "", width, left, zero);
      break;
    }
    case 'u': case 'x': case 'X': case 'o': case 'p': {
      uintmax_t v;
      if (*f == 'p') v = (uintptr_t)va_arg(ap, void *);
      else v = len == 3 ? va_arg(ap, size_t) : len == 2 ? va_arg(ap, unsigned long long)
               : len == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
      if (len == -1 && *f != 'p') v = (unsigned short)v;
      if (len == -2 && *f != 'p') v = (unsigned char)v;
      unsigned base = (*f == 'u') ? 10 : (*f == 'o') ? 8 : 16;
      int n = digits(d, v, base, *f == 'X');
      field(&o, d, n, *f == 'p' ? "0x" : "", width, left, zero);
      break;
    }
    case 'c': { char c = (char)va_arg(ap, int); field(&o, &c, 1, "", width, left, 0); break; }
    case 's': {
      const char *s = va_arg(ap, const char *);
      if (!s) s = "(null)";
      int n = 0;
      while (s[n] && (prec < 0 || n < prec)) n++;
      field(&o, s, n, "", width, left, 0);
      break;
    }
    case 'f': fixed(&o, va_arg(ap, double), prec < 0 ? 6 : prec, width, left, zero); break;
    case '%': put(&o, '%'); break;
    default:
      /* Not one of ours: copy the directive as written rather than guess its argument. */
      for (const char *c = start; c <= f && *c; c++) put(&o, *c);
      if (!*f) f--;
      break;
    }
  }
  if (cap) buf[o.len < cap ? o.len : cap - 1] = 0;
  return o.len;
}

static int clamp(size_t n) { return n > INT_MAX ? -1 : (int)n; }

int snprintf(char *s, size_t n, const char *f, ...) {
  va_list ap; va_start(ap, f); size_t r = edge_vformat(s, n, f, ap); va_end(ap);
  return clamp(r);
}

/* glibc's mkstemp and mkdtemp name their files with it. */
int sprintf(char *s, const char *f, ...) {
  va_list ap; va_start(ap, f); size_t r = edge_vformat(s, SIZE_MAX, f, ap); va_end(ap);
  return clamp(r);
}

/* glibc's own internal name, used by its dynarray failure path. */
int __snprintf(char *s, size_t n, const char *f, ...) {
  va_list ap; va_start(ap, f); size_t r = edge_vformat(s, n, f, ap); va_end(ap);
  return clamp(r);
}

int __snprintf_chk(char *s, size_t n, int flag, size_t slen, const char *f, ...) {
  (void)flag;
  if (n > slen) __builtin_trap();
  va_list ap; va_start(ap, f); size_t r = edge_vformat(s, n, f, ap); va_end(ap);
  return clamp(r);
}

int __sprintf_chk(char *s, int flag, size_t slen, const char *f, ...) {
  (void)flag;
  va_list ap; va_start(ap, f); size_t r = edge_vformat(s, slen, f, ap); va_end(ap);
  if (r >= slen) __builtin_trap();
  return clamp(r);
}

static char stderr_token;
FILE *stderr = (FILE *)&stderr_token;

static int print_to(FILE *fp, const char *f, va_list ap) {
  if (fp != stderr) { errno = EBADF; return -1; }
  char line[512];
  size_t n = edge_vformat(line, sizeof line, f, ap);
  if (n >= sizeof line) n = sizeof line - 1;
  return write(2, line, n) < 0 ? -1 : (int)n;
}

int fprintf(FILE *fp, const char *f, ...) {
  va_list ap; va_start(ap, f); int r = print_to(fp, f, ap); va_end(ap);
  return r;
}

int __fprintf_chk(FILE *fp, int flag, const char *f, ...) {
  (void)flag;
  va_list ap; va_start(ap, f); int r = print_to(fp, f, ap); va_end(ap);
  return r;
}

/* Both parse as C's strto* do: spaces, a sign, 0x or 0 by base, digits; on overflow ERANGE and
 * the limit. glibc's own malloc parses /sys's cpu list with strtoul. */
static unsigned long parse(const char *s, char **end, int base, unsigned long limit, int *neg) {
  const char *p = s;
  while (*p == ' ' || (*p >= '\t' && *p <= '\r')) p++;
  *neg = 0;
  if (*p == '+' || *p == '-') *neg = *p++ == '-';
  if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) { p += 2; base = 16; }
  else if (base == 0) base = p[0] == '0' ? 8 : 10;
  if (*neg && limit == LONG_MAX) limit = (unsigned long)LONG_MAX + 1;
  unsigned long v = 0;
  int any = 0, over = 0;
  for (;; p++) {
    int c = *p, dv;
    if (c >= '0' && c <= '9') dv = c - '0';
    else if (c >= 'a' && c <= 'z') dv = c - 'a' + 10;
    else if (c >= 'A' && c <= 'Z') dv = c - 'A' + 10;
    else break;
    if (dv >= base) break;
    any = 1;
    if (v > (limit - (unsigned long)dv) / (unsigned long)base) over = 1;
    else v = v * (unsigned long)base + (unsigned long)dv;
  }
  if (end) *end = (char *)(any ? p : s);
  if (over) { errno = ERANGE; return limit; }
  return v;
}

long strtol(const char *s, char **end, int base) {
  int neg;
  unsigned long v = parse(s, end, base, LONG_MAX, &neg);
  return neg ? (long)(0 - v) : (long)v;
}

unsigned long strtoul(const char *s, char **end, int base) {
  int neg;
  unsigned long v = parse(s, end, base, ULONG_MAX, &neg);
  return neg ? 0 - v : v;
}

int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
  (void)t; (void)a; (void)fn; (void)arg;
  return EAGAIN;
}

/* libuv registers fork handlers (its signal pipe, its threadpool) and aborts if it cannot. They
 * are accepted and never run: the agent forks with a bare clone and the child only execs. */
int pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
  (void)prepare; (void)parent; (void)child;
  return 0;
}

/* glibc's fork also takes and resets every stdio lock (linking stdio); libuv's uv_spawn, like
 * our spawn.c, only execs in the child, so a bare clone is all it needs. */
pid_t fork(void) { return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); }

FILE *fdopen(int fd, const char *mode) { (void)fd; (void)mode; errno = ENOSYS; return NULL; }
int fclose(FILE *fp) { (void)fp; errno = EBADF; return -1; }
char *fgets(char *s, int n, FILE *fp) { (void)s; (void)n; (void)fp; errno = ENOSYS; return NULL; }
void rewind(FILE *fp) { (void)fp; }
int fscanf(FILE *fp, const char *f, ...) { (void)fp; (void)f; errno = ENOSYS; return -1; }
int sscanf(const char *s, const char *f, ...) { (void)s; (void)f; errno = ENOSYS; return -1; }
int getifaddrs(struct ifaddrs **list) { (void)list; errno = ENOSYS; return -1; }
void freeifaddrs(struct ifaddrs *list) { (void)list; }

/* libuv's fs.c sizes readlink/realpath buffers with it (uv_fs_*, unused by the agent); glibc's
 * pathconf reads /proc/mounts with sscanf. These are Linux's limits for every filesystem. */
long pathconf(const char *path, int name) {
  (void)path;
  if (name == _PC_PATH_MAX) return PATH_MAX;
  if (name == _PC_NAME_MAX) return NAME_MAX;
  errno = EINVAL;
  return -1;
}
#endif
