import Foundation
import XCTest
@testable import EdgeHost
import EdgeCore
import EdgeTestSupport

final class DirectoryTests: XCTestCase {
  var base: TemporaryDirectory!
  var rootPath: String { base.path + "/root" }

  override func setUpWithError() throws {
    base = try TemporaryDirectory()
    try base.mkdir("root")
    try base.mkdir("victim")
    try base.write("victim/secret", "outside the root\n", mode: 0o640)
  }

  override func tearDown() { base.remove() }

  private func hostError(_ body: () throws(HostError) -> Void) -> HostError? {
    do { try body(); return nil } catch { return error }
  }

  /// Tries to write `pwned` into the directory `relative` resolves to under the root.
  /// Returns the error, or nil when the write went through (somewhere).
  private func tryWrite(through relative: String) -> HostError? {
    hostError { () throws(HostError) in
      let root = try Directory.openRoot(rootPath)
      let dir = try Directory.open(relative, in: root)
      try withBytes(Array("pwned".utf8)) { (raw) throws(HostError) in try AtomicWrite.replace(dir, "pwned", content: raw, mode: 0o644) }
    }
  }

  /// The victim's absolute path without its leading '/'.
  private var victimRelative: String { String((base.path + "/victim").dropFirst()) }

  func testOpenRelativePathOpensThatDirectory() throws {
    try base.mkdir("root/opt/app")
    XCTAssertNil(tryWrite(through: "opt/app"))
    XCTAssertEqual(try base.read("root/opt/app/pwned"), "pwned")
  }

  func testOpenOfTheEmptyPathIsTheRoot() throws {
    XCTAssertNil(tryWrite(through: ""))
    XCTAssertTrue(base.exists("root/pwned"))
  }

  func testSymlinkToSlashInsideTheRootCannotReachOutside() throws {
    try base.symlink("root/esc", to: "/")
    let e = tryWrite(through: "esc/" + victimRelative)
    XCTAssertFalse(base.exists("victim/pwned"), "wrote outside the root through a symlink to /")
    XCTAssertNotNil(e, "nothing like the victim's path exists inside the root")
    XCTAssertTrue([Errno.noEntry, .tooManyLinks].contains(e?.errno), "\(String(describing: e))")
  }

  func testSymlinkToSlashResolvesInsideTheRoot() throws {
    // The same path exists inside the root: openat2(RESOLVE_IN_ROOT) lands there; the
    // component-by-component fallback refuses the symlink (ELOOP). Never the real victim.
    try base.mkdir("root/" + victimRelative)
    try base.symlink("root/esc", to: "/")
    let e = tryWrite(through: "esc/" + victimRelative)
    XCTAssertFalse(base.exists("victim/pwned"))
    if let e {
      XCTAssertEqual(e.errno, .tooManyLinks, "\(e)")
    } else {
      XCTAssertTrue(base.exists("root/" + victimRelative + "/pwned"))
    }
  }

  func testAbsoluteSymlinkToAnOutsideDirectoryCannotReachIt() throws {
    try base.symlink("root/data", to: base.path + "/victim")
    _ = tryWrite(through: "data")
    XCTAssertFalse(base.exists("victim/pwned"))
  }

  func testDotDotSymlinkCannotClimbAboveTheRoot() throws {
    try base.symlink("root/up", to: "..")
    let e = tryWrite(through: "up/victim")
    XCTAssertFalse(base.exists("victim/pwned"), "wrote outside the root through a symlink to ..")
    XCTAssertNotNil(e)
  }

  func testDotDotSymlinkChainCannotClimbAboveTheRoot() throws {
    try base.mkdir("root/a/b")
    try base.symlink("root/a/b/up", to: "../../../..")
    try base.mkdir("root/victim")
    _ = tryWrite(through: "a/b/up/victim")
    XCTAssertFalse(base.exists("victim/pwned"))
  }

  func testDotDotComponentCannotClimbAboveTheRoot() throws {
    _ = tryWrite(through: "../victim")
    XCTAssertFalse(base.exists("victim/pwned"))
  }

  func testMissingDirectoryIsNoEntry() {
    let e = hostError { () throws(HostError) in
      let root = try Directory.openRoot(rootPath)
      _ = try Directory.open("no/such", in: root)
    }
    XCTAssertEqual(e?.errno, .noEntry)
    XCTAssertEqual(e?.path, rootPath + "/no/such")
  }

  func testFileInThePathIsNotADirectory() throws {
    try base.write("root/file", "x")
    let e = hostError { () throws(HostError) in
      let root = try Directory.openRoot(rootPath)
      _ = try Directory.open("file/sub", in: root)
    }
    XCTAssertEqual(e?.errno, .notDirectory)
  }

  func testOpenRootOfAFileFails() throws {
    try base.write("plain", "x")
    let e = hostError { () throws(HostError) in _ = try Directory.openRoot(base.path + "/plain") }
    XCTAssertEqual(e?.errno, .notDirectory)
  }

  func testStatDoesNotFollowASymlinkInTheLastComponent() throws {
    try base.symlink("root/link", to: base.path + "/victim")
    let root = try Directory.openRoot(rootPath)
    XCTAssertEqual(try root.stat("link")?.kind, .symlink)
    XCTAssertNil(try root.stat("missing"))
  }

  func testOpenForReadingRefusesASymlink() throws {
    try base.symlink("root/link", to: base.path + "/victim/secret")
    let e = hostError { () throws(HostError) in
      let root = try Directory.openRoot(rootPath)
      _ = try root.openForReading("link")
    }
    XCTAssertEqual(e?.errno, .tooManyLinks)
  }

  func testSetModeRefusesASymlinkAndLeavesItsTargetAlone() throws {
    try base.symlink("root/link", to: base.path + "/victim/secret")
    let e = hostError { () throws(HostError) in
      let root = try Directory.openRoot(rootPath)
      try root.setMode("link", 0o777)
    }
    XCTAssertNotNil(e)
    XCTAssertEqual(base.permissions("victim/secret"), 0o640)
  }

  func testSetModeChangesARegularFile() throws {
    try base.write("root/f", "x", mode: 0o600)
    let root = try Directory.openRoot(rootPath)
    try root.setMode("f", 0o2755)
    XCTAssertEqual(base.permissions("root/f"), 0o2755)
  }

  func testSetOwnerChangesTheLinkNotItsTarget() throws {
    try skipUnless(geteuid() == 0, "chown to another uid needs root")
    try base.symlink("root/link", to: base.path + "/victim/secret")
    let targetOwner = base.lstatOf("victim/secret")!.st_uid
    let root = try Directory.openRoot(rootPath)
    try root.setOwner("link", uid: 4242, gid: -1)
    XCTAssertEqual(base.lstatOf("root/link")?.st_uid, 4242)
    XCTAssertEqual(base.lstatOf("victim/secret")?.st_uid, targetOwner)
  }

  func testRemoveOfASymlinkRemovesOnlyTheLink() throws {
    try base.symlink("root/link", to: base.path + "/victim/secret")
    let root = try Directory.openRoot(rootPath)
    try root.remove("link", directory: false)
    XCTAssertFalse(base.exists("root/link"))
    XCTAssertEqual(try base.read("victim/secret"), "outside the root\n")
  }

  func testRemoveOfANonEmptyDirectoryFails() throws {
    try base.mkdir("root/d")
    try base.write("root/d/x", "x")
    let e = hostError { () throws(HostError) in try Directory.openRoot(rootPath).remove("d", directory: true) }
    XCTAssertEqual(e?.errno, .notEmpty)
  }

  func testReadLink() throws {
    try base.symlink("root/link", to: "../somewhere/else")
    try base.write("root/file", "x")
    let root = try Directory.openRoot(rootPath)
    XCTAssertEqual(try root.readLink("link"), "../somewhere/else")
    XCTAssertNil(try root.readLink("file"))
    XCTAssertNil(try root.readLink("missing"))
  }

  func testSymlinkMakesALinkWithThatTarget() throws {
    let root = try Directory.openRoot(rootPath)
    try root.symlink("l", target: "/opt/app")
    XCTAssertTrue(base.isSymlink("root/l"))
    XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: rootPath + "/l"), "/opt/app")
    XCTAssertEqual(hostError { () throws(HostError) in try root.symlink("l", target: "/x") }?.errno, .exists)
  }

  func testMakeDirectoryAndRename() throws {
    let root = try Directory.openRoot(rootPath)
    try root.makeDirectory("d", mode: 0o700)
    XCTAssertEqual(try root.stat("d")?.kind, .directory)
    XCTAssertEqual(hostError { () throws(HostError) in try root.makeDirectory("d", mode: 0o700) }?.errno, .exists)
    try root.rename("d", to: "e")
    XCTAssertEqual(try base.names("root"), ["e"])
  }

  func testEntriesListsNamesWithoutDots() throws {
    try base.write("root/a", "")
    try base.mkdir("root/b")
    try base.symlink("root/.c", to: "nowhere")
    let root = try Directory.openRoot(rootPath)
    XCTAssertEqual(try root.entries().sorted(), [".c", "a", "b"])
    XCTAssertEqual(try root.entries().sorted(), [".c", "a", "b"], "listing twice gives the same names")
  }

  func testRemoveTreeRemovesEverythingAndFollowsNoSymlink() throws {
    try base.mkdir("root/tree/sub/deeper")
    try base.write("root/tree/a", "a")
    try base.write("root/tree/sub/b", "b")
    try base.write("root/tree/sub/deeper/c", "c")
    try base.symlink("root/tree/sub/to-victim", to: base.path + "/victim")
    try base.symlink("root/tree/secret-link", to: base.path + "/victim/secret")
    let root = try Directory.openRoot(rootPath)
    try root.removeTree("tree")
    XCTAssertFalse(base.exists("root/tree"))
    XCTAssertEqual(try base.names("victim"), ["secret"])
    XCTAssertEqual(try base.read("victim/secret"), "outside the root\n")
  }

  func testRemoveTreeOfAMissingNameIsFine() throws {
    XCTAssertNil(hostError { () throws(HostError) in try Directory.openRoot(rootPath).removeTree("none") })
  }

  func testJoin() {
    XCTAssertEqual(join("/", "etc"), "/etc")
    XCTAssertEqual(join("/srv/root", "etc"), "/srv/root/etc")
    XCTAssertEqual(join("/srv/root/", "etc"), "/srv/root/etc")
  }
}
