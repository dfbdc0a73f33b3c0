@testable import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore
import Foundation
import XCTest

/// The steady state of `apply`: an unchanged policy file, verified in place from `desired`.
/// The policy file's identity is only trusted once it is two seconds old (a write in the same
/// timestamp tick would go unnoticed), so these tests wait that long after writing it.
final class VerifyInPlaceTests: XCTestCase {
  var box: Sandbox!

  override func setUpWithError() throws {
    XCTAssertTrue(cryptoInit())
    box = try Sandbox()
  }

  override func tearDown() { box.remove() }

  private func waitUntilTrusted() { Thread.sleep(forTimeInterval: 2.2) }

  /// Writes the example, waits, and runs once: the next run can be verified in place.
  private func converged() throws -> String {
    let path = try box.policy(try examplePolicyText())
    waitUntilTrusted()
    XCTAssertFalse(try box.apply(path).verifiedInPlace, "the first run repairs")
    return path
  }

  /// The stat cache's record of a managed file, as the next check would read it.
  private func cachedStat(_ sandbox: Sandbox, _ path: String) throws -> StatRecord? {
    let env = try Environment(path: sandbox.state, readOnly: true)
    let txn = try env.read()
    let record = try StatCacheKey(root: sandbox.root).key(path).withBytes { key in
      try txn.value(.statcache, key) { raw in raw.flatMap(StatRecord.decode) }
    }
    txn.abort()
    return record
  }

  private func identity(_ path: String) throws -> FileIdentity {
    try XCTUnwrap(try FileStat.lstat(path)).identity
  }

  func testTheRunAfterARepairIsVerifiedInPlaceAndRecordsItKept() throws {
    let path = try converged()
    XCTAssertEqual(try box.status().entry("app-conf")?.record?.status, .repaired)
    let report = try box.apply(path)
    XCTAssertTrue(report.verifiedInPlace, "the first run after the repairs")
    XCTAssertEqual(report.summary.kept, 6)
    // Its records say kept now, as the full path's would, with the repairs counted once.
    let status = try box.status()
    XCTAssertEqual(status.entry("app-conf")?.record?.status, .kept)
    XCTAssertEqual(status.entry("motd")?.record?.status, .kept)
    XCTAssertEqual(status.entry("router-only")?.record?.status, .skipped)
    XCTAssertEqual(status.entry("app-conf")?.record?.repairs, 1)

    // A drift repair, then the run after it: in place again, and the repair counted.
    try box.write(box.hostPath("/opt/app/app.conf"), "port=9090\nlog=/var/log/app.log\n")
    XCTAssertEqual(try box.apply(path).outcome("app-conf")?.status, .repaired)
    XCTAssertEqual(try box.status().entry("app-conf")?.record?.status, .repaired, "recorded after the mark")
    XCTAssertTrue(try box.apply(path).verifiedInPlace)
    XCTAssertEqual(try box.status().entry("app-conf")?.record?.status, .kept)
    XCTAssertEqual(try box.status().entry("app-conf")?.record?.repairs, 2)
  }

  func testAFileTheCacheDoesNotVouchForIsHashedInPlace() throws {
    let path = try converged()
    XCTAssertTrue(try box.apply(path).verifiedInPlace)
    // Same content written again: a new ctime, so the cache does not vouch for it; the run
    // hashes it, finds it kept, and vouches for it from then on.
    let conf = box.hostPath("/opt/app/app.conf")
    let text = try XCTUnwrap(box.read(conf))
    try box.write(conf, text)
    Thread.sleep(forTimeInterval: 0.05)
    XCTAssertNotEqual(try cachedStat(box, "/opt/app/app.conf")?.identity, try identity(conf))
    let report = try box.apply(path)
    XCTAssertTrue(report.verifiedInPlace)
    XCTAssertEqual(report.outcome("app-conf")?.status, .kept)
    XCTAssertEqual(try cachedStat(box, "/opt/app/app.conf")?.identity, try identity(conf))

    // Other content of the same size, its mtime set back: hashed, not kept, repaired.
    var st = stat()
    XCTAssertEqual(lstat(conf, &st), 0)
    try box.write(conf, String(text.map { $0 == "8" ? "9" : $0 }))
    var times = [st.st_atim, st.st_mtim]
    XCTAssertEqual(utimensat(AT_FDCWD, conf, &times, 0), 0)
    let drifted = try box.apply(path)
    XCTAssertTrue(drifted.verifiedInPlace, "caught by the walk's hash, repaired alone")
    XCTAssertEqual(drifted.outcome("app-conf")?.status, .repaired)
    XCTAssertEqual(box.read(conf), text)
  }

  func testManyFilesWrittenAreVouchedForByTheRunThatWroteThem() throws {
    // From 1,000 files `apply` waits for the coarse clock to pass their stamps (a tick or two)
    // rather than leave them to be hashed by the next run: each file's record matches the file.
    let n = 1_000
    var t = #"{"policy": "many", "promises": ["#
    for i in 0..<n {
      t += (i > 0 ? ",\n" : "\n") + #"{"id": "f\#(i)", "type": "file", "path": "/srv/f\#(i)", "content": "v\#(i)"}"#
    }
    let path = try box.policy(t + "\n]}")
    XCTAssertEqual(try box.apply(path).summary.repaired, n)
    var unvouched: [String] = []
    for i in 0..<n {
      let record = try cachedStat(box, "/srv/f\(i)")
      if record?.identity != (try identity(box.hostPath("/srv/f\(i)"))) || record?.digest != SHA256.hash(Array("v\(i)".utf8)) {
        unvouched.append("f\(i)")
      }
    }
    XCTAssertEqual(unvouched, [], "written by the run but not vouched for")
  }
  func testUnchangedPolicyIsVerifiedInPlaceWithTheSameOutcomes() throws {
    let path = try converged()
    let report = try box.apply(path)
    XCTAssertTrue(report.verifiedInPlace)
    XCTAssertEqual(report.policyName, "gateway")
    XCTAssertEqual(report.summary.kept, 6)
    XCTAssertEqual(report.summary.skipped, 1)
    XCTAssertEqual(report.statuses, ["app-dir": .kept, "app-conf": .kept, "app-env": .kept, "motd": .kept,
                                     "current": .kept, "old-conf": .kept, "router-only": .skipped])
    XCTAssertEqual(report.outcome("router-only"), Outcome(.skipped, #"condition "role_router & !arm" is false"#))
    let before = box.snapshot(box.root)
    XCTAssertTrue(try box.apply(path).verifiedInPlace)
    XCTAssertEqual(box.snapshot(box.root), before)
    XCTAssertGreaterThan(try box.status().lastRun, 0)
  }

  func testADriftIsRepairedInPlaceAndRecorded() throws {
    let path = try converged()
    try box.write(box.hostPath("/opt/app/app.conf"), "port=9090\nlog=/var/log/app.log\n")
    let report = try box.apply(path)
    XCTAssertTrue(report.verifiedInPlace, "the drifted promise alone is checked in full, from its record")
    XCTAssertFalse(report.desiredReplaced)
    XCTAssertEqual(report.outcome("app-conf")?.status, .repaired)
    XCTAssertEqual(report.summary.repaired, 1)
    XCTAssertEqual(report.summary.kept, 5)
    XCTAssertEqual(report.summary.skipped, 1)
    XCTAssertEqual(box.read(box.hostPath("/opt/app/app.conf")), "port=8080\nlog=/var/log/app.log\n")
    let status = try box.status()
    XCTAssertEqual(status.entry("app-conf")?.record?.status, .repaired)
    XCTAssertEqual(status.entry("app-conf")?.record?.repairs, 2)
    XCTAssertEqual(status.summary.repaired, 1)
    // And the next run is kept, in place, and says so; the repair was reported in its place.
    let next = try box.apply(path)
    XCTAssertTrue(next.verifiedInPlace)
    XCTAssertEqual(next.summary.kept, 6)
    XCTAssertEqual(report.results.map(\.id), next.results.map(\.id), "in plan order, the repair in its place")
    XCTAssertEqual(try box.status().entry("app-conf")?.record?.status, .kept)
  }

  func testADriftOfAPromiseThatNotifiesTakesTheFullPath() throws {
    // A repair of it must run what it notifies, which the walk did not check: the full path.
    let text = #"{"policy": "n", "promises": [{"id": "conf", "type": "file", "path": "/srv/app.conf", "content": "a\n", "notify": ["reload"]}, {"id": "reload", "type": "command", "exec": ["/bin/sh", "-c", "echo reloaded >> \#(box.hostPath("/srv/reloads"))"], "unless": ["/bin/true"]}]}"#
    let path = try box.policy(text)
    waitUntilTrusted()
    XCTAssertEqual(try box.apply(path).outcome("conf")?.status, .repaired)
    XCTAssertEqual(box.read(box.hostPath("/srv/reloads")), "reloaded\n")
    try box.write(box.hostPath("/srv/app.conf"), "b\n")
    let report = try box.apply(path)
    XCTAssertFalse(report.verifiedInPlace)
    XCTAssertEqual(report.outcome("conf")?.status, .repaired)
    XCTAssertEqual(report.outcome("reload")?.status, .repaired)
    XCTAssertEqual(box.read(box.hostPath("/srv/reloads")), "reloaded\nreloaded\n")
  }

  func testACommandWithUnlessIsRunInPlaceWhileTheRestIsVerified() throws {
    // `unless` is never certain without running it: that one command is checked in full each
    // run, and the files beside it verified in place.
    let text = #"{"policy": "u", "promises": [{"id": "f", "type": "file", "path": "/srv/f", "content": "x\n"}, {"id": "once", "type": "command", "exec": ["/bin/sh", "-c", "echo ran >> \#(box.hostPath("/srv/ran"))"], "unless": ["/bin/sh", "-c", "test -s \#(box.hostPath("/srv/ran"))"]}]}"#
    let path = try box.policy(text)
    waitUntilTrusted()
    XCTAssertEqual(try box.apply(path).outcome("once")?.status, .repaired)
    let report = try box.apply(path)
    XCTAssertTrue(report.verifiedInPlace)
    XCTAssertEqual(report.outcome("f")?.status, .kept)
    XCTAssertEqual(report.outcome("once")?.status, .kept)
    XCTAssertEqual(box.read(box.hostPath("/srv/ran")), "ran\n")
  }

  func testEachKindOfDriftIsCaught() throws {
    // One sandbox per drift, each verified in place before its drift, so that each drift alone
    // must be caught by the walk and repaired (RepairInPlace.swift).
    let drifts: [(String, (Sandbox) throws -> Void)] = [
      ("app-dir", { b in chmod(b.hostPath("/opt/app"), 0o700) }),
      ("app-env", { b in chmod(b.hostPath("/opt/app/env"), 0o644) }),
      ("app-conf", { b in try b.write(b.hostPath("/opt/app/app.conf"), "port=9090\nlog=/var/log/app.log\n") }),
      ("current", { b in
        try FileManager.default.removeItem(atPath: b.hostPath("/opt/app/current"))
        try FileManager.default.createSymbolicLink(atPath: b.hostPath("/opt/app/current"), withDestinationPath: "/opt/apq")
      }),
      ("old-conf", { b in try b.write(b.hostPath("/opt/app/legacy.conf"), "back") }),
      ("motd", { b in try FileManager.default.removeItem(atPath: b.hostPath("/etc/motd")) }),
    ]
    var boxes: [(Sandbox, String)] = []
    defer { for (b, _) in boxes { b.remove() } }
    for _ in drifts {
      let b = try Sandbox()
      boxes.append((b, try b.policy(try examplePolicyText())))
    }
    waitUntilTrusted()
    for (b, path) in boxes {
      _ = try b.apply(path)
      _ = try b.apply(path)
      XCTAssertTrue(try b.apply(path).verifiedInPlace)
    }
    for ((id, drift), (b, path)) in zip(drifts, boxes) {
      try drift(b)
      let report = try b.apply(path)
      XCTAssertTrue(report.verifiedInPlace, id)
      XCTAssertEqual(report.outcome(id)?.status, .repaired, id)
      XCTAssertEqual(report.summary.repaired, 1, id)
      XCTAssertEqual(try b.status().entry(id)?.record?.status, .repaired, id)
    }
  }

  func testChangedLabelsAreNotVerifiedInPlace() throws {
    let path = try converged()
    let report = try box.apply(path, labels: ["role_router"])
    XCTAssertFalse(report.verifiedInPlace)
    XCTAssertEqual(report.outcome("router-only")?.status, .repaired)
    XCTAssertEqual(box.read(box.hostPath("/etc/router.flag")), "1\n")
  }

  func testEditedPolicyIsReadAgain() throws {
    let path = try converged()
    try box.policy(try examplePolicyText().replacingOccurrences(of: "managed by edgeagent", with: "new motd"))
    let report = try box.apply(path)
    XCTAssertFalse(report.verifiedInPlace)
    XCTAssertTrue(report.desiredReplaced)
    XCTAssertEqual(box.read(box.hostPath("/etc/motd")), "new motd\n")
  }

  func testPolicyEditedIntoARejectedOneIsRejected() throws {
    let path = try converged()
    let before = box.snapshot(box.root)
    try box.policy(#"{"policy": "gateway", "promises": [{"id": "x", "type": "file", "path": "/../etc/shadow", "content": ""}]}"#)
    guard case .policy? = box.applyError(path) else { return XCTFail("the edited policy was not rejected") }
    XCTAssertEqual(box.snapshot(box.root), before)
  }

  func testDryRunInPlaceWritesNoState() throws {
    let path = try converged()
    let before = try box.status().lastRun
    let data = box.snapshot(box.state + "/data.mdb")
    let report = try box.apply(path, dryRun: true)
    XCTAssertTrue(report.verifiedInPlace)
    XCTAssertEqual(box.snapshot(box.state + "/data.mdb"), data)
    XCTAssertEqual(try box.status().lastRun, before)
  }

  func testVerifyingInPlaceCostsNoAllocationPerPromise() throws {
    // Two states, one with n kept files and one with 2n: the whole `apply` must cost the same.
    let n = 100
    func text(_ count: Int) -> String {
      var t = #"{"policy": "many", "promises": ["#
      for i in 0..<count {
        t += (i > 0 ? ",\n" : "\n") + #"{"id": "f\#(i)", "type": "file", "path": "/srv/f\#(i).conf", "content": "v\#(i)", "mode": "0640"}"#
      }
      return t + "\n]}"
    }
    let small = box!
    let large = try Sandbox()
    defer { large.remove() }
    let smallPath = try small.policy(text(n))
    let largePath = try large.policy(text(2 * n))
    waitUntilTrusted()
    var best: [UInt64] = [.max, .max]
    for (k, (sandbox, path)) in [(small, smallPath), (large, largePath)].enumerated() {
      _ = try sandbox.apply(path)
      _ = try sandbox.apply(path)
      var o = sandbox.options(path)
      o.reportKept = false
      for _ in 0..<6 {
        let before = allocationCount()
        let report = try apply(o)
        let used = allocationCount() - before
        XCTAssertTrue(report.verifiedInPlace)
        XCTAssertEqual(report.summary.kept, (k + 1) * n)
        best[k] = min(best[k], used)
      }
    }
    print("apply verified in place: \(n) kept files: \(best[0]) allocations, \(2 * n): \(best[1])")
    // Within a few: LMDB mallocs each page its one write transaction dirties (the meta leaf, the
    // free list's), and how many depends on the state's history (4 more in the smaller state was
    // seen). An allocation per promise would be 100.
    XCTAssertLessThanOrEqual(abs(Int(best[1]) - Int(best[0])), 10,
                             "\(n) more kept files cost \(Int(best[1]) - Int(best[0])) allocations")
  }
}
