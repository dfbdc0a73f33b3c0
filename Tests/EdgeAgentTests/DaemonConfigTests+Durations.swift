@testable import EdgeAgent
import EdgeConverge
import EdgeCore
import XCTest

/// The config's durations take the one grammar (DurationText.swift) and keep their bounds:
/// `interval`, `pull_interval` and `crash_loop_window` 100ms to 1d, a mount's `wait` up to 10m.
extension DaemonConfigTests {
  func testIntervalsTakeSeveralPartsAndWholeSeconds() throws {
    let c = try load(#"{"interval": "5m30s", "pull_interval": 90, "crash_loop_window": "1h"}"#).get()
    XCTAssertEqual(c.intervalMs, 330_000)
    XCTAssertEqual(c.pullIntervalMs, 90_000)
    XCTAssertEqual(c.crashLoopWindowMs, 3_600_000)
    XCTAssertEqual(try load(#"{"interval": "100ms"}"#).get().intervalMs, 100)
    XCTAssertEqual(try load(#"{"interval": "1d"}"#).get().intervalMs, 86_400_000)
  }

  func testIntervalsOutOfBoundsOrMalformedAreRejectedWithTheGrammar() throws {
    for bad in [#""99ms""#, "0", #""1d1s""#, #""30s5m""#, #""1m30""#, "-5", "1.5"] {
      guard case .failure(let e) = try load(#"{"interval": \#(bad)}"#) else { XCTFail(bad); continue }
      XCTAssertTrue(e.description.contains("key \"interval\": expected a duration from 100ms to 1d"), "\(bad): \(e)")
    }
  }

  func testAMountWaitIsUpToTenMinutes() throws {
    func wait(_ w: String) throws -> Result<DaemonConfig, AgentError> {
      try load(#"{"mounts": [{"device": "/dev/vda", "path": "/srv", "type": "ext4", "wait": \#(w)}]}"#)
    }
    XCTAssertEqual(try wait(#""1m30s""#).get().mounts.first?.waitMs, 90_000)
    XCTAssertEqual(try wait("0").get().mounts.first?.waitMs, 0)
    XCTAssertEqual(try wait(#""10m""#).get().mounts.first?.waitMs, 600_000)
    guard case .failure(let e) = try wait(#""10m1ms""#) else { return XCTFail() }
    XCTAssertTrue(e.description.contains("expected a duration from 0s to 10m"), e.description)
  }
}
