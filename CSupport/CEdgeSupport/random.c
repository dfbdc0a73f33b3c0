/* Embedded Swift seeds its hashing with arc4random_buf, which glibc has (2.36) and musl 1.2.3
 * does not: the musl build takes it from the kernel's getrandom here. It cannot fail to the
 * caller, so a kernel that will not give randomness ends the process rather than hand out a
 * predictable seed. */
#ifdef EDGE_MUSL
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

void arc4random_buf(void *buf, size_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    ssize_t r = getrandom(p, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      abort();
    }
    p += r;
    n -= (size_t)r;
  }
}
#endif
