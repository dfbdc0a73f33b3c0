import CEdge

/// Lets go of the mappings of the agent's own code and read-only data, keeping the pages in the
/// page cache. A daemon runs most of its image in its first minute (start-up, policy decoding,
/// bundle checks, the first convergence) and then leaves that code alone for hours, and the
/// kernel maps up to 64 KiB around each page it faults in: an idle agent had every page of its
/// text in its page tables. The pages it runs again come back with a minor fault from the cache
/// (with their 64 KiB window: madvise(MADV_RANDOM) does not stop that on Linux 6.x); the rest
/// stay clean, unmapped cache that the kernel reclaims first when a small box is short of
/// memory.
///
/// Only loadable segments without write permission are touched: their pages are never written
/// (relocations go to writable ones), so dropping the mapping cannot lose data. For an idle
/// moment, not a hot path: one madvise per segment. Returns the bytes of mappings let go, or nil
/// when the executable's program headers could not be found.
/// C: `getauxval(AT_PHDR)`, `madvise(MADV_DONTNEED)`
@discardableResult
public func releaseImagePages() -> Int? {
  #if arch(arm)
  typealias Header = Elf32_Phdr
  #else
  typealias Header = Elf64_Phdr
  #endif
  let count = Int(getauxval(UInt(AT_PHNUM)))
  guard count > 0, let headers = UnsafePointer<Header>(bitPattern: UInt(getauxval(UInt(AT_PHDR)))) else { return nil }
  // Where the executable was loaded: a position-independent one is moved by the difference
  // between where its headers are and where PT_PHDR says they would be.
  // Without PT_PHDR that difference is unknown, and a guess could name the heap: do nothing.
  var bias: Int? = nil
  for i in 0..<count where headers[i].p_type == UInt32(PT_PHDR) {
    bias = Int(bitPattern: UInt(bitPattern: headers)) - Int(headers[i].p_vaddr)
  }
  guard let bias else { return nil }
  let page = Int(sysconf(CInt(_SC_PAGESIZE)))
  var released = 0
  for i in 0..<count {
    let h = headers[i]
    guard h.p_type == UInt32(PT_LOAD), h.p_flags & UInt32(PF_W) == 0, h.p_memsz > 0 else { continue }
    let start = bias + Int(h.p_vaddr)
    let base = start & ~(page - 1)
    let end = (start + Int(h.p_memsz) + page - 1) & ~(page - 1)
    guard let p = UnsafeMutableRawPointer(bitPattern: base) else { continue }
    if madvise(p, end - base, MADV_DONTNEED) == 0 { released += end - base }
  }
  return released
}
