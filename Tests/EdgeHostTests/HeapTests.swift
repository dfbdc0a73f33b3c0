import CEdge
import EdgeHost
import XCTest

/// Issue 12 item 7: a 16 MiB body left the agent at 35 MB RSS for good (glibc keeps freed heap
/// pages below the top block). `TransientBuffers` trims once after large buffers go.
final class HeapTests: XCTestCase {
  func residentBytes() -> Int {
    let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
    let pages = Int(statm.split(separator: " ").dropFirst().first ?? "0") ?? 0
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
  }

  func testSmallBuffersDoNotTrim() {
    _ = TransientBuffers.releaseIfAny()
    TransientBuffers.note(TransientBuffers.threshold - 1)
    XCTAssertFalse(TransientBuffers.pending)
    XCTAssertFalse(TransientBuffers.releaseIfAny())
  }

  func testFreedLargeBuffersGoBackToTheSystem() {
    _ = TransientBuffers.releaseIfAny()
    // 32 MiB in 64 KiB blocks (heap, not mmap), each followed by a small block that stays, so
    // the freed ones are holes glibc's own top-of-heap trim cannot give back: a trim does.
    // In a process that already ran other tests the small blocks may land in old holes and the
    // big ones coalesce into the top, which free() trims by itself past M_TRIM_THRESHOLD: pin
    // both thresholds so the freed pages stay resident until the trim, whatever ran before.
    mallopt(M_MMAP_THRESHOLD, 4 << 20)
    mallopt(M_TRIM_THRESHOLD, 1 << 30)
    defer { mallopt(M_TRIM_THRESHOLD, 128 << 10); mallopt(M_MMAP_THRESHOLD, 128 << 10) }
    var blocks: [UnsafeMutableRawPointer] = []
    var pins: [UnsafeMutableRawPointer] = []
    blocks.reserveCapacity(512)
    pins.reserveCapacity(512)
    for _ in 0..<512 {
      let b = malloc(64 << 10)!
      memset(b, 1, 64 << 10)
      blocks.append(b)
      pins.append(malloc(64)!)
    }
    for b in blocks { free(b) }
    let before = residentBytes()
    TransientBuffers.note(32 << 20)
    XCTAssertTrue(TransientBuffers.pending)
    XCTAssertTrue(TransientBuffers.releaseIfAny())
    XCTAssertFalse(TransientBuffers.pending, "one trim per batch of large buffers")
    let after = residentBytes()
    for p in pins { free(p) }
    XCTAssertGreaterThan(before - after, 16 << 20, "RSS \(before >> 20) MiB before the trim, \(after >> 20) MiB after")
  }
}
