import EdgeCore
import XCTest

/// The scope rules a delegation relies on: whole path components, name prefixes, sysctl
/// subtrees, and the qualified ids of a composed plan.
final class TeamScopeTests: XCTestCase {
  func testPathsAreWholeComponents() {
    let scope = ["/opt/payments", "/etc/payments"]
    XCTAssertTrue(TeamScope.holdsPath(scope, "/opt/payments"))
    XCTAssertTrue(TeamScope.holdsPath(scope, "/opt/payments/a/b"))
    XCTAssertTrue(TeamScope.holdsPath(scope, "/etc/payments/x.conf"))
    XCTAssertFalse(TeamScope.holdsPath(scope, "/opt/payments-old/a"))
    XCTAssertFalse(TeamScope.holdsPath(scope, "/opt/pay"))
    XCTAssertFalse(TeamScope.holdsPath(scope, "/opt"))
    XCTAssertFalse(TeamScope.holdsPath(scope, "/etc/paymentsx"))
    XCTAssertTrue(TeamScope.holdsPath(["/"], "/etc/shadow"))
    XCTAssertFalse(TeamScope.holdsPath([], "/opt/payments"))
  }

  func testNamesAndSysctls() {
    XCTAssertTrue(TeamScope.holdsName(["api", "worker-*"], "api"))
    XCTAssertTrue(TeamScope.holdsName(["api", "worker-*"], "worker-7"))
    XCTAssertFalse(TeamScope.holdsName(["api", "worker-*"], "api2"))
    XCTAssertFalse(TeamScope.holdsName(["api", "worker-*"], "worker"))
    XCTAssertTrue(TeamScope.holdsSysctl(["net.core.*"], "net.core.somaxconn"))
    XCTAssertFalse(TeamScope.holdsSysctl(["net.core.*"], "net.corefoo"))
    XCTAssertFalse(TeamScope.holdsSysctl(["net.c*"], "net.core.somaxconn"), "a sysctl prefix is whole components")
    XCTAssertTrue(TeamScope.holdsSysctl(["kernel.panic"], "kernel.panic"))
    XCTAssertFalse(TeamScope.holdsSysctl(["kernel.panic"], "kernel.panic_on_oops"))
  }

  func testDelegationsDecodeStrictly() throws {
    func decode(_ text: String) throws -> [Delegation] {
      try Delegation.decodeList(try JSONReader.parse(Array(text.utf8)))
    }
    let key = String(repeating: "ab", count: 32)
    let ok = try decode(#"[{"team": "payments", "keys": ["# + "\"\(key)\"" + #"], "scope": {"paths": ["/opt/payments"], "commands": true}}]"#)
    XCTAssertEqual(ok.first?.team, "payments")
    XCTAssertEqual(ok.first?.scope.paths, ["/opt/payments"])
    XCTAssertEqual(ok.first?.scope.commands, true)
    let cases: [(String, String)] = [
      (#"[{"team": "Payments", "keys": ["x"], "scope": {}}]"#, "1:11: key \"delegations.team\": team name \"Payments\" must be 1 to 64 characters starting with a lower-case letter"),
      (#"[{"team": "baseline", "keys": ["x"], "scope": {}}]"#, "\"baseline\" names the baseline"),
      (#"[{"team": "p", "keys": ["abc"], "scope": {}}]"#, "1:25: key \"delegations.keys\": expected a public key as 64 hex digits"),
      (#"[{"team": "p", "keys": ["# + "\"\(key)\"" + #"], "scope": {"paths": ["/opt/../etc"]}}]"#, "key \"scope.paths\": path \"/opt/../etc\" contains a '..' component"),
      (#"[{"team": "p", "keys": ["# + "\"\(key)\"" + #"], "scope": {"files": []}}]"#, "key \"scope\": unknown key \"files\""),
      (#"[{"team": "p", "keys": ["# + "\"\(key)\"" + #"], "scope": {}}, {"team": "p", "keys": ["# + "\"\(key)\"" + #"], "scope": {}}]"#, "team \"p\" is delegated twice"),
    ]
    for (text, expected) in cases {
      XCTAssertThrowsError(try decode(text), text) { e in
        XCTAssertTrue("\(e)".contains(expected), "\(e) should say \(expected)")
      }
    }
  }
}
