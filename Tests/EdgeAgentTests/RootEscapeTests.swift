@testable import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore
import Foundation
import XCTest

/// A symlinked parent pointing outside the root (ROOT/etc, ROOT/proc/sys) must never make a check
/// vouch for, print, or change an object outside it: checks resolve beneath the root as repairs do.
final class RootEscapeTests: XCTestCase {
  var box: Sandbox!

  override func setUpWithError() throws {
    XCTAssertTrue(cryptoInit())
    box = try Sandbox()
  }

  override func tearDown() { box.remove() }

  /// outside/: motd (0644), d/ (0755), made, victim; ROOT/etc -> outside.
  private func linkEtcOutside() throws {
    try box.write(box.outside + "/motd", "outside\n", mode: 0o644)
    try FileManager.default.createDirectory(atPath: box.outside + "/d", withIntermediateDirectories: true)
    chmod(box.outside + "/d", 0o755)
    try box.write(box.outside + "/made", "x")
    try FileManager.default.createSymbolicLink(atPath: box.hostPath("/etc"), withDestinationPath: box.outside)
  }

  func testChecksThroughASymlinkedParentAreNotKeptOnOutsideObjects() throws {
    try linkEtcOutside()
    let before = box.snapshot(box.outside)
    let path = try box.policy(#"""
      {"policy": "p", "promises": [
        {"id": "mode", "type": "file", "path": "/etc/motd", "mode": "0644"},
        {"id": "dir", "type": "directory", "path": "/etc/d", "mode": "0755"},
        {"id": "cmd", "type": "command", "exec": ["/bin/true"], "creates": "/etc/made"}
      ]}
      """#)
    for dryRun in [true, false] {
      let r = try box.apply(path, dryRun: dryRun)
      XCTAssertNotEqual(r.outcome("mode")?.status, .kept, "dry run \(dryRun): \(String(describing: r.outcome("mode")))")
      XCTAssertNotEqual(r.outcome("dir")?.status, .kept, "dry run \(dryRun): \(String(describing: r.outcome("dir")))")
      XCTAssertNotEqual(r.outcome("cmd")?.status, .kept, "dry run \(dryRun): \(String(describing: r.outcome("cmd")))")
    }
    let r = try box.apply(path)
    XCTAssertEqual(r.outcome("mode")?.status, .failed)
    XCTAssertTrue(r.outcome("mode")?.reason.contains("/etc/motd") ?? false, "\(String(describing: r.outcome("mode")))")
    XCTAssertEqual(r.outcome("dir")?.status, .failed)
    XCTAssertTrue(r.outcome("dir")?.reason.contains(box.hostPath("/etc")) ?? false, "\(String(describing: r.outcome("dir")))")
    XCTAssertEqual(box.snapshot(box.outside), before, "nothing outside the root was written")
  }

  func testVerifyInPlaceDoesNotFollowASymlinkedParent() throws {
    // Converge inside the root until the fast path answers, then move /etc out and link it.
    let path = try box.policy(#"""
      {"policy": "p", "promises": [
        {"id": "motd", "type": "file", "path": "/etc/motd", "content": "hello\n", "mode": "0644"},
        {"id": "dir", "type": "directory", "path": "/etc/d", "mode": "0755"},
        {"id": "link", "type": "link", "path": "/etc/l", "target": "motd"},
        {"id": "cmd", "type": "command", "exec": ["/bin/true"], "creates": "/etc/motd"}
      ]}
      """#)
    sleep(2)   // the stat cache does not vouch for a file changed within 2 s
    _ = try box.apply(path)
    _ = try box.apply(path)
    XCTAssertTrue(try box.apply(path).verifiedInPlace)
    try FileManager.default.moveItem(atPath: box.hostPath("/etc"), toPath: box.outside + "/etc")
    try FileManager.default.createSymbolicLink(atPath: box.hostPath("/etc"), withDestinationPath: box.outside + "/etc")
    let r = try box.apply(path, dryRun: true)
    // The walk vouches for none of them; each is then checked in full (in place or not).
    XCTAssertEqual(r.summary.kept, 0, "the fast path vouched for objects outside the root")
    for id in ["motd", "dir", "link", "cmd"] {
      XCTAssertNotEqual(r.outcome(id)?.status, .kept, "\(id): \(String(describing: r.outcome(id)))")
    }
  }

  private func linkProcSysOutside() throws {
    try box.write(box.outside + "/victim", "secret\n", mode: 0o644)
    try FileManager.default.createDirectory(atPath: box.hostPath("/proc"), withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: box.hostPath("/proc/sys"), withDestinationPath: box.outside)
  }

  func testSysctlThroughASymlinkedProcSysNeitherWritesNorPrintsOutside() throws {
    try linkProcSysOutside()
    let path = try box.policy(#"{"policy": "p", "promises": [{"id": "k", "type": "sysctl", "key": "victim", "value": "pwned"}]}"#)
    for dryRun in [true, false] {
      let r = try box.apply(path, dryRun: dryRun)
      let o = r.outcome("k")
      XCTAssertEqual(o?.status, .failed, "dry run \(dryRun): \(String(describing: o))")
      XCTAssertFalse(o?.reason.contains("secret") ?? true, "dry run \(dryRun) printed the outside file: \(String(describing: o))")
      XCTAssertTrue(o?.reason.contains(box.hostPath("/proc/sys/victim")) ?? false, "\(String(describing: o))")
      XCTAssertEqual(box.read(box.outside + "/victim"), "secret\n", "dry run \(dryRun)")
    }
  }

  func testSysctlUnderTheRootIsSet() throws {
    try box.write(box.hostPath("/proc/sys/net/ipv4/ip_forward"), "0\n")
    let path = try box.policy(#"{"policy": "p", "promises": [{"id": "k", "type": "sysctl", "key": "net.ipv4.ip_forward", "value": "1"}]}"#)
    XCTAssertEqual(try box.apply(path, dryRun: true).outcome("k"), Outcome(.repaired, "would be set: \"0\" -> \"1\""))
    XCTAssertEqual(try box.apply(path).outcome("k"), Outcome(.repaired, "\"0\" -> \"1\""))
    XCTAssertEqual(box.read(box.hostPath("/proc/sys/net/ipv4/ip_forward")), "1\n")
    XCTAssertEqual(try box.apply(path).outcome("k")?.status ?? .kept, .kept)
  }
}
