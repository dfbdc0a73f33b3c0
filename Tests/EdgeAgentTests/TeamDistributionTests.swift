import EdgeConverge
import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeStore
import Foundation
import XCTest

/// Team bundles through the relay tree: nginx as the origin serving the baseline and
/// teams/NAME/, an agent relay pulling from it, a child pulling from the relay with one
/// long-poll that covers the baseline and every team.
final class TeamDistributionTests: XCTestCase {
  let loop = Loop()

  func run(until done: () -> Bool, timeoutMs: UInt64 = 30_000) { loop.run(until: done, timeoutMs: timeoutMs) }

  override func tearDown() { for _ in 0..<5 { loop.runOnce(wait: false) } }

  func testATeamRolloutCrossesARelayThroughTheHeldLongPollAlone() throws {
    let t = try TeamDelegationTests.Teams("distribution")
    try t.baseline(serial: 1, delegations: [t.delegation("payments", scope: TeamDelegationTests.paymentsScope),
                                            t.delegation("web", scope: TeamDelegationTests.webScope)])
    try t.team("payments", serial: 1, promises: [#"{"id": "a", "type": "file", "path": "/opt/payments/a", "content": "1\n"}"#])
    try t.team("web", serial: 1, promises: [#"{"id": "i", "type": "file", "path": "/srv/web/index.html", "content": "1\n"}"#])
    let nginx = try NginxOrigin(root: t.f.out, dir: t.f.dir + "/nginx")
    defer { nginx.stop() }
    func puller(_ env: Environment, _ origin: String, longPoll: Int, host: String) -> Puller {
      var c = PullerConfig(origins: [UpstreamURL(origin)!], trustedKeys: [t.f.publicKey], hostID: host)
      c.intervalMs = 60_000
      c.longPollSeconds = longPoll
      c.idleTimeoutMs = 500
      return Puller(loop: loop, env: env, config: c)
    }
    let envA = try Environment(path: t.f.dir + "/stateA", optional: [.teams])
    let relay = Relay(loop: loop, env: envA)
    try relay.start(address: "127.0.0.1", port: 0)
    let a = puller(envA, "http://127.0.0.1:\(nginx.port)", longPoll: 0, host: "a")
    a.onAccepted = { _ in relay.notifyAccepted() }
    a.onTeamAccepted = { _ in relay.notifyAccepted() }
    a.start()
    run(until: { a.stats.teamsAccepted == 2 })
    XCTAssertEqual(try loadPolicyInForce(envA)?.policy.promises.map(\.id), ["motd", "payments/a", "web/i"])

    let envB = try Environment(path: t.f.dir + "/stateB", optional: [.teams])
    let b = puller(envB, "http://127.0.0.1:\(relay.port)", longPoll: 30, host: "b")
    var inForceB: [[String]] = []
    b.onTeamAccepted = { f in inForceB.append(f.policy.promises.map(\.id)) }
    b.start()
    run(until: { b.stats.teamsAccepted == 2 })
    XCTAssertEqual(inForceB.last, ["motd", "payments/a", "web/i"])
    run(until: { relay.heldLongPolls == 1 })
    XCTAssertEqual(relay.heldLongPolls, 1, "the relay holds B's one long-poll")

    // Payments ships serial 2; the relay takes it, B gets it through the held poll, long
    // before its next round (a minute away), without the baseline or web's bundle again.
    let originBefore = nginx.requests()
    try t.team("payments", serial: 2, promises: [#"{"id": "a", "type": "file", "path": "/opt/payments/a", "content": "2\n"}"#])
    loop.updateTime()
    let publishedAt = loop.now
    a.pullNow()
    run(until: { b.stats.teamsAccepted == 3 })
    XCTAssertEqual(b.stats.teamsAccepted, 3)
    XCTAssertLessThan(loop.now - publishedAt, 30_000, "through the long-poll, not B's next round")
    XCTAssertEqual(b.stats.unheldLongPolls, 0, "a poll the relay ended for a newer team is not an unheld one")
    XCTAssertEqual(b.stats.failures, 0)
    XCTAssertEqual(b.stats.accepted, 1, "the baseline was not downloaded again")
    XCTAssertEqual(a.stats.accepted, 1)
    XCTAssertEqual(try heldTeam(envB, "payments")?.serial, 2)
    XCTAssertEqual(try heldTeam(envB, "web")?.serial, 1)
    let plan = try XCTUnwrap(loadPolicyInForce(envB)).policy
    XCTAssertEqual(plan.promises.first { $0.id == "payments/a" }?.content, Array("2\n".utf8))
    // At the origin, the rollout cost the relay's downloads only: payments' bundle and
    // signature once (200), the others answered 304 or not asked.
    let rollout = nginx.requests().dropFirst(originBefore.count)
    let ok = rollout.filter { $0.contains(" 200 ") }
    XCTAssertEqual(ok.filter { $0.contains("GET /teams/payments/bundle.json ") }.count, 1, "\(rollout)")
    XCTAssertEqual(ok.filter { $0.contains("GET /teams/web/") || $0.contains("GET /bundle.json ") }.count, 0, "\(rollout)")
    a.stop(); b.stop(); relay.stop()
  }

  /// A hostile relay advertises a team serial it never delivers (`X-Edge-Teams: payments:99`,
  /// every poll answered at once, the team's bundle 404): the agent looks once, then takes the
  /// early answers as unheld polls and backs off, instead of a request per round trip.
  func testARelayAdvertisingATeamItCannotServeDoesNotSpinTheAgent() throws {
    let t = try TeamDelegationTests.Teams("advertise")
    try t.baseline(serial: 1, delegations: [t.delegation("payments", scope: TeamDelegationTests.paymentsScope)])
    let env = try t.env()
    _ = try t.acceptBaseline(env)
    var asked: [String] = []
    let l = TCPListener(loop)
    try l.bind(ipv4: "127.0.0.1", port: 0)
    try l.listen { c in
      var buf: [UInt8] = []
      try? c.startReading({ data in
        buf += data
        let head = String(decoding: buf, as: UTF8.self)
        guard head.contains("\r\n\r\n") else { return }
        let path = head.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        asked.append(path)
        let answer = path.hasPrefix("/bundle.json")
          ? "HTTP/1.1 304 Not Modified\r\nX-Edge-Long-Poll: 1\r\nX-Edge-Teams: payments:99\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
          : "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        c.write(Array(answer.utf8)) { _ in c.close() }
      }, end: { _ in c.close() })
    }
    var c = PullerConfig(origins: [UpstreamURL("http://127.0.0.1:\(l.port)")!], trustedKeys: [t.f.publicKey], hostID: "h")
    c.intervalMs = 60_000
    c.longPollSeconds = 30
    c.idleTimeoutMs = 500
    let p = Puller(loop: loop, env: env, config: c)
    p.start()
    loop.updateTime()
    let t0 = loop.now
    run(until: { self.loop.now - t0 > 3_000 }, timeoutMs: 4_000)
    p.stop()
    l.close()
    let polls = asked.filter { $0.hasPrefix("/bundle.json") }
    XCTAssertEqual(asked.filter { $0 == "/teams/payments/bundle.json" }.count, 1, "the advertised team is looked for once: \(asked.prefix(6))")
    XCTAssertGreaterThanOrEqual(polls.count, 2)
    XCTAssertLessThanOrEqual(polls.count, 4, "backing off (1 s, 2 s, ...), not a poll per round trip: \(asked.count) requests")
    XCTAssertGreaterThanOrEqual(p.stats.unheldLongPolls, 1)
    XCTAssertNil(try heldTeam(env, "payments"))
  }
}
