import Foundation
import XCTest
@testable import EdgeStore
import EdgeCore

final class EnvironmentTests: XCTestCase {
  var tmp: TemporaryDirectory!

  override func setUpWithError() throws { tmp = try TemporaryDirectory() }
  override func tearDown() { tmp.remove() }

  private func read(_ env: Environment, _ db: Database, _ key: String) throws -> [UInt8]? {
    let txn = try env.read()
    let v = try txn.value(db, key) { $0.map { Array($0) } }
    txn.abort()
    return v
  }

  private func storeError(_ body: () throws(StoreError) -> Void) -> StoreError? {
    do { try body(); return nil } catch { return error }
  }

  func testOpenCreatesMissingDirectoriesWithMode0700() throws {
    let env = try Environment(path: tmp.path + "/var/lib/edgeagent")
    XCTAssertEqual(try tmp.permissions("var"), 0o700)
    XCTAssertEqual(try tmp.permissions("var/lib"), 0o700)
    XCTAssertEqual(try tmp.permissions("var/lib/edgeagent"), 0o700)
    XCTAssertEqual(try tmp.permissions("var/lib/edgeagent/data.mdb"), 0o600)
    XCTAssertFalse(env.readOnly)
    XCTAssertEqual(env.path, tmp.path + "/var/lib/edgeagent")
  }

  func testOpenLeavesAnExistingDirectoryAsItIs() throws {
    let dir = tmp.path + "/state"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false,
                                            attributes: [.posixPermissions: 0o750])
    _ = try Environment(path: dir)
    XCTAssertEqual(try tmp.permissions("state"), 0o750)
  }

  func testInitialMetaIsWrittenWhenAbsentAndNeverOverwritten() throws {
    let dir = tmp.path + "/s"
    do { _ = try Environment(path: dir, initialMeta: [("host.id", [1])]) }
    let again = try Environment(path: dir, initialMeta: [("host.id", [2]), ("other", [3])])
    XCTAssertEqual(try read(again, .meta, "host.id"), [1])
    XCTAssertEqual(try read(again, .meta, "other"), [3])
  }

  func testCloseRefusesLaterTransactionsAndKeepsWhatWasCommitted() throws {
    let dir = tmp.path + "/s"
    let env = try Environment(path: dir, deferredMetaSync: true)
    try env.withWrite { (txn) throws(StoreError) in try txn.put(.meta, "k", [7]) }
    env.close()
    XCTAssertTrue(env.isClosed)
    XCTAssertNotNil(storeError { () throws(StoreError) in _ = try env.read() })
    XCTAssertNotNil(storeError { () throws(StoreError) in try env.withWrite { (txn) throws(StoreError) in try txn.put(.meta, "k", [8]) } })
    env.close()   // twice is harmless
    XCTAssertEqual(try read(try Environment(path: dir, readOnly: true), .meta, "k"), [7])
  }

  func testANewStatesDataFileIsPreallocatedAndCommitsDoNotGrowIt() throws {
    let dir = tmp.path + "/s"
    let file = dir + "/data.mdb"
    func size() throws -> Int { (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? -1 }
    do {
      let env = try Environment(path: dir, deferredMetaSync: true)
      XCTAssertEqual(try size(), Environment.preallocatedBytes)
      try env.withWrite { (txn) throws(StoreError) in
        for i in 0..<20 { try txn.put(.meta, "k\(i)", [UInt8](repeating: UInt8(i), count: 1000)) }
      }
      try env.sync()
      XCTAssertEqual(try size(), Environment.preallocatedBytes)
    }
    // The zeros past LMDB's last page are never read as data; reopening keeps everything.
    let again = try Environment(path: dir)
    XCTAssertEqual(try read(again, .meta, "k19"), [UInt8](repeating: 19, count: 1000))
    XCTAssertEqual(try size(), Environment.preallocatedBytes)
  }

  func testDataSurvivesClosingAndReopening() throws {
    let dir = tmp.path + "/s"
    do {
      let env = try Environment(path: dir)
      try env.withWrite { (txn) throws(StoreError) in try txn.put(.meta, "k", [1, 2, 3]) }
    }
    let again = try Environment(path: dir)
    XCTAssertEqual(try read(again, .meta, "k"), [1, 2, 3])
  }

  func testReadOnlyOpenOfAMissingStateIsNoStateAndCreatesNothing() {
    let dir = tmp.path + "/never/written"
    let e = storeError { () throws(StoreError) in _ = try Environment(path: dir, readOnly: true) }
    guard case .noState(let path)? = e else { return XCTFail("expected noState, got \(String(describing: e))") }
    XCTAssertEqual(path, dir)
    XCTAssertTrue(e!.description.contains(dir))
    XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.path + "/never"))
  }

  func testReadOnlyOpenOfAnEmptyDirectoryIsNoState() {
    let e = storeError { () throws(StoreError) in _ = try Environment(path: tmp.path, readOnly: true) }
    guard case .noState? = e else { return XCTFail("expected noState, got \(String(describing: e))") }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [])
  }

  func testReadOnlyEnvironmentSeesCommittedData() throws {
    let dir = tmp.path + "/s"
    do {
      let env = try Environment(path: dir)
      try env.withWrite { (txn) throws(StoreError) in try txn.put(.desired, "a", Array("promise".utf8)) }
    }
    let ro = try Environment(path: dir, readOnly: true)
    XCTAssertTrue(ro.readOnly)
    XCTAssertEqual(try read(ro, .desired, "a"), Array("promise".utf8))
  }

  func testWritingThroughAReadOnlyEnvironmentFails() throws {
    let dir = tmp.path + "/s"
    _ = try Environment(path: dir)
    let ro = try Environment(path: dir, readOnly: true)
    let e = storeError { () throws(StoreError) in
      try ro.withWrite { (txn) throws(StoreError) in try txn.put(.meta, "x", [1]) }
    }
    XCTAssertNotNil(e)
  }

  func testAReaderSeesAConsistentSnapshotWhileAWriterCommits() throws {
    let env = try Environment(path: tmp.path + "/s")
    try env.withWrite { (txn) throws(StoreError) in
      try txn.put(.actual, "a", [1])
      try txn.put(.actual, "b", [1])
    }
    let snapshot = try env.read()
    try env.withWrite { (txn) throws(StoreError) in
      try txn.put(.actual, "a", [2])
      try txn.put(.actual, "b", [2])
      try txn.put(.actual, "c", [2])
    }
    XCTAssertEqual(try snapshot.value(.actual, "a") { $0.map { Array($0) } }, [1])
    XCTAssertEqual(try snapshot.value(.actual, "b") { $0.map { Array($0) } }, [1])
    XCTAssertNil(try snapshot.value(.actual, "c") { $0.map { Array($0) } })
    XCTAssertEqual(try snapshot.count(.actual), 2)
    snapshot.abort()
    XCTAssertEqual(try read(env, .actual, "a"), [2])
    XCTAssertEqual(try read(env, .actual, "c"), [2])
  }

  func testWithWriteGrowsTheMapWhenItIsFull() throws {
    let dir = tmp.path + "/s"
    let env = try Environment(path: dir, mapSize: 64 << 10)
    let value = [UInt8](repeating: 0xA5, count: 4000)
    var attempts = 0
    try env.withWrite { (txn) throws(StoreError) in
      attempts += 1
      for i in 0..<500 {
        var v = value
        v[0] = UInt8(i & 0xFF)
        try txn.put(.blobs, "blob-\(i)", v)
      }
    }
    XCTAssertGreaterThan(attempts, 1, "64 KiB cannot hold 2 MB: the map must have been grown")
    let txn = try env.read()
    XCTAssertEqual(try txn.count(.blobs), 500)
    for i in [0, 1, 255, 499] {
      let back = try txn.value(.blobs, "blob-\(i)") { $0.map { Array($0) } }
      XCTAssertEqual(back?.count, 4000)
      XCTAssertEqual(back?.first, UInt8(i & 0xFF))
      XCTAssertEqual(back?.last, 0xA5)
    }
    txn.abort()
  }

  func testGrownStateReopensWithTheDefaultMapSize() throws {
    let dir = tmp.path + "/s"
    do {
      let env = try Environment(path: dir, mapSize: 64 << 10)
      try env.withWrite { (txn) throws(StoreError) in
        for i in 0..<100 { try txn.put(.blobs, "b\(i)", [UInt8](repeating: 1, count: 8000)) }
      }
    }
    let env = try Environment(path: dir)
    let txn = try env.read()
    XCTAssertEqual(try txn.count(.blobs), 100)
    txn.abort()
  }

  func testWithWriteRetriesOnlyOnAFullMap() throws {
    let env = try Environment(path: tmp.path + "/s")
    var attempts = 0
    let e = storeError { () throws(StoreError) in
      try env.withWrite { (txn) throws(StoreError) in
        attempts += 1
        try txn.put(.meta, "kept", [1])
        throw StoreError.noState(path: "stop")
      }
    }
    XCTAssertEqual(attempts, 1)
    guard case .noState(let p)? = e else { return XCTFail("the body's error is rethrown") }
    XCTAssertEqual(p, "stop")
    XCTAssertNil(try read(env, .meta, "kept"), "a failed body's writes are not committed")
  }

  func testWithWriteReturnsTheBodysResult() throws {
    let env = try Environment(path: tmp.path + "/s")
    let n = try env.withWrite { (txn) throws(StoreError) -> Int in
      try txn.put(.meta, "a", [1])
      return try txn.count(.meta)
    }
    XCTAssertEqual(n, 1)
  }

  func testSyncSucceedsOnAWritableState() throws {
    let env = try Environment(path: tmp.path + "/s")
    try env.withWrite { (txn) throws(StoreError) in try txn.put(.meta, "a", [1]) }
    XCTAssertNoThrow(try env.sync())
  }

  func testStateInAFileIsAnLMDBError() throws {
    let file = tmp.path + "/file"
    XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data([1, 2, 3])))
    let e = storeError { () throws(StoreError) in _ = try Environment(path: file) }
    guard case .lmdb(let code, let op)? = e else { return XCTFail("expected an LMDB error, got \(String(describing: e))") }
    XCTAssertEqual(code, ENOTDIR)
    XCTAssertTrue(op.contains(file))
    XCTAssertTrue(e!.description.hasPrefix("unable to open the state in \(file): "), e!.description)
  }

  func testLMDBVersionIsDotted() {
    let parts = lmdbVersion().split(separator: ".")
    XCTAssertEqual(parts.count, 3)
    XCTAssertTrue(parts.allSatisfy { Int($0) != nil })
  }

  func testDatabaseNamesAreDistinct() {
    XCTAssertEqual(Set(Database.allCases.map(\.name)).count, Database.allCases.count)
    XCTAssertEqual(Database.desired.name, "desired")
  }
}
