@testable import EdgeAgent
@testable import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore
import Foundation
import XCTest

final class StatusTests: XCTestCase {
  var box: Sandbox!

  override func setUpWithError() throws {
    XCTAssertTrue(cryptoInit())
    box = try Sandbox()
  }

  override func tearDown() { box.remove() }

  /// The example plus one promise that always fails (a directory stands where its file goes).
  private func policyWithAFailure() throws -> String {
    try FileManager.default.createDirectory(atPath: box.hostPath("/etc/blocked"), withIntermediateDirectories: true)
    let text = try examplePolicyText().replacingOccurrences(
      of: #"{"id": "app-dir","#,
      with: #"{"id": "blocked", "type": "file", "path": "/etc/blocked", "content": "x"},"# + "\n    " + #"{"id": "app-dir","#)
    return try box.policy(text)
  }

  func testStatusReflectsTheLastRun() throws {
    let path = try policyWithAFailure()
    let start = Int64(Date().timeIntervalSince1970)
    _ = try box.apply(path)
    let status = try box.status()
    XCTAssertEqual(status.policyName, "gateway")
    XCTAssertGreaterThanOrEqual(status.lastRun, start)
    XCTAssertLessThanOrEqual(status.lastRun, Int64(Date().timeIntervalSince1970))
    XCTAssertEqual(status.summary.repaired, 5)
    XCTAssertEqual(status.summary.kept, 1)
    XCTAssertEqual(status.summary.failed, 1)
    XCTAssertEqual(status.summary.skipped, 1)
    XCTAssertEqual(Set(status.entries.map(\.id)),
                   ["blocked", "app-dir", "app-conf", "app-env", "motd", "current", "old-conf", "router-only"])
    XCTAssertEqual(status.entry("app-conf")?.record?.status, .repaired)
    XCTAssertEqual(status.entry("app-conf")?.record?.reason, "created")
    XCTAssertEqual(status.entry("app-conf")?.record?.repairs, 1)
    XCTAssertEqual(status.entry("app-conf")?.type, .file)
    XCTAssertEqual(status.entry("app-conf")?.subject, "/opt/app/app.conf")
    XCTAssertEqual(status.entry("blocked")?.record?.status, .failed)
    XCTAssertEqual(status.entry("blocked")?.record?.failures, 1)
    XCTAssertEqual(status.entry("router-only")?.record?.status, .skipped)
    XCTAssertEqual(status.entry("old-conf")?.record?.status, .kept)
    XCTAssertEqual(status.entry("app-conf")?.record?.fingerprint,
                   SHA256.hash(Array("port=8080\nlog=/var/log/app.log\n".utf8)))
  }

  func testCountersAccumulateAcrossRuns() throws {
    let path = try policyWithAFailure()
    _ = try box.apply(path)
    _ = try box.apply(path)
    var status = try box.status()
    XCTAssertEqual(status.entry("blocked")?.record?.failures, 2, "failures count the runs in a row")
    XCTAssertEqual(status.entry("app-conf")?.record?.status, .kept)
    XCTAssertEqual(status.entry("app-conf")?.record?.repairs, 1, "the repair count stays")
    XCTAssertEqual(status.summary.kept, 6)
    XCTAssertEqual(status.summary.repaired, 0)
    try box.write(box.hostPath("/etc/motd"), "drift\n")
    _ = try box.apply(path)
    status = try box.status()
    XCTAssertEqual(status.entry("motd")?.record?.repairs, 2)
    XCTAssertEqual(status.entry("motd")?.record?.reason, "content replaced")
    XCTAssertEqual(status.entry("blocked")?.record?.failures, 3)
  }

  func testFailureCountResetsWhenThePromiseIsKept() throws {
    let path = try policyWithAFailure()
    _ = try box.apply(path)
    try FileManager.default.removeItem(atPath: box.hostPath("/etc/blocked"))
    _ = try box.apply(path)
    let rec = try box.status().entry("blocked")?.record
    XCTAssertEqual(rec?.status, .repaired)
    XCTAssertEqual(rec?.failures, 0)
  }

  func testSinceIsWhenTheStatusLastChanged() throws {
    let path = try box.policy(try examplePolicyText())
    // The runs are minutes apart on the test clock, and no time passes on the test's own.
    let t0 = wallClockNanoseconds()
    #if EDGE_MOCKING
    defer { TestClock.reset() }
    func at(_ minutes: Int64) { TestClock.setWall(nanoseconds: t0 + minutes * 60_000_000_000) }
    #else
    func at(_ minutes: Int64) { if minutes > 0 { Thread.sleep(forTimeInterval: 1.1) } }
    #endif
    at(0)
    _ = try box.apply(path)
    let first = try box.status().entry("motd")?.record
    at(5)
    _ = try box.apply(path)
    let second = try box.status().entry("motd")?.record
    XCTAssertEqual(second?.status, .kept)
    XCTAssertGreaterThan(second!.changedAt, first!.changedAt, "repaired -> kept is a change")
    #if EDGE_MOCKING
    XCTAssertEqual(second!.changedAt - first!.changedAt, 300)
    #endif
    at(10)
    _ = try box.apply(path)
    XCTAssertEqual(try box.status().entry("motd")?.record?.changedAt, second?.changedAt, "kept -> kept is not")
  }

  func testARepairSettledInPlaceKeepsItsSinceAcrossLaterRepairs() throws {
    // Repairs, then a run verified in place (it settles them with one mark), then a drift
    // repaired by a full run, then another run in place: the first repairs are kept since the
    // first run in place, the drift's since the second.
    let path = try box.policy(try examplePolicyText())
    Thread.sleep(forTimeInterval: 2.1)   // the policy file's identity is trusted, settled
    let t0 = wallClockNanoseconds()
    #if EDGE_MOCKING
    defer { TestClock.reset() }
    func at(_ minutes: Int64) { TestClock.setWall(nanoseconds: t0 + minutes * 60_000_000_000) }
    #else
    func at(_ minutes: Int64) { Thread.sleep(forTimeInterval: 1.1) }
    #endif
    at(0)
    XCTAssertEqual(try box.apply(path).outcome("motd")?.status, .repaired)
    at(5)
    XCTAssertTrue(try box.apply(path).verifiedInPlace)
    let settledAt = try XCTUnwrap(try box.status().entry("motd")?.record?.changedAt)
    at(10)
    try box.write(box.hostPath("/opt/app/app.conf"), "port=9090\nlog=/var/log/app.log\n")
    XCTAssertEqual(try box.apply(path).outcome("app-conf")?.status, .repaired)
    at(15)
    XCTAssertTrue(try box.apply(path).verifiedInPlace)
    let status = try box.status()
    XCTAssertEqual(status.entry("motd")?.record?.status, .kept)
    XCTAssertEqual(status.entry("motd")?.record?.changedAt, settledAt, "kept since the first run in place")
    XCTAssertEqual(status.entry("app-conf")?.record?.status, .kept)
    XCTAssertGreaterThan(status.entry("app-conf")!.record!.changedAt, settledAt, "kept since the second")
    #if EDGE_MOCKING
    XCTAssertEqual(status.entry("app-conf")!.record!.changedAt - settledAt, 600)
    #endif
  }

  func testSettledMarksStayFewAndTheOldestRepairStaysKept() throws {
    // One mark per cycle of repairs; past 32 the oldest goes, and the first run's repairs read
    // as kept since a later mark, never as repaired again.
    let path = try box.policy(try examplePolicyText())
    Thread.sleep(forTimeInterval: 2.1)
    XCTAssertEqual(try box.apply(path).outcome("motd")?.status, .repaired)
    for i in 0..<34 {
      try box.write(box.hostPath("/opt/app/app.conf"), "port=\(9000 + i)\nlog=/var/log/app.log\n")
      XCTAssertEqual(try box.apply(path).outcome("app-conf")?.status, .repaired, "cycle \(i)")
      XCTAssertTrue(try box.apply(path).verifiedInPlace, "cycle \(i)")
    }
    let env = try Environment(path: box.state, readOnly: true)
    let txn = try env.read()
    let marks = try txn.settledMarks()
    txn.abort()
    XCTAssertEqual(marks.count, 32)
    XCTAssertEqual(marks.map(\.run), marks.map(\.run).sorted())
    let status = try box.status()
    XCTAssertEqual(status.entry("motd")?.record?.status, .kept)
    XCTAssertEqual(status.entry("app-conf")?.record?.status, .kept)
    XCTAssertEqual(status.entry("app-conf")?.record?.repairs, 35)
  }

  func testStatusWithoutStateIsNoState() {
    XCTAssertThrowsError(try readStatus(stateDir: box.state)) { e in
      guard case .store(.noState(let p))? = e as? AgentError else { return XCTFail("\(e)") }
      XCTAssertEqual(p, box.state)
    }
    XCTAssertFalse(box.exists(box.state), "reading the status creates nothing")
  }

  func testJSONParsesAndCarriesEachPromise() throws {
    let path = try policyWithAFailure()
    _ = try box.apply(path)
    let json = try box.status().json
    let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    XCTAssertEqual(doc["policy"] as? String, "gateway")
    XCTAssertNotNil(doc["last_run"] as? String)
    let summary = try XCTUnwrap(doc["summary"] as? [String: Int])
    XCTAssertEqual(summary, ["kept": 1, "repaired": 5, "failed": 1, "skipped": 1, "unknown": 0])
    let promises = try XCTUnwrap(doc["promises"] as? [[String: Any]])
    var status: [String: String] = [:]
    for p in promises { status[p["id"] as! String] = p["status"] as? String }
    XCTAssertEqual(status, ["blocked": "failed", "app-dir": "repaired", "app-conf": "repaired", "app-env": "repaired",
                            "motd": "repaired", "current": "repaired", "old-conf": "kept", "router-only": "skipped"])
    let conf = try XCTUnwrap(promises.first { $0["id"] as? String == "app-conf" })
    XCTAssertEqual(conf["type"] as? String, "file")
    XCTAssertEqual(conf["subject"] as? String, "/opt/app/app.conf")
    XCTAssertEqual(conf["repairs"] as? Int, 1)
    XCTAssertEqual(conf["reason"] as? String, "created")
    // The strict reader accepts what status writes, too.
    XCTAssertNoThrow(try JSONReader.parse(Array(json.utf8)))
  }

  func testTextShowsOneRowPerPromise() throws {
    let path = try policyWithAFailure()
    _ = try box.apply(path)
    let text = try box.status().text
    let lines = text.split(separator: "\n")
    XCTAssertTrue(lines[0].hasPrefix("policy gateway  last run "), String(lines[0]))
    XCTAssertTrue(lines[0].hasSuffix("kept=1 repaired=5 failed=1 skipped=1"), String(lines[0]))
    XCTAssertEqual(lines[1], "no daemon holds the state")
    XCTAssertTrue(lines[2].hasPrefix("ID "))
    XCTAssertEqual(lines.count, 3 + 8)
    let blocked = try XCTUnwrap(lines.first { $0.hasPrefix("blocked ") })
    XCTAssertTrue(blocked.contains(" failed "))
    XCTAssertTrue(blocked.contains("/etc/blocked"))
    XCTAssertFalse(lines.contains { $0.hasSuffix(" ") }, "no trailing blanks")
  }

  /// A path with a newline, a reason with ESC and a service log line with BEL and C1 (all from
  /// a policy or a child) stay on their row and never reach the terminal raw.
  func testHostileTextCannotForgeARowOrReachTheTerminal() {
    let forged = "/etc/a\nforged  file  kept  2026-01-01T00:00:00Z  0  /etc/x"
    let record = ActualRecord(status: .failed, reason: "exit 1: \u{1B}]0;pwned\u{07}\r\u{9B}2J", checkedAt: 1, changedAt: 1)
    var report = StatusReport(policyName: "p\u{1B}[31m", lastRun: 1, summary: RunSummary(),
                              entries: [StatusEntry(id: "a", type: .file, subject: forged, record: record)])
    report.services = [ServiceStatus(id: "svc", record: ServiceRecord(phase: .running, pid: 7, startedAt: 1, restarts: 0,
                                                                      lastExit: 0, hasExited: false, ready: true,
                                                                      crashLooping: false),
                                     logTail: ["line\u{1B}[2J\u{07}", "\rnext"])]
    let text = report.text
    for c in text.unicodeScalars where c != "\n" {
      XCTAssertFalse(c.value < 0x20 || (c.value >= 0x7F && c.value <= 0x9F), "U+\(String(c.value, radix: 16)) reached the terminal")
    }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    XCTAssertFalse(lines.contains { $0.hasPrefix("forged") }, "a newline in a path forged a row")
    let row = try? XCTUnwrap(lines.first { $0.hasPrefix("a ") })
    XCTAssertTrue(row?.contains(#"/etc/a\nforged"#) ?? false, String(row ?? ""))
    XCTAssertTrue(row?.contains(#"exit 1: \x1b]0;pwned\x07\r\x9b2J"#) ?? false, String(row ?? ""))
    XCTAssertTrue(text.contains(#"  line\x1b[2J\x07"#))
    XCTAssertTrue(text.hasPrefix(#"policy p\x1b[31m "#))
    XCTAssertTrue(eventsText([EventRecord(kind: .outcome, time: 1, status: .repaired, subject: "s\nforged", reason: "\u{1B}")])
      .contains(#"s\nforged  \x1b"#))
  }
}
