import XCTest
@testable import EdgeCore

final class EventRecordTests: XCTestCase {
  private let sample = EventRecord(kind: .outcome, time: 1_767_225_600, status: .failed, subject: "app-conf",
                                   reason: "unable to open /opt/app: Permission denied")

  private func decode(_ bytes: [UInt8]) -> Result<EventRecord, RecordError> {
    bytes.withUnsafeBytes { raw in
      do throws(RecordError) { return .success(try EventRecord.decode(raw)) } catch { return .failure(error) }
    }
  }

  func testRoundTrips() throws {
    XCTAssertEqual(try decode(sample.encode()).get(), sample)
    let policy = EventRecord(kind: .policy, time: -1, status: .repaired, subject: "gateway", reason: "")
    XCTAssertEqual(try decode(policy.encode()).get(), policy)
  }

  func testEveryTruncationIsAnError() {
    let bytes = sample.encode()
    for n in 0..<bytes.count {
      guard case .failure = decode(Array(bytes[0..<n])) else { return XCTFail("prefix of \(n) bytes decoded") }
    }
  }

  func testUnknownVersionAndKindAreErrors() {
    var bytes = sample.encode()
    bytes[0] = 7
    XCTAssertEqual(decode(bytes), .failure(RecordError("event record version 7 is not known")))
    bytes = sample.encode()
    bytes[1] = 99
    XCTAssertEqual(decode(bytes), .failure(RecordError("unknown event kind")))
  }

  func testKeysAreBigEndianSoTheySortBySequence() {
    XCTAssertEqual(EventRecord.key(0x0102), [0, 0, 0, 0, 0, 0, 1, 2])
    let seqs: [UInt64] = [0, 1, 255, 256, 1 << 32, .max]
    let keys = seqs.map(EventRecord.key)
    for (a, b) in zip(keys, keys.dropFirst()) { XCTAssertTrue(a.lexicographicallyPrecedes(b)) }
    for (s, k) in zip(seqs, keys) { XCTAssertEqual(k.withUnsafeBytes { EventRecord.sequence($0) }, s) }
    XCTAssertNil([UInt8](repeating: 0, count: 7).withUnsafeBytes { EventRecord.sequence($0) })
  }
}
