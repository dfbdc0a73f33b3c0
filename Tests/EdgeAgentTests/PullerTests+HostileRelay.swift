import EdgeAgent
import EdgeConverge
import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeStore
import Foundation
import XCTest

/// Issue 12 item 5: a relay that answers every poll "unchanged" under the long-poll header kept
/// agents on an old bundle forever and drew ~37 requests/s; an expired held bundle stayed in
/// force without a word. Waits are event-driven; the only time bounds are generous limits.
extension PullerTests {
  /// A hostile relay: every request gets `304` with `X-Edge-Long-Poll: 1` after `holdMs`.
  /// `asked` collects the loop time of each request.
  func unchangedRelay(holdMs: UInt64, asked: @escaping (UInt64) -> Void) throws -> TCPListener {
    let l = TCPListener(loop)
    try l.bind(ipv4: "127.0.0.1", port: 0)
    let loop = self.loop
    try l.listen { c in
      var buf: [UInt8] = []
      try? c.startReading({ data in
        buf += data
        guard String(decoding: buf, as: UTF8.self).contains("\r\n\r\n") else { return }
        buf = []
        asked(loop.now)
        let answer = Array("HTTP/1.1 304 Not Modified\r\nX-Edge-Long-Poll: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".utf8)
        if holdMs == 0 {
          c.write(answer) { _ in c.close() }
        } else {
          let t = Timer(loop)
          t.start(after: holdMs) { c.write(answer) { _ in c.close() }; t.close() }
        }
      }, end: { _ in c.close() })
    }
    return l
  }

  /// An origin that serves the files under `dir` (the query string ignored).
  func directoryServer(_ dir: String) throws -> TCPListener {
    try fakeServer { path in
      let file = String(path.split(separator: "?", maxSplits: 1)[0])
      return (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + file)))) ?? []
    }
  }

  func testARelayThatAnswersUnchangedAtOnceIsAFailureAndTheOriginIsAsked() throws {
    let f = try BundleFixture("pin-at-once")
    try f.publish(serial: 1)
    let env = try f.environment()
    _ = try f.accept(env)
    try f.publish(serial: 2, content: "port=2222\n")
    var asked: [UInt64] = []
    let relay = try unchangedRelay(holdMs: 0) { asked.append($0) }
    let origin = try directoryServer(f.out)
    let p = puller(f, env, origins: ["http://127.0.0.1:\(relay.port)", "http://127.0.0.1:\(origin.port)"], longPoll: 30)
    var accepted: [UInt64] = []
    p.onAccepted = { accepted.append($0.serial) }
    p.start()
    run(until: { !accepted.isEmpty }, timeoutMs: 20_000)
    XCTAssertEqual(accepted, [2], "the origin's newer serial wins over a relay that only says unchanged")
    XCTAssertEqual(p.stats.unheldLongPolls, 1)
    XCTAssertLessThanOrEqual(asked.count, 2, "one question to the relay, not a hot loop")
    p.stop()
    relay.close(); origin.close()
  }

  func testARelayAloneThatAnswersUnchangedAtOnceIsBackedOff() throws {
    let f = try BundleFixture("pin-backoff")
    try f.publish(serial: 1)
    let env = try f.environment()
    _ = try f.accept(env)
    var asked: [UInt64] = []
    let relay = try unchangedRelay(holdMs: 0) { asked.append($0) }
    let p = puller(f, env, origins: ["http://127.0.0.1:\(relay.port)"], longPoll: 30)
    p.start()
    run(until: { p.stats.failedRounds >= 3 }, timeoutMs: 30_000)
    XCTAssertGreaterThanOrEqual(p.stats.failedRounds, 3, "each immediate unchanged is a failed round")
    XCTAssertEqual(asked.count, p.stats.rounds, "one request per round")
    // Backoff is 1 s doubling with equal jitter: the third round comes at least 0.5 + 1 s after
    // the first (before: 37 rounds a second).
    XCTAssertGreaterThanOrEqual(asked[2] - asked[0], 1_500)
    p.stop()
    relay.close()
  }

  func testARelayThatHoldsThenSaysUnchangedCannotWinOverTheOriginForever() throws {
    let f = try BundleFixture("pin-held")
    try f.publish(serial: 1)
    let env = try f.environment()
    _ = try f.accept(env)
    try f.publish(serial: 2, content: "port=3333\n")
    var asked: [UInt64] = []
    // Holds the whole 1 s wait, like an honest relay with nothing new.
    let relay = try unchangedRelay(holdMs: 1_000) { asked.append($0) }
    let origin = try directoryServer(f.out)
    var c = PullerConfig(origins: [UpstreamURL("http://127.0.0.1:\(relay.port)")!, UpstreamURL("http://127.0.0.1:\(origin.port)")!],
                         trustedKeys: [f.publicKey], hostID: "h1")
    c.intervalMs = 60_000
    c.longPollSeconds = 1
    c.idleTimeoutMs = 5_000
    c.originCheckMs = 2_500
    let p = Puller(loop: loop, env: env, config: c)
    var accepted: [UInt64] = []
    p.onAccepted = { accepted.append($0.serial) }
    p.start()
    run(until: { !accepted.isEmpty }, timeoutMs: 30_000)
    XCTAssertEqual(accepted, [2], "\(p.stats) asked \(asked)")
    XCTAssertEqual(p.stats.originChecks, 1)
    XCTAssertGreaterThanOrEqual(asked.count, 2, "the relay was polled (and held) until the origin check")
    XCTAssertEqual(p.stats.unheldLongPolls, 0, "held polls are not failures")
    p.stop()
    relay.close(); origin.close()
  }

  func testAnExpiredHeldBundleIsReportedOnce() throws {
    let f = try BundleFixture("expired-held")
    let now = wallClockSeconds()
    try f.publish(serial: 1, now: now - 7_200, expiresIn: 3_600)
    let env = try f.environment()
    _ = try f.accept(env, now: now - 7_000)
    var logs: [String] = []
    let p = puller(f, env, origins: ["file://" + f.out],
                   log: { _, m, fields in logs.append(m + " " + fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ")) })
    p.start()
    run(until: { p.stats.heldExpired && p.stats.notModified >= 1 })
    XCTAssertTrue(p.stats.heldExpired)
    p.pullNow()
    run(until: { p.stats.notModified >= 2 })
    XCTAssertEqual(logs.filter { $0.contains("has expired") }.count, 1, "\(logs)")
    let events = try readEvents(stateDir: f.state, count: 10)
    XCTAssertEqual(events.filter { $0.status == .failed && containsText($0.reason, "expired") }.count, 1)
    let status = try readStatus(stateDir: f.state)
    XCTAssertTrue(containsText(status.text, "bundle EXPIRED at"), status.text)
    XCTAssertTrue(containsText(status.json, "\"expired\":true"), status.json)
    XCTAssertEqual(try loadAcceptedPolicy(env)?.1, 1, "still in force")
    p.stop()
  }

  /// Issue 12 item 7: the heap a large body left is given back once the round is over.
  func testALargeBodyIsGivenBackAfterTheRound() throws {
    let f = try BundleFixture("bigbody")
    try f.publish(serial: 1)
    let env = try f.environment()
    _ = try f.accept(env)
    let garbage = [UInt8](repeating: UInt8(ascii: " "), count: 4 << 20)
    let upstream = try fakeServer { path in path.hasSuffix(".sig") ? [UInt8](repeating: 0, count: 64) : garbage }
    let p = puller(f, env, origins: ["http://127.0.0.1:\(upstream.port)"])
    p.start()
    run(until: { p.stats.failedRounds >= 1 })
    XCTAssertEqual(p.stats.failedRounds, 1)
    run(until: { !TransientBuffers.pending })
    XCTAssertFalse(TransientBuffers.pending, "the heap was trimmed after the 4 MiB body")
    p.stop()
    upstream.close()
  }
}
