import XCTest
@testable import EdgeCore

final class ServiceRecordTests: XCTestCase {
  private func roundTrip(_ r: ServiceRecord) throws -> ServiceRecord {
    try r.encode().withUnsafeBytes { (raw) throws(RecordError) in try ServiceRecord.decode(raw) }
  }

  func testEveryFieldRoundTrips() throws {
    let r = ServiceRecord(phase: .backoff, pid: 4242, startedAt: 1_700_000_000, restarts: 9, lastExit: -15,
                          hasExited: true, ready: true, crashLooping: true, startTimedOut: true)
    XCTAssertEqual(try roundTrip(r), r)
  }

  /// Issue 12 item 14: a start that timed out shows failed in `status`, until it runs healthy.
  func testAStartTimeoutShowsFailedUntilItRuns() {
    var r = ServiceRecord(phase: .starting, pid: 7, startedAt: 0, restarts: 1, lastExit: -15,
                          hasExited: true, ready: false, crashLooping: false, startTimedOut: true)
    XCTAssertEqual(r.stateName, "failed")
    r.phase = .running
    XCTAssertEqual(r.stateName, "running")
  }
}
