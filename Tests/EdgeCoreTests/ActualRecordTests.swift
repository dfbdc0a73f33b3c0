import XCTest
@testable import EdgeCore

final class ActualRecordTests: XCTestCase {
  private func decode(_ bytes: [UInt8]) -> Result<ActualRecord, RecordError> {
    bytes.withUnsafeBytes { raw in
      do throws(RecordError) { return .success(try ActualRecord.decode(raw)) } catch { return .failure(error) }
    }
  }

  private let sample = ActualRecord(status: .repaired, reason: "mode 0777 -> 0640; content replaced",
                                    fingerprint: Digest(w0: 0x0123_4567_89AB_CDEF, w1: 0, w2: .max, w3: 42),
                                    checkedAt: 1_767_225_600, changedAt: -5, repairs: 7, failures: .max)

  func testRoundTrips() throws {
    XCTAssertEqual(try decode(sample.encode()).get(), sample)
  }

  func testEveryStatusRoundTrips() throws {
    for status in [OutcomeStatus.kept, .repaired, .failed, .skipped] {
      let r = ActualRecord(status: status, reason: "", checkedAt: 1, changedAt: 1)
      XCTAssertEqual(try decode(r.encode()).get(), r)
    }
  }

  func testDefaultsAreZero() {
    let r = ActualRecord(status: .kept, reason: "", checkedAt: 0, changedAt: 0)
    XCTAssertEqual(r.fingerprint, .zero)
    XCTAssertEqual(r.repairs, 0)
    XCTAssertEqual(r.failures, 0)
  }

  func testEveryTruncationIsAnError() {
    let bytes = sample.encode()
    for n in 0..<bytes.count {
      guard case .failure(let e) = decode(Array(bytes[0..<n])) else { return XCTFail("prefix of \(n) bytes decoded") }
      XCTAssertEqual(e.message, "record truncated", "prefix of \(n) bytes")
    }
  }

  func testUnknownVersionIsAnError() {
    var bytes = sample.encode()
    bytes[0] = 9
    guard case .failure(let e) = decode(bytes) else { return XCTFail("decoded") }
    XCTAssertEqual(e.message, "outcome record version 9 is not known")
  }

  func testUnknownStatusIsAnError() {
    var bytes = sample.encode()
    bytes[1] = 0
    guard case .failure(let e) = decode(bytes) else { return XCTFail("decoded") }
    XCTAssertEqual(e.message, "unknown outcome status")
  }

  func testOutcomeStatusRawValuesAreStable() {
    XCTAssertEqual([OutcomeStatus.kept, .repaired, .failed, .skipped].map(\.rawValue), [1, 2, 3, 4])
    XCTAssertEqual([OutcomeStatus.kept, .repaired, .failed, .skipped].map(\.name), ["kept", "repaired", "failed", "skipped"])
  }
}
