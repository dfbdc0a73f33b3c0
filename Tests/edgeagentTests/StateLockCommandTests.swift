import Foundation
import XCTest

/// One agent per state directory: a second daemon, or an apply, on a state a daemon holds is
/// refused with exit 111 and the holder's pid, before it starts anything; `status` (which takes
/// no lock) names the holder.
final class StateLockCommandTests: XCTestCase {
  func testSecondDaemonOnTheSameStateExits111AndStartsNothing() throws {
    let run = try AgentRun.make(self)
    try run.writePolicy("locked", [
      try run.service("once", script: "echo started >> \(run.base)/starts\nexec sleep 1000\n"),
    ])
    try run.startConverged()
    XCTAssertTrue(pollUntil(10) { run.lines("starts").count == 1 })

    // Bounded: without the lock the second daemon runs on (timeout's 124), starting it again.
    let second = try Edgeagent.run(["run", "--policy", run.policyPath, "--root", run.root, "--state", run.state,
                                    "--interval", "24h"], timeout: 10)
    XCTAssertEqual(second.status, 111, second.stderr)
    XCTAssertTrue(second.stderr.contains("state dir \(run.state) is held by pid \(run.agentPID)"), second.stderr)
    let apply = try Edgeagent.run(["apply", run.policyPath, "--root", run.root, "--state", run.state])
    XCTAssertEqual(apply.status, 111, apply.stderr)
    XCTAssertTrue(apply.stderr.contains("is held by pid \(run.agentPID)"), apply.stderr)
    Thread.sleep(forTimeInterval: 0.5)
    XCTAssertEqual(run.lines("starts"), ["started"], "only the first daemon started the service")

    XCTAssertEqual(try run.status()["held_by_pid"] as? Int, Int(run.agentPID))
    let text = try Edgeagent.run(["status", "--state", run.state])
    XCTAssertTrue(text.stdout.contains("state held by pid \(run.agentPID) (a daemon)\n"), text.stdout)

    // Once the daemon is gone (SIGKILL: no clean release) the kernel has dropped the lock.
    run.signal(SIGKILL)
    _ = run.waitForExit(timeout: 10)
    XCTAssertTrue(try run.status()["held_by_pid"] is NSNull)
    let after = try Edgeagent.run(["apply", run.policyPath, "--root", run.root, "--state", run.state, "--dry-run"])
    XCTAssertNotEqual(after.status, 111, after.stderr)
  }
}
