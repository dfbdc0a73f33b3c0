@testable import EdgeConverge
import EdgeCore
import EdgeStore
import XCTest

/// The event ring keeps the newest `maxEvents`, in order, with sequence numbers that never go
/// back, however many events one run brings.
final class EventRingTests: XCTestCase {
  private func events(_ range: Range<Int>) -> [EventRecord] {
    range.map { EventRecord(kind: .outcome, time: Int64($0), status: .repaired, subject: "e\($0)", reason: "created") }
  }

  private func sequences(_ env: Environment) throws -> [UInt64] {
    let txn = try env.read()
    var out: [UInt64] = []
    try txn.forEach(.events) { key, _ in
      out.append(EventRecord.sequence(key) ?? 0)
      return true
    }
    txn.abort()
    return out
  }

  func testARunOfMoreEventsThanTheRingKeepsTheNewest() throws {
    let box = try Sandbox()
    defer { box.remove() }
    let env = try Environment(path: box.state)
    try env.withWrite { (txn) throws(StoreError) in try appendEvents(txn, events(0..<100)) }
    let before = try XCTUnwrap(try sequences(env).last)
    // One run of 2.5 rings' worth: what the ring cannot hold is neither written nor kept.
    let big = 5 * maxEvents / 2
    try env.withWrite { (txn) throws(StoreError) in try appendEvents(txn, events(100..<(100 + big))) }
    let stored = try readEvents(stateDir: box.state, count: maxEvents + 10)
    XCTAssertEqual(stored.count, maxEvents)
    XCTAssertEqual(stored.first?.subject, "e\(100 + big - maxEvents)")
    XCTAssertEqual(stored.last?.subject, "e\(100 + big - 1)")
    let after = try sequences(env)
    XCTAssertEqual(after.count, maxEvents)
    XCTAssertGreaterThan(after[0], before, "a sequence number was reused")
    XCTAssertEqual(after, (0..<maxEvents).map { after[0] + UInt64($0) })
  }

  /// storeOutcomes holds at most two rings of events for a run, whatever its size, and what it
  /// hands on ends with the run's last repair.
  func testARunOfManyRepairsRecordsTheNewestEvents() throws {
    let box = try Sandbox()
    defer { box.remove() }
    let env = try Environment(path: box.state)
    let n = 2 * maxEvents + 7
    let promises = (0..<n).map { i -> Promise in
      var p = Promise(id: "f\(i)", type: .file)
      p.path = "/f\(i)"
      return p
    }
    let keys = StatCacheKey(root: box.root)
    let prepared = promises.enumerated().map { PreparedPromise(index: $0, promise: $1, keys: keys) }
    let outcomes: [Outcome?] = promises.map { _ in Outcome(.repaired, "created") }
    try env.withWrite { (txn) throws(StoreError) in try storeOutcomes(txn, .promises(promises), .prepared(prepared), outcomes, now: 1, run: 1) }
    let stored = try readEvents(stateDir: box.state, count: maxEvents + 10)
    XCTAssertEqual(stored.count, maxEvents)
    XCTAssertEqual(stored.first?.subject, "f\(n - maxEvents)")
    XCTAssertEqual(stored.last?.subject, "f\(n - 1)")
  }
}
