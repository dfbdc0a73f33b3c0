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
