#include "edge_support.h"
#include <stdlib.h>

/* Counts allocations for `edgeagent bench` and the allocation tests, per thread: what a test or
 * a benchmark measures runs on its own thread, and in a test process other threads (XCTest's,
 * Foundation's process monitors) allocate at any time, which made a process-wide count noisy
 * under load. The agent itself has one thread. Static TLS in the executable: no allocation. */
static __thread uint64_t t_allocs;
static __thread uint64_t t_frees;

uint64_t edge_alloc_count(void) { return t_allocs; }
uint64_t edge_free_count(void) { return t_frees; }

static inline void count_alloc(void) { t_allocs++; }
static inline void count_free(void) { t_frees++; }

#ifdef EDGE_INTERPOSE_MALLOC
/* Full Swift: the runtime is a shared library, so a link-time wrap would miss it. Defining the
 * allocator in the executable interposes it for every library; glibc exports __libc_* for this. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

void *malloc(size_t n) { count_alloc(); return __libc_malloc(n); }
void *calloc(size_t c, size_t n) { count_alloc(); return __libc_calloc(c, n); }
void *realloc(void *p, size_t n) { count_alloc(); return __libc_realloc(p, n); }
void free(void *p) { if (p) count_free(); __libc_free(p); }
void *aligned_alloc(size_t a, size_t n) { count_alloc(); return __libc_memalign(a, n); }
void *memalign(size_t a, size_t n) { count_alloc(); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
  count_alloc();
  void *p = __libc_memalign(a, n);
  if (!p) return 12; /* ENOMEM */
  *out = p;
  return 0;
}
#else
/* Embedded: the link wraps these (-Xlinker --wrap=malloc ...), Swift runtime and static C
 * libraries included. The wrap also catches the C library's calls to itself (musl's calloc,
 * realloc and aligned_alloc call malloc, its posix_memalign calls aligned_alloc): only the
 * outermost call is the caller's allocation, so a per-thread depth counts that one alone. */
extern void *__real_malloc(size_t);
extern void *__real_calloc(size_t, size_t);
extern void *__real_realloc(void *, size_t);
extern int __real_posix_memalign(void **, size_t, size_t);
extern void *__real_aligned_alloc(size_t, size_t);
extern void __real_free(void *);

static __thread unsigned t_depth;
static inline void enter_alloc(void) { if (t_depth++ == 0) count_alloc(); }
static inline void leave(void) { t_depth--; }

void *__wrap_malloc(size_t n) { enter_alloc(); void *r = __real_malloc(n); leave(); return r; }
void *__wrap_calloc(size_t c, size_t n) { enter_alloc(); void *r = __real_calloc(c, n); leave(); return r; }
void *__wrap_realloc(void *p, size_t n) { enter_alloc(); void *r = __real_realloc(p, n); leave(); return r; }
int __wrap_posix_memalign(void **o, size_t a, size_t n) { enter_alloc(); int r = __real_posix_memalign(o, a, n); leave(); return r; }
void *__wrap_aligned_alloc(size_t a, size_t n) { enter_alloc(); void *r = __real_aligned_alloc(a, n); leave(); return r; }
void __wrap_free(void *p) {
  if (t_depth++ == 0 && p) count_free();
  __real_free(p);
  leave();
}
#endif
