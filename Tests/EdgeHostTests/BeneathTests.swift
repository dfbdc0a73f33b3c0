import Foundation
import XCTest
@testable import EdgeHost
import CEdge
import EdgeCore

/// Checks resolve a managed path beneath the root's fd, as repairs do: a symlinked parent that
/// points outside the root never shows them (or lets them change) an object outside it.
final class BeneathTests: XCTestCase {
  var base: TemporaryDirectory!
  var rootPath: String { base.path + "/root" }
  var outside: String { base.path + "/outside" }

  override func setUpWithError() throws {
    base = try TemporaryDirectory()
    try base.mkdir("root")
    try base.mkdir("outside/d")
    try base.write("outside/motd", "outside\n", mode: 0o644)
    try base.write("outside/victim", "secret\n", mode: 0o644)
    try base.symlink("outside/link", to: "motd")
  }

  override func tearDown() { base.remove() }

  private func hostError(_ body: () throws(HostError) -> Void) -> HostError? {
    do { try body(); return nil } catch { return error }
  }

  func testStatBeneathSeesObjectsInsideTheRoot() throws {
    try base.mkdir("root/etc/d")
    try base.write("root/etc/motd", "inside\n", mode: 0o640)
    try base.symlink("root/etc/link", to: "/etc/motd")
    let root = try Directory.openRoot(rootPath)
    XCTAssertEqual(try root.statBeneath("/etc/motd")?.kind, .regular)
    XCTAssertEqual(try root.statBeneath("/etc/motd")?.permissions, 0o640)
    XCTAssertEqual(try root.statBeneath("/etc/d")?.kind, .directory)
    XCTAssertEqual(try root.statBeneath("/etc/link")?.kind, .symlink, "the last component is never followed")
    XCTAssertNil(try root.statBeneath("/etc/missing"))
    XCTAssertNil(try root.statBeneath("/etc/motd/under-a-file"))
    var buf = [UInt8](repeating: 0, count: 4096)
    let n = buf.withUnsafeMutableBytes { root.readLinkBeneath("/etc/link", into: $0) }
    XCTAssertEqual(n.map { String(decoding: buf[0..<$0], as: UTF8.self) }, "/etc/motd")
  }

  func testSymlinkedParentOutsideTheRootShowsNothingOutside() throws {
    // ROOT/etc -> the outside directory, by absolute and by relative target.
    for target in [outside, "../outside"] {
      try? FileManager.default.removeItem(atPath: rootPath + "/etc")
      try base.symlink("root/etc", to: target)
      let root = try Directory.openRoot(rootPath)
      XCTAssertNil(try root.statBeneath("/etc/motd"), "lstat through \(target) reached \(outside)/motd")
      XCTAssertNil(try root.statBeneath("/etc/d"), "lstat through \(target) reached \(outside)/d")
      var buf = [UInt8](repeating: 0, count: 4096)
      XCTAssertNil(buf.withUnsafeMutableBytes { root.readLinkBeneath("/etc/link", into: $0) })
      XCTAssertEqual(hostError { () throws(HostError) in _ = try root.readBeneath("etc/victim", limit: 1 << 10) }?.errno, .noEntry)
    }
  }

  func testParentCursorAnswersAsStatBeneath() throws {
    try base.mkdir("root/etc/d")
    try base.write("root/etc/motd", "inside\n", mode: 0o640)
    try base.write("root/top", "t")
    try base.symlink("root/out", to: outside)            // a parent pointing out of the root
    try base.symlink("root/alias", to: "/etc")            // a parent symlinked inside the root
    let root = try Directory.openRoot(rootPath)
    var cursor = ParentCursor()
    func stat(_ p: String) throws -> FileStat? {
      var c = Array(p.utf8CString)
      return try c.withUnsafeMutableBufferPointer { b in try cursor.stat(b.baseAddress!, count: p.utf8.count, in: root) }
    }
    for p in ["/etc/motd", "/etc/d", "/etc/missing", "/top", "/out/motd", "/out/d", "/alias/motd", "/etc/motd/x",
              "/nope/x", "/etc/motd", "/out/victim", "/alias/d"] {
      XCTAssertEqual(try stat(p), try root.statBeneath(p), p)
    }
    XCTAssertNil(try stat("/out/motd"), "nothing outside the root")
    XCTAssertEqual(try stat("/alias/motd")?.permissions, 0o640)
  }

  func testTheFallbackWalkRefusesASymlinkedParent() throws {
    try base.symlink("root/etc", to: outside)
    try base.mkdir("root/srv")
    try base.write("root/srv/f", "inside\n")
    let root = try Directory.openRoot(rootPath)
    guard case .failure(let e) = root.walkBeneath("/etc/motd", EDGE_O_PATH | O_NOFOLLOW | O_CLOEXEC) else {
      return XCTFail("the walk went through a symlinked parent")
    }
    XCTAssertEqual(e, .tooManyLinks)
    guard case .success(let f) = root.walkBeneath("/srv/f", O_RDONLY | O_NOFOLLOW | O_CLOEXEC) else { return XCTFail("no /srv/f") }
    XCTAssertEqual(try f.stat().kind, .regular)
    guard case .failure(let up) = root.walkBeneath("/srv/../../outside/motd", O_RDONLY | O_NOFOLLOW | O_CLOEXEC) else {
      return XCTFail("the walk climbed out with ..")
    }
    XCTAssertEqual(up, .permission)
  }

  func testSysctlThroughASymlinkedProcSysNeitherReadsNorWritesOutside() throws {
    try base.mkdir("root/proc")
    try base.symlink("root/proc/sys", to: outside)
    let root = try Directory.openRoot(rootPath)
    let read = hostError { () throws(HostError) in _ = try readSysctl(in: root, "victim") }
    XCTAssertEqual(read?.errno, .tooManyLinks, "\(String(describing: read))")
    let write = hostError { () throws(HostError) in try writeSysctl(in: root, "victim", "pwned") }
    XCTAssertEqual(write?.errno, .tooManyLinks, "\(String(describing: write))")
    XCTAssertTrue(write?.description.contains(rootPath + "/proc/sys/victim") ?? false, "\(String(describing: write))")
    XCTAssertEqual(try base.read("outside/victim"), "secret\n")
  }

  func testSysctlReadsAndWritesTheRootsProcSys() throws {
    try base.mkdir("root/proc/sys/net/ipv4")
    try base.write("root/proc/sys/net/ipv4/ip_forward", "0\n")
    let root = try Directory.openRoot(rootPath)
    XCTAssertEqual(try readSysctl(in: root, "net.ipv4.ip_forward"), Array("0\n".utf8))
    try writeSysctl(in: root, "net.ipv4.ip_forward", "1")
    XCTAssertEqual(try base.read("root/proc/sys/net/ipv4/ip_forward"), "1\n")
    XCTAssertEqual(hostError { () throws(HostError) in try writeSysctl(in: root, "net.ipv4.nope", "1") }?.errno, .noEntry)
    XCTAssertFalse(base.exists("root/proc/sys/net/ipv4/nope"), "an unknown key is never created")
  }

  func testSysctlRefusesAFifo() throws {
    try base.mkdir("root/proc/sys")
    XCTAssertEqual(mkfifo(rootPath + "/proc/sys/fifo", 0o644), 0)
    let root = try Directory.openRoot(rootPath)
    XCTAssertEqual(hostError { () throws(HostError) in _ = try readSysctl(in: root, "fifo") }?.errno, .invalid)
  }
}
