import Foundation
import XCTest
@testable import EdgeHost

/// runCommand waits for two things that may end in either order, the command's exit and the
/// end of its output, and for no more than its timeout.
final class RunCommandTests: XCTestCase {
  var base: TemporaryDirectory!

  override func setUpWithError() throws { base = try TemporaryDirectory() }
  override func tearDown() { base.remove() }

  private func sh(_ script: String, timeout: Int = 0) throws -> CommandResult {
    try runCommand(["/bin/sh", "-c", script], environment: ["PATH=/usr/bin:/bin"], cwd: base.path, timeout: timeout)
  }

  func testOutputClosedBeforeTheExitStillGivesTheExitStatusAndTheOutput() throws {
    let r = try sh("echo before; exec >&- 2>&-; sleep 0.3; exit 3")
    XCTAssertEqual(r.status, 3)
    XCTAssertFalse(r.timedOut)
    XCTAssertEqual(r.lastLine, "before")
  }

  func testAProcessLeftHoldingTheOutputDoesNotHoldTheCommand() throws {
    // The background sleep keeps the pipe open for 30 s after the shell exits; the command is
    // over when the shell is, so the sleep is still running when runCommand returns.
    let r = try sh("sleep 30 & echo $! > bg.pid; echo done; exit 0")
    XCTAssertEqual(r.status, 0)
    XCTAssertEqual(r.lastLine, "done")
    let text = try String(contentsOfFile: base.path + "/bg.pid", encoding: .utf8)
    let bg = try XCTUnwrap(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    XCTAssertEqual(kill(bg, 0), 0, "the background process should still run")
    kill(bg, SIGKILL)
  }

  func testACommandPastItsTimeoutIsKilledWithItsGroup() throws {
    let r = try sh("sleep 30 & echo $! > bg.pid; sleep 30", timeout: 1)
    XCTAssertTrue(r.timedOut)
    XCTAssertEqual(r.status, -SIGKILL)
    let text = try String(contentsOfFile: base.path + "/bg.pid", encoding: .utf8)
    let bg = try XCTUnwrap(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    // Killed with the group: it dies (a zombie until its new parent reaps it), it does not
    // sleep on. SIGKILL is delivered when it next runs, so look until then.
    var state = "S"
    for _ in 0..<500 where state != "gone" && state != "Z" && state != "X" {
      if let stat = try? String(contentsOfFile: "/proc/\(bg)/stat", encoding: .utf8) {
        state = String(stat.split(separator: ")").last!.split(separator: " ").first!)
        usleep(10_000)
      } else {
        state = "gone"
      }
    }
    XCTAssertTrue(state == "gone" || state == "Z" || state == "X", "background sleep is \(state)")
  }

  func testAKilledCommandReportsTheSignal() throws {
    let r = try sh("kill -TERM $$")
    XCTAssertEqual(r.status, -SIGTERM)
  }

  #if EDGE_MOCKING
  /// poll's timeout is the time left to the deadline, rounded up so that a wake-up is never
  /// early; no deadline is -1 (wait for ever), a deadline passed is 0.
  func testPollTimeoutIsTheTimeLeftRoundedUp() {
    defer { TestClock.reset() }
    TestClock.setMonotonic(nanoseconds: 10_000_000_000)
    XCTAssertEqual(millisecondsUntil(11_500_000_000), 1501)
    XCTAssertEqual(millisecondsUntil(10_000_000_001), 1)
    XCTAssertEqual(millisecondsUntil(10_000_000_000), 0)
    XCTAssertEqual(millisecondsUntil(9_000_000_000), 0)
    XCTAssertEqual(millisecondsUntil(.max), -1)
    XCTAssertEqual(millisecondsUntil(.max - 1), Int32.max, "a far deadline is clamped, not wrapped")
    TestClock.advance(nanoseconds: 1_000_000_000)
    XCTAssertEqual(millisecondsUntil(11_500_000_000), 501)
  }
  #endif
}
