import Foundation
import XCTest
@testable import EdgeHost
import EdgeCore

final class FileStatTests: XCTestCase {
  var base: TemporaryDirectory!

  override func setUpWithError() throws { base = try TemporaryDirectory() }
  override func tearDown() { base.remove() }

  func testMissingPathIsNil() throws {
    XCTAssertNil(try FileStat.lstat(base.path + "/missing"))
    XCTAssertNil(try FileStat.lstat(base.path + "/missing/deeper"))
  }

  func testAFileInPlaceOfAParentIsNil() throws {
    try base.write("file", "x")
    XCTAssertNil(try FileStat.lstat(base.path + "/file/child"), "ENOTDIR means the path does not exist")
  }

  func testRegularFile() throws {
    try base.write("f", "12345", mode: 0o640)
    let st = try XCTUnwrap(try FileStat.lstat(base.path + "/f"))
    XCTAssertEqual(st.kind, .regular)
    XCTAssertEqual(st.permissions, 0o640)
    XCTAssertEqual(st.identity.size, 5)
    XCTAssertEqual(st.uid, UInt32(geteuid()))
    XCTAssertEqual(st.gid, UInt32(getegid()))
    let raw = base.lstatOf("f")!
    XCTAssertEqual(st.identity.inode, UInt64(raw.st_ino))
    XCTAssertEqual(st.identity.mtime, Int64(raw.st_mtim.tv_sec) * 1_000_000_000 + Int64(raw.st_mtim.tv_nsec))
  }

  func testPermissionsKeepSpecialBits() throws {
    try base.write("f", "x", mode: 0o4755)
    XCTAssertEqual(try FileStat.lstat(base.path + "/f")?.permissions, 0o4755)
  }

  func testDirectoryAndOther() throws {
    try base.mkdir("d")
    XCTAssertEqual(try FileStat.lstat(base.path + "/d")?.kind, .directory)
    XCTAssertEqual(try FileStat.lstat("/dev/null")?.kind, .other)
  }

  func testSymlinkIsNotFollowed() throws {
    try base.write("target", "a much longer content than the link")
    try base.symlink("link", to: "target")
    let st = try XCTUnwrap(try FileStat.lstat(base.path + "/link"))
    XCTAssertEqual(st.kind, .symlink)
    XCTAssertEqual(st.identity.size, Int64("target".utf8.count))
  }

  func testDanglingSymlinkExists() throws {
    try base.symlink("dangling", to: "nowhere")
    XCTAssertEqual(try FileStat.lstat(base.path + "/dangling")?.kind, .symlink)
  }

  func testFollowingFollowsSymlinks() throws {
    try base.write("target", "abc")
    try base.symlink("link", to: "target")
    XCTAssertEqual(try FileStat.following(base.path + "/link")?.kind, .regular)
    XCTAssertEqual(try FileStat.following(base.path + "/link")?.identity.size, 3)
    try base.symlink("dangling", to: "nowhere")
    XCTAssertNil(try FileStat.following(base.path + "/dangling"))
  }

  func testIdentityChangesWhenTheFileIsRewritten() throws {
    try base.write("f", "one")
    let before = try XCTUnwrap(try FileStat.lstat(base.path + "/f")).identity
    let h = try FileHandle(forWritingTo: base.url("f"))
    try h.write(contentsOf: Data("two".utf8))
    try h.close()
    let after = try XCTUnwrap(try FileStat.lstat(base.path + "/f")).identity
    XCTAssertEqual(after.inode, before.inode)
    XCTAssertEqual(after.size, before.size)
    XCTAssertNotEqual(after, before, "a same-size rewrite changes ctime/mtime")
  }

  func testIdentityChangesWhenTheModeChanges() throws {
    try base.write("f", "x", mode: 0o644)
    let before = try XCTUnwrap(try FileStat.lstat(base.path + "/f"))
    chmod(base.path + "/f", 0o600)
    let after = try XCTUnwrap(try FileStat.lstat(base.path + "/f"))
    XCTAssertNotEqual(after.identity.ctime, before.identity.ctime)
    XCTAssertEqual(after.permissions, 0o600)
  }

  func testPathTooLongIsAnError() {
    let long = "/" + String(repeating: "x", count: 5000)
    XCTAssertThrowsError(try FileStat.lstat(long)) { e in
      XCTAssertEqual((e as? HostError)?.operation, "lstat")
    }
  }

  func testFileDescriptorStatMatchesLstat() throws {
    try base.write("f", "hello")
    let fd = try FileDescriptor.open(at: AT_FDCWD, base.path + "/f", O_RDONLY)
    XCTAssertEqual(try fd.stat(), try FileStat.lstat(base.path + "/f"))
  }
}
