import Foundation
import XCTest
@testable import EdgeHost

final class ErrnoTests: XCTestCase {
  func testDescriptionIsStrerror() {
    XCTAssertEqual(Errno.noEntry.description, "No such file or directory")
    XCTAssertEqual(Errno.access.description, "Permission denied")
    XCTAssertEqual(Errno(rawValue: ENOSPC).description, String(cString: strerror(ENOSPC)))
  }

  func testNamedCodesAreTheCConstants() {
    XCTAssertEqual(Errno.noEntry.rawValue, ENOENT)
    XCTAssertEqual(Errno.exists.rawValue, EEXIST)
    XCTAssertEqual(Errno.tooManyLinks.rawValue, ELOOP)
    XCTAssertEqual(Errno.notDirectory.rawValue, ENOTDIR)
    XCTAssertEqual(Errno.isDirectory.rawValue, EISDIR)
    XCTAssertEqual(Errno.notEmpty.rawValue, ENOTEMPTY)
    XCTAssertEqual(Errno.interrupted.rawValue, EINTR)
    XCTAssertEqual(Errno.wouldBlock.rawValue, EAGAIN)
  }

  func testCurrentIsTheThreadsErrno() {
    XCTAssertEqual(open("/nonexistent/edgeagent-test", O_RDONLY), -1)
    XCTAssertEqual(Errno.current, .noEntry)
  }

  func testErrnoIsHashable() {
    XCTAssertEqual(Set([Errno.noEntry, Errno(rawValue: ENOENT), .exists]).count, 2)
  }

  func testHostErrorReadsLikeS6() {
    XCTAssertEqual(HostError(.noSpace, "write", "/opt/app/app.conf").description,
                   "unable to write /opt/app/app.conf: No space left on device")
    XCTAssertEqual(HostError(.access, "syncfs").description, "unable to syncfs: Permission denied")
  }
}
