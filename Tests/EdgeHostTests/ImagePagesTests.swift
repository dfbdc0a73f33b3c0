import EdgeCore
import EdgeHost
import Foundation
import XCTest

/// The idle agent lets go of its code's mappings (ImagePages.swift): the pages leave this
/// process's page tables, and the code still runs (from the page cache) afterwards.
final class ImagePagesTests: XCTestCase {
  /// Resident KiB of this executable's read-only mappings, from /proc/self/smaps.
  func imageResidentKiB() throws -> Int {
    let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let smaps = try String(contentsOfFile: "/proc/self/smaps", encoding: .utf8)
    var total = 0, inImage = false
    for line in smaps.split(separator: "\n") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      if let first = fields.first, first.contains("-"), fields.count >= 5 {
        inImage = fields.count >= 6 && String(fields[5]) == exe && !fields[1].contains("w")
      } else if inImage, fields.first == "Rss:", fields.count >= 2 {
        total += Int(fields[1]) ?? 0
      }
    }
    return total
  }

  func testReleasedPagesLeaveAndTheCodeStillRuns() throws {
    let before = try imageResidentKiB()
    XCTAssertGreaterThan(before, 0, "this test binary's image is mapped")
    let released = try XCTUnwrap(releaseImagePages(), "the executable's program headers were found")
    XCTAssertGreaterThanOrEqual(released / 1024, before, "every read-only segment was covered")
    let after = try imageResidentKiB()
    // What ran since (this test, the smaps read) comes back in 64 KiB windows; the rest stays out.
    XCTAssertLessThan(after, before / 2, "before \(before) KiB, after \(after) KiB")
    // Code that was let go runs again, from the page cache.
    XCTAssertEqual(SHA256.hash(Array("abc".utf8)).hex.prefix(8), "ba7816bf")
  }
}
