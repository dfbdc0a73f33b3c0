import Foundation
import XCTest
@testable import EdgeHost
import EdgeCore

final class ReadFileTests: XCTestCase {
  var base: TemporaryDirectory!

  override func setUpWithError() throws { base = try TemporaryDirectory() }
  override func tearDown() { base.remove() }

  private func hostError(_ body: () throws(HostError) -> Void) -> HostError? {
    do { try body(); return nil } catch { return error }
  }

  func testReadsTheWholeFile() throws {
    let data = (0..<70_000).map { UInt8(truncatingIfNeeded: $0) }
    try Data(data).write(to: base.url("f"))
    XCTAssertEqual(try readWholeFile(base.path + "/f"), data)
  }

  func testEmptyFile() throws {
    try base.write("empty", "")
    XCTAssertEqual(try readWholeFile(base.path + "/empty"), [])
  }

  func testFileLargerThanTheLimitIsRefused() throws {
    try Data(count: 5000).write(to: base.url("big"))
    let e = hostError { () throws(HostError) in _ = try readWholeFile(base.path + "/big", limit: 4999) }
    XCTAssertEqual(e?.errno, Errno(rawValue: EFBIG))
    XCTAssertEqual(e?.path, base.path + "/big")
  }

  func testFileOfExactlyTheLimitIsRead() throws {
    try Data(repeating: 7, count: 5000).write(to: base.url("f"))
    XCTAssertEqual(try readWholeFile(base.path + "/f", limit: 5000).count, 5000)
  }

  func testSmallFileWellUnderTheLimitIsRead() throws {
    try base.write("f", "net.ipv4.ip_forward = 1\n")
    XCTAssertEqual(try readWholeFile(base.path + "/f", limit: 1024), Array("net.ipv4.ip_forward = 1\n".utf8))
  }

  func testProcFilesWithoutASizeAreReadToTheEnd() throws {
    // procfs reports size 0; the content is only found by reading.
    let text = String(decoding: try readWholeFile("/proc/self/status"), as: UTF8.self)
    XCTAssertTrue(text.hasPrefix("Name:"), text)
    XCTAssertTrue(text.contains("\nPid:"))
  }

  func testSizelessFileLongerThanTheLimitIsRefused() {
    let e = hostError { () throws(HostError) in _ = try readWholeFile("/proc/self/status", limit: 100) }
    XCTAssertEqual(e?.errno, Errno(rawValue: EFBIG))
  }

  func testMissingFileIsNoEntry() {
    let e = hostError { () throws(HostError) in _ = try readWholeFile(base.path + "/missing") }
    XCTAssertEqual(e?.errno, .noEntry)
    XCTAssertEqual(e?.description, "unable to open \(base.path)/missing: No such file or directory")
  }

  func testDirectoryIsRefused() {
    let e = hostError { () throws(HostError) in _ = try readWholeFile(base.path) }
    XCTAssertEqual(e?.errno, .isDirectory)
  }

  func testSymlinkToAFileIsFollowed() throws {
    try base.write("policy.json", "{}")
    try base.symlink("current.json", to: "policy.json")
    XCTAssertEqual(try readWholeFile(base.path + "/current.json"), Array("{}".utf8))
  }
}
