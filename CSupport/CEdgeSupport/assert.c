#include "edge_support.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The C libraries' failed assertions in the static binaries. libuv, libsodium and LMDB's assert()
 * calls edge_assert_at (Cross/musl-deps.sh), LMDB's own mdb_assert edge_assert_fail, so an
 * assertion that fails says where (and for LMDB, what) and aborts as musl's __assert_fail does;
 * but with write(2). musl's prints with
 * fprintf, and that one call linked printf's whole formatter, long-double arithmetic included:
 * about 20 KB of the aarch64 binary, for a message no healthy run prints. */
static void put(const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

_Noreturn void edge_assert_at(const char *file, int line) {
  edge_assert_fail("(not kept)", file, line, "?");
}

_Noreturn void edge_assert_fail(const char *expr, const char *file, int line, const char *func) {
  char digits[16];
  int i = (int)sizeof digits - 1;
  unsigned v = line < 0 ? 0u : (unsigned)line;
  digits[i] = 0;
  do { digits[--i] = (char)('0' + v % 10); v /= 10; } while (v > 0 && i > 0);
  put("Assertion failed: ");
  put(expr);
  put(" (");
  put(file);
  put(": ");
  put(func);
  put(": ");
  put(digits + i);
  put(")\n");
  abort();
}
