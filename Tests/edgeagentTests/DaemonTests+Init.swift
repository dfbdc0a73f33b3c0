import Foundation
import XCTest

/// The agent as PID 1 of a PID and mount namespace made by the test (`unshare --pid --fork
/// --mount-proc`), and as a container's entry point (`run --container`).
extension DaemonTests {
  /// reboot(RB_POWER_OFF) in a PID namespace kills its init with SIGINT, and unshare passes
  /// that on: killed by SIGINT (a shell shows 130).
  func isPowerOff(_ end: (reason: Process.TerminationReason, status: Int32)?) -> Bool {
    guard let end else { return false }
    return (end.reason == .uncaughtSignal && end.status == SIGINT) || (end.reason == .exit && end.status == 130)
  }

  func testAsPID1ReapsAThousandOrphansLeavingNoZombie() throws {
    let run = try AgentRun.make(self, namespace: true)
    // 1,000 orphans: each `( … &)` subshell exits at once, so its sleep is re-parented to us.
    let orphans = try run.service("orphans", script: """
      i=0
      while [ $i -lt 1000 ]; do (sleep 0.01 &); i=$((i+1)); done
      echo spawned
      exec sleep 1000
      """)
    // Counts zombies in the namespace's /proc, ten times a second.
    let zombies = try run.service("zombies", script: """
      while :; do
        n=0
        for f in /proc/[0-9]*/stat; do
          read -r l < "$f" 2>/dev/null || continue
          case "${l##*) }" in Z*) n=$((n+1));; esac
        done
        echo "zombies=$n"
        sleep 0.1
      done
      """)
    try run.writePolicy("orphans", [orphans, zombies])
    try run.startConverged()
    XCTAssertTrue(run.log.contains("pid1=true"), run.log)
    XCTAssertTrue(pollUntil(15) { run.serviceLog("orphans").contains("spawned") }, run.log)

    // SIGUSR1: the agent logs how many orphans it has reaped.
    func reaped() -> Int {
      run.logLines.compactMap { l in
        l.components(separatedBy: " ").first { $0.hasPrefix("orphans_reaped=") }.flatMap { Int($0.dropFirst(15)) }
      }.max() ?? -1
    }
    XCTAssertTrue(pollUntil(10) {
      run.signal(SIGUSR1)
      usleep(100_000)
      return reaped() >= 1_000
    }, run.log)
    print("orphans_reaped=\(reaped())")
    XCTAssertGreaterThanOrEqual(reaped(), 1_000)
    // A scan that began after the reaping sees no zombie in the namespace...
    let seen = run.serviceLog("zombies").count
    XCTAssertTrue(pollUntil(eventually) { run.serviceLog("zombies").count >= seen + 2 })
    XCTAssertEqual(run.serviceLog("zombies").last, "zombies=0", "\(run.serviceLog("zombies").suffix(5))")
    // ...and none is left a child of the agent, seen from the host.
    XCTAssertTrue(pollUntil(eventually) { AgentRun.zombieChildren(of: run.agentPID).isEmpty },
                  "zombies: \(AgentRun.zombieChildren(of: run.agentPID).count)")

    run.signal(SIGTERM)
    let end = run.waitForExit(timeout: 15)
    XCTAssertTrue(isPowerOff(end), "\(String(describing: end))\n\(run.log)")
    XCTAssertTrue(run.log.contains("msg=\"powering off\""), run.log)
    XCTAssertTrue(pollUntil(eventually) { AgentRun.processes(tagged: run.tag).isEmpty })
  }

  func testAsPID1ShutdownStopsInReverseOrderAndLeavesNoProcessBehind() throws {
    let run = try AgentRun.make(self, namespace: true)
    let marks = run.base + "/marks"
    func polite(_ name: String) -> String {
      "trap 'echo \(name)-stop >> \(marks); exit 0' TERM\nwhile :; do sleep 0.05; done\n"
    }
    try run.writePolicy("pid1", [
      try run.service("first", script: polite("first")),
      try run.service("second", script: polite("second"), "\"after\": [\"first\"]"),
      // Leaves a grandchild in a session of its own, out of reach of the group signal.
      try run.service("daemonizes", script: "setsid sleep 1000 &\nsleep 1000 &\nexec sleep 1000\n", "\"after\": [\"second\"]"),
    ])
    try run.startConverged()
    // unshare, the agent, the three services, and the sleeps of daemonizes.
    XCTAssertTrue(pollUntil(eventually) { AgentRun.processes(tagged: run.tag).count >= 7 }, "\(AgentRun.processes(tagged: run.tag))")
    run.signal(SIGTERM)
    let end = run.waitForExit(timeout: 15)
    XCTAssertTrue(isPowerOff(end), "\(String(describing: end))\n\(run.log)")
    XCTAssertEqual(run.lines("marks"), ["second-stop", "first-stop"])
    let exits = run.logLines.filter { $0.contains("msg=\"service exited\"") }.compactMap { l in
      l.components(separatedBy: " ").first { $0.hasPrefix("service=") }
    }
    XCTAssertEqual(exits, ["service=daemonizes", "service=second", "service=first"])
    XCTAssertTrue(run.log.contains("msg=\"all services stopped\""))
    XCTAssertTrue(pollUntil(eventually) { AgentRun.processes(tagged: run.tag).isEmpty },
                  "left behind: \(AgentRun.processes(tagged: run.tag))")
  }

  // MARK: containers

  func testContainerExitsWithTheMainServiceStatus() throws {
    let run = try AgentRun.make(self)
    try run.writePolicy("container", [
      try run.service("app", script: "trap 'exit 7' TERM\nwhile :; do sleep 0.05; done\n", "\"main\": true"),
      run.service("sidecar", exec: ["/bin/sleep", "1000"]),
    ])
    try run.startConverged(["--container"])
    XCTAssertTrue(try pollUntil(eventually) { try run.servicePID("app") > 0 })
    run.signal(SIGTERM)
    let end = run.waitForExit(timeout: 15)
    XCTAssertEqual(end?.reason, .exit)
    XCTAssertEqual(end?.status, 7, run.log)
    XCTAssertFalse(run.log.contains("powering off"))
    XCTAssertTrue(pollUntil(eventually) { AgentRun.processes(tagged: run.tag).isEmpty })
  }

  /// A main service killed by a signal: 128 + the signal, as a shell and container runtimes
  /// report it.
  func testContainerMainKilledBySignalExitsWith128PlusSignal() throws {
    let run = try AgentRun.make(self)
    try run.writePolicy("container", [run.service("app", exec: ["/bin/sleep", "1000"], "\"main\": true")])
    try run.startConverged(["--container"])
    XCTAssertTrue(try pollUntil(eventually) { try run.servicePID("app") > 0 })
    run.signal(SIGTERM)
    let end = run.waitForExit(timeout: 15)
    XCTAssertEqual(end?.reason, .exit)
    XCTAssertEqual(end?.status, 128 + SIGTERM, run.log)
  }

  func testContainerAsPID1ExitsWithTheMainServiceStatus() throws {
    let run = try AgentRun.make(self, namespace: true)
    try run.writePolicy("container", [
      try run.service("app", script: "trap 'exit 7' TERM\nwhile :; do sleep 0.05; done\n", "\"main\": true"),
    ])
    try run.startConverged(["--container"])
    XCTAssertTrue(run.log.contains("pid1=true"), run.log)
    XCTAssertTrue(try pollUntil(eventually) { try run.servicePID("app") > 0 })
    run.signal(SIGTERM)
    let end = run.waitForExit(timeout: 15)
    XCTAssertEqual(end?.reason, .exit, "\(String(describing: end))")
    XCTAssertEqual(end?.status, 7, run.log)
    XCTAssertFalse(run.log.contains("powering off"))
    XCTAssertTrue(pollUntil(eventually) { AgentRun.processes(tagged: run.tag).isEmpty })
  }
}
