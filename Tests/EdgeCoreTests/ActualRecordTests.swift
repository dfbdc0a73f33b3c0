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

  func testAVersion1RecordReadsAsWrittenByRunZero() throws {
    // Version 1: the same fields without the run serial at the end.
    var v1 = sample.encode()
    v1[0] = 1
    v1.removeLast(8)
    var expected = sample
    expected.run = 0
    XCTAssertEqual(try decode(v1).get(), expected)
    var withRun = sample
    withRun.run = 9
    XCTAssertEqual(try decode(withRun.encode()).get().run, 9)
  }

  func testARepairIsSettledByTheFirstLaterRunsMark() {
    var repaired = sample
    repaired.run = 4
    let marks = [SettledMark(run: 3, at: 1_700_000_000), SettledMark(run: 5, at: 1_800_000_000),
                 SettledMark(run: 9, at: 1_900_000_000)]
    let settled = repaired.settled(by: marks)
    XCTAssertEqual(settled.status, .kept)
    XCTAssertEqual(settled.reason, "")
    XCTAssertEqual(settled.changedAt, 1_800_000_000, "kept since the first run in place after it")
    XCTAssertEqual(settled.repairs, sample.repairs, "the repair still counts")
    // Written by the marking run or after every mark, or no marks: as recorded.
    repaired.run = 9
    XCTAssertEqual(repaired.settled(by: marks), repaired)
    XCTAssertEqual(repaired.settled(by: []), repaired)
    // Only repairs settle: a failure is retried by a full run, which records it.
    var failed = repaired
    failed.run = 4
    failed.status = .failed
    XCTAssertEqual(failed.settled(by: marks), failed)
  }

}
