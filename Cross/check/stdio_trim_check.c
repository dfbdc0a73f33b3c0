/* Cross/check-libc-trim.sh builds this with stdio_trim.c, statically, for each target and runs
 * it (under qemu-user where foreign): the formats libuv, LMDB and edge_fmt_double use must come
 * out as glibc's printf would write them. Prints each mismatch; exits 1 if there was one. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

int snprintf(char *, size_t, const char *, ...);
int __sprintf_chk(char *, int, size_t, const char *, ...);
long strtol(const char *, char **, int);

static int failures;

static void say(const char *s) { ssize_t r = write(1, s, strlen(s)); (void)r; }

static void expect(const char *what, const char *got, const char *want) {
  if (strcmp(got, want) == 0) return;
  failures++;
  say("FAIL "); say(what); say(": got \""); say(got); say("\", want \""); say(want); say("\"\n");
}

#define CHECK(want, ...) do { char b[128]; snprintf(b, sizeof b, __VA_ARGS__); expect(#__VA_ARGS__, b, want); } while (0)

int main(void) {
  CHECK("Unknown system error -42", "Unknown system error %d", -42);
  CHECK("10.0.2.15", "%u.%u.%u.%u", 10u, 0u, 2u, 15u);
  CHECK("ff:0", "%x:%x", 255u, 0u);
  CHECK("[  7|7  |007]", "[%3d|%-3d|%03d]", 7, 7, 7);
  CHECK("abc|ab|  ab", "%s|%.2s|%4.2s", "abc", "abc", "abc");
  CHECK("x", "%c", 'x');
  CHECK("100%", "%d%%", 100);
  CHECK("-9223372036854775808", "%lld", (long long)INT64_MIN);
  CHECK("18446744073709551615", "%llu", (unsigned long long)UINT64_MAX);
  CHECK("4294967295 -1", "%zu %zd", (size_t)UINT32_MAX, (ptrdiff_t)-1);
  CHECK("12 -3", "%ld %ld", 12L, -3L);
  CHECK("1.500 0.0 -2.25 3", "%.3f %.1f %.2f %.0f", 1.5, 0.04, -2.25, 2.5 + 0.5);
  CHECK("0.000123", "%f", 0.000123);
  CHECK("12.35", "%.*f", 2, 12.345001);
  CHECK("0x1f", "%p", (void *)0x1f);
  CHECK("+5", "%+d", 5);
  char small[4];
  int n = snprintf(small, sizeof small, "%s", "truncate");
  expect("truncated text", small, "tru");
  if (n != 8) { failures++; say("FAIL truncated length\n"); }
  char chk[16];
  __sprintf_chk(chk, 1, sizeof chk, "%s:%d", "mdb.c", 123);
  expect("__sprintf_chk", chk, "mdb.c:123");

  char *end;
  errno = 0;
  if (strtol(" 42x", &end, 10) != 42 || *end != 'x') { failures++; say("FAIL strtol 42\n"); }
  if (strtol("0x1F", NULL, 0) != 31 || strtol("017", NULL, 0) != 15 || strtol("-8", NULL, 0) != -8) { failures++; say("FAIL strtol bases\n"); }
  if (strtol("99999999999999999999", NULL, 10) != LONG_MAX || errno != ERANGE) { failures++; say("FAIL strtol overflow\n"); }
  if (strtol("zz", &end, 10) != 0 || strcmp(end, "zz") != 0) { failures++; say("FAIL strtol no digits\n"); }
  say(failures ? "stdio_trim: FAILED\n" : "stdio_trim: ok\n");
  return failures != 0;
}
