@testable import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore
import Foundation
import XCTest

/// The stat cache is keyed by a fixed-size digest of root + path: LMDB refuses keys over 511
/// bytes, and a long root plus a long managed path went past that after the files were written.
final class StatCacheKeyTests: XCTestCase {
  var box: Sandbox!

  override func setUpWithError() throws {
    XCTAssertTrue(cryptoInit())
    box = try Sandbox()
  }

  override func tearDown() { box.remove() }

  /// A managed path of `length` bytes in components of at most 200.
  private func longPath(_ length: Int) -> String {
    var p = ""
    while p.utf8.count < length {
      let n = min(200, length - p.utf8.count - 1)
      p += "/" + String(repeating: "d", count: max(n, 1))
    }
    return p
  }

  func testKeysAreFixedSizeAndTellRootsAndPathsApart() {
    let a = StatCacheKey(root: "/a"), ab = StatCacheKey(root: "/a/b")
    XCTAssertNotEqual(a.key("/b/c"), ab.key("/c"), "the NUL keeps root and path apart")
    XCTAssertEqual(a.key("/b/c"), SHA256.hash(Array("/a\u{0}/b/c".utf8)))
    XCTAssertEqual(StatCacheKey(root: String(repeating: "r", count: 4000)).key(longPath(4000)).withBytes { $0.count }, 32)
  }

  func testAPathPastLMDBsKeyLimitIsAppliedAndRecorded() throws {
    let path = longPath(600)
    XCTAssertGreaterThan(box.root.utf8.count + path.utf8.count, 511)
    let policy = try box.policy(#"{"policy": "p", "promises": [{"id": "long", "type": "file", "path": "\#(path)", "content": "x\n"}]}"#)
    sleep(2)   // the policy file's identity is trusted once settled
    XCTAssertEqual(try box.apply(policy).outcome("long")?.status, .repaired)
    XCTAssertEqual(box.read(box.hostPath(path)), "x\n")
    // One file written: that run does not wait to vouch for it (Converger.waitToVouchFrom); the
    // next, once its stamps are settled, hashes it and records it.
    Thread.sleep(forTimeInterval: 0.03)
    XCTAssertEqual(try box.apply(policy).outcome("long")?.status, .kept)
    let env = try Environment(path: box.state, readOnly: true)
    let txn = try env.read()
    let cached = try StatCacheKey(root: box.root).key(path).withBytes { (k) throws(StoreError) in
      try txn.value(.statcache, k) { $0.flatMap(StatRecord.decode) }
    }
    txn.abort()
    XCTAssertEqual(cached?.digest, SHA256.hash(Array("x\n".utf8)), "the run was recorded with the file's stat")
    XCTAssertEqual(try box.apply(policy).outcome("long")?.status, .kept)
    XCTAssertTrue(try box.apply(policy).verifiedInPlace, "the steady state is verified in place from the cache")
  }

  func testASchemaOneStateIsMigrated() throws {
    // A state written by schema 1: the stat cache keyed by the joined host path.
    let policy = try box.policy(#"{"policy": "p", "promises": [{"id": "f", "type": "file", "path": "/srv/f", "content": "x\n"}]}"#)
    _ = try box.apply(policy)
    do {
      let env = try Environment(path: box.state)
      try env.withWrite { (txn) throws(StoreError) in
        var w = ByteWriter()
        w.u32(1)
        try txn.put(.meta, MetaKey.schema.name, w.bytes)
        try txn.put(.statcache, box.hostPath("/srv/f"), StatRecord(identity: FileIdentity(device: 0, inode: 0, size: 0, mtime: 0, ctime: 0),
                                                                   digest: .zero).encode())
      }
    }
    _ = try box.apply(policy)
    let env = try Environment(path: box.state, readOnly: true)
    let txn = try env.read()
    let old = try txn.value(.statcache, box.hostPath("/srv/f")) { $0 != nil }
    let schema = try txn.value(.meta, MetaKey.schema.name) { raw in raw.map { Array($0) } }
    txn.abort()
    XCTAssertFalse(old, "a schema-1 entry is dropped")
    XCTAssertEqual(schema, [2, 0, 0, 0])
  }
}
