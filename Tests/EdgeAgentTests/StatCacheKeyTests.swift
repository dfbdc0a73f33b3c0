@testable import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore
import Foundation
import XCTest

/// The stat cache is keyed by a fixed-size hash of root + path: LMDB refuses keys over 511
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
    XCTAssertNotEqual(a.key("/b/c"), a.key("/b/d"))
    // FNV-1a 64 of "/a\0/b/c", by the published algorithm, byte by byte.
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in Array("/a\u{0}/b/c".utf8) { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    XCTAssertEqual(a.key("/b/c"), StatKey(h))
    XCTAssertEqual(StatCacheKey(root: String(repeating: "r", count: 4000)).key(longPath(4000)).withBytes { $0.count }, 8)
    XCTAssertNotEqual(policyFileCacheKey("/a/b/c"), a.key("/b/c"))
  }

  func testTenThousandPathsOfOneDirectoryHaveTenThousandKeys() {
    // Not a cryptographic hash (a collision only costs a re-hash); still, none among the paths
    // of the benchmarks' workload.
    let k = StatCacheKey(root: "/dev/shm/edgeagent-peers-1/e")
    var seen = Set<StatKey>()
    for i in 0..<10_000 { seen.insert(k.key("/d/f" + String(100_000 + i).dropFirst())) }
    XCTAssertEqual(seen.count, 10_000)
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
    XCTAssertEqual(schema, [3, 0, 0, 0])
  }

  func testASchemaTwoStateIsMigrated() throws {
    // Schema 2 keyed the stat cache by SHA-256 of root, NUL and path: 32 bytes.
    let policy = try box.policy(#"{"policy": "p", "promises": [{"id": "f", "type": "file", "path": "/srv/f", "content": "x\n"}]}"#)
    _ = try box.apply(policy)
    let oldKey = Array((box.root + "\u{0}/srv/f").utf8)
    let digest = SHA256.hash(oldKey)
    do {
      let env = try Environment(path: box.state)
      try env.withWrite { (txn) throws(StoreError) in
        var w = ByteWriter()
        w.u32(2)
        try txn.put(.meta, MetaKey.schema.name, w.bytes)
        let value = StatRecord(identity: FileIdentity(device: 0, inode: 0, size: 0, mtime: 0, ctime: 0), digest: .zero).encode()
        try digest.withBytes { (k) throws(StoreError) in
          try withBytes(value) { (v) throws(StoreError) in try txn.put(.statcache, k, v) }
        }
      }
    }
    XCTAssertEqual(try box.apply(policy).outcome("f")?.status, .kept)
    let env = try Environment(path: box.state, readOnly: true)
    let txn = try env.read()
    let old = try digest.withBytes { (k) throws(StoreError) in try txn.value(.statcache, k) { $0 != nil } }
    let schema = try txn.value(.meta, MetaKey.schema.name) { raw in raw.map { Array($0) } }
    txn.abort()
    XCTAssertFalse(old, "a schema-2 entry is dropped")
    XCTAssertEqual(schema, [3, 0, 0, 0])
  }
}
