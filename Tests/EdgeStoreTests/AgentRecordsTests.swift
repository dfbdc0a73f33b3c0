import EdgeCore
import EdgeStore
import XCTest

/// Decodes `bytes` with `decode`, as the store reads a record in place.
func decoded<R>(_ bytes: [UInt8], _ decode: (inout ByteReader) throws(RecordError) -> R) throws -> R {
  try bytes.withUnsafeBytes { raw in
    var r = ByteReader(raw)
    return try decode(&r)
  }
}

final class AgentRecordsTests: XCTestCase {
  func testAnUpdateRecordRoundTrips() throws {
    var r = AgentUpdateRecord()
    r.committedVersion = "1.1"
    r.committedDigest = Digest(hex: String(repeating: "0f", count: 32))!
    r.committedAt = 1_700_000_000
    r.trial = AgentTrialRecord(version: "1.2", digest: Digest(hex: String(repeating: "a1", count: 32))!, previousVersion: "1.1",
                               token: "00ff", startedAt: 1_700_000_100)
    r.fail("0.9", reason: "self-test exited with status 1", at: 1_699_000_000)
    r.rollbacks = 2
    XCTAssertEqual(try decoded(r.encode(), AgentUpdateRecord.decode), r)
    var none = AgentUpdateRecord()
    none.trial = nil
    XCTAssertEqual(try decoded(none.encode(), AgentUpdateRecord.decode), none)
  }

  func testFailedVersionsAreBoundedAndListedOnce() {
    var r = AgentUpdateRecord()
    for i in 0..<40 { r.fail("v\(i % 20)", reason: "r\(i)", at: Int64(i)) }
    XCTAssertEqual(r.failed.count, AgentUpdateRecord.maxFailed)
    XCTAssertEqual(Set(r.failed).count, r.failed.count)
    XCTAssertEqual(r.failureVersion, "v19")
    XCTAssertEqual(r.failureReason, "r39")
  }

  func testAHandoffRoundTrips() throws {
    let h = HandoffRecord(services: [HandoffService(id: "api", pid: 42, startTicks: 123_456, outputFD: 17, startedWall: 1_700_000_000),
                                     HandoffService(id: "quiet", pid: 43, startTicks: 7, outputFD: -1, startedWall: 0)])
    XCTAssertEqual(try decoded(h.encode(), HandoffRecord.decode), h)
  }

  func testATruncatedRecordIsAnError() {
    var r = AgentUpdateRecord()
    r.committedVersion = "1"
    let bytes = r.encode()
    XCTAssertThrowsError(try decoded(Array(bytes.prefix(bytes.count - 2)), AgentUpdateRecord.decode))
  }
}
