import Foundation
import XCTest

/// `edgeagent validate`, as a CI job or an operator runs it before a rollout: exit 0 and a line
/// for a good policy, every error as FILE:LINE:COLUMN and exit 1 for a bad one, a signed bundle
/// checked with its key, JSON for machines, and nothing on the host or in a state touched.
final class ValidateCommandTests: XCTestCase {
  var box: Sandbox!

  override func setUpWithError() throws { box = try Sandbox() }
  override func tearDown() { box.remove() }

  /// A policy whose promises would all write under the sandbox's root (and a command that would
  /// leave a marker there), if anything ran them.
  private var touchyPolicy: String {
    """
    {"policy": "touchy", "promises": [
      {"id": "dir", "type": "directory", "path": "\(box.root)/srv"},
      {"id": "conf", "type": "file", "path": "\(box.root)/srv/app.conf", "content": "x\\n", "notify": ["reload"]},
      {"id": "ln", "type": "link", "path": "\(box.root)/srv/current", "target": "app.conf"},
      {"id": "reload", "type": "command", "exec": ["/bin/sh", "-c", "touch \(box.root)/ran"], "timeout": "1m30s"}
    ]}
    """
  }

  private let brokenPolicy = """
    {"policy": "broken", "promises": [
      {"id": "motd", "type": "file", "path": "/etc/motd", "contnet": "hi\\n", "after": ["ghost"]},
      {"type": "file", "path": "relative", "content": ""},
      {"id": "job", "type": "command", "exec": ["/bin/true"], "timeout": 0}
    ]}
    """

  /// "LINE:COLUMN" of `needle` in `text` (1-based, columns in bytes).
  private func place(of needle: String, in text: String) -> String {
    for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      if let r = line.range(of: needle) { return "\(n + 1):\(line.utf8.distance(from: line.startIndex, to: r.lowerBound) + 1)" }
    }
    return "?"
  }

  func testAValidPolicyExits0AndSaysItsNameAndSize() throws {
    let r = try Edgeagent.run(["validate", try box.policy(touchyPolicy)])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertEqual(r.stdout, "policy touchy: 4 promises, valid\n")
    XCTAssertEqual(r.stderr, "")
  }

  /// A team's policy names the baseline's promises as `baseline/ID`: valid with `--team` only,
  /// and never another team's.
  func testATeamsPolicyValidatesWithTeam() throws {
    let text = #"{"policy": "payments", "promises": [{"id": "d", "type": "directory", "path": "/opt/payments", "after": ["baseline/app-dir"]}]}"#
    let path = try box.policy(text)
    let plain = try Edgeagent.run(["validate", path])
    XCTAssertEqual(plain.status, 1)
    XCTAssertTrue(plain.stderr.contains(#"promise "d": key "after": "baseline/app-dir" names another bundle's promise: only a team's policy may (publish --team, validate --team)"#), plain.stderr)
    let team = try Edgeagent.run(["validate", path, "--team"])
    XCTAssertEqual(team.status, 0, team.stderr)
    XCTAssertEqual(team.stdout, "policy payments: 1 promises, valid\n")
    let other = try Edgeagent.run(["validate", try box.policy(text.replacingOccurrences(of: "baseline/app-dir", with: "web/index")), "--team"])
    XCTAssertEqual(other.status, 1)
    XCTAssertTrue(other.stderr.contains(#""web/index": a team's promise may be after a baseline promise ("baseline/ID"), never another team's"#), other.stderr)
  }

  /// Every policy the repository ships or boots with, as schema/check-examples.py checks them
  /// against the schema: the agent's own check agrees.
  func testEveryPolicyOfTheRepositoryValidates() throws {
    let top = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    for name in ["examples/gateway.json", "examples/all-types.json", "Cross/boot/policy.json", "Cross/deb/policy.json"] {
      let r = try Edgeagent.run(["validate", top.appendingPathComponent(name).path])
      XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
      XCTAssertTrue(r.stdout.hasSuffix("promises, valid\n"), r.stdout)
    }
  }

  func testAnInvalidPolicyExits1WithEveryErrorAtItsFileLineAndColumn() throws {
    let path = try box.policy(brokenPolicy)
    let r = try Edgeagent.run(["validate", path])
    XCTAssertEqual(r.status, 1)
    XCTAssertEqual(r.stdout, "")
    let lines = r.stderr.split(separator: "\n").map(String.init)
    XCTAssertTrue(lines.contains(#"\#(path):\#(place(of: #""contnet""#, in: brokenPolicy)): promise "motd": key "contnet": unknown key for a file promise: did you mean "content"?"#), r.stderr)
    XCTAssertTrue(lines.contains(#"\#(path):\#(place(of: #""ghost""#, in: brokenPolicy)): promise "motd": key "after": "after" names unknown promise "ghost""#), r.stderr)
    XCTAssertTrue(lines.contains(#"\#(path):\#(place(of: #"{"type""#, in: brokenPolicy)): promise #2 (file): missing key "id""#), r.stderr)
    XCTAssertTrue(lines.contains(#"\#(path):\#(place(of: #""relative""#, in: brokenPolicy)): promise #2 (file): key "path": path "relative" is relative (it must start with '/')"#), r.stderr)
    XCTAssertTrue(lines.contains(#"\#(path):\#(place(of: #"0}"#, in: brokenPolicy)): promise "job": key "timeout": a timeout of 0 is not allowed: leave "timeout" out for none"#), r.stderr)
    XCTAssertEqual(lines.last, "edgeagent: validate: \(path) is invalid")
    let positions = lines.dropLast().map { $0.dropFirst(path.count + 1).split(separator: ":").prefix(2).map { Int($0)! } }
    XCTAssertEqual(positions, positions.sorted { $0.lexicographicallyPrecedes($1) }, "in the order of the file")
  }

  func testJSONOutputParsesAndListsEachErrorsPlace() throws {
    let path = try box.policy(brokenPolicy)
    let r = try Edgeagent.run(["validate", path, "--json"])
    XCTAssertEqual(r.status, 1)
    let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(doc["valid"] as? Bool, false)
    let errors = try XCTUnwrap(doc["errors"] as? [[String: Any]])
    XCTAssertGreaterThanOrEqual(errors.count, 5)
    for e in errors {
      XCTAssertEqual(e["file"] as? String, path)
      XCTAssertNotNil(e["line"] as? Int)
      XCTAssertNotNil(e["column"] as? Int)
    }
    let ghost = try XCTUnwrap(errors.first { ($0["message"] as? String)?.contains("ghost") ?? false })
    XCTAssertEqual("\(ghost["line"] as? Int ?? 0):\(ghost["column"] as? Int ?? 0)", place(of: #""ghost""#, in: brokenPolicy))
    XCTAssertEqual(ghost["message"] as? String, #"promise "motd": key "after": "after" names unknown promise "ghost""#)

    let ok = try Edgeagent.run(["validate", try box.policy(touchyPolicy, name: "ok.json"), "--json"])
    XCTAssertEqual(ok.status, 0)
    let okDoc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(okDoc["valid"] as? Bool, true)
    XCTAssertEqual(okDoc["policy"] as? String, "touchy")
    XCTAssertEqual(okDoc["promises"] as? Int, 4)
    XCTAssertEqual((okDoc["errors"] as? [Any])?.count, 0)
  }

  func testNothingIsWrittenToTheHostOrAState() throws {
    let defaultState = "/var/lib/edgeagent"
    let stateExisted = box.exists(defaultState)
    let path = try box.policy(touchyPolicy)
    let before = try FileManager.default.contentsOfDirectory(atPath: box.base).sorted()
    XCTAssertEqual(try Edgeagent.run(["validate", path]).status, 0)
    XCTAssertEqual(try Edgeagent.run(["validate", path, "--json"]).status, 0)
    XCTAssertEqual(box.rootEntries(), [], "no promise was kept or repaired under the root")
    XCTAssertFalse(box.exists(box.root + "/ran"), "no command ran")
    XCTAssertFalse(box.exists(box.state))
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: box.base).sorted(), before, "nothing beside the policy")
    XCTAssertEqual(box.exists(defaultState), stateExisted, "the default state directory was neither made nor removed")
  }

  func testABundleDirectoryIsCheckedWithItsKey() throws {
    XCTAssertEqual(try Edgeagent.run(["keygen", "--out", box.base + "/k"]).status, 0)
    XCTAssertEqual(try Edgeagent.run(["keygen", "--out", box.base + "/other"]).status, 0)
    let bundle = box.base + "/bundle"
    let published = try Edgeagent.run(["publish", try box.policy(touchyPolicy), bundle, "--key", box.base + "/k.key"])
    XCTAssertEqual(published.status, 0, published.stderr)

    let good = try Edgeagent.run(["validate", bundle, "--key", box.base + "/k.pub"])
    XCTAssertEqual(good.status, 0, good.stderr)
    XCTAssertEqual(good.stdout, "bundle \(bundle): serial 1, signature valid\npolicy touchy: 4 promises, valid\n")

    let twoKeys = try Edgeagent.run(["validate", bundle, "--key", box.base + "/other.pub", "--key", box.base + "/k.pub"])
    XCTAssertEqual(twoKeys.status, 0, "any one of the keys may have signed it: \(twoKeys.stderr)")

    let wrong = try Edgeagent.run(["validate", bundle, "--key", box.base + "/other.pub"])
    XCTAssertEqual(wrong.status, 1)
    XCTAssertEqual(wrong.stdout, "")
    XCTAssertTrue(wrong.stderr.hasPrefix("\(bundle)/bundle.json: signature does not verify against any trusted key\n"), wrong.stderr)

    let json = try Edgeagent.run(["validate", bundle, "--key", box.base + "/other.pub", "--json"])
    let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(doc["valid"] as? Bool, false)
    let e = try XCTUnwrap((doc["errors"] as? [[String: Any]])?.first)
    XCTAssertTrue(e["line"] is NSNull, "a signature has no line")

    // Tampered after signing: the signature no longer holds, whatever the key.
    var text = try String(contentsOfFile: bundle + "/bundle.json", encoding: .utf8)
    text = text.replacingOccurrences(of: "touchy", with: "touchy2")
    try Data(text.utf8).write(to: URL(fileURLWithPath: bundle + "/bundle.json"))
    XCTAssertEqual(try Edgeagent.run(["validate", bundle, "--key", box.base + "/k.pub"]).status, 1)
    XCTAssertEqual(box.rootEntries(), [])
  }

  func testUsageErrorsExit2() throws {
    let noKey = try Edgeagent.run(["validate", box.base])
    XCTAssertEqual(noKey.status, 2)
    XCTAssertTrue(noKey.stderr.hasPrefix("edgeagent: validate of a bundle directory needs --key PUB\n"), noKey.stderr)
    XCTAssertEqual(try Edgeagent.run(["validate"]).status, 2)
    XCTAssertEqual(try Edgeagent.run(["validate", "a.json", "b.json"]).status, 2)
    let help = try Edgeagent.run(["validate", "--help"])
    XCTAssertEqual(help.status, 0)
    XCTAssertTrue(help.stdout.hasPrefix("usage: edgeagent validate"))
    XCTAssertTrue(try Edgeagent.run(["help"]).stdout.contains("  validate POLICY"))
  }

  func testAMissingFileIsASystemErrorNotAVerdict() throws {
    let r = try Edgeagent.run(["validate", box.base + "/nope.json"])
    XCTAssertEqual(r.status, 111)
    XCTAssertTrue(r.stderr.contains("No such file or directory"), r.stderr)
  }
}
