import XCTest
@testable import EdgeStore
import EdgeCore

/// The typed owner of `meta`: every record round-trips, and a value that does not decode is an
/// error naming its key, not a default.
final class MetaTests: XCTestCase {
  var tmp: TemporaryDirectory!
  var env: Environment!

  override func setUpWithError() throws {
    tmp = try TemporaryDirectory()
    env = try Environment(path: tmp.path)
  }
  override func tearDown() { env = nil; tmp.remove() }

  private func write(_ body: (borrowing Transaction) throws(StoreError) -> Void) throws {
    try env.withWrite { (txn) throws(StoreError) in try body(txn) }
  }

  private func read<R>(_ body: (borrowing Transaction) throws(StoreError) -> R) throws -> R {
    let txn = try env.read()
    do {
      let r = try body(txn)
      txn.abort()
      return r
    } catch {
      txn.abort()
      throw error
    }
  }

  private func corruptKey<R>(_ key: MetaKey, _ bytes: [UInt8], _ body: (borrowing Transaction) throws(StoreError) -> R) throws -> String? {
    try write { (txn) throws(StoreError) in try txn.putMeta(key, bytes) }
    do { _ = try read(body); return nil } catch let e as StoreError {
      guard case .record(_, let name) = e else { return "not a record error: \(e)" }
      return name
    }
  }

  func testAbsentKeysReadAsNil() throws {
    try read { (txn) throws(StoreError) in
      XCTAssertNil(try txn.schemaVersion())
      XCTAssertNil(try txn.hostID())
      XCTAssertNil(try txn.policyName())
      XCTAssertNil(try txn.policyDigest())
      XCTAssertNil(try txn.lastRun())
      XCTAssertNil(try txn.runSummary())
      XCTAssertNil(try txn.lastClasses())
      XCTAssertNil(try txn.bundleSerial())
      XCTAssertNil(try txn.bundleIdentity())
      XCTAssertNil(try txn.bundleAcceptedAt())
      XCTAssertNil(try txn.bundleBytes())
      XCTAssertNil(try txn.lastRejection())
      XCTAssertNil(try txn.reachability())
    }
  }

  func testEveryRecordRoundTrips() throws {
    let d1 = SHA256Fixture.a, d2 = SHA256Fixture.b, d3 = SHA256Fixture.c
    var summary = RunSummary()
    summary.kept = 3; summary.repaired = 2; summary.failed = 1; summary.skipped = 4
    let rejection = BundleRejectionRecord(time: 17, code: "bad_signature", source: "http://o/", reason: "no key")
    let reach = ReachabilityRecord(reachable: false, since: 5, lastContact: 4, lastError: "refused")
    try write { (txn) throws(StoreError) in
      try txn.setSchemaVersion(2)
      try txn.setHostID("0123abcd")
      try txn.setPolicy(name: "web", digest: d1)
      try txn.setRun(at: -9, summary: summary)
      try txn.setLastClasses(d2)
      try txn.setBundle(bytes: [1, 2, 3], signature: [4, 5], serial: UInt64.max, digest: d3, acceptedAt: 1_700_000_000)
      try txn.setLastRejection(rejection)
      try txn.setReachability(reach)
    }
    try read { (txn) throws(StoreError) in
      XCTAssertEqual(try txn.schemaVersion(), 2)
      XCTAssertEqual(try txn.hostID(), "0123abcd")
      XCTAssertEqual(try txn.policyName(), "web")
      XCTAssertEqual(try txn.policyDigest(), d1)
      XCTAssertEqual(try txn.lastRun(), -9)
      XCTAssertEqual(try txn.runSummary(), summary)
      XCTAssertEqual(try txn.lastClasses(), d2)
      XCTAssertEqual(try txn.bundleSerial(), UInt64.max)
      XCTAssertEqual(try txn.bundleIdentity()?.digest, d3)
      XCTAssertEqual(try txn.bundleIdentity()?.serial, UInt64.max)
      XCTAssertEqual(try txn.bundleAcceptedAt(), 1_700_000_000)
      XCTAssertEqual(try txn.bundleBytes(), [1, 2, 3])
      XCTAssertEqual(try txn.meta(.bundleSignature) { $0.map { Array($0) } }, [4, 5])
      XCTAssertEqual(try txn.lastRejection(), rejection)
      XCTAssertEqual(try txn.reachability(), reach)
    }
  }

  func testShortValuesAreErrorsNamingTheKey() throws {
    XCTAssertEqual(try corruptKey(.schema, [1, 0]) { (t) throws(StoreError) in try t.schemaVersion() }, "schema")
    XCTAssertEqual(try corruptKey(.policyDigest, [1, 2, 3]) { (t) throws(StoreError) in try t.policyDigest() }, "policy.digest")
    XCTAssertEqual(try corruptKey(.lastRun, [1]) { (t) throws(StoreError) in try t.lastRun() }, "run.last")
    XCTAssertEqual(try corruptKey(.runSummary, [1, 0, 0, 0]) { (t) throws(StoreError) in try t.runSummary() }, "run.summary")
    XCTAssertEqual(try corruptKey(.lastClasses, [UInt8](repeating: 0, count: 33)) { (t) throws(StoreError) in try t.lastClasses() }, "run.classes")
    XCTAssertEqual(try corruptKey(.bundleSerial, [1, 2, 3, 4]) { (t) throws(StoreError) in try t.bundleSerial() }, "bundle.serial")
    XCTAssertEqual(try corruptKey(.bundleAcceptedAt, []) { (t) throws(StoreError) in try t.bundleAcceptedAt() }, "bundle.accepted")
    XCTAssertEqual(try corruptKey(.lastRejection, [1, 2]) { (t) throws(StoreError) in try t.lastRejection() }, "bundle.rejection")
    XCTAssertEqual(try corruptKey(.reachability, [1]) { (t) throws(StoreError) in try t.reachability() }, "pull.reachability")
    XCTAssertEqual(try corruptKey(.desiredSlot, [2]) { (t) throws(StoreError) in try t.desiredDatabase() }, "desired.slot")
    XCTAssertEqual(try corruptKey(.desiredSlot, [1, 0]) { (t) throws(StoreError) in try t.desiredDatabase() }, "desired.slot")
  }

  func testASerialWithoutItsDigestIsCorrupt() throws {
    var w = ByteWriter()
    w.u64(4)
    XCTAssertEqual(try corruptKey(.bundleSerial, w.bytes) { (t) throws(StoreError) in try t.bundleIdentity() }, "bundle.digest")
  }

  func testKeysAreDistinctAndStable() {
    let names = MetaKey.allCases.map(\.name)
    XCTAssertEqual(Set(names).count, names.count)
    // Stored in every existing state: renaming one would lose its value.
    XCTAssertEqual(names, ["schema", "host.id", "policy.name", "policy.digest", "desired.slot", "run.last", "run.summary", "run.classes", "run.serial", "run.settled", "run.repaired",
                           "bundle.serial", "bundle.digest", "bundle.json", "bundle.sig", "bundle.accepted",
                           "bundle.rejection", "pull.reachability", "report.key", "report.sequence", "agent.update", "agent.handoff"])
  }

  func testLayoutSpellsEachPathOnce() {
    let l = StateLayout("/s")
    XCTAssertEqual(l.dataFile, "/s/data.mdb")
    XCTAssertEqual(l.lockFile, "/s/edgeagent.lock")
    XCTAssertEqual(l.logDirectory, "/s/logs")
    XCTAssertEqual(l.serviceLog("web"), "/s/logs/web.log")
    XCTAssertEqual(StateLayout().directory, "/var/lib/edgeagent")
  }
}

private enum SHA256Fixture {
  static let a = Digest(w0: 1, w1: 2, w2: 3, w3: 4)
  static let b = Digest(w0: 5, w1: 6, w2: 7, w3: 8)
  static let c = Digest(w0: .max, w1: 0, w2: .max, w3: 1)
}
