import Foundation
import XCTest
import EdgeTestSupport

/// Every agent's /metrics and /healthz (`run --metrics`), typed JSON logs, and the STATUS= line
/// sent to $NOTIFY_SOCKET after each convergence.
final class DaemonMetricsTests: XCTestCase {
  /// One GET on 127.0.0.1: (status, body), nil when nothing answered.
  func get(_ port: UInt16, _ path: String) -> (status: Int, body: String)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var tv = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else { return nil }
    let req = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
    guard send(fd, req, req.count, 0) == req.count else { return nil }
    var data = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = recv(fd, &buf, buf.count, 0)
      if n <= 0 { break }
      data += buf[0..<n]
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n"), let code = Int(text.split(separator: " ").dropFirst().first ?? "") else { return nil }
    return (code, String(text[split.upperBound...]))
  }

  /// The port an agent's log says it listens on for `message` ("metrics listening").
  func port(_ run: AgentRun, _ message: String) -> UInt16? {
    guard let line = run.logLines.first(where: { $0.contains("msg=\"\(message)\"") }) else { return nil }
    return line.split(separator: ":").last.flatMap { UInt16($0.prefix { $0.isNumber }) }
  }

  /// The value of an unlabelled (or exactly labelled) sample.
  func value(_ body: String, _ series: String) -> Double? {
    for l in body.split(separator: "\n") where l.hasPrefix(series + " ") {
      return Double(l.split(separator: " ").last ?? "")
    }
    return nil
  }

  /// `promtool check metrics` on the text: its complaints, "" when clean.
  func promtool(_ text: String) throws -> String {
    let path = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
    guard let path else { throw skipOrFailInCI("promtool is not installed (Cross/setup.sh --host installs prometheus)") }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = ["check", "metrics"]
    let input = Pipe(), output = Pipe()
    p.standardInput = input
    p.standardOutput = output
    p.standardError = output
    try p.run()
    input.fileHandleForWriting.write(Data(text.utf8))
    input.fileHandleForWriting.closeFile()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let said = String(decoding: out, as: UTF8.self)
    return p.terminationStatus == 0 && said.isEmpty ? "" : "exit \(p.terminationStatus): \(said)"
  }

  /// A plain agent (a local policy, no bundle, no relay) serves /metrics and /healthz on its
  /// `--metrics` address; a relay's /healthz now says the same (200 with a local policy).
  func testAnAgentWithALocalPolicyServesMetricsAndIsHealthy() throws {
    let run = try AgentRun.make(self)
    try FileManager.default.createDirectory(atPath: run.root + "/etc", withIntermediateDirectories: true)
    try run.writePolicy("metrics", [
      "{\"id\": \"motd\", \"type\": \"file\", \"path\": \"/etc/motd\", \"content\": \"hello\\n\"}",
    ])
    let before = Date().timeIntervalSince1970
    try run.startConverged(["--metrics", "127.0.0.1:0", "--relay", "127.0.0.1:0"])
    let port = try XCTUnwrap(port(run, "metrics listening"), run.log)
    let health = try XCTUnwrap(get(port, "/healthz"), run.log)
    XCTAssertEqual(health.status, 200, health.body)
    XCTAssertTrue(health.body.hasPrefix("ok: converged "), health.body)
    let m = try XCTUnwrap(get(port, "/metrics"), run.log)
    XCTAssertEqual(m.status, 200, m.body)
    let body = m.body
    XCTAssertTrue(body.contains("edgeagent_build_info{version=\""), body)
    XCTAssertTrue(body.contains("# TYPE edgeagent_build_info gauge"), body)
    let last = try XCTUnwrap(value(body, "edgeagent_last_run_timestamp_seconds"), body)
    XCTAssertGreaterThanOrEqual(last, before - 1, body)
    XCTAssertLessThanOrEqual(last, Date().timeIntervalSince1970 + 1, body)
    XCTAssertNotNil(value(body, "edgeagent_last_run_duration_seconds"), body)
    XCTAssertEqual(value(body, "edgeagent_promises{status=\"repaired\"}"), 1, body)
    XCTAssertEqual(value(body, "edgeagent_promises{status=\"kept\"}"), 0, body)
    XCTAssertEqual(value(body, "edgeagent_promises{status=\"failed\"}"), 0, body)
    XCTAssertEqual(value(body, "edgeagent_runs_total{outcome=\"repaired\"}"), 1, body)
    XCTAssertGreaterThan(value(body, "process_resident_memory_bytes") ?? 0, 100_000, body)
    XCTAssertGreaterThan(value(body, "process_open_fds") ?? 0, 2, body)
    XCTAssertEqual(try promtool(body), "", body)
    XCTAssertEqual(get(port, "/bundle.json")?.status, 404, "the metrics address serves no bundle")
    // The relay, with no bundle accepted, is as healthy as the agent, and its /metrics (the
    // relay's figures, then the daemon's) is still valid text: no family twice.
    let relay = try XCTUnwrap(self.port(run, "relay listening"), run.log)
    let relayHealth = try XCTUnwrap(get(relay, "/healthz"))
    XCTAssertEqual(relayHealth.status, 200, relayHealth.body)
    let relayMetrics = try XCTUnwrap(get(relay, "/metrics")).body
    XCTAssertTrue(relayMetrics.contains("edgeagent_relay_requests_total"), relayMetrics)
    XCTAssertTrue(relayMetrics.contains("edgeagent_build_info"), relayMetrics)
    XCTAssertEqual(try promtool(relayMetrics), "", relayMetrics)
  }

  /// Before a policy is in force /healthz says why it is not healthy, with 503.
  func testHealthzIs503WithTheReasonWithoutAPolicy() throws {
    let run = try AgentRun.make(self)
    try run.writePolicy("{\"policy\": \"broken\",\n")
    try run.start(["--metrics", "127.0.0.1:0"])
    XCTAssertTrue(run.waitForLog("msg=\"metrics listening\"", timeout: 10), run.log)
    let port = try XCTUnwrap(port(run, "metrics listening"), run.log)
    let health = try XCTUnwrap(get(port, "/healthz"), run.log)
    XCTAssertEqual(health.status, 503, health.body)
    XCTAssertEqual(health.body, "no policy in force yet\n")
    let m = try XCTUnwrap(get(port, "/metrics"))
    XCTAssertEqual(value(m.body, "edgeagent_runs_total{outcome=\"kept\"}"), 0, m.body)
    XCTAssertNil(value(m.body, "edgeagent_last_run_timestamp_seconds"), m.body)
    XCTAssertEqual(try promtool(m.body), "", m.body)
  }

  /// The config key does what the flag does.
  func testTheMetricsConfigKeyServesToo() throws {
    let run = try AgentRun.make(self)
    try run.writePolicy("p", [])
    let config = try run.file("config.json", "{\"metrics\": \"127.0.0.1:0\"}\n")
    try run.startConverged(["--config", config])
    let port = try XCTUnwrap(port(run, "metrics listening"), run.log)
    XCTAssertEqual(get(port, "/healthz")?.status, 200, run.log)
  }

  func testABadMetricsAddressIsRefused() throws {
    let run = try AgentRun.make(self)
    try run.writePolicy("p", [])
    try run.start(["--metrics", "localhost:9100"])
    let end = run.waitForExit(timeout: 10)
    XCTAssertEqual(end?.status, 2, run.log)
    XCTAssertTrue(run.log.contains("expected IPv4-ADDRESS:PORT"), run.log)
  }

  /// JSON logs: counts are numbers, pid1 a boolean, ts has milliseconds; a failed promise is
  /// logged at level error.
  func testJSONLogsAreTypedAndAFailedPromiseIsAnError() throws {
    let run = try AgentRun.make(self)
    try run.writePolicy("typed", [
      "{\"id\": \"fails\", \"type\": \"command\", \"exec\": [\"/bin/sh\", \"-c\", \"exit 3\"]}",
    ])
    try run.start(["--log-format", "json"])
    XCTAssertTrue(run.waitForLog("\"msg\":\"converged\"", timeout: 10), run.log)
    var lines: [[String: Any]] = []
    for l in run.logLines {
      lines.append(try XCTUnwrap(JSONSerialization.jsonObject(with: Data(l.utf8)) as? [String: Any], l))
    }
    let starting = try XCTUnwrap(lines.first { $0["msg"] as? String == "starting" })
    XCTAssertEqual(starting["pid1"] as? Bool, false)
    XCTAssertFalse(starting["pid1"] is String)
    let failed = try XCTUnwrap(lines.first { $0["msg"] as? String == "promise failed" }, run.log)
    XCTAssertEqual(failed["level"] as? String, "error", run.log)
    XCTAssertEqual(failed["promise"] as? String, "fails")
    let converged = try XCTUnwrap(lines.first { $0["msg"] as? String == "converged" })
    XCTAssertEqual((converged["failed"] as? NSNumber)?.intValue, 1, run.log)
    XCTAssertFalse(converged["failed"] is String, run.log)
    XCTAssertNotNil(converged["ms"] as? NSNumber, run.log)
    let ts = try XCTUnwrap(converged["ts"] as? String)
    XCTAssertNotNil(ts.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression), ts)
  }

  /// Each full convergence tells $NOTIFY_SOCKET its counts (systemctl status shows them).
  func testEachConvergenceSendsAStatusLine() throws {
    let run = try AgentRun.make(self)
    let notify = try NotifySocket(path: run.base + "/notify")
    defer { notify.close() }
    run.environment["NOTIFY_SOCKET"] = notify.path
    try FileManager.default.createDirectory(atPath: run.root + "/etc", withIntermediateDirectories: true)
    try run.writePolicy("status", [
      "{\"id\": \"motd\", \"type\": \"file\", \"path\": \"/etc/motd\", \"content\": \"hello\\n\"}",
      "{\"id\": \"fails\", \"type\": \"command\", \"exec\": [\"/bin/sh\", \"-c\", \"exit 3\"]}",
    ])
    try run.startConverged()
    run.signal(SIGHUP)
    XCTAssertTrue(run.waitForLog("msg=converged", count: 2, timeout: 10), run.log)
    var messages: [String] = []
    XCTAssertTrue(pollUntil(5) {
      messages += notify.received()
      return messages.filter { $0.hasPrefix("STATUS=") }.count >= 2
    }, "\(messages)")
    let status = messages.filter { $0.hasPrefix("STATUS=") }
    XCTAssertEqual(status.first, "STATUS=converged: 0 kept, 1 repaired, 1 failed", "\(messages)")
    XCTAssertEqual(status.dropFirst().first, "STATUS=converged: 1 kept, 0 repaired, 1 failed", "\(messages)")
    XCTAssertEqual(messages.filter { $0 != "WATCHDOG=1" }.prefix(2), ["STATUS=converged: 0 kept, 1 repaired, 1 failed", "READY=1"])
  }
}
