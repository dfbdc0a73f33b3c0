#if EDGE_MOCKING
import Foundation
import XCTest
@testable import EdgeHost
import EdgeCore

/// Each step of an atomic write failing, forced through the syscall seam: a full disk, a refused
/// open, an I/O error at fsync, a failed rename. Whatever fails, the target keeps its old bytes,
/// no temporary file is left, and the error names the step and the path. EINTR at any step is
/// retried and the write goes through.
final class AtomicWriteFailureTests: XCTestCase {
  var base: TemporaryDirectory!

  override func setUpWithError() throws {
    base = try TemporaryDirectory()
    try base.mkdir("root")
    try base.write("root/f", "old\n")
  }

  override func tearDown() {
    SyscallFailures.reset()
    base.remove()
  }

  private var target: String { base.path + "/root/f" }
  private var temporary: String { base.path + "/root/.f.edgeagent-new" }

  /// Opens the directory, then arms `injections` (so that the open itself is not failed) and
  /// replaces `f` with "new\n".
  private func replace(_ injections: [(Errno, Syscall, Int)]) throws(HostError) {
    let root = try Directory.openRoot(base.path + "/root")
    for (e, call, after) in injections { SyscallFailures.inject(e, into: call, after: after) }
    try withBytes(Array("new\n".utf8)) { (raw) throws(HostError) in try AtomicWrite.replace(root, "f", content: raw, mode: 0o640) }
  }

  private func assertFails(_ injections: [(Errno, Syscall, Int)], errno: Errno, operation: String, path: String,
                           file: StaticString = #filePath, line: UInt = #line) throws {
    do {
      try replace(injections)
      XCTFail("the write went through", file: file, line: line)
    } catch {
      XCTAssertEqual(error.errno, errno, file: file, line: line)
      XCTAssertEqual(error.operation, operation, file: file, line: line)
      XCTAssertEqual(error.path, path, file: file, line: line)
      XCTAssertEqual(error.description, "unable to \(operation) \(path): \(errno)", file: file, line: line)
    }
    XCTAssertEqual(SyscallFailures.pending, 0, "the injected call happened", file: file, line: line)
    XCTAssertEqual(try base.read("root/f"), "old\n", "the target keeps its old bytes", file: file, line: line)
    XCTAssertEqual(base.permissions("root/f"), 0o644, file: file, line: line)
    XCTAssertEqual(try base.names("root"), ["f"], "no temporary file is left", file: file, line: line)
  }

  private func assertGoesThrough(_ injections: [(Errno, Syscall, Int)], file: StaticString = #filePath, line: UInt = #line) throws {
    try replace(injections)
    XCTAssertEqual(SyscallFailures.pending, 0, "the injected call happened", file: file, line: line)
    XCTAssertEqual(try base.read("root/f"), "new\n", file: file, line: line)
    XCTAssertEqual(base.permissions("root/f"), 0o640, file: file, line: line)
    XCTAssertEqual(try base.names("root"), ["f"], file: file, line: line)
  }

  func testFullDiskAtWriteKeepsTheOldFile() throws {
    try assertFails([(.noSpace, .write, 0)], errno: .noSpace, operation: "write", path: target)
  }

  func testRefusedCreateOfTheTemporaryKeepsTheOldFile() throws {
    try assertFails([(.access, .openat, 0)], errno: .access, operation: "create", path: temporary)
  }

  func testIOErrorAtFsyncKeepsTheOldFile() throws {
    try assertFails([(Errno(rawValue: EIO), .fsync, 0)], errno: Errno(rawValue: EIO), operation: "fsync", path: target)
  }

  func testRefusedChmodKeepsTheOldFile() throws {
    try assertFails([(.permission, .fchmod, 0)], errno: .permission, operation: "chmod", path: target)
  }

  func testFailedRenameKeepsTheOldFileAndRemovesTheTemporary() throws {
    try assertFails([(Errno(rawValue: EIO), .renameat, 0)], errno: Errno(rawValue: EIO),
                    operation: "rename .f.edgeagent-new to", path: target)
  }

  func testFullDiskOnANewFileLeavesNothing() throws {
    let root = try Directory.openRoot(base.path + "/root")
    SyscallFailures.inject(.noSpace, into: .write)
    XCTAssertThrowsError(try withBytes(Array("x".utf8)) { (raw) throws(HostError) in
      try AtomicWrite.replace(root, "g", content: raw, mode: 0o600)
    })
    XCTAssertEqual(try base.names("root"), ["f"])
  }

  func testInterruptedWriteIsRetried() throws {
    try assertGoesThrough([(.interrupted, .write, 0)])
  }

  func testInterruptedFsyncIsRetried() throws {
    try assertGoesThrough([(.interrupted, .fsync, 0)])
  }

  func testInterruptedRenameIsRetried() throws {
    try assertGoesThrough([(.interrupted, .renameat, 0)])
  }

  func testEveryStepInterruptedAtOnceStillWrites() throws {
    try assertGoesThrough([(.interrupted, .openat, 0), (.interrupted, .fchmod, 0),
                           (.interrupted, .write, 0), (.interrupted, .fsync, 0), (.interrupted, .fstat, 0),
                           (.interrupted, .renameat, 0), (.interrupted, .fsync, 0)])
  }

  /// A temporary left by a crash adds two steps, its removal and the second create: each
  /// interrupted too, the write still goes through.
  func testEveryStepInterruptedAtOnceStillWritesOverALeftover() throws {
    try base.write("root/.f.edgeagent-new", "left by a crash\n")
    try assertGoesThrough([(.interrupted, .openat, 0), (.interrupted, .unlinkat, 0), (.interrupted, .openat, 1),
                           (.interrupted, .fchmod, 0), (.interrupted, .write, 0), (.interrupted, .fsync, 0),
                           (.interrupted, .fstat, 0), (.interrupted, .renameat, 0), (.interrupted, .fsync, 0)])
  }

  /// A leftover that cannot be removed: the create is refused, as before, naming the temporary.
  func testALeftoverThatCannotBeRemovedKeepsTheOldFile() throws {
    try base.write("root/.f.edgeagent-new", "left by a crash\n")
    do {
      try replace([(.access, .unlinkat, 0)])
      XCTFail("the write went through")
    } catch {
      XCTAssertEqual(error.errno, .access)
      XCTAssertEqual(error.path, temporary)
    }
    XCTAssertEqual(SyscallFailures.pending, 0)
    XCTAssertEqual(try base.read("root/f"), "old\n")
  }

  /// Past the rename the new content is in place; only its durability is in doubt, and the
  /// error says which directory to distrust.
  func testIOErrorAtTheDirectoryFsyncReportsTheDirectory() throws {
    do {
      try replace([(Errno(rawValue: EIO), .fsync, 1)])
      XCTFail("the write went through")
    } catch {
      XCTAssertEqual(error.errno, Errno(rawValue: EIO))
      XCTAssertEqual(error.operation, "fsync directory")
      XCTAssertEqual(error.path, base.path + "/root")
    }
    XCTAssertEqual(try base.read("root/f"), "new\n")
    XCTAssertEqual(try base.names("root"), ["f"])
  }

  /// The staged path (no fsync, a later syncfs): a full disk at write leaves the target and no
  /// temporary, as `replace` does.
  func testFullDiskWhileStagingLeavesNoTemporary() throws {
    let root = try Directory.openRoot(base.path + "/root")
    SyscallFailures.inject(.noSpace, into: .write)
    XCTAssertThrowsError(try withBytes(Array("new\n".utf8)) { (raw) throws(HostError) in
      try AtomicWrite.stage(root, "f", content: raw, mode: 0o600, uid: -1, gid: -1, sync: false)
    })
    XCTAssertEqual(try base.read("root/f"), "old\n")
    XCTAssertEqual(try base.names("root"), ["f"])
  }
}
#endif
