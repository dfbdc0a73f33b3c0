import EdgeConverge
import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeStore
import Foundation
import XCTest

/// Issue 17: a baseline that delegates scopes to teams, each team's own signed bundle, and the
/// refusals an operator relies on (scope, conflicts, keys, serials, expiry, revocation).
final class TeamDelegationTests: XCTestCase {
  /// Keys for two teams, and a baseline that delegates to them.
  final class Teams {
    let f: BundleFixture
    var keys: [String: (pub: [UInt8], sec: [UInt8])] = [:]
    init(_ label: String) throws {
      f = try BundleFixture(label)
      for t in ["payments", "web"] {
        let k = Ed25519.keypair()
        keys[t] = (k.0, k.1)
        try Ed25519.writeKeyFile(f.dir + "/\(t).key", k.1, mode: 0o600)
      }
    }

    func delegation(_ team: String, key: [UInt8]? = nil, scope: String) -> String {
      "{\"team\": \"\(team)\", \"keys\": [\"\(Hex.encode(key ?? keys[team]!.pub))\"], \"scope\": \(scope)}"
    }

    /// The baseline: /etc/motd and the delegations given (JSON objects).
    @discardableResult
    func baseline(serial: UInt64, delegations: [String], extra: String = "") throws -> PublishReport {
      try f.write("src/base.json", """
        {"policy": "base", "promises": [
          {"id": "motd", "type": "file", "path": "/etc/motd", "content": "serial \(serial)\\n"}\(extra)
        ]}
        """)
      try f.write("src/delegations.json", "[" + delegations.joined(separator: ",") + "]")
      var o = PublishOptions(sourcePolicy: f.dir + "/src/base.json", outDir: f.out, secretKeyPath: f.keyPath)
      o.serial = serial
      o.delegationsFile = f.dir + "/src/delegations.json"
      return try publishBundle(o)
    }

    /// A team's bundle of `promises` (JSON objects), signed with `key` (default: the team's).
    @discardableResult
    func team(_ name: String, serial: UInt64, promises: [String], key: String? = nil, expiresIn: Int64 = 3600,
              now: Int64 = wallClockSeconds()) throws -> PublishReport {
      try f.write("src/\(name).json", "{\"policy\": \"\(name)\", \"promises\": [" + promises.joined(separator: ",") + "]}")
      var o = PublishOptions(sourcePolicy: f.dir + "/src/\(name).json", outDir: f.out, secretKeyPath: f.dir + "/\(key ?? name).key")
      o.serial = serial
      o.team = name
      o.expiresIn = expiresIn
      o.now = now
      return try publishBundle(o)
    }

    func env() throws -> Environment { try Environment(path: f.state, optional: [.teams]) }

    func acceptBaseline(_ env: Environment) throws(BundleError) -> AcceptedBundle { try f.accept(env) }

    /// Accepts OUT/teams/`dir`/ as team `name` (the place an upstream serves it at).
    func acceptTeam(_ env: Environment, _ name: String, from dir: String? = nil, now: Int64 = wallClockSeconds()) throws(BundleError) -> PolicyInForce {
      let d = BundleDirectory(f.out + "/teams/" + (dir ?? name))
      let blobs = BundleDirectory(f.out)
      let bytes: [UInt8], sig: [UInt8]
      do throws(HostError) { bytes = try d.readBundle(); sig = try d.readSignature() } catch { throw .host(error) }
      return try acceptTeamBundle(env, team: name, bytes: bytes, signature: sig, now: now) { (b) throws(BundleError) -> [UInt8] in
        try blobs.readBlob(b)
      }
    }
  }

  static let paymentsScope = #"{"paths": ["/opt/payments"], "services": ["api", "worker-*"], "sysctls": ["net.core.*"], "users": ["payments"]}"#
  static let webScope = #"{"paths": ["/srv/web"], "services": ["web"]}"#

  func ids(_ env: Environment) throws -> [String] { try loadPolicyInForce(env)?.policy.promises.map(\.id) ?? [] }

  func testTeamInScopeRunsInOnePlanWithQualifiedIds() throws {
    let t = try Teams("scope-ok")
    try t.baseline(serial: 1, delegations: [t.delegation("payments", scope: Self.paymentsScope)])
    try t.team("payments", serial: 7, promises: [
      #"{"id": "dir", "type": "directory", "path": "/opt/payments", "after": ["baseline/motd"]}"#,
      #"{"id": "conf", "type": "file", "path": "/opt/payments/app.conf", "content": "x\n", "notify": ["api"]}"#,
      #"{"id": "api", "type": "service", "exec": ["/bin/sleep", "100"]}"#,
      #"{"id": "backlog", "type": "sysctl", "key": "net.core.somaxconn", "value": "1024"}"#,
    ])
    let env = try t.env()
    _ = try t.acceptBaseline(env)
    let f = try t.acceptTeam(env, "payments")
    XCTAssertEqual(f.policy.promises.map(\.id), ["motd", "payments/dir", "payments/conf", "payments/api", "payments/backlog"])
    XCTAssertEqual(f.policy.promises[1].after, ["motd"], "baseline/motd is the baseline's motd in the plan")
    XCTAssertEqual(f.policy.promises[2].notify, ["payments/api"])
    XCTAssertEqual(f.teams.map(\.team), ["payments"])
    XCTAssertEqual(f.teams.first?.standing, .inForce)
    // What the daemon converges to after a restart is the same plan, from the state.
    XCTAssertEqual(try ids(env), f.policy.promises.map(\.id))
    XCTAssertEqual(try loadDesiredPolicy(env)?.promises.count, 5, "desired holds the composed plan")
    XCTAssertEqual(try heldTeam(env, "payments")?.serial, 7)
  }

  /// Each out-of-scope promise is refused naming the promise, the object and the scope; the
  /// team's held bundle stays in force.
  func testOutOfScopeObjectsAreRefused() throws {
    let t = try Teams("scope-bad")
    try t.baseline(serial: 1, delegations: [t.delegation("payments", scope: Self.paymentsScope)])
    let env = try t.env()
    _ = try t.acceptBaseline(env)
    try t.team("payments", serial: 1, promises: [#"{"id": "conf", "type": "file", "path": "/opt/payments/a", "content": "1\n"}"#])
    _ = try t.acceptTeam(env, "payments")
    let cases: [(String, String)] = [
      // A prefix that is not a whole component.
      (#"{"id": "x", "type": "file", "path": "/opt/payments-old/a", "content": "1\n"}"#, "path \"/opt/payments-old/a\" is outside the team's scope (paths: /opt/payments)"),
      (#"{"id": "x", "type": "file", "path": "/opt/pay", "content": "1\n"}"#, "path \"/opt/pay\" is outside"),
      (#"{"id": "x", "type": "line", "path": "/etc/passwd", "line": "evil::0:0::/:/bin/sh"}"#, "path \"/etc/passwd\" is outside"),
      (#"{"id": "db", "type": "service", "exec": ["/bin/true"]}"#, "service \"db\" is outside the team's scope (services: api, worker-*)"),
      (#"{"id": "x", "type": "sysctl", "key": "kernel.panic", "value": "1"}"#, "sysctl \"kernel.panic\" is outside"),
      (#"{"id": "x", "type": "user", "name": "root"}"#, "user \"root\" is outside"),
      (#"{"id": "x", "type": "command", "exec": ["/bin/true"]}"#, "does not allow commands"),
    ]
    for (i, (promise, expected)) in cases.enumerated() {
      try t.team("payments", serial: UInt64(2 + i), promises: [promise])
      do {
        _ = try t.acceptTeam(env, "payments")
        XCTFail("accepted: \(promise)")
      } catch {
        guard case .outOfScope(let team, let issues)? = rejection(error) else { XCTFail("\(error)"); continue }
        XCTAssertEqual(team, "payments")
        XCTAssertTrue(issues.first?.contains("promise \"payments/x\"") == true || issues.first?.contains("promise \"payments/db\"") == true, "\(issues)")
        XCTAssertTrue(issues.first?.contains(expected) == true, "\(issues) should say \(expected)")
      }
      XCTAssertEqual(try heldTeam(env, "payments")?.serial, 1, "the held bundle stays in force")
    }
    // `..` never gets as far as the scope: the policy does not decode.
    XCTAssertThrowsError(try t.team("payments", serial: 20, promises: [#"{"id": "x", "type": "file", "path": "/opt/payments/../../etc/shadow", "content": ""}"#]))
    XCTAssertEqual(try ids(env), ["motd", "payments/conf"])
  }

  func testOnlyTheBaselineDelegatesAndKeysAreTheirTeams() throws {
    let t = try Teams("keys")
    let shared = t.keys["web"]!.pub
    try t.baseline(serial: 1, delegations: [t.delegation("payments", scope: Self.paymentsScope),
                                            t.delegation("web", scope: Self.webScope),
                                            t.delegation("ops", key: shared, scope: Self.webScope)])
    let env = try t.env()
    _ = try t.acceptBaseline(env)
    // A team's bundle that tries to delegate: signed by the team, refused as a format error.
    let policy = try JSONReader.parse(Array(#"{"policy": "p", "promises": []}"#.utf8))
    let d = Delegation(team: "web", keys: [t.keys["payments"]!.pub], scope: TeamScope())
    let now = wallClockSeconds()
    let bytes = PolicyBundle.encode(serial: 5, issued: now, expires: now + 60, policy: policy, blobs: [], relays: [],
                                    delegations: [d], team: "payments")
    let sig = Ed25519.sign(bytes, secretKey: t.keys["payments"]!.sec)
    XCTAssertThrowsError(try checkTeamCandidate(env, team: "payments", bytes: bytes, signature: sig, now: now)) { e in
      guard case .format(let fe)? = rejection(e as! BundleError) else { return XCTFail("\(e)") }
      XCTAssertTrue(fe.message.contains("key \"delegations\": team \"payments\"'s bundle may not carry it"), fe.message)
    }
    // Publish refuses it before signing.
    XCTAssertThrowsError(try { () throws in
      var o = PublishOptions(sourcePolicy: t.f.dir + "/src/base.json", outDir: t.f.out, secretKeyPath: t.f.dir + "/web.key")
      o.team = "web"
      o.delegationsFile = t.f.dir + "/src/delegations.json"
      _ = try publishBundle(o)
    }())
    // Web's key signing a bundle for payments: not a key payments was delegated.
    try t.team("payments", serial: 1, promises: [], key: "web")
    XCTAssertEqual(rejection(try XCTUnwrap(acceptError { try t.acceptTeam(env, "payments") })), .badSignature)
    // Web's bundle (its own key) offered as ops', which shares web's key: the bundle names web.
    try t.team("web", serial: 1, promises: [])
    XCTAssertEqual(rejection(try XCTUnwrap(acceptError { try t.acceptTeam(env, "ops", from: "web") })), .wrongTeam(named: "web", offered: "ops"))
    // A team's bundle offered as the baseline.
    XCTAssertEqual(rejection(try XCTUnwrap(acceptError { _ = try t.f.accept(env, keys: [shared], from: t.f.out + "/teams/web") })),
                   .wrongTeam(named: "web", offered: "baseline"))
    // A team the baseline does not delegate to.
    XCTAssertEqual(rejection(try XCTUnwrap(acceptError { try t.acceptTeam(env, "billing", from: "web") })), .notDelegated(team: "billing"))
    XCTAssertNil(try heldTeam(env, "payments"))
    XCTAssertNil(try heldTeam(env, "ops"))
  }

  func testConflictsWithTheBaselineAndBetweenTeams() throws {
    let t = try Teams("conflict")
    let shared = #"{"paths": ["/etc", "/opt/shared"], "services": ["*"]}"#
    try t.baseline(serial: 1, delegations: [t.delegation("payments", scope: shared), t.delegation("web", scope: shared)])
    let env = try t.env()
    _ = try t.acceptBaseline(env)
    // The baseline's /etc/motd, promised by a team: refused naming both.
    try t.team("payments", serial: 1, promises: [#"{"id": "m", "type": "file", "path": "/etc/motd", "content": "mine\n"}"#])
    guard case .outOfScope(_, let issues)? = rejection(try XCTUnwrap(acceptError { try t.acceptTeam(env, "payments") })) else { return XCTFail() }
    XCTAssertTrue(issues.first?.hasPrefix("promise \"payments/m\" (") == true, "\(issues)")
    XCTAssertTrue(issues.first?.hasSuffix(": path \"/etc/motd\" is already promised by the baseline (\"motd\")") == true, "\(issues)")
    // Payments takes /opt/shared/a first; web's claim on it is refused; payments keeps it.
    try t.team("payments", serial: 2, promises: [#"{"id": "a", "type": "file", "path": "/opt/shared/a", "content": "p\n"}"#])
    _ = try t.acceptTeam(env, "payments")
    try t.team("web", serial: 1, promises: [#"{"id": "a2", "type": "line", "path": "/opt/shared/a", "line": "w"}"#,
                                           #"{"id": "b", "type": "file", "path": "/opt/shared/b", "content": "w\n"}"#])
    guard case .outOfScope(_, let issues2)? = rejection(try XCTUnwrap(acceptError { try t.acceptTeam(env, "web") })) else { return XCTFail() }
    XCTAssertTrue(issues2.first?.contains("promise \"web/a2\"") == true && issues2.first?.contains("path \"/opt/shared/a\" is already promised by team \"payments\" (\"payments/a\")") == true, "\(issues2)")
    XCTAssertEqual(try ids(env), ["motd", "payments/a"])
    // Without the conflicting promise web is accepted beside payments.
    try t.team("web", serial: 2, promises: [#"{"id": "b", "type": "file", "path": "/opt/shared/b", "content": "w\n"}"#])
    _ = try t.acceptTeam(env, "web")
    XCTAssertEqual(try ids(env), ["motd", "payments/a", "web/b"])
  }

  func testRollbackAndExpiryArePerTeam() throws {
    let t = try Teams("serials")
    try t.baseline(serial: 1, delegations: [t.delegation("payments", scope: Self.paymentsScope), t.delegation("web", scope: Self.webScope)])
    let env = try t.env()
    _ = try t.acceptBaseline(env)
    try t.team("payments", serial: 5, promises: [#"{"id": "a", "type": "file", "path": "/opt/payments/a", "content": "5\n"}"#])
    _ = try t.acceptTeam(env, "payments")
    try t.team("web", serial: 1, promises: [#"{"id": "i", "type": "file", "path": "/srv/web/index.html", "content": "1\n"}"#])
    _ = try t.acceptTeam(env, "web")
    // An older payments bundle (replay, rollback): refused; web untouched.
    try t.team("payments", serial: 4, promises: [#"{"id": "a", "type": "file", "path": "/opt/payments/a", "content": "4\n"}"#])
    XCTAssertEqual(rejection(try XCTUnwrap(acceptError { try t.acceptTeam(env, "payments") })), .notNewer(offered: 4, held: 5))
    // An expired one.
    let then = wallClockSeconds() - 7200
    try t.team("payments", serial: 6, promises: [], expiresIn: 60, now: then)
    guard case .expired? = rejection(try XCTUnwrap(acceptError { try t.acceptTeam(env, "payments") })) else { return XCTFail() }
    XCTAssertEqual(try heldTeam(env, "payments")?.serial, 5)
    XCTAssertEqual(try heldTeam(env, "web")?.serial, 1)
    // Web's new serial does not touch payments'.
    try t.team("web", serial: 2, promises: [#"{"id": "i", "type": "file", "path": "/srv/web/index.html", "content": "2\n"}"#])
    _ = try t.acceptTeam(env, "web")
    XCTAssertEqual(try heldTeam(env, "payments")?.serial, 5)
    let plan = try XCTUnwrap(loadPolicyInForce(env)).policy
    XCTAssertEqual(plan.promises.first { $0.id == "payments/a" }?.content, Array("5\n".utf8))
    XCTAssertEqual(plan.promises.first { $0.id == "web/i" }?.content, Array("2\n".utf8))
  }

  func testRevocationAndKeyRotation() throws {
    let t = try Teams("revoke")
    try t.baseline(serial: 1, delegations: [t.delegation("payments", scope: Self.paymentsScope), t.delegation("web", scope: Self.webScope)])
    let env = try t.env()
    _ = try t.acceptBaseline(env)
    try t.team("payments", serial: 1, promises: [#"{"id": "api", "type": "service", "exec": ["/bin/sleep", "100"]}"#])
    _ = try t.acceptTeam(env, "payments")
    try t.team("web", serial: 1, promises: [#"{"id": "i", "type": "file", "path": "/srv/web/index.html", "content": "1\n"}"#])
    _ = try t.acceptTeam(env, "web")
    XCTAssertEqual(try ids(env), ["motd", "payments/api", "web/i"])
    // Baseline 2 drops payments and rotates web's key.
    let newWeb = Ed25519.keypair()
    try Ed25519.writeKeyFile(t.f.dir + "/web2.key", newWeb.1, mode: 0o600)
    let accepted = try { () throws(BundleError) -> AcceptedBundle in
      do { try t.baseline(serial: 2, delegations: [t.delegation("web", key: newWeb.0, scope: Self.webScope)]) } catch { throw .input("\(error)") }
      return try t.acceptBaseline(env)
    }()
    let f = try XCTUnwrap(accepted.inForce)
    XCTAssertEqual(f.policy.promises.map(\.id), ["motd", "web/i"], "payments' service leaves the plan (the supervisor stops it); web's held bundle stays")
    XCTAssertEqual(f.teams.first { $0.team == "payments" }?.standing, .revoked)
    XCTAssertEqual(f.teams.first { $0.team == "web" }?.standing, .inForce)
    // The old key no longer signs for web; the new one does.
    try t.team("web", serial: 2, promises: [])
    XCTAssertEqual(rejection(try XCTUnwrap(acceptError { try t.acceptTeam(env, "web") })), .badSignature)
    try t.team("web", serial: 3, promises: [], key: "web2")
    XCTAssertEqual(try t.acceptTeam(env, "web").policy.promises.map(\.id), ["motd"])
    // Payments' bundle is still held (status says revoked), and cannot come back unless delegated.
    try t.team("payments", serial: 2, promises: [])
    XCTAssertEqual(rejection(try XCTUnwrap(acceptError { try t.acceptTeam(env, "payments") })), .notDelegated(team: "payments"))
  }

  /// A narrower scope in a new baseline suspends the held team bundle that no longer fits.
  func testNarrowedScopeSuspendsTheHeldBundle() throws {
    let t = try Teams("narrow")
    try t.baseline(serial: 1, delegations: [t.delegation("payments", scope: Self.paymentsScope)])
    let env = try t.env()
    _ = try t.acceptBaseline(env)
    try t.team("payments", serial: 1, promises: [#"{"id": "k", "type": "sysctl", "key": "net.core.somaxconn", "value": "512"}"#])
    _ = try t.acceptTeam(env, "payments")
    try t.baseline(serial: 2, delegations: [t.delegation("payments", scope: #"{"paths": ["/opt/payments"]}"#)])
    let f = try XCTUnwrap(try t.acceptBaseline(env).inForce)
    XCTAssertEqual(f.policy.promises.map(\.id), ["motd"])
    guard case .suspended(let why)? = f.teams.first?.standing else { return XCTFail("\(f.teams)") }
    XCTAssertEqual(why.count, 1)
    XCTAssertTrue(why.first?.contains("sysctl \"net.core.somaxconn\" is outside the team's scope (sysctls: none)") == true, "\(why)")
  }

  /// A path in scope that a symlink carries out of it: one the plan makes (the team's own link,
  /// or the baseline's), and one already on the host (under the managed root).
  func testSymlinkedParentsAreRefused() throws {
    let t = try Teams("symlink")
    try t.baseline(serial: 1, delegations: [t.delegation("payments", scope: Self.paymentsScope)],
                   extra: #", {"id": "cache", "type": "link", "path": "/opt/payments/cache", "target": "/var/cache"}"#)
    let env = try t.env()
    _ = try t.acceptBaseline(env)
    try t.team("payments", serial: 1, promises: [
      #"{"id": "d", "type": "link", "path": "/opt/payments/d", "target": "/etc"}"#,
      #"{"id": "pw", "type": "file", "path": "/opt/payments/d/passwd", "content": "x\n"}"#,
      #"{"id": "c", "type": "file", "path": "/opt/payments/cache/x", "content": "x\n"}"#,
    ])
    guard case .outOfScope(_, let issues)? = rejection(try XCTUnwrap(acceptError { try t.acceptTeam(env, "payments") })) else { return XCTFail() }
    XCTAssertEqual(issues.count, 2, "\(issues)")
    XCTAssertTrue(issues[0].contains("promise \"payments/pw\"") && issues[0].contains("passes through the link \"/opt/payments/d\" (team \"payments\" (\"payments/d\"))"), issues[0])
    XCTAssertTrue(issues[1].contains("passes through the link \"/opt/payments/cache\" (the baseline (\"cache\"))"), issues[1])
    // On the host: ROOT/opt/payments/srv -> ROOT/etc, made by hand.
    let root = t.f.dir + "/root"
    try FileManager.default.createDirectory(atPath: root + "/opt/payments", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: root + "/opt/payments/srv", withDestinationPath: "/etc")
    try t.team("payments", serial: 2, promises: [#"{"id": "s", "type": "file", "path": "/opt/payments/srv/shadow", "content": "x\n"}"#])
    let d = BundleDirectory(t.f.out + "/teams/payments")
    let e = acceptError { _ = try acceptTeamBundle(env, team: "payments", bytes: try d.readBundle(), signature: try d.readSignature(),
                                                     now: wallClockSeconds(), root: root) { (b) throws(BundleError) -> [UInt8] in
      try BundleDirectory(t.f.out).readBlob(b) } }
    guard case .outOfScope(_, let hostIssues)? = rejection(try XCTUnwrap(e)) else { return XCTFail() }
    XCTAssertEqual(hostIssues, ["promise \"payments/s\": path \"/opt/payments/srv/shadow\" passes through \"/opt/payments/srv\", a symlink on this host: a team's path is reached through no symlink"])
    XCTAssertNil(try heldTeam(env, "payments"))
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root + "/etc"), [], "nothing written through the link")
    // A symlink above the scope is the host's layout (ROOT/srv -> ROOT/data/srv): web's scope
    // /srv/web is reached through it, and its bundle is accepted.
    try FileManager.default.createDirectory(atPath: root + "/data/srv/web", withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: root + "/srv", withDestinationPath: "data/srv")
    try t.baseline(serial: 2, delegations: [t.delegation("web", scope: Self.webScope)])
    _ = try t.acceptBaseline(env)
    try t.team("web", serial: 1, promises: [#"{"id": "i", "type": "file", "path": "/srv/web/index.html", "content": "1\n"}"#])
    let w = BundleDirectory(t.f.out + "/teams/web")
    _ = try acceptTeamBundle(env, team: "web", bytes: try w.readBundle(), signature: try w.readSignature(), now: wallClockSeconds(),
                             root: root) { (b) throws(BundleError) -> [UInt8] in try BundleDirectory(t.f.out).readBlob(b) }
    XCTAssertEqual(try heldTeam(env, "web")?.serial, 1)
  }

  func acceptError(_ body: () throws -> Void) -> BundleError? {
    do { try body() } catch let e as BundleError { return e } catch { XCTFail("\(error)") }
    return nil
  }
}
