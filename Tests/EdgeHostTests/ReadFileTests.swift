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

  /// A FIFO (a hostile file:// upstream's bundle.json) is refused at once: before, open() waited
  /// for a writer, holding the daemon's loop. The writer opened 2 s later only unblocks an old
  /// build so the test fails instead of hanging.
  func testFIFOIsRefusedAtOnceWithoutAWriter() throws {
    let fifo = base.path + "/bundle.json"
    XCTAssertEqual(mkfifo(fifo, 0o644), 0)
    DispatchQueue.global().asyncAfter(deadline: .now() + 2) {
      let w = open(fifo, O_WRONLY | O_NONBLOCK)
      if w >= 0 { close(w) }
    }
    let t0 = Date()
    let e = hostError { () throws(HostError) in _ = try readWholeFile(fifo) }
    XCTAssertLessThan(Date().timeIntervalSince(t0), 1.5)
    XCTAssertEqual(e?.errno, .invalid)
    XCTAssertEqual(e?.description, "unable to read (a FIFO, not a regular file) \(fifo): Invalid argument")
  }

  func testCharacterDeviceIsRefused() {
    let e = hostError { () throws(HostError) in _ = try readWholeFile("/dev/zero") }
    XCTAssertEqual(e?.errno, .invalid)
    XCTAssertTrue(e?.operation.contains("a character device") ?? false, e?.description ?? "")
  }

  func testAnyKindReadsAFIFOForTheCLI() throws {
    let fifo = base.path + "/policy.json"
    XCTAssertEqual(mkfifo(fifo, 0o644), 0)
    DispatchQueue.global().async {
      let w = open(fifo, O_WRONLY)
      _ = "{}".withCString { write(w, $0, 2) }
      close(w)
    }
    XCTAssertEqual(try readWholeFile(fifo, anyKind: true), Array("{}".utf8))
  }
}
