@testable import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore
import Foundation
import XCTest

/// `package` promises with the real dpkg in a sandbox root (`dpkg --root`): small .debs built
/// here with dpkg-deb and carried as blobs, installed in one transaction, kept by reading the
/// database (never running dpkg), removed; a held lock and a missing dependency failing with
/// dpkg's own words while the rest of the run goes on. apt and apk are not run here (no
/// repository, no apk in Debian 12): their command lines and apk's database are checked against
/// a stand-in for the tool.
final class PackagePromiseTests: XCTestCase {
  var box: Sandbox!

  override func setUpWithError() throws {
    XCTAssertTrue(cryptoInit())
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg"), FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg-deb") else {
      throw XCTSkip("dpkg and dpkg-deb are Debian's: not on this machine")
    }
    box = try Sandbox()
    for d in ["/var/lib/dpkg/info", "/var/lib/dpkg/updates", "/var/log"] {
      try FileManager.default.createDirectory(atPath: box.hostPath(d), withIntermediateDirectories: true)
    }
    try box.write(box.hostPath("/var/lib/dpkg/status"), "")
    try box.write(box.hostPath("/var/lib/dpkg/available"), "")
  }

  override func tearDown() { box?.remove() }

  /// A .deb of `name` at `version` holding /opt/NAME/VERSION, and its digest.
  private func deb(_ name: String, _ version: String, depends: String? = nil) throws -> (bytes: [UInt8], digest: Digest) {
    let dir = box.base + "/build-\(name)"
    try FileManager.default.createDirectory(atPath: dir + "/DEBIAN", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: dir + "/opt/\(name)", withIntermediateDirectories: true)
    try Data("Package: \(name)\nVersion: \(version)\nArchitecture: all\nMaintainer: t <t@example.invalid>\n\(depends.map { "Depends: \($0)\n" } ?? "")Description: a test package\n".utf8)
      .write(to: URL(fileURLWithPath: dir + "/DEBIAN/control"))
    try Data(version.utf8).write(to: URL(fileURLWithPath: dir + "/opt/\(name)/\(version)"))
    let out = box.base + "/\(name)_\(version)_all.deb"
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/dpkg-deb")
    p.arguments = ["--build", "--root-owner-group", dir, out]
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    XCTAssertEqual(p.terminationStatus, 0)
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
    return (bytes, SHA256.hash(bytes))
  }

  /// Puts blobs in the state, as an accepted bundle's are.
  private func store(_ blobs: [(bytes: [UInt8], digest: Digest)]) throws {
    let env = try Environment(path: box.state)
    try env.withWrite { (txn) throws(StoreError) in
      for b in blobs {
        let key = b.digest.withBytes { Array($0) }
        try withBytes(key) { (k) throws(StoreError) in
          try withBytes(b.bytes) { (v) throws(StoreError) in try txn.put(.blobs, k, v) }
        }
      }
    }
  }

  private func dpkgLogInstalls() -> Int {
    (box.read(box.hostPath("/var/log/dpkg.log")) ?? "").split(separator: "\n").filter { $0.contains(" startup archives install") }.count
  }

  func testBlobsInstallInOneTransactionAreKeptWithoutDpkgAndGoAway() throws {
    let a = try deb("edge-a", "1.0-1"), b = try deb("edge-b", "2.0-1")
    try store([a, b])
    let path = try box.policy(#"""
      {"policy": "pkgs", "promises": [
        {"id": "a", "type": "package", "name": "edge-a", "state": "1.0-1", "source": "sha256:\#(a.digest.hex)"},
        {"id": "b", "type": "package", "name": "edge-b", "source": "sha256:\#(b.digest.hex)"}]}
      """#)
    Thread.sleep(forTimeInterval: 2.2)   // the policy file's identity is then trusted (VerifyInPlaceTests)
    let first = try box.apply(path)
    XCTAssertEqual(first.statuses, ["a": .repaired, "b": .repaired], "\(first.results)")
    XCTAssertEqual(first.outcome("a")?.reason, "installed 1.0-1 by dpkg (one transaction with 1 more)")
    XCTAssertEqual(dpkgLogInstalls(), 1, "one dpkg run for both, logged in the sandbox")
    XCTAssertEqual(box.read(box.hostPath("/opt/edge-b/2.0-1")), "2.0-1")

    // Kept from the database: dpkg is not run again (its log has no new run).
    let log = box.read(box.hostPath("/var/log/dpkg.log"))
    XCTAssertEqual(try box.apply(path).summary.kept, 2)
    let third = try box.apply(path)
    XCTAssertTrue(third.verifiedInPlace)
    XCTAssertEqual(third.summary.kept, 2)
    XCTAssertEqual(box.read(box.hostPath("/var/log/dpkg.log")), log)

    let gone = try box.policy(#"{"policy": "pkgs", "promises": [{"id": "a", "type": "package", "name": "edge-a", "state": "absent"}]}"#)
    let removed = try box.apply(gone)
    XCTAssertEqual(removed.outcome("a")?.reason, "removed by dpkg")
    XCTAssertFalse(FileManager.default.fileExists(atPath: box.hostPath("/opt/edge-a/1.0-1")))
  }

  func testDpkgsOwnWordsFailThePromiseAndTheRestOfTheRunGoesOn() throws {
    let broken = try deb("edge-c", "1.0-1", depends: "not-in-this-root")
    try store([broken])
    let path = try box.policy(#"""
      {"policy": "pkgs", "promises": [
        {"id": "c", "type": "package", "name": "edge-c", "source": "sha256:\#(broken.digest.hex)"},
        {"id": "motd", "type": "file", "path": "/etc/motd", "content": "hi\n"}]}
      """#)
    let r = try box.apply(path)
    XCTAssertEqual(r.statuses["c"], .failed)
    XCTAssertTrue(r.outcome("c")?.reason.hasPrefix("dpkg exited with status 1: ") ?? false, "\(r.results)")
    XCTAssertEqual(r.statuses["motd"], .repaired)

    // Someone else's dpkg holds the frontend lock: dpkg says so, and that is the reason.
    let ok = try deb("edge-d", "1.0-1")
    try store([ok])
    let fd = open(box.hostPath("/var/lib/dpkg/lock-frontend"), O_RDWR | O_CREAT, 0o640)
    defer { close(fd) }
    var l = flock()
    l.l_type = Int16(F_WRLCK)
    l.l_whence = Int16(SEEK_SET)
    XCTAssertEqual(fcntl(fd, F_SETLK, &l), 0)
    let locked = try box.policy(#"{"policy": "pkgs", "promises": [{"id": "d", "type": "package", "name": "edge-d", "source": "sha256:\#(ok.digest.hex)"}]}"#, name: "locked.json")
    let held = try box.apply(locked)
    XCTAssertEqual(held.statuses["d"], .failed)
    XCTAssertTrue(held.outcome("d")?.reason.contains("lock") ?? false, "\(held.results)")
  }

  /// apt and apk are not run here: the batch's command lines are taken from the run as the
  /// daemon would, and answered by a stand-in.
  func testRepositoryInstallsAreOneAptOrApkCommandForTheRun() throws {
    try box.write(box.hostPath("/var/lib/dpkg/status"), "Package: edge-x\nStatus: install ok installed\nVersion: 1\n\n")
    let policy = try PolicyDecoder.decode(Array(#"""
      {"policy": "p", "promises": [
        {"id": "x", "type": "package", "name": "edge-x"},
        {"id": "y", "type": "package", "name": "nginx", "state": "1.22.1-9"},
        {"id": "z", "type": "package", "name": "curl"},
        {"id": "r", "type": "package", "name": "telnet", "state": "absent", "if": "never_defined"}]}
      """#.utf8))
    let converger = try Converger(root: box.root, classes: [], dryRun: false)
    let prepared = converger.prepare(policy)
    converger.begin(policy, prepared, order: [0, 1, 2, 3])
    let request = try XCTUnwrap(converger.advance(cachedStat: { _ in nil }, blob: { _, body in body(nil) }, previous: { _ in nil }))
    XCTAssertEqual(request.argv, ["/usr/bin/apt-get", "-o", "RootDir=" + box.root, "-y", "-q", "--no-install-recommends", "install", "nginx=1.22.1-9", "curl"])
    XCTAssertTrue(request.environment.contains("DEBIAN_FRONTEND=noninteractive"))
    // The stand-in "installs" nginx only, and fails as apt would for curl.
    try box.write(box.hostPath("/var/lib/dpkg/status"), "Package: edge-x\nStatus: install ok installed\nVersion: 1\n\nPackage: nginx\nStatus: install ok installed\nVersion: 1.22.1-9\n")
    converger.resume(.finished(CommandResult(status: 100, timedOut: false, outputTail: Array("E: Unable to locate package curl\n".utf8))))
    XCTAssertNil(converger.advance(cachedStat: { _ in nil }, blob: { _, body in body(nil) }, previous: { _ in nil }))
    XCTAssertEqual(converger.outcomes[0]?.status, .kept)
    XCTAssertEqual(converger.outcomes[1]?.reason, "installed 1.22.1-9 by apt-get (one transaction with 1 more)")
    XCTAssertEqual(converger.outcomes[2]?.reason, "apt-get exited with status 100: E: Unable to locate package curl")
    XCTAssertEqual(converger.outcomes[3]?.status, .skipped)

    // An apk root: its database, and apk's command line.
    let apk = try Sandbox()
    defer { apk.remove() }
    try FileManager.default.createDirectory(atPath: apk.hostPath("/lib/apk/db"), withIntermediateDirectories: true)
    try apk.write(apk.hostPath("/lib/apk/db/installed"), "P:musl\nV:1.2.5-r0\n\nP:dropbear\nV:2024.85-r0\n")
    let c2 = try Converger(root: apk.root, classes: [], dryRun: false)
    let p2 = try PolicyDecoder.decode(Array(#"{"policy": "p", "promises": [{"id": "m", "type": "package", "name": "musl"}, {"id": "d", "type": "package", "name": "dropbear", "state": "absent"}, {"id": "n", "type": "package", "name": "nftables"}]}"#.utf8))
    c2.begin(p2, c2.prepare(p2), order: [0, 1, 2])
    let del = try XCTUnwrap(c2.advance(cachedStat: { _ in nil }, blob: { _, body in body(nil) }, previous: { _ in nil }))
    XCTAssertEqual(del.argv, ["/sbin/apk", "--root", apk.root, "del", "dropbear"])
    try apk.write(apk.hostPath("/lib/apk/db/installed"), "P:musl\nV:1.2.5-r0\n")
    c2.resume(.finished(CommandResult(status: 0, timedOut: false, outputTail: [])))
    let add = try XCTUnwrap(c2.advance(cachedStat: { _ in nil }, blob: { _, body in body(nil) }, previous: { _ in nil }))
    XCTAssertEqual(add.argv, ["/sbin/apk", "--root", apk.root, "add", "nftables"])
    c2.resume(.finished(CommandResult(status: 0, timedOut: false, outputTail: [])))
    XCTAssertNil(c2.advance(cachedStat: { _ in nil }, blob: { _, body in body(nil) }, previous: { _ in nil }))
    XCTAssertEqual(c2.outcomes[0]?.status, .kept)
    XCTAssertEqual(c2.outcomes[1]?.reason, "removed by apk")
    XCTAssertEqual(c2.outcomes[2]?.reason, "nftables is still not as promised after apk")
  }
}
