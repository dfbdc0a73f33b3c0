import Foundation
import XCTest
import EdgeTestSupport

/// Issue 17 end to end with the binary: a platform team's baseline delegates to two service
/// teams, each publishing its own signed bundle into the same origin directory; one daemon pulls
/// all three, converges them as one plan, refuses a team's out-of-scope bundle without touching
/// the other team, and stops a revoked team's service while leaving its files.
final class DaemonTeamTests: XCTestCase {
  func testTeamsShipOnTheirOwnAndARevokedTeamsServiceStops() throws {
    let run = try AgentRun.make(self)
    for k in ["root", "payments", "web"] {
      XCTAssertEqual(try Edgeagent.run(["keygen", "--out", run.base + "/" + k]).status, 0)
    }
    func pub(_ k: String) throws -> String {
      String(decoding: try Data(contentsOf: URL(fileURLWithPath: run.base + "/\(k).pub")), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
    let origin = run.base + "/origin"
    func publishBaseline(_ serial: Int, delegations: [String]) throws {
      try run.file("base.json", #"{"policy": "platform", "promises": [{"id": "motd", "type": "file", "path": "/etc/motd", "content": "platform\n"}]}"#)
      try run.file("delegations.json", "[" + delegations.joined(separator: ",") + "]")
      let r = try Edgeagent.run(["publish", run.base + "/base.json", origin, "--key", run.base + "/root.key", "--serial", String(serial),
                                 "--delegations", run.base + "/delegations.json"])
      XCTAssertEqual(r.status, 0, r.stderr)
    }
    func publishTeam(_ team: String, _ serial: Int, _ promises: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
      try run.file(team + ".json", "{\"policy\": \"\(team)\", \"promises\": [" + promises.joined(separator: ",") + "]}")
      let r = try Edgeagent.run(["publish", run.base + "/\(team).json", origin, "--key", run.base + "/\(team).key", "--team", team,
                                 "--serial", String(serial)])
      return (r.status, r.stdout, r.stderr)
    }
    let payments = "{\"team\": \"payments\", \"keys\": [\"\(try pub("payments"))\"], \"scope\": {\"paths\": [\"/opt/payments\"], \"services\": [\"api\"]}}"
    let web = "{\"team\": \"web\", \"keys\": [\"\(try pub("web"))\"], \"scope\": {\"paths\": [\"/srv/web\"]}}"
    try publishBaseline(1, delegations: [payments, web])
    // Payments' config is a blob (source_file): it goes to the origin's shared blobs/.
    try run.file("payments.conf", "port=9000\n")
    let p1 = try publishTeam("payments", 1, [
      #"{"id": "conf", "type": "file", "path": "/opt/payments/app.conf", "source_file": "payments.conf", "after": ["baseline/motd"]}"#,
      run.service("api", exec: ["/bin/sleep", "600"], #""after": ["conf"]"#),
    ])
    XCTAssertEqual(p1.status, 0, p1.stderr)
    XCTAssertTrue(p1.stdout.hasPrefix("team payments: published serial 1"), p1.stdout)
    XCTAssertTrue(FileManager.default.fileExists(atPath: origin + "/teams/payments/bundle.json.sig"))
    XCTAssertEqual(try publishTeam("web", 1, [#"{"id": "index", "type": "file", "path": "/srv/web/index.html", "content": "v1\n"}"#]).status, 0)
    // A team's bundle verifies with its own key, its blobs in the origin's shared blobs/.
    let verified = try Edgeagent.run(["verify", origin + "/teams/payments", "--pubkey", run.base + "/payments.pub"])
    XCTAssertEqual(verified.status, 0, verified.stderr)
    XCTAssertNotEqual(try Edgeagent.run(["verify", origin + "/teams/payments", "--pubkey", run.base + "/web.pub"]).status, 0)

    let config = try run.file("config.json", """
      {"upstreams": ["file://\(origin)"], "trusted_keys": ["\(run.base)/root.pub"], "pull_interval": "1s"}
      """)
    try run.start(["--config", config])
    func text(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: run.root + path) ?? Data(), as: UTF8.self) }
    XCTAssertTrue(pollUntil(20) { text("/opt/payments/app.conf") == "port=9000\n" && text("/srv/web/index.html") == "v1\n" }, run.log)
    XCTAssertTrue(pollUntil(10) { (try? run.serviceStatus("payments/api"))?["state"] as? String == "running" }, run.log)
    let api = try run.servicePID("payments/api")
    XCTAssertTrue(AgentRun.isAlive(api))
    XCTAssertTrue(run.log.contains(#"msg="team bundle accepted" team=payments serial=1"#), run.log)

    // Status per team.
    XCTAssertTrue(pollUntil(10) {
      let s = try? run.status()
      let teams = s?["teams"] as? [[String: Any]] ?? []
      return teams.count == 2 && teams.allSatisfy { $0["standing"] as? String == "in_force" && $0["failed"] as? Int == 0 }
        && teams.first { $0["team"] as? String == "payments" }?["kept"] as? Int == 2
    }, "\(String(describing: try? run.status()["teams"]))")
    let statusText = try Edgeagent.run(["status", "--state", run.state]).stdout
    XCTAssertTrue(statusText.contains("team payments: serial 1, kept 2, repaired 0, failed 0"), statusText)
    XCTAssertTrue(statusText.contains("payments/api"), statusText)

    // Web ships serial 2 with a file outside its scope: refused, web's serial 1 stays, payments untouched.
    XCTAssertEqual(try publishTeam("web", 2, [#"{"id": "index", "type": "file", "path": "/srv/web/index.html", "content": "v2\n"}"#,
                                              #"{"id": "evil", "type": "file", "path": "/opt/payments/app.conf", "content": "pwned\n"}"#]).status, 0)
    XCTAssertTrue(run.waitForLog("team bundle rejected, keeping the team's last good one", timeout: 10), run.log)
    XCTAssertTrue(run.log.contains(#"promise \"web/evil\""#) && run.log.contains(#"path \"/opt/payments/app.conf\" is outside the team's scope (paths: /srv/web)"#), run.log)
    XCTAssertEqual(text("/srv/web/index.html"), "v1\n")
    XCTAssertEqual(text("/opt/payments/app.conf"), "port=9000\n")
    XCTAssertEqual(try run.servicePID("payments/api"), api, "payments' service was not restarted")
    // Web's fixed serial 3 ships on its own schedule.
    XCTAssertEqual(try publishTeam("web", 3, [#"{"id": "index", "type": "file", "path": "/srv/web/index.html", "content": "v3\n"}"#]).status, 0)
    XCTAssertTrue(pollUntil(10) { text("/srv/web/index.html") == "v3\n" }, run.log)
    XCTAssertEqual(try run.servicePID("payments/api"), api)

    // The platform revokes payments: its service stops, its file stays, unmanaged.
    try publishBaseline(2, delegations: [web])
    XCTAssertTrue(pollUntil(15) { !AgentRun.isAlive(api) }, run.log)
    XCTAssertEqual(text("/opt/payments/app.conf"), "port=9000\n")
    XCTAssertTrue(pollUntil(10) {
      let teams = (try? run.status())?["teams"] as? [[String: Any]] ?? []
      return teams.first { $0["team"] as? String == "payments" }?["standing"] as? String == "revoked"
    }, run.log)
    run.signal(SIGTERM)
    XCTAssertEqual(run.waitForExit(timeout: 10)?.status, 0)
  }

  /// SIGKILL while a team's new serial (1,000 files) is accepted and converged: the state opens,
  /// the team's serial held is the old or the new one, and a restarted agent converges to the
  /// new one with nothing failed.
  func testSIGKILLDuringATeamAcceptanceLosesNothing() throws {
    let run = try AgentRun.make(self)
    for k in ["root", "payments"] { XCTAssertEqual(try Edgeagent.run(["keygen", "--out", run.base + "/" + k]).status, 0) }
    let key = String(decoding: try Data(contentsOf: URL(fileURLWithPath: run.base + "/payments.pub")), as: UTF8.self)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let origin = run.base + "/origin"
    try run.file("base.json", #"{"policy": "platform", "promises": [{"id": "motd", "type": "file", "path": "/etc/motd", "content": "p\n"}]}"#)
    try run.file("d.json", "[{\"team\": \"payments\", \"keys\": [\"\(key)\"], \"scope\": {\"paths\": [\"/opt/payments\"]}}]")
    XCTAssertEqual(try Edgeagent.run(["publish", run.base + "/base.json", origin, "--key", run.base + "/root.key", "--delegations", run.base + "/d.json"]).status, 0)
    let files = 1000
    func publishTeam(_ serial: Int) throws {
      var promises: [String] = []
      for i in 0..<files { promises.append("{\"id\": \"f\(i)\", \"type\": \"file\", \"path\": \"/opt/payments/f\(i)\", \"content\": \"serial \(serial)\\n\"}") }
      try run.file("payments.json", "{\"policy\": \"payments\", \"promises\": [" + promises.joined(separator: ",") + "]}")
      let r = try Edgeagent.run(["publish", run.base + "/payments.json", origin, "--key", run.base + "/payments.key", "--team", "payments",
                                 "--serial", String(serial)])
      XCTAssertEqual(r.status, 0, r.stderr)
    }
    func text(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: run.root + path) ?? Data(), as: UTF8.self) }
    func teamSerial() -> Int? {
      ((try? run.status())?["teams"] as? [[String: Any]])?.first?["serial"] as? Int
    }
    let config = try run.file("config.json", """
      {"upstreams": ["file://\(origin)"], "trusted_keys": ["\(run.base)/root.pub"], "pull_interval": "1s"}
      """)
    // Serial 1 converged, and how long serial 2 takes from start to converged, uninterrupted.
    try publishTeam(1)
    try run.start(["--config", config])
    XCTAssertTrue(pollUntil(60) { text("/opt/payments/f\(files - 1)") == "serial 1\n" }, run.log)
    run.signal(SIGTERM)
    XCTAssertEqual(run.waitForExit(timeout: 10)?.status, 0)
    try publishTeam(2)
    let t0 = Date()
    try run.start(["--config", config])
    XCTAssertTrue(pollUntil(60) { text("/opt/payments/f\(files - 1)") == "serial 2\n" }, run.log)
    let took = Date().timeIntervalSince(t0)
    run.signal(SIGTERM)
    XCTAssertEqual(run.waitForExit(timeout: 10)?.status, 0)
    var rng = SystemRandomNumberGenerator()
    for serial in 3...6 {
      try publishTeam(serial)
      try run.start(["--config", config])
      Thread.sleep(forTimeInterval: Double.random(in: 0...(took * 1.2), using: &rng))
      run.signal(SIGKILL)
      _ = run.waitForExit(timeout: 10)
      // The state opens and holds one team serial or the other, never neither.
      let held = teamSerial()
      XCTAssertTrue(held == serial - 1 || held == serial, "serial \(serial): held \(String(describing: held))")
      // Every file holds one serial's content whole.
      for i in stride(from: 0, to: files, by: 97) {
        let c = text("/opt/payments/f\(i)")
        XCTAssertTrue(c == "serial \(serial)\n" || c == "serial \(serial - 1)\n", "f\(i): \(c)")
      }
      try run.start(["--config", config])
      XCTAssertTrue(pollUntil(60) {
        teamSerial() == serial && (0..<files).allSatisfy { text("/opt/payments/f\($0)") == "serial \(serial)\n" }
      }, run.log)
      run.signal(SIGTERM)
      XCTAssertEqual(run.waitForExit(timeout: 10)?.status, 0)
    }
    let teams = try run.status()["teams"] as? [[String: Any]]
    XCTAssertEqual(teams?.first?["failed"] as? Int, 0)
    XCTAssertEqual(teams?.first?["standing"] as? String, "in_force")
  }

  /// A symlink made under a team's scope after its bundle was accepted (by a service, by hand):
  /// the team's repair does not write through it, it fails naming the symlink; the baseline's
  /// promises and the host outside the scope are untouched.
  func testASymlinkPlantedInATeamsScopeLaterIsNotWrittenThrough() throws {
    let run = try AgentRun.make(self)
    for k in ["root", "payments"] { XCTAssertEqual(try Edgeagent.run(["keygen", "--out", run.base + "/" + k]).status, 0) }
    let key = String(decoding: try Data(contentsOf: URL(fileURLWithPath: run.base + "/payments.pub")), as: UTF8.self)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    let origin = run.base + "/origin"
    try run.file("base.json", #"{"policy": "platform", "promises": [{"id": "motd", "type": "file", "path": "/etc/motd", "content": "p\n"}]}"#)
    try run.file("d.json", "[{\"team\": \"payments\", \"keys\": [\"\(key)\"], \"scope\": {\"paths\": [\"/opt/payments\"]}}]")
    XCTAssertEqual(try Edgeagent.run(["publish", run.base + "/base.json", origin, "--key", run.base + "/root.key", "--delegations", run.base + "/d.json"]).status, 0)
    try run.file("payments.json", #"{"policy": "payments", "promises": [{"id": "x", "type": "file", "path": "/opt/payments/d/shadow", "content": "mine\n"}]}"#)
    XCTAssertEqual(try Edgeagent.run(["publish", run.base + "/payments.json", origin, "--key", run.base + "/payments.key", "--team", "payments"]).status, 0)
    let config = try run.file("config.json", """
      {"upstreams": ["file://\(origin)"], "trusted_keys": ["\(run.base)/root.pub"], "pull_interval": "1s"}
      """)
    try run.start(["--config", config])
    func text(_ path: String) -> String? { FileManager.default.contents(atPath: run.root + path).map { String(decoding: $0, as: UTF8.self) } }
    XCTAssertTrue(pollUntil(20) { text("/opt/payments/d/shadow") == "mine\n" }, run.log)
    run.signal(SIGTERM)
    XCTAssertEqual(run.waitForExit(timeout: 10)?.status, 0)
    // Planted later: /opt/payments/d -> /etc (inside the root), with the file gone.
    try FileManager.default.removeItem(atPath: run.root + "/opt/payments/d")
    try FileManager.default.createSymbolicLink(atPath: run.root + "/opt/payments/d", withDestinationPath: "/etc")
    try run.start(["--config", config])
    XCTAssertTrue(run.waitForLog("msg=converged", timeout: 20), run.log)
    XCTAssertNil(text("/etc/shadow"), "written through the planted symlink")
    XCTAssertEqual(text("/etc/motd"), "p\n")
    let teams = try run.status()["teams"] as? [[String: Any]]
    XCTAssertEqual(teams?.first?["failed"] as? Int, 1, "\(String(describing: teams))")
    run.signal(SIGTERM)
    XCTAssertEqual(run.waitForExit(timeout: 10)?.status, 0)
  }
}
