import Foundation
import XCTest
@testable import EdgeStore
import EdgeCore

final class TransactionTests: XCTestCase {
  var tmp: TemporaryDirectory!
  var env: Environment!

  override func setUpWithError() throws {
    tmp = try TemporaryDirectory()
    env = try Environment(path: tmp.path + "/state")
  }

  override func tearDown() {
    env = nil
    tmp.remove()
  }

  private func get(_ db: Database, _ key: String) throws -> [UInt8]? {
    let txn = try env.read()
    let v = try txn.value(db, key) { $0.map { Array($0) } }
    txn.abort()
    return v
  }

  private func all(_ db: Database, from start: [UInt8]? = nil, reverse: Bool = false) throws -> [(String, [UInt8])] {
    let txn = try env.read()
    var out: [(String, [UInt8])] = []
    if let start {
      try withBytes(start) { (s) throws(StoreError) in
        try txn.forEach(db, from: s, reverse: reverse) { k, v in
          out.append((String(decoding: k, as: UTF8.self), Array(v)))
          return true
        }
      }
    } else {
      try txn.forEach(db, reverse: reverse) { k, v in
        out.append((String(decoding: k, as: UTF8.self), Array(v)))
        return true
      }
    }
    txn.abort()
    return out
  }

  func testPutThenGet() throws {
    try env.withWrite { (txn) throws(StoreError) in try txn.put(.actual, "app-conf", [1, 2, 3]) }
    XCTAssertEqual(try get(.actual, "app-conf"), [1, 2, 3])
  }

  func testGetOfAMissingKeyIsNil() throws {
    XCTAssertNil(try get(.actual, "nope"))
  }

  func testPutReplacesTheValue() throws {
    try env.withWrite { (txn) throws(StoreError) in try txn.put(.meta, "k", [1]) }
    try env.withWrite { (txn) throws(StoreError) in try txn.put(.meta, "k", [2, 2]) }
    XCTAssertEqual(try get(.meta, "k"), [2, 2])
  }

  func testEmptyValueIsStoredAndDistinctFromMissing() throws {
    try env.withWrite { (txn) throws(StoreError) in try txn.put(.meta, "empty", []) }
    XCTAssertEqual(try get(.meta, "empty"), [])
  }

  func testDatabasesAreSeparateNamespaces() throws {
    try env.withWrite { (txn) throws(StoreError) in
      try txn.put(.desired, "x", [1])
      try txn.put(.actual, "x", [2])
    }
    XCTAssertEqual(try get(.desired, "x"), [1])
    XCTAssertEqual(try get(.actual, "x"), [2])
    XCTAssertNil(try get(.meta, "x"))
  }

  func testDeleteRemovesAndSaysWhetherItWasThere() throws {
    try env.withWrite { (txn) throws(StoreError) in try txn.put(.actual, "a", [1]) }
    let results = try env.withWrite { (txn) throws(StoreError) -> (Bool, Bool) in
      (try txn.delete(.actual, "a"), try txn.delete(.actual, "a"))
    }
    XCTAssertTrue(results.0)
    XCTAssertFalse(results.1)
    XCTAssertNil(try get(.actual, "a"))
  }

  func testDeleteKeyTakesBinaryKeys() throws {
    let key: [UInt8] = [0, 0, 0xFF, 1]
    try env.withWrite { (txn) throws(StoreError) in
      try withBytes(key) { (k) throws(StoreError) in try withBytes([9]) { (v) throws(StoreError) in try txn.put(.events, k, v) } }
    }
    let removed = try env.withWrite { (txn) throws(StoreError) -> Bool in try txn.deleteKey(.events, key) }
    XCTAssertTrue(removed)
    XCTAssertEqual(try all(.events).count, 0)
  }

  func testForEachVisitsKeysInOrder() throws {
    try env.withWrite { (txn) throws(StoreError) in
      for k in ["b", "a", "c", "aa"] { try txn.put(.actual, k, Array(k.utf8)) }
    }
    XCTAssertEqual(try all(.actual).map(\.0), ["a", "aa", "b", "c"])
    XCTAssertEqual(try all(.actual).map(\.1), [Array("a".utf8), Array("aa".utf8), Array("b".utf8), Array("c".utf8)])
    XCTAssertEqual(try all(.actual, reverse: true).map(\.0), ["c", "b", "aa", "a"])
  }

  func testForEachFromAKeyStartsAtTheFirstKeyNotBelowIt() throws {
    try env.withWrite { (txn) throws(StoreError) in
      for k in ["a", "c", "e"] { try txn.put(.actual, k, []) }
    }
    XCTAssertEqual(try all(.actual, from: Array("b".utf8)).map(\.0), ["c", "e"])
    XCTAssertEqual(try all(.actual, from: Array("c".utf8)).map(\.0), ["c", "e"])
    XCTAssertEqual(try all(.actual, from: Array("z".utf8)).map(\.0), [])
  }

  func testForEachStopsWhenTheBodySaysSo() throws {
    try env.withWrite { (txn) throws(StoreError) in
      for i in 0..<10 { try txn.put(.actual, "k\(i)", []) }
    }
    let txn = try env.read()
    var seen = 0
    try txn.forEach(.actual) { _, _ in
      seen += 1
      return seen < 3
    }
    txn.abort()
    XCTAssertEqual(seen, 3)
  }

  func testForEachOfAnEmptyDatabaseVisitsNothing() throws {
    XCTAssertEqual(try all(.services).count, 0)
  }

  func testCountCountsEntries() throws {
    try env.withWrite { (txn) throws(StoreError) in
      for i in 0..<42 { try txn.put(.statcache, "/p/\(i)", [UInt8(i)]) }
    }
    let txn = try env.read()
    XCTAssertEqual(try txn.count(.statcache), 42)
    XCTAssertEqual(try txn.count(.blobs), 0)
    txn.abort()
  }

  func testClearEmptiesOneDatabaseAndKeepsIt() throws {
    try env.withWrite { (txn) throws(StoreError) in
      try txn.put(.desired, "a", [1])
      try txn.put(.desired, "b", [1])
      try txn.put(.actual, "a", [1])
    }
    try env.withWrite { (txn) throws(StoreError) in try txn.clear(.desired) }
    XCTAssertEqual(try all(.desired).count, 0)
    XCTAssertEqual(try get(.actual, "a"), [1])
    try env.withWrite { (txn) throws(StoreError) in try txn.put(.desired, "c", [3]) }
    XCTAssertEqual(try get(.desired, "c"), [3], "the cleared database is still usable")
  }

  func testCommittedWritesAreVisible() throws {
    let txn = try env.write()
    try txn.put(.meta, "k", [7])
    try txn.commit()
    XCTAssertEqual(try get(.meta, "k"), [7])
  }

  func testAbortedWritesAreNotVisible() throws {
    let txn = try env.write()
    try txn.put(.meta, "k", [7])
    txn.abort()
    XCTAssertNil(try get(.meta, "k"))
  }

  func testDroppedWriteTransactionAborts() throws {
    do {
      let txn = try env.write()
      try txn.put(.meta, "k", [7])
    }
    XCTAssertNil(try get(.meta, "k"))
    // The writer lock was released: another write goes through.
    try env.withWrite { (txn) throws(StoreError) in try txn.put(.meta, "k", [8]) }
    XCTAssertEqual(try get(.meta, "k"), [8])
  }

  func testAWriteTransactionReadsItsOwnWrites() throws {
    let seen = try env.withWrite { (txn) throws(StoreError) -> [UInt8]? in
      try txn.put(.meta, "k", [5])
      return try txn.value(.meta, "k") { $0.map { Array($0) } }
    }
    XCTAssertEqual(seen, [5])
  }

  func testUncommittedWritesAreInvisibleToReaders() throws {
    let writer = try env.write()
    try writer.put(.meta, "k", [1])
    XCTAssertNil(try get(.meta, "k"))
    try writer.commit()
    XCTAssertEqual(try get(.meta, "k"), [1])
  }

  func testPutInAReadTransactionFails() throws {
    let txn = try env.read()
    var failed = false
    do { try txn.put(.meta, "k", [1]) } catch {
      failed = true
      if case .lmdb(let code, _) = error { XCTAssertEqual(code, EACCES) } else { XCTFail("\(error)") }
    }
    txn.abort()
    XCTAssertTrue(failed)
  }

  func testGetLendsBytesAndPassesTheBodysError() throws {
    struct Refused: Error, Equatable {}
    try env.withWrite { (txn) throws(StoreError) in try txn.put(.meta, "k", [1, 2]) }
    let txn = try env.read()
    let r = try withUTF8("k") { (k) throws(StoreError) -> Result<Int, Refused> in
      try txn.get(.meta, k) { (v) throws(Refused) -> Int in
        guard let v else { return -1 }
        if v.count == 2 { throw Refused() }
        return v.count
      }
    }
    txn.abort()
    XCTAssertEqual(r, .failure(Refused()))
  }

  /// A read transaction is renewed from the spare the last one left (no calloc per read): a
  /// renewed one still sees every commit made since, and two at once are both valid.
  func testRenewedReadersSeeTheLatestCommit() throws {
    try env.withWrite { (txn) throws(StoreError) in try txn.put(.meta, "k", [1]) }
    XCTAssertEqual(try get(.meta, "k"), [1])
    XCTAssertNotNil(env.spareReader, "the ended reader is kept")
    try env.withWrite { (txn) throws(StoreError) in try txn.put(.meta, "k", [2]) }
    XCTAssertEqual(try get(.meta, "k"), [2], "a renewed reader takes a new snapshot")
    let a = try env.read()
    XCTAssertNil(env.spareReader)
    let b = try env.read()
    XCTAssertEqual(try a.value(.meta, "k") { $0.map { Array($0) } }, [2])
    XCTAssertEqual(try b.value(.meta, "k") { $0.map { Array($0) } }, [2])
    a.abort()
    b.abort()   // one spare is kept, the other freed
    try env.grow()
    XCTAssertNil(env.spareReader, "no transaction of ours, not even a reset one, across a remap")
    XCTAssertEqual(try get(.meta, "k"), [2])
    env.close()
    XCTAssertNil(env.spareReader)
  }

  func testDroppedPagesReadBackTheSameBytesInAnOpenTransaction() throws {
    // What `apply` does on a large state's walk: the pages it read leave the process while its
    // read transaction, and the pointers LMDB lent, stay; reading through them again must give
    // the same bytes (a minor fault from the page cache).
    try env.withWrite { (txn) throws(StoreError) in
      for i in 0..<2_000 { try txn.put(.desired, "k\(100_000 + i)", [UInt8](repeating: UInt8(i & 0xff), count: 200)) }
    }
    let txn = try env.read()
    var low = UInt.max, high = UInt(0)
    var lent: [(UnsafeRawBufferPointer, UInt8)] = []
    try txn.forEach(.desired) { _, value in
      low = min(low, UInt(bitPattern: value.baseAddress))
      high = max(high, UInt(bitPattern: value.baseAddress))
      lent.append((value, value[0]))
      return true
    }
    XCTAssertEqual(lent.count, 2_000)
    env.dropResidentPages(from: UnsafeRawPointer(bitPattern: low)!, to: UnsafeRawPointer(bitPattern: high)!)
    for (i, (value, first)) in lent.enumerated() {
      XCTAssertEqual(value.count, 200)
      XCTAssertEqual(first, UInt8(i & 0xff))
      XCTAssertTrue(value.allSatisfy { $0 == first }, "record \(i) read back changed")
    }
    txn.abort()
  }

  /// `ResidentPages` drops only what a read transaction lent: a write transaction lends its
  /// dirty pages from the heap, where dropping them would zero records not yet committed.
  func testResidentPagesLeaveAWriteTransactionsPagesAlone() throws {
    let n = 40_000   // more than the 32,768 values after which ResidentPages drops
    try env.withWrite { (txn) throws(StoreError) in
      for i in 0..<n { try txn.put(.desired, "k\(100_000 + i)", [UInt8](repeating: UInt8(i & 0xff), count: 100)) }
      var pages = ResidentPages()
      var walked = 0
      try txn.forEach(.desired) { _, value in
        pages.saw(value, in: txn)
        walked += 1
        return true
      }
      XCTAssertEqual(walked, n)
    }
    var read = 0
    let txn = try env.read()
    var pages = ResidentPages()
    try txn.forEach(.desired) { key, value in
      pages.saw(value, in: txn)
      let i = Int(String(decoding: key.dropFirst(), as: UTF8.self))! - 100_000
      XCTAssertTrue(value.count == 100 && value.allSatisfy { $0 == UInt8(i & 0xff) }, "record \(i) changed")
      read += 1
      return true
    }
    txn.abort()
    XCTAssertEqual(read, n, "every record the write transaction walked was committed whole")
  }
}
