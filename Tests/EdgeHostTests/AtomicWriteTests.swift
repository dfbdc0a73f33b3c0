import Foundation
import XCTest
@testable import EdgeHost
import EdgeCore
import EdgeTestSupport

final class AtomicWriteTests: XCTestCase {
  var base: TemporaryDirectory!

  override func setUpWithError() throws {
    base = try TemporaryDirectory()
    try base.mkdir("root")
    try base.mkdir("outside")
    try base.write("outside/secret", "do not touch\n", mode: 0o600)
  }

  override func tearDown() { base.remove() }

  private func replace(_ name: String, _ text: String, mode: UInt32, in relative: String = "") throws {
    let root = try Directory.openRoot(base.path + "/root")
    let dir = try Directory.open(relative, in: root)
    try withBytes(Array(text.utf8)) { (raw) throws(HostError) in try AtomicWrite.replace(dir, name, content: raw, mode: mode) }
  }

  func testReplaceWritesContentAndMode() throws {
    try replace("app.conf", "port=8080\n", mode: 0o640)
    XCTAssertEqual(try base.read("root/app.conf"), "port=8080\n")
    XCTAssertEqual(base.permissions("root/app.conf"), 0o640)
  }

  func testModeIsExactDespiteTheUmask() throws {
    try replace("shared", "x", mode: 0o666)
    XCTAssertEqual(base.permissions("root/shared"), 0o666)
    try replace("setuid", "x", mode: 0o4755)
    XCTAssertEqual(base.permissions("root/setuid"), 0o4755)
  }

  func testReplaceSwapsInANewInodeAndLeavesReadersOfTheOldOneAlone() throws {
    try base.write("root/f", "old content\n")
    let oldInode = base.lstatOf("root/f")!.st_ino
    let reader = try FileHandle(forReadingFrom: base.url("root/f"))
    defer { try? reader.close() }
    try replace("f", "new\n", mode: 0o644)
    XCTAssertEqual(try base.read("root/f"), "new\n")
    XCTAssertNotEqual(base.lstatOf("root/f")!.st_ino, oldInode)
    XCTAssertEqual(String(decoding: reader.readDataToEndOfFile(), as: UTF8.self), "old content\n",
                   "a reader that opened the old file sees it whole")
  }

  func testReplaceOfASymlinkReplacesTheLinkNotItsTarget() throws {
    try base.symlink("root/f", to: base.path + "/outside/secret")
    let before = base.lstatOf("outside/secret")!
    try replace("f", "managed\n", mode: 0o644)
    XCTAssertTrue(base.isRegular("root/f"), "the symlink was replaced by a regular file")
    XCTAssertEqual(try base.read("root/f"), "managed\n")
    XCTAssertEqual(try base.read("outside/secret"), "do not touch\n")
    let after = base.lstatOf("outside/secret")!
    XCTAssertEqual(after.st_ino, before.st_ino)
    XCTAssertEqual(after.st_mode, before.st_mode)
    XCTAssertEqual(after.st_mtim.tv_sec, before.st_mtim.tv_sec)
    XCTAssertEqual(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec)
  }

  func testReplaceLeavesNoTemporaryFile() throws {
    try replace("a", "1", mode: 0o644)
    try replace("a", "2", mode: 0o600)
    XCTAssertEqual(try base.names("root"), ["a"])
  }

  func testTemporaryNameIsHiddenAndFixed() {
    XCTAssertEqual(AtomicWrite.temporaryName("app.conf"), ".app.conf.edgeagent-new")
  }

  func testStaleTemporaryFileFromACrashIsReplaced() throws {
    try base.write("root/.app.conf.edgeagent-new", "half-written garbage from before the power cut", mode: 0o777)
    try replace("app.conf", "port=8080\n", mode: 0o640)
    XCTAssertEqual(try base.names("root"), ["app.conf"])
    XCTAssertEqual(try base.read("root/app.conf"), "port=8080\n")
    XCTAssertEqual(base.permissions("root/app.conf"), 0o640)
  }

  #if EDGE_MOCKING
  /// Issue 14: a write with no temporary left over makes no unlinkat (it made one that always
  /// failed with ENOENT, 1 of the ~10 syscalls per file applied from nothing).
  func testStageWithNoLeftoverMakesNoUnlinkat() throws {
    let root = try Directory.openRoot(base.path + "/root")
    SyscallFailures.inject(.access, into: .unlinkat)
    defer { SyscallFailures.reset() }
    try withBytes(Array("new\n".utf8)) { (raw) throws(HostError) in
      try AtomicWrite.stage(root, "f", content: raw, mode: 0o644, uid: -1, gid: -1, sync: false)
    }
    XCTAssertEqual(SyscallFailures.pending, 1, "stage called unlinkat with nothing to remove")
    XCTAssertEqual(try base.read("root/.f.edgeagent-new"), "new\n")
  }
  #endif

  func testStaleTemporarySymlinkIsRemovedNotFollowed() throws {
    try base.symlink("root/.f.edgeagent-new", to: base.path + "/outside/secret")
    try replace("f", "mine\n", mode: 0o644)
    XCTAssertEqual(try base.read("outside/secret"), "do not touch\n")
    XCTAssertEqual(base.permissions("outside/secret"), 0o600)
    XCTAssertEqual(try base.names("root"), ["f"])
    XCTAssertEqual(try base.read("root/f"), "mine\n")
  }

  func testStageWritesOnlyTheTemporaryFileUntilPublish() throws {
    try base.write("root/f", "old\n")
    let root = try Directory.openRoot(base.path + "/root")
    try withBytes(Array("new\n".utf8)) { (raw) throws(HostError) in
      try AtomicWrite.stage(root, "f", content: raw, mode: 0o600, uid: -1, gid: -1, sync: false)
    }
    XCTAssertEqual(try base.read("root/f"), "old\n", "staging does not touch the target")
    XCTAssertEqual(try base.read("root/.f.edgeagent-new"), "new\n")
    XCTAssertEqual(base.permissions("root/.f.edgeagent-new"), 0o600)
    try AtomicWrite.publish(root, "f")
    XCTAssertEqual(try base.read("root/f"), "new\n")
    XCTAssertEqual(try base.names("root"), ["f"])
  }

  func testPublishWithoutStageFailsAndKeepsTheTarget() throws {
    try base.write("root/f", "old\n")
    let root = try Directory.openRoot(base.path + "/root")
    XCTAssertThrowsError(try AtomicWrite.publish(root, "f")) { e in
      XCTAssertEqual((e as? HostError)?.errno, .noEntry)
    }
    XCTAssertEqual(try base.read("root/f"), "old\n")
  }

  func testStageSetsOwnerAndGroup() throws {
    try skipUnless(geteuid() == 0, "chown to another uid needs root")
    let root = try Directory.openRoot(base.path + "/root")
    try withBytes(Array("x".utf8)) { (raw) throws(HostError) in
      try AtomicWrite.stage(root, "owned", content: raw, mode: 0o4750, uid: 4242, gid: 4343, sync: true)
    }
    try AtomicWrite.publish(root, "owned")
    let st = try XCTUnwrap(base.lstatOf("root/owned"))
    XCTAssertEqual(st.st_uid, 4242)
    XCTAssertEqual(st.st_gid, 4343)
    XCTAssertEqual(Int(st.st_mode & 0o7777), 0o4750, "the mode is set after the chown, so set-id bits survive")
  }

  func testReplaceOfADirectoryFailsAndLeavesTheDirectory() throws {
    try base.mkdir("root/d/inner")
    XCTAssertThrowsError(try replace("d", "x", mode: 0o644)) { e in
      XCTAssertEqual((e as? HostError)?.errno, .isDirectory)
    }
    XCTAssertEqual(try base.names("root/d"), ["inner"])
  }

  func testEmptyContentMakesAnEmptyFile() throws {
    try replace("empty", "", mode: 0o644)
    XCTAssertTrue(base.isRegular("root/empty"))
    XCTAssertEqual(base.lstatOf("root/empty")?.st_size, 0)
  }
}
