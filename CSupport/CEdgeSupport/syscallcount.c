#include "edge_support.h"

/* Counts the calls edgeagent's own code makes to the kernel through EdgeHost's seam
 * (Syscalls.swift: every system_* that can fail, and close), per thread as the allocation
 * counters are: `edgeagent bench` and the tests compare them exactly. Thread-local storage is
 * what Embedded Swift cannot declare, so the two counters live here. LMDB's and libuv's own
 * calls are not counted: they do not go through the seam. */
static __thread uint64_t t_calls;
static __thread uint64_t t_failed;

void edge_syscall_note(int failed) {
  t_calls++;
  if (failed) t_failed++;
}

uint64_t edge_syscall_count(void) { return t_calls; }
uint64_t edge_syscall_failed_count(void) { return t_failed; }
