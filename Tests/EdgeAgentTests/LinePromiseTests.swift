@testable import EdgeConverge
import EdgeCore
import EdgeHost
import Foundation
import XCTest

/// `line` promises through `apply`: several edits of one file in one run, the file's other
/// bytes, mode and owner kept, the next run kept in place at one lstat each, and a drift by
/// someone else's edit repaired alone.
final class LinePromiseTests: XCTestCase {
  var box: Sandbox!

  override func setUpWithError() throws {
    XCTAssertTrue(cryptoInit())
    box = try Sandbox()
  }

  override func tearDown() { box.remove() }

  static let original = "# managed by hand too\n#PasswordAuthentication yes\nPort 22\nPasswordAuthentication yes\nUsePAM yes\nMatch User bob\n  X11Forwarding yes\n"

  func testSeveralEditsOfOneFileKeepTheRestAndAreKeptInPlaceAfter() throws {
    let path = box.hostPath("/etc/ssh/sshd_config")
    try box.write(path, Self.original, mode: 0o600)
    let policy = try box.policy(#"""
      {"policy": "ssh", "promises": [
        {"id": "no-passwords", "type": "line", "path": "/etc/ssh/sshd_config", "key": "PasswordAuthentication", "value": "no", "separator": " ", "insert": "start"},
        {"id": "port", "type": "line", "path": "/etc/ssh/sshd_config", "line": "Port 2222", "match": "^Port\\s"},
        {"id": "no-root", "type": "line", "path": "/etc/ssh/sshd_config", "key": "PermitRootLogin", "value": "no", "separator": " ", "insert": "start"}]}
      """#)
    Thread.sleep(forTimeInterval: 2.2)   // the policy file's identity is then trusted (VerifyInPlaceTests)
    let first = try box.apply(policy)
    XCTAssertEqual(first.statuses, ["no-passwords": .repaired, "port": .repaired, "no-root": .repaired])
    XCTAssertEqual(box.read(path), "PermitRootLogin no\n# managed by hand too\n#PasswordAuthentication yes\nPort 2222\nPasswordAuthentication no\nUsePAM yes\nMatch User bob\n  X11Forwarding yes\n")
    var st = stat()
    XCTAssertEqual(stat(path, &st), 0)
    XCTAssertEqual(st.st_mode & 0o7777, 0o600, "the file keeps its mode")

    // Each line promise vouched for the file before the next one rewrote it: the next run reads
    // it again once (full path, all kept), and from then on each is one lstat.
    let second = try box.apply(policy)
    XCTAssertEqual(second.summary.kept, 3)
    let third = try box.apply(policy)
    XCTAssertTrue(third.verifiedInPlace)
    XCTAssertEqual(third.summary.kept, 3)

    // Someone sets a password login back on: only that promise repairs.
    try box.write(path, box.read(path)!.replacingOccurrences(of: "PasswordAuthentication no", with: "PasswordAuthentication yes"), mode: 0o600)
    let drift = try box.apply(policy)
    XCTAssertEqual(drift.statuses["no-passwords"], .repaired)
    XCTAssertEqual(drift.summary.repaired, 1)
    XCTAssertTrue(box.read(path)!.contains("\nPasswordAuthentication no\n"))
  }

  func testAMissingFileFailsAndNothingIsCreated() throws {
    let policy = try box.policy(#"{"policy": "l", "promises": [{"id": "k", "type": "line", "path": "/etc/absent.conf", "key": "a", "value": "1"}]}"#)
    let r = try box.apply(policy)
    XCTAssertEqual(r.statuses["k"], .failed)
    XCTAssertEqual(r.results.first?.outcome.reason, "/etc/absent.conf does not exist (a line promise edits a file; a file promise makes one)")
    XCTAssertNil(box.read(box.hostPath("/etc/absent.conf")))
  }
}
