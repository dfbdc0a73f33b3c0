import CEdge
import CEdgeSupport

/// What this process has used so far, for benchmarks and allocation tests.

/// Allocations the calling thread made since it started (malloc, calloc, realloc, posix_memalign,
/// aligned_alloc).
public func allocationCount() -> UInt64 { edge_alloc_count() }

/// Calls the calling thread made through EdgeHost's syscall seam (Syscalls.swift: the file
/// system's calls, and close), and how many of those failed. LMDB's and libuv's own calls are
/// not among them.
public func syscallCount() -> (calls: UInt64, failed: UInt64) {
  (edge_syscall_count(), edge_syscall_failed_count())
}

/// Peak resident set size of this process, in KiB. C: `getrusage(RUSAGE_SELF)`
public func peakRSSKiB() -> Int {
  var ru = rusage()
  _ = system_getrusage_self(&ru)
  return Int(ru.ru_maxrss)
}
