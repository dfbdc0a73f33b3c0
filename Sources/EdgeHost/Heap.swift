import CEdge

/// Hands the heap's free pages back to the kernel, those between live blocks included (glibc
/// only gives back the top of the heap by itself). A relay that has just let a thousand
/// connections go has megabytes of them. Cheap enough for an idle moment, not for every call.
/// Returns true when some memory was released. C: `malloc_trim` (glibc). musl has none and needs
/// none: its allocator returns freed groups of blocks to the kernel as they empty.
@discardableResult
public func releaseFreeHeap() -> Bool {
  #if EDGE_MUSL
  return false
  #else
  return malloc_trim(0) != 0
  #endif
}

/// Fixes glibc's mmap threshold at 1 MiB, once, at start: a buffer that large is then always
/// its own mapping and goes back to the kernel the moment it is freed. Left dynamic, the
/// threshold rises to the size of the first such buffer freed, the next ones come from the
/// heap, and a trim (`TransientBuffers`) only helps if it runs after the last reference went,
/// which a round that ends inside the callback holding the body cannot promise: CI saw a
/// hostile 16 MiB body stay resident. musl: nothing to do (see `releaseFreeHeap`).
public func fixHeapMmapThreshold() {
  #if !EDGE_MUSL
  _ = mallopt(M_MMAP_THRESHOLD, 1 << 20)
  #endif
}

/// Large transient buffers (an HTTP body, a policy's text) that were let go since the heap was
/// last trimmed. glibc keeps what a 16 MiB body leaves behind (its mmap threshold rises after
/// such a free, so the next large buffer comes from the heap and stays there): one hostile
/// body left the agent at 35 MB RSS for good. Whoever drops such a buffer notes it, and the
/// next idle moment trims (`releaseIfAny`). One loop thread: no lock.
public enum TransientBuffers {
  /// Below this a buffer is not worth a trim.
  public static let threshold = 1 << 20
  nonisolated(unsafe) static var pendingBytes = 0

  /// Notes a buffer of `bytes` that is being (or was just) let go.
  public static func note(_ bytes: Int) { if bytes >= threshold { pendingBytes += bytes } }

  public static var pending: Bool { pendingBytes > 0 }

  /// Trims the heap if a large buffer went since the last trim. Returns whether it trimmed.
  @discardableResult
  public static func releaseIfAny() -> Bool {
    guard pendingBytes > 0 else { return false }
    pendingBytes = 0
    releaseFreeHeap()
    return true
  }
}

/// Gives back to the kernel the pages wholly inside the first `count` bytes at `base`, a text the
/// caller owns and will not read again (`ReadPast`: a policy's, behind its reader): they are no
/// longer part of the process's memory, and read as zeros if touched. The rest of the buffer, and
/// the allocator's headers at its ends, are on pages not dropped. Advice: a failure leaves the
/// pages resident. C: `madvise(MADV_DONTNEED)`
public func dropTextPages(_ base: UnsafeRawPointer?, _ count: Int) {
  guard let base, count > 0 else { return }
  let page = UInt(sysconf(CInt(_SC_PAGESIZE)))
  let start = (UInt(bitPattern: base) + page - 1) & ~(page - 1)
  let end = (UInt(bitPattern: base) + UInt(count)) & ~(page - 1)
  guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return }
  _ = madvise(p, Int(end - start), MADV_DONTNEED)
}
