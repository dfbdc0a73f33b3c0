import Foundation
import XCTest

/// Issue 12 items 14 and 15: what the supervisor reports is what happened. A start whose health
/// check never passes fails at its start timeout and its dependents say why they wait; one
/// start is one repair; a shutdown does not rewrite the outcome of a service that had already
/// exited; a container ends when its main service does, and says STOPPING=1 first.
extension DaemonTests {
  func promiseRow(_ run: AgentRun, _ id: String) -> [String: Any]? {
    ((try? run.status()["promises"]) as? [[String: Any]])?.first { $0["id"] as? String == id }
  }

  // MARK: start timeout

  func testAHealthCheckThatNeverPassesFailsAtTheStartTimeoutAndItsDependentsAreSkipped() throws {
    let run = try AgentRun.make(self)
    let closed = try freeLoopbackPort()
    try run.writePolicy("stuck", [
      run.service("web", exec: ["/bin/sleep", "1000"],
                  "\"health\": {\"tcp\": \"127.0.0.1:\(closed)\", \"interval\": \"50ms\", \"timeout\": \"100ms\"}, \"start_timeout\": \"1s\""),
      run.service("app", exec: ["/bin/sleep", "1000"], "\"after\": [\"web\"]"),
    ])
    try run.startConverged()
    XCTAssertTrue(pollUntil(20) { self.promiseRow(run, "web")?["status"] as? String == "failed" },
                  "web: \(promiseRow(run, "web") ?? [:])\n\(run.log)")
    let web = promiseRow(run, "web")
    XCTAssertTrue((web?["reason"] as? String ?? "").contains("did not pass within 1s of start"), "\(web ?? [:])")
    XCTAssertEqual(try run.serviceStatus("web")?["state"] as? String, "failed")
    XCTAssertTrue(pollUntil(5) { self.promiseRow(run, "app")?["status"] as? String == "skipped" }, "\(promiseRow(run, "app") ?? [:])")
    let app = promiseRow(run, "app")
    XCTAssertTrue((app?["reason"] as? String ?? "").hasPrefix("dependency \"web\" failed: "), "\(app ?? [:])")
    XCTAssertEqual(try run.servicePID("app"), 0, "a dependent started behind a service that never became ready")
    // A convergence counts them: failed=1, not 0.
    run.signal(SIGHUP)
    XCTAssertTrue(run.waitForLog("msg=converged", count: 2, timeout: 10), run.log)
    let converged = run.logLines.filter { $0.contains("msg=converged") }.last ?? ""
    XCTAssertTrue(converged.contains("failed=1"), converged)
    XCTAssertTrue(converged.contains("skipped=1"), converged)
    // The timed-out start was stopped and is tried again (restart: always).
    XCTAssertTrue(pollUntil(10) { run.logLines.filter { $0.contains("msg=\"started service\" service=web") }.count >= 2 }, run.log)
  }

  // MARK: repairs

  func testOneStartCountsAsOneRepair() throws {
    let run = try AgentRun.make(self)
    try run.writePolicy("one", [run.service("steady", exec: ["/bin/sleep", "1000"])])
    try run.startConverged()
    XCTAssertTrue(pollUntil(5) { (try? run.servicePID("steady")).map { $0 > 0 } ?? false })
    // The next convergence sees it started this run, then kept.
    for n in 2...3 {
      run.signal(SIGHUP)
      XCTAssertTrue(run.waitForLog("msg=converged", count: n, timeout: 10), run.log)
    }
    XCTAssertTrue(pollUntil(5) { self.promiseRow(run, "steady")?["status"] as? String == "kept" }, "\(promiseRow(run, "steady") ?? [:])")
    XCTAssertEqual(promiseRow(run, "steady")?["repairs"] as? Int, 1, "\(promiseRow(run, "steady") ?? [:])")
  }

  // MARK: changed definitions

  /// A changed definition is restarted under its new rules: before, the machine kept those it
  /// was created with (here the old stop signal).
  func testAChangedDefinitionIsStoppedAndRestartedUnderItsNewRules() throws {
    let run = try AgentRun.make(self)
    let marks = run.base + "/marks"
    let script = try run.file("traps.sh", """
      trap 'echo got-INT >> \(marks); exit 0' INT
      trap 'echo got-TERM >> \(marks); exit 0' TERM
      while :; do sleep 0.05; done
      """)
    try run.writePolicy("signals", [run.service("svc", exec: ["/bin/sh", script])])
    try run.startConverged()
    XCTAssertTrue(pollUntil(5) { (try? run.servicePID("svc")).map { $0 > 0 } ?? false })
    try run.writePolicy("signals", [run.service("svc", exec: ["/bin/sh", script], "\"stop_signal\": \"INT\"")])
    run.signal(SIGHUP)
    XCTAssertTrue(pollUntil(10) { !run.lines("marks").isEmpty }, run.log)
    XCTAssertEqual(run.lines("marks"), ["got-INT"], "stopped with the old signal")
  }

  // MARK: shutdown

  func testShutdownKeepsTheOutcomeOfAServiceThatHadAlreadyExited() throws {
    let run = try AgentRun.make(self)
    try run.writePolicy("mixed", [
      try run.service("oneshot", script: "exit 7\n", "\"restart\": \"never\""),
      run.service("steady", exec: ["/bin/sleep", "1000"]),
    ])
    try run.startConverged()
    XCTAssertTrue(pollUntil(5) { (self.promiseRow(run, "oneshot")?["reason"] as? String ?? "").contains("exited with status 7") },
                  "\(promiseRow(run, "oneshot") ?? [:])")
    run.signal(SIGTERM)
    let end = run.waitForExit(timeout: 15)
    XCTAssertEqual(end?.status, 0)
    let oneshot = promiseRow(run, "oneshot"), steady = promiseRow(run, "steady")
    XCTAssertEqual(oneshot?["reason"] as? String, "exited with status 7; restart is never", "\(oneshot ?? [:])")
    XCTAssertEqual(steady?["reason"] as? String, "stopped for shutdown", "\(steady ?? [:])")
  }

  // MARK: containers

  func testContainerEndsWhenItsMainServiceExitsAndSaysStoppingFirst() throws {
    let run = try AgentRun.make(self)
    let notify = try NotifySocket(path: run.base + "/notify")
    defer { notify.close() }
    run.environment["NOTIFY_SOCKET"] = notify.path
    let marks = run.base + "/marks"
    try run.writePolicy("container", [
      try run.service("app", script: "sleep 0.5\nexit 7\n", "\"main\": true"),
      try run.service("sidecar", script: "trap 'echo sidecar-stop >> \(marks); exit 0' TERM\nwhile :; do sleep 0.05; done\n"),
    ])
    try run.startConverged(["--container"])
    let end = run.waitForExit(timeout: 20)
    XCTAssertEqual(end?.reason, .exit, "the agent did not end with its main service\n\(run.log)")
    XCTAssertEqual(end?.status, 7, run.log)
    XCTAssertEqual(run.lines("marks"), ["sidecar-stop"], "the other service was not stopped")
    XCTAssertTrue(run.log.contains("msg=\"shutting down\" reason=\"main service exited\""), run.log)
    XCTAssertTrue(pollUntil(3) { AgentRun.processes(tagged: run.tag).isEmpty }, "left behind: \(AgentRun.processes(tagged: run.tag))")
    let messages = notify.received()
    XCTAssertTrue(messages.contains("READY=1"), "\(messages)")
    XCTAssertTrue(messages.contains("STOPPING=1"), "\(messages)")
    let app = promiseRow(run, "app")
    XCTAssertEqual(app?["reason"] as? String, "exited with status 7; restart is never", "\(app ?? [:])")
  }

  /// Only an exit on its own ends the container: a main service stopped because its condition
  /// turned false is not one.
  func testContainerGoesOnWhenItsMainServiceIsStoppedOnRequest() throws {
    let run = try AgentRun.make(self)
    let sidecar = run.service("sidecar", exec: ["/bin/sleep", "1000"])
    try run.writePolicy("container", [run.service("app", exec: ["/bin/sleep", "1000"], "\"main\": true"), sidecar])
    try run.startConverged(["--container"])
    XCTAssertTrue(pollUntil(5) { (try? run.servicePID("app")).map { $0 > 0 } ?? false })
    try run.writePolicy("container", [
      run.service("app", exec: ["/bin/sleep", "1000"], "\"main\": true, \"if\": \"no_such_class\""), sidecar,
    ])
    run.signal(SIGHUP)
    XCTAssertTrue(run.waitForLog("msg=\"service exited\" service=app", timeout: 10), run.log)
    Thread.sleep(forTimeInterval: 0.5)
    XCTAssertTrue(run.isRunning, "a held main service ended the container\n\(run.log)")
    XCTAssertFalse(run.log.contains("reason=\"main service exited\""), run.log)
  }

  func testStoppingIsSentOnSIGTERMToo() throws {
    let run = try AgentRun.make(self)
    let notify = try NotifySocket(path: run.base + "/notify")
    defer { notify.close() }
    run.environment["NOTIFY_SOCKET"] = notify.path
    try run.writePolicy("plain", [run.service("steady", exec: ["/bin/sleep", "1000"])])
    try run.startConverged()
    run.signal(SIGTERM)
    XCTAssertEqual(run.waitForExit(timeout: 15)?.status, 0)
    XCTAssertEqual(notify.received().filter { $0 != "WATCHDOG=1" && !$0.hasPrefix("STATUS=") }, ["READY=1", "STOPPING=1"])
  }
}

/// A unix datagram socket standing in for systemd's $NOTIFY_SOCKET.
final class NotifySocket {
  let path: String
  let fd: Int32

  init(path: String) throws {
    self.path = path
    fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { throw AgentRunError("socket: \(errno)") }
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw AgentRunError("socket path too long: \(path)") }
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
    let rc = withUnsafePointer(to: &addr) { a in
      a.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard rc == 0 else { throw AgentRunError("bind \(path): \(errno)") }
  }

  /// Every datagram waiting, in order.
  func received() -> [String] {
    var out: [String] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
      if n <= 0 { return out }
      out.append(String(decoding: buf[0..<n], as: UTF8.self))
    }
  }

  func close() { _ = Glibc.close(fd) }
}
