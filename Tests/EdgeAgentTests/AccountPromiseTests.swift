@testable import EdgeConverge
import EdgeCore
import EdgeHost
import Foundation
import XCTest

/// `user` and `group` promises through `apply` in a sandbox root: the group before its user, the
/// user before the file it owns (implied order), the home made with its owner and mode, the next
/// run kept, and a lock held by another tool respected.
final class AccountPromiseTests: XCTestCase {
  var box: Sandbox!

  override func setUpWithError() throws {
    XCTAssertTrue(cryptoInit())
    box = try Sandbox()
    try box.write(box.hostPath("/etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n# by hand\n+@nis::::::\n")
    try box.write(box.hostPath("/etc/group"), "root:x:0:\n")
    try box.write(box.hostPath("/etc/shadow"), "root:*:19000:0:99999:7:::\n", mode: 0o640)
  }

  override func tearDown() { box.remove() }

  // Listed backwards: the order comes from the names.
  static let policy = #"""
    {"policy": "accounts", "promises": [
      {"id": "conf", "type": "file", "path": "/srv/app/app.conf", "content": "x\n", "owner": "app", "group": "app"},
      {"id": "app", "type": "user", "name": "app", "uid": 1500, "group": "app", "groups": ["dialout"], "home": "/srv/app",
       "shell": "/usr/sbin/nologin"},
      {"id": "dialout", "type": "group", "name": "dialout", "gid": 20},
      {"id": "app-group", "type": "group", "name": "app", "gid": 1500}]}
    """#

  func testAccountsComeBeforeWhatNamesThemAndAreKeptAfter() throws {
    let path = try box.policy(Self.policy)
    Thread.sleep(forTimeInterval: 2.2)   // the policy file's identity is then trusted (VerifyInPlaceTests)
    let first = try box.apply(path)
    XCTAssertEqual(first.summary.failed, 0, "\(first.results)")
    XCTAssertEqual(first.results.map(\.id), ["dialout", "app-group", "app", "conf"])
    XCTAssertEqual(box.read(box.hostPath("/etc/passwd")),
                   "root:x:0:0:root:/root:/bin/bash\n# by hand\n+@nis::::::\napp:x:1500:1500::/srv/app:/usr/sbin/nologin\n")
    XCTAssertEqual(box.read(box.hostPath("/etc/group")), "root:x:0:\ndialout:x:20:app\napp:x:1500:\n")
    XCTAssertTrue(box.read(box.hostPath("/etc/shadow"))?.hasPrefix("root:*:19000:0:99999:7:::\napp:!:") ?? false)
    var st = stat()
    XCTAssertEqual(stat(box.hostPath("/etc/shadow"), &st), 0)
    XCTAssertEqual(st.st_mode & 0o7777, 0o640, "shadow keeps its mode")
    XCTAssertEqual(stat(box.hostPath("/srv/app"), &st), 0)
    XCTAssertEqual(st.st_uid, 1500)
    XCTAssertEqual(st.st_gid, 1500)
    XCTAssertEqual(st.st_mode & 0o7777, 0o750)
    XCTAssertEqual(stat(box.hostPath("/srv/app/app.conf"), &st), 0)
    XCTAssertEqual(st.st_uid, 1500, "the file's owner resolved against the new passwd")

    _ = try box.apply(path)
    let third = try box.apply(path)
    XCTAssertTrue(third.verifiedInPlace)
    XCTAssertEqual(third.summary.kept, 4)
  }

  func testALockHeldByAnotherToolFailsThePromiseAndChangesNothing() throws {
    let path = try box.policy(#"{"policy": "a", "promises": [{"id": "g", "type": "group", "name": "video"}]}"#)
    // Another tool's lckpwdf(3): a POSIX write lock on /etc/.pwd.lock.
    let fd = open(box.hostPath("/etc/.pwd.lock"), O_WRONLY | O_CREAT, 0o600)
    XCTAssertGreaterThanOrEqual(fd, 0)
    var l = flock()
    l.l_type = Int16(F_WRLCK)
    l.l_whence = Int16(SEEK_SET)
    XCTAssertEqual(fcntl(fd, F_SETLK, &l), 0)
    // An open file description lock conflicts with a POSIX one even within one process.
    let r = try box.apply(path)
    XCTAssertEqual(r.statuses["g"], .failed)
    XCTAssertTrue(r.results.first?.outcome.reason.contains("etc/.pwd.lock is held by another tool") ?? false, "\(r.results)")
    XCTAssertEqual(box.read(box.hostPath("/etc/group")), "root:x:0:\n")
    // Released, the next run makes it.
    close(fd)
    XCTAssertEqual(try box.apply(path).statuses["g"], .repaired)
    XCTAssertEqual(box.read(box.hostPath("/etc/group")), "root:x:0:\nvideo:x:1000:\n")
  }
}
