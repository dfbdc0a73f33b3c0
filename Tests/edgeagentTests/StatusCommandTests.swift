import Foundation
import XCTest

final class StatusCommandTests: XCTestCase {
  var box: Sandbox!

  override func setUpWithError() throws { box = try Sandbox() }
  override func tearDown() { box.remove() }

  /// Applies the example with one promise that fails (a directory where /etc/motd goes).
  private func applyWithAFailure() throws {
    try FileManager.default.createDirectory(atPath: box.root + "/etc/motd", withIntermediateDirectories: true)
    XCTAssertEqual(try box.apply(try box.policy(try examplePolicyText())).status, 1)
  }

  private func json(_ args: [String], status: Int32 = 0) throws -> Any {
    let r = try Edgeagent.run(args)
    XCTAssertEqual(r.status, status, r.stderr)
    return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
  }

  func testJSONParsesWithTheRightStatuses() throws {
    try applyWithAFailure()
    let doc = try XCTUnwrap(try json(["status", "--json", "--state", box.state], status: 1) as? [String: Any])
    XCTAssertEqual(doc["policy"] as? String, "gateway")
    XCTAssertEqual(doc["summary"] as? [String: Int], ["kept": 1, "repaired": 4, "failed": 1, "skipped": 1, "unknown": 0])
    XCTAssertEqual(doc["last_run_summary"] as? [String: Int], ["kept": 1, "repaired": 4, "failed": 1, "skipped": 1])
    let promises = try XCTUnwrap(doc["promises"] as? [[String: Any]])
    var statuses: [String: String] = [:]
    for p in promises { statuses[p["id"] as? String ?? "?"] = p["status"] as? String }
    XCTAssertEqual(statuses, ["app-dir": "repaired", "app-conf": "repaired", "app-env": "repaired", "motd": "failed",
                              "current": "repaired", "old-conf": "kept", "router-only": "skipped"])
    let motd = try XCTUnwrap(promises.first { $0["id"] as? String == "motd" })
    XCTAssertEqual(motd["failures"] as? Int, 1)
    XCTAssertEqual(motd["reason"] as? String, "/etc/motd is a directory")
    XCTAssertEqual(motd["subject"] as? String, "/etc/motd")
  }

  func testJSONFollowsTheNextRun() throws {
    try applyWithAFailure()
    try FileManager.default.removeItem(atPath: box.root + "/etc/motd")
    XCTAssertEqual(try box.apply(box.base + "/policy.json").status, 0)
    let doc = try XCTUnwrap(try json(["status", "--json", "--state", box.state]) as? [String: Any])
    let promises = try XCTUnwrap(doc["promises"] as? [[String: Any]])
    let motd = try XCTUnwrap(promises.first { $0["id"] as? String == "motd" })
    XCTAssertEqual(motd["status"] as? String, "repaired")
    XCTAssertEqual(motd["failures"] as? Int, 0)
    XCTAssertEqual(doc["summary"] as? [String: Int], ["kept": 5, "repaired": 1, "failed": 0, "skipped": 1, "unknown": 0])
  }

  func testTextListsEveryPromise() throws {
    try applyWithAFailure()
    let r = try Edgeagent.run(["status", "--state", box.state])
    XCTAssertEqual(r.status, 1, "a promise's latest outcome is failed")
    let lines = r.stdout.split(separator: "\n")
    XCTAssertTrue(lines[0].hasPrefix("policy gateway  last run 20"), String(lines[0]))
    XCTAssertTrue(lines[0].hasSuffix("s ago)  kept=1 repaired=4 failed=1 skipped=1"), String(lines[0]))
    XCTAssertEqual(lines[1], "no daemon holds the state")
    XCTAssertEqual(lines.count, 3 + 7)
    XCTAssertTrue(lines.contains { $0.hasPrefix("motd ") && $0.contains(" failed ") })
  }

  func testWithoutStateItSaysSoAndFails() throws {
    let r = try Edgeagent.run(["status", "--state", box.state])
    XCTAssertNotEqual(r.status, 0)
    XCTAssertEqual(r.stdout, "")
    XCTAssertTrue(r.stderr.contains("no state in \(box.state)"), r.stderr)
    XCTAssertFalse(box.exists(box.state), "status never creates the state")
  }

  func testEventsListRepairsAndFailures() throws {
    try applyWithAFailure()
    let events = try XCTUnwrap(try json(["status", "--events", "50", "--json", "--state", box.state]) as? [[String: Any]])
    XCTAssertEqual(events.first?["kind"] as? String, "policy", "accepting the policy comes first")
    let outcomes = events.filter { $0["kind"] as? String == "outcome" }
    XCTAssertEqual(Set(outcomes.map { $0["subject"] as? String ?? "" }), ["app-dir", "app-conf", "app-env", "motd", "current"])
    XCTAssertEqual(outcomes.first { $0["subject"] as? String == "motd" }?["status"] as? String, "failed")
    let last2 = try XCTUnwrap(try json(["status", "--events", "2", "--json", "--state", box.state]) as? [[String: Any]])
    XCTAssertEqual(last2.count, 2)
    XCTAssertEqual(last2.last?["subject"] as? String, events.last?["subject"] as? String, "the newest events")
  }

  func testEventsNeedsAPositiveCount() throws {
    let r = try Edgeagent.run(["status", "--events", "0", "--state", box.state])
    XCTAssertEqual(r.status, 2)
    XCTAssertTrue(r.stderr.contains("--events needs a positive count"), r.stderr)
  }
}
