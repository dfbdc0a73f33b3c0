import EdgeAgent
import EdgeConverge
import EdgeCore
import EdgeFleet
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
    let loaded = try XCTUnwrap(try loadAcceptedPolicy(env))
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
    XCTAssertEqual(try loadAcceptedPolicy(env)?.1, 1)
  }

  func testWrongKeyIsRejected() throws {
    let f = try BundleFixture("wrongkey")
    try f.publish(serial: 1)
    let env = try f.environment()
    let other = Ed25519.keypair().publicKey
    XCTAssertThrowsError(try f.accept(env, keys: [other])) { XCTAssertEqual(rejection($0 as! BundleError), .badSignature) }
    XCTAssertNil(try heldSerial(env))
    XCTAssertNil(try loadAcceptedPolicy(env))
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
    XCTAssertEqual(try loadAcceptedPolicy(env)?.1, 7)
  }

  func testExpiredBundleIsRejected() throws {
    let f = try BundleFixture("expired")
    let now = wallClockSeconds()
    try f.publish(serial: 1, now: now - 7200, expiresIn: 3600)
    let env = try f.environment()
    XCTAssertThrowsError(try f.accept(env, now: now)) {
      XCTAssertEqual(rejection($0 as! BundleError), .expired(expires: now - 3600, now: now))
    }
    XCTAssertNil(try loadAcceptedPolicy(env))
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
    XCTAssertEqual(try loadAcceptedPolicy(env)?.1, 1)
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
    XCTAssertNil(try loadAcceptedPolicy(env))
  }

  func testRejectionIsRecordedAsAnEvent() throws {
    let f = try BundleFixture("event")
    try f.publish(serial: 1)
    let env = try f.environment()
    try recordRejection(env, .badSignature, source: "http://127.0.0.1:1", now: 42)
    let events = try readEvents(stateDir: f.state, count: 5)
    XCTAssertEqual(events.last?.status, .failed)
    XCTAssertTrue(containsText(events.last!.reason, "signature"))
  }

  /// Issue 12 item 8: the held serial with other content was refused as "not newer" and the
  /// puller took that for "unchanged": a reused serial went unseen. Now it is its own reason,
  /// recorded, and `status` shows it.
  func testSameSerialWithOtherContentIsASerialConflict() throws {
    let f = try BundleFixture("sameserial")
    let first = try f.publish(serial: 1)
    let env = try f.environment()
    _ = try f.accept(env)
    XCTAssertThrowsError(try f.accept(env)) {
      XCTAssertEqual(rejection($0 as! BundleError), .notNewer(offered: 1, held: 1), "the same bytes again are just not newer")
    }
    let second = try f.publish(serial: 1, content: "port=6666\n")
    var refused: BundleRejection? = nil
    XCTAssertThrowsError(try f.accept(env)) { refused = rejection($0 as! BundleError) }
    XCTAssertEqual(refused, .serialConflict(serial: 1, held: first.digest, offered: second.digest))
    XCTAssertEqual(refused?.code, "serial_conflict")
    XCTAssertEqual(try loadAcceptedBundle(env)?.digest, first.digest, "the bundle in force stays")
    try recordRejection(env, refused!, source: "file://" + f.out, now: 42)
    let events = try readEvents(stateDir: f.state, count: 5)
    XCTAssertTrue(containsText(events.last!.reason, "serial 1 is held with other content"), events.last!.reason)
    let status = try readStatus(stateDir: f.state)
    XCTAssertEqual(status.bundle?.lastRejection?.code, "serial_conflict")
    XCTAssertTrue(containsText(status.text, "serial_conflict"), status.text)
    XCTAssertTrue(containsText(status.json, "serial_conflict"), status.json)
  }

  /// A store that cannot take the record makes recordRejection throw: it used to be `try?`.
  func testRecordRejectionThrowsWhenTheStoreRefuses() throws {
    let f = try BundleFixture("rejectro")
    try f.publish(serial: 1)
    let env = try f.environment()
    _ = try f.accept(env)
    let ro = try Environment(path: f.state, readOnly: true)
    XCTAssertThrowsError(try recordRejection(ro, .badSignature, source: "x", now: 1))
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
