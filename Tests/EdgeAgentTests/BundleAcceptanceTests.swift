import EdgeAgent
import EdgeCore
import EdgeHost
import EdgeStore
import Foundation
import XCTest

final class BundleAcceptanceTests: XCTestCase {
  func testAcceptsAValidBundleInOneTransaction() throws {
    let f = try BundleFixture("accept")
    let r = try f.publish(serial: 3)
    let env = try f.environment()
    let a = try f.accept(env)
    XCTAssertEqual(a.serial, 3)
    XCTAssertEqual(a.digest, r.digest)
    XCTAssertEqual(try heldSerial(env), 3)
    let loaded = try XCTUnwrap(loadAcceptedPolicy(env))
    XCTAssertEqual(loaded.0.name, "demo")
    XCTAssertEqual(loaded.1, 3)
    // The blob is in `blobs`, keyed by its digest.
    let blob = try XCTUnwrap(r.blobs.first)
    let txn = try env.read()
    let stored: [UInt8]? = try blob.digest.withBytes { (k) throws(StoreError) in try txn.value(.blobs, k) { $0.map { Array($0) } } }
    txn.abort()
    XCTAssertEqual(stored, Array("port=8080\n".utf8))
  }

  func testTamperedBundleIsRejectedAndTheLastGoodKept() throws {
    let f = try BundleFixture("tamper")
    try f.publish(serial: 1)
    let env = try f.environment()
    _ = try f.accept(env)
    try f.publish(serial: 2)
    var bytes = try f.read("out/bundle.json")
    let i = bytes.firstIndex(of: UInt8(ascii: "2"))!   // the serial digit
    bytes[i] = UInt8(ascii: "9")
    try f.overwrite("out/bundle.json", bytes)
    XCTAssertThrowsError(try f.accept(env)) { XCTAssertEqual(rejection($0 as! BundleError), .badSignature) }
    XCTAssertEqual(try heldSerial(env), 1)
    XCTAssertEqual(loadAcceptedPolicy(env)?.1, 1)
  }

  func testWrongKeyIsRejected() throws {
    let f = try BundleFixture("wrongkey")
    try f.publish(serial: 1)
    let env = try f.environment()
    let other = Ed25519.keypair().publicKey
    XCTAssertThrowsError(try f.accept(env, keys: [other])) { XCTAssertEqual(rejection($0 as! BundleError), .badSignature) }
    XCTAssertNil(try heldSerial(env))
    XCTAssertNil(loadAcceptedPolicy(env))
  }

  func testReplayedOlderSerialIsRejected() throws {
    let f = try BundleFixture("replay")
    try f.publish(serial: 5, to: f.dir + "/old")
    try f.publish(serial: 7)
    let env = try f.environment()
    _ = try f.accept(env)
    XCTAssertThrowsError(try f.accept(env, from: f.dir + "/old")) {
      XCTAssertEqual(rejection($0 as! BundleError), .notNewer(offered: 5, held: 7))
    }
    // The same serial again is "not newer" too.
    XCTAssertThrowsError(try f.accept(env)) { XCTAssertEqual(rejection($0 as! BundleError), .notNewer(offered: 7, held: 7)) }
    XCTAssertEqual(loadAcceptedPolicy(env)?.1, 7)
  }

  func testExpiredBundleIsRejected() throws {
    let f = try BundleFixture("expired")
    let now = wallClockSeconds()
    try f.publish(serial: 1, now: now - 7200, expiresIn: 3600)
    let env = try f.environment()
    XCTAssertThrowsError(try f.accept(env, now: now)) {
      XCTAssertEqual(rejection($0 as! BundleError), .expired(expires: now - 3600, now: now))
    }
    XCTAssertNil(loadAcceptedPolicy(env))
  }

  func testClockBeforeIssueIsReportedAndRefused() throws {
    let f = try BundleFixture("clock")
    let now = wallClockSeconds()
    try f.publish(serial: 1, now: now)
    let env = try f.environment()
    XCTAssertThrowsError(try f.accept(env, now: 100)) {
      let r = rejection($0 as! BundleError)
      XCTAssertEqual(r, .clockBeforeIssue(issued: now, now: 100))
      XCTAssertTrue(containsText(r!.description, "check this host's clock"))
    }
  }

  func testBlobHashMismatchIsRejectedAndNothingStored() throws {
    let f = try BundleFixture("blob")
    try f.publish(serial: 1)
    let env = try f.environment()
    _ = try f.accept(env)
    let r = try f.publish(serial: 2, content: "port=9090\n")
    let blob = r.blobs[0]
    try f.overwrite("out/blobs/\(blob.digest.hex)", Array("port=6666\n".utf8))   // same size, other bytes
    XCTAssertThrowsError(try f.accept(env)) {
      guard case .blobMismatch(let d, _)? = rejection($0 as! BundleError) else { return XCTFail("\($0)") }
      XCTAssertEqual(d, blob.digest)
    }
    XCTAssertEqual(loadAcceptedPolicy(env)?.1, 1)
    let txn = try env.read()
    let has: Bool = try blob.digest.withBytes { (k) throws(StoreError) in try txn.value(.blobs, k) { $0 != nil } }
    txn.abort()
    XCTAssertFalse(has, "a refused bundle's blobs must not be stored")
  }

  func testTruncatedBlobIsRejected() throws {
    let f = try BundleFixture("trunc")
    let r = try f.publish(serial: 1)
    try f.overwrite("out/blobs/\(r.blobs[0].digest.hex)", Array("port".utf8))
    let env = try f.environment()
    XCTAssertThrowsError(try f.accept(env)) {
      guard case .blobMismatch? = rejection($0 as! BundleError) else { return XCTFail("\($0)") }
    }
    XCTAssertNil(loadAcceptedPolicy(env))
  }

  func testRejectionIsRecordedAsAnEvent() throws {
    let f = try BundleFixture("event")
    try f.publish(serial: 1)
    let env = try f.environment()
    recordRejection(env, .badSignature, source: "http://127.0.0.1:1", now: 42)
    let events = try readEvents(stateDir: f.state, count: 5)
    XCTAssertEqual(events.last?.status, .failed)
    XCTAssertTrue(containsText(events.last!.reason, "signature"))
  }

  func testPublishRejectsUnknownKeysBeforeWriting() throws {
    let f = try BundleFixture("unknown")
    try f.write("src/policy.json", #"{"policy": "x", "promises": [{"id": "a", "type": "file", "path": "/a", "content": "", "colour": 1}]}"#)
    var o = PublishOptions(sourcePolicy: f.dir + "/src/policy.json", outDir: f.out, secretKeyPath: f.keyPath)
    o.serial = 1
    XCTAssertThrowsError(try publishBundle(o)) { XCTAssertTrue(containsText(($0 as! BundleError).description, "\"colour\"")) }
    XCTAssertFalse(FileManager.default.fileExists(atPath: f.out + "/bundle.json"))
  }

  /// Blobs of a superseded bundle are dropped with the acceptance of the next one; a blob the
  /// new bundle still lists stays (it is not fetched again). Before, every changed blob stayed
  /// forever and the state grew without bound.
  func testSupersededBlobsAreDroppedOnAcceptance() throws {
    let f = try BundleFixture("blobgc")
    let env = try f.environment()
    func storedBlobs() throws -> [Digest] {
      let txn = try env.read()
      var out: [Digest] = []
      try txn.forEach(.blobs) { k, _ in out.append(Digest(bytes: k)); return true }
      txn.abort()
      return out
    }
    let r1 = try f.publish(serial: 1, content: "one\n")
    _ = try f.accept(env)
    XCTAssertEqual(try storedBlobs(), r1.blobs.map(\.digest))
    let r2 = try f.publish(serial: 2, content: "two\n")
    _ = try f.accept(env)
    XCTAssertEqual(try storedBlobs(), r2.blobs.map(\.digest), "serial 1's blob is gone")
    // Serial 3 lists serial 2's blob again: kept, though nothing was fetched for it.
    try f.publish(serial: 3, content: "two\n")
    try FileManager.default.removeItem(atPath: f.out + "/blobs/" + r2.blobs[0].digest.hex)
    let a3 = try f.accept(env)
    XCTAssertEqual(a3.serial, 3)
    XCTAssertEqual(try storedBlobs(), r2.blobs.map(\.digest))
  }
}
