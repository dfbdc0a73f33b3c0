import EdgeConverge
import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeStore
import Foundation
import XCTest

/// The puller on its own loop: nginx as the origin, hostile upstreams written with TCPListener,
/// an agent relay serving another agent. Everything on 127.0.0.1.
final class PullerTests: XCTestCase {
  let loop = Loop()

  /// Runs the loop until `done`; the limit is generous (a slow machine must not fail a correct
  /// puller): each test then asserts that what it waited for did happen.
  func run(until done: () -> Bool, timeoutMs: UInt64 = 30_000) { loop.run(until: done, timeoutMs: timeoutMs) }

  override func tearDown() { for _ in 0..<5 { loop.runOnce(wait: false) } }

  func puller(_ f: BundleFixture, _ env: Environment, origins: [String], longPoll: Int = 0, host: String = "h1",
              log: @escaping Puller.Log = { _, _, _ in }) -> Puller {
    var c = PullerConfig(origins: origins.map { UpstreamURL($0)! }, trustedKeys: [f.publicKey], hostID: host)
    c.intervalMs = 60_000
    c.longPollSeconds = longPoll
    c.idleTimeoutMs = 500
    return Puller(loop: loop, env: env, config: c, log: log)
  }

  func testPullsFromNginxThenGetsA304() throws {
    let f = try BundleFixture("nginx")
    try f.publish(serial: 1)
    let nginx = try NginxOrigin(root: f.out, dir: f.dir + "/nginx")
    defer { nginx.stop() }
    let env = try f.environment()
    let p = puller(f, env, origins: ["http://127.0.0.1:\(nginx.port)"])
    var accepted: [UInt64] = []
    p.onAccepted = { accepted.append($0.serial) }
    p.start()
    run(until: { accepted == [1] })
    XCTAssertEqual(accepted, [1])
    let txn = env.lastCommittedTransaction
    p.pullNow()
    run(until: { p.stats.notModified == 1 })
    XCTAssertEqual(p.stats.notModified, 1, "an unchanged bundle is one 304")
    XCTAssertEqual(env.lastCommittedTransaction, txn, "and no write")
    try f.publish(serial: 2, content: "port=9999\n")
    p.pullNow()
    run(until: { accepted == [1, 2] })
    XCTAssertEqual(accepted, [1, 2])
    p.stop()
    XCTAssertTrue(nginx.requests().contains { $0.contains("\"GET /bundle.json HTTP/1.1\" 304") })
  }

  func testHostileUpstreamsAreRejectedAndTheOriginUsed() throws {
    let f = try BundleFixture("hostile")
    try f.publish(serial: 1)
    let env = try f.environment()
    _ = try f.accept(env)
    try f.publish(serial: 2)
    let nginx = try NginxOrigin(root: f.out, dir: f.dir + "/nginx")
    defer { nginx.stop() }
    // A relay that serves a tampered bundle.json with the real signature.
    var tampered = try f.read("out/bundle.json")
    tampered[tampered.firstIndex(of: UInt8(ascii: "2"))!] = UInt8(ascii: "8")
    let sig = try f.read("out/bundle.json.sig")
    let evil = try fakeServer { path in path.hasSuffix(".sig") ? sig : tampered }
    // One that sends endless headers, one that stalls mid-body.
    let flood = try floodServer()
    let staller = try fakeServer(stall: true) { _ in [] }
    var logs: [String] = []
    let p = puller(f, env, origins: ["http://127.0.0.1:\(flood.port)", "http://127.0.0.1:\(staller.port)",
                                     "http://127.0.0.1:\(evil.port)", "http://127.0.0.1:\(nginx.port)"],
                   log: { _, m, fields in logs.append(m + " " + fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ")) })
    var accepted: [UInt64] = []
    p.onAccepted = { accepted.append($0.serial) }
    p.start()
    run(until: { accepted == [2] })
    XCTAssertEqual(accepted, [2])
    XCTAssertEqual(p.stats.rejected, 1)
    XCTAssertTrue(logs.contains { $0.contains("reason=bad_signature") }, "\(logs)")
    XCTAssertEqual(p.stats.failures, 3, p.stats.lastError)
    let events = try readEvents(stateDir: f.state, count: 10)
    XCTAssertTrue(events.contains { $0.status == .failed && containsText($0.reason, "signature") })
    p.stop()
    flood.close(); staller.close(); evil.close()
  }

  func testEveryUpstreamDownKeepsTheLastGoodBundleAndBacksOff() throws {
    let f = try BundleFixture("down")
    try f.publish(serial: 1)
    let env = try f.environment()
    _ = try f.accept(env)
    // An upstream that accepts and at once closes every connection: each round fails, and
    // each connection is one attempt, timed by the loop.
    var attempts: [UInt64] = []
    let l = TCPListener(loop)
    try l.bind(ipv4: "127.0.0.1", port: 0)
    try l.listen { c in self.loop.updateTime(); attempts.append(self.loop.now); c.close() }
    var retries: [UInt64] = []
    let p = puller(f, env, origins: ["http://127.0.0.1:\(l.port)"], log: { _, m, fields in
      if m == "unable to pull from any upstream", let r = fields.first(where: { $0.0 == "retry_ms" }).flatMap({ UInt64($0.1.description) }) {
        retries.append(r)
      }
    })
    p.start()
    run(until: { attempts.count >= 3 && retries.count >= 2 })
    XCTAssertGreaterThanOrEqual(attempts.count, 3)
    XCTAssertEqual(try loadAcceptedPolicy(env)?.1, 1, "the last good bundle stays in force")
    // Backoff: 1 s doubling with equal jitter, so the first wait is in [0.5, 1] s and the
    // second in [1, 2] s, and the puller waits it out (one attempt per round, no hammering).
    guard attempts.count >= 3, retries.count >= 2 else { return XCTFail("attempts \(attempts), retries \(retries)") }
    XCTAssertTrue((500...1_000).contains(retries[0]), "first retry_ms \(retries[0])")
    XCTAssertTrue((1_000...2_000).contains(retries[1]), "second retry_ms \(retries[1])")
    // The loop's clock has millisecond steps: allow one on each side.
    XCTAssertGreaterThanOrEqual(attempts[1] - attempts[0] + 2, retries[0], "attempts at \(attempts)")
    XCTAssertGreaterThanOrEqual(attempts[2] - attempts[1] + 2, retries[1], "attempts at \(attempts)")
    XCTAssertEqual(p.stats.failures, p.stats.failedRounds, "one attempt per round")
    XCTAssertGreaterThanOrEqual(p.stats.failedRounds, 2)
    p.stop()
    l.close()
  }

  func testFileUpstream() throws {
    let f = try BundleFixture("file")
    try f.publish(serial: 4)
    let env = try f.environment()
    let p = puller(f, env, origins: ["file://" + f.out])
    var accepted: [UInt64] = []
    p.onAccepted = { accepted.append($0.serial) }
    p.start()
    run(until: { !accepted.isEmpty })
    XCTAssertEqual(accepted, [4])
    p.stop()
  }

  func testRelayServesAnotherAgentWithLongPoll() throws {
    let f = try BundleFixture("relay")
    try f.publish(serial: 1)
    let nginx = try NginxOrigin(root: f.out, dir: f.dir + "/nginx")
    defer { nginx.stop() }
    // Agent A: pulls from nginx, relays.
    let envA = try f.environment(f.dir + "/stateA")
    let relay = Relay(loop: loop, env: envA)
    try relay.start(address: "127.0.0.1", port: 0)
    let a = puller(f, envA, origins: ["http://127.0.0.1:\(nginx.port)"], host: "a")
    var acceptedA: [UInt64] = []
    a.onAccepted = { acceptedA.append($0.serial); relay.notifyAccepted() }
    a.start()
    run(until: { acceptedA == [1] })
    // Agent B: pulls from A's relay only, long-polling.
    let envB = try f.environment(f.dir + "/stateB")
    let b = puller(f, envB, origins: ["http://127.0.0.1:\(relay.port)"], longPoll: 30, host: "b")
    var acceptedB: [(UInt64, UInt64)] = []
    b.onAccepted = { acceptedB.append(($0.serial, self.loop.now)) }
    b.start()
    run(until: { acceptedB.count == 1 })
    XCTAssertEqual(acceptedB.first?.0, 1)
    // B's next request is held by the relay; a new serial reaches B as soon as A accepts it.
    run(until: { relay.heldLongPolls == 1 })
    XCTAssertEqual(relay.heldLongPolls, 1, "the relay holds B's long-poll")
    let requestsBefore = relay.stats.requests
    try f.publish(serial: 2, content: "port=7777\n")
    a.pullNow()
    run(until: { acceptedA == [1, 2] })
    loop.updateTime()
    let aAt = loop.now
    run(until: { acceptedB.count == 2 })
    XCTAssertEqual(acceptedB.last?.0, 2)
    // Through the held long-poll, not a new round: B's next round is a minute away (the interval),
    // far beyond the wait; and the held request was the one answered.
    XCTAssertLessThan(acceptedB.last!.1, aAt + 30_000, "long-poll: B has serial 2 long before its next round")
    XCTAssertGreaterThan(relay.stats.requests, requestsBefore, "B fetched serial 2 from the relay")
    XCTAssertEqual(try loadAcceptedPolicy(envB)?.1, 2)
    // B never asked nginx.
    XCTAssertEqual(nginx.requests().filter { $0.contains("GET /bundle.json ") }.count, 2)
    // /metrics and /healthz.
    var metrics = ""
    HTTPExchange(loop, host: "127.0.0.1", port: relay.port, path: "/metrics", options: HTTPExchange.Options()) {
      if case .success(let r) = $0 { metrics = String(decoding: r.body, as: UTF8.self) }
    }
    run(until: { !metrics.isEmpty })
    XCTAssertTrue(metrics.contains("edgeagent_bundle_serial 2"), metrics)
    a.stop(); b.stop(); relay.stop()
  }

  func relayPuller(_ f: BundleFixture, _ env: Environment, origin: String, me: String, host: String) -> Puller {
    var c = PullerConfig(origins: [UpstreamURL(origin)!], trustedKeys: [f.publicKey], hostID: host)
    c.intervalMs = 60_000
    c.longPollSeconds = 30
    c.idleTimeoutMs = 500
    c.isRelay = true
    c.relayURL = UpstreamURL(me)
    return Puller(loop: loop, env: env, config: c)
  }

  func testARelayPullsFromItsAncestorsThenTheOriginsAndAnUnlistedOneFromTheOriginsOnly() throws {
    let f = try BundleFixture("tree-order")
    let relays = (0..<25).map { "http://10.0.0.\($0 + 1):7070" }
    try f.publish(serial: 1, relays: relays, relayFanout: 2)
    let env = try f.environment()
    _ = try f.accept(env)
    let origin = "http://192.0.2.1:8080"
    func order(_ me: String) -> [String] {
      relayPuller(f, env, origin: origin, me: me, host: "h").upstreams().map(\.description)
    }
    XCTAssertEqual(order(relays[0]), [origin])
    XCTAssertEqual(order(relays[1]), [origin])
    // Fan-out 2: relay 24's parent is 24/2 - 1 = 11, then 4, then 1 (first tier), then the origin.
    XCTAssertEqual(order(relays[24]), [relays[11], relays[4], relays[1], origin])
    XCTAssertEqual(order("http://10.0.0.99:7070"), [origin])
    // Not a relay: every relay, rendezvous-ranked, then the origin.
    let leaf = puller(f, env, origins: [origin], host: "leaf").upstreams().map(\.description)
    XCTAssertEqual(Set(leaf.prefix(25)), Set(relays))
    XCTAssertEqual(leaf.last, origin)
  }

  func testNewSerialCrossesARelayTreeWithOneOriginDownload() throws {
    let f = try BundleFixture("tree")
    // A chain (fan-out 1): relay 0 pulls from the origin, 1 from 0, 2 from 1, and a leaf from
    // whichever relay ranks first for it.
    var servers: [Relay] = []
    var envs: [Environment] = []
    for i in 0..<3 {
      let env = try f.environment(f.dir + "/state\(i)")
      let r = Relay(loop: loop, env: env)
      try r.start(address: "127.0.0.1", port: 0)
      servers.append(r)
      envs.append(env)
    }
    let urls = servers.map { "http://127.0.0.1:\($0.port)" }
    try f.publish(serial: 1, relays: urls, relayFanout: 1)
    let nginx = try NginxOrigin(root: f.out, dir: f.dir + "/nginx")
    defer { nginx.stop() }
    let origin = "http://127.0.0.1:\(nginx.port)"
    var pullers: [Puller] = []
    var held = [UInt64](repeating: 0, count: 4)
    for i in 0..<3 {
      let p = relayPuller(f, envs[i], origin: origin, me: urls[i], host: "r\(i)")
      let server = servers[i]
      p.onAccepted = { held[i] = $0.serial; server.notifyAccepted() }
      pullers.append(p)
    }
    let leafEnv = try f.environment(f.dir + "/leaf")
    let leaf = puller(f, leafEnv, origins: [origin], longPoll: 30, host: "leaf")
    leaf.onAccepted = { held[3] = $0.serial }
    pullers.append(leaf)
    for p in pullers { p.start() }
    run(until: { held == [1, 1, 1, 1] })
    XCTAssertEqual(held, [1, 1, 1, 1])
    XCTAssertEqual(pullers[2].upstreams().map(\.description), [urls[1], urls[0], origin])
    // Everyone is now held in a long-poll by its parent (relay 0 polls the origin).
    run(until: { servers[0].heldLongPolls + servers[1].heldLongPolls + servers[2].heldLongPolls == 3 })
    XCTAssertEqual(servers.map(\.heldLongPolls).reduce(0, +), 3, "relays 1 and 2 and the leaf are held: \(servers.map(\.heldLongPolls))")
    func originDownloads() -> Int {
      nginx.requests().filter { $0.contains("GET /bundle.json") && !$0.contains(".sig") && $0.contains(" 200 ") }.count
    }
    let before = originDownloads()

    try f.publish(serial: 2, content: "port=7777\n", relays: urls, relayFanout: 1)
    pullers[0].pullNow()
    run(until: { held == [2, 2, 2, 2] })
    XCTAssertEqual(held, [2, 2, 2, 2])
    XCTAssertEqual(originDownloads() - before, 1, "only the first tier downloads from the origin")
    XCTAssertEqual(try loadAcceptedPolicy(envs[2])?.1, 2)

    // Relay 1 goes away: relay 2 falls back to its grandparent, still not to the origin.
    pullers[1].stop()
    servers[1].stop()
    run(until: { servers[0].heldLongPolls >= 1 && pullers[2].stats.failures > 0 })
    XCTAssertGreaterThanOrEqual(servers[0].heldLongPolls, 1, "relay 2 is held by its grandparent")
    XCTAssertGreaterThan(pullers[2].stats.failures, 0)
    try f.publish(serial: 3, content: "port=7778\n", relays: urls, relayFanout: 1)
    pullers[0].pullNow()
    run(until: { held[0] == 3 && held[2] == 3 && held[3] == 3 })
    XCTAssertEqual([held[0], held[2], held[3]], [3, 3, 3])
    XCTAssertEqual(originDownloads() - before, 2)
    for (i, p) in pullers.enumerated() where i != 1 { p.stop() }
    servers[0].stop(); servers[2].stop()
    // Cancelled requests and closed connections call back on later turns: drain them while
    // the pullers and relays they call are still alive.
    for _ in 0..<20 { loop.runOnce(wait: false) }
    withExtendedLifetime((pullers, servers, envs)) {}
  }

  func testRelayAnswersETagsAndBoundsConnections() throws {
    let f = try BundleFixture("relay2")
    let r = try f.publish(serial: 1)
    let env = try f.environment()
    _ = try f.accept(env)
    let relay = Relay(loop: loop, env: env, maxConnections: 2)
    try relay.start(address: "127.0.0.1", port: 0)
    func get(_ path: String, _ headers: [HTTPHeader] = []) -> HTTPClientResponse? {
      var o = HTTPExchange.Options()
      o.headers = headers
      var out: Result<HTTPClientResponse, HTTPClientError>? = nil
      HTTPExchange(loop, host: "127.0.0.1", port: relay.port, path: path, options: o) { out = $0 }
      run(until: { out != nil })
      if case .success(let resp)? = out { return resp }
      return nil
    }
    let bundle = try XCTUnwrap(get("/bundle.json"))
    XCTAssertEqual(bundle.body, try f.read("out/bundle.json"))
    let etag = try XCTUnwrap(bundle.headers.value("etag"))
    XCTAssertEqual(get("/bundle.json", [HTTPHeader("If-None-Match", etag)])?.status, 304)
    let blob = try XCTUnwrap(get("/blobs/" + r.blobs[0].digest.hex))
    XCTAssertEqual(blob.body, Array("port=8080\n".utf8))
    XCTAssertTrue(blob.headers.value("cache-control")!.contains("immutable"))
    XCTAssertEqual(get("/nothing")?.status, 404)
    XCTAssertEqual(get("/healthz")?.status, 200)
    // Two idle clients hold both slots; a third is closed at accept; the idle ones time out
    // without stalling anything else.
    let idle1 = TCPConnection(loop), idle2 = TCPConnection(loop)
    try idle1.connect(ipv4: "127.0.0.1", port: relay.port) { _ in }
    try idle2.connect(ipv4: "127.0.0.1", port: relay.port) { _ in }
    run(until: { relay.activeConnections == 2 }, timeoutMs: 2000)
    XCTAssertNil(get("/bundle.json"))
    XCTAssertEqual(relay.stats.refusedConnections, 1)
    idle1.close(); idle2.close()
    run(until: { relay.activeConnections == 0 }, timeoutMs: 2000)
    XCTAssertEqual(get("/bundle.json")?.status, 200)
    relay.stop()
  }

  // MARK: hostile servers

  /// Answers every request with 200 and `body(path)`; with `stall`, promises 1000 bytes and
  /// sends 10.
  func fakeServer(stall: Bool = false, _ body: @escaping (String) -> [UInt8]) throws -> TCPListener {
    let l = TCPListener(loop)
    try l.bind(ipv4: "127.0.0.1", port: 0)
    try l.listen { c in
      var buf: [UInt8] = []
      try? c.startReading({ data in
        buf += data
        guard let end = String(decoding: buf, as: UTF8.self).range(of: "\r\n\r\n") else { return }
        _ = end
        let line = String(decoding: buf, as: UTF8.self).split(separator: " ")
        let path = line.count > 1 ? String(line[1]) : "/"
        if stall {
          c.write(Array("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789".utf8))
          return
        }
        let b = body(path)
        c.write(Array("HTTP/1.1 200 OK\r\nContent-Length: \(b.count)\r\n\r\n".utf8) + b) { _ in c.close() }
      }, end: { _ in c.close() })
    }
    return l
  }

  func floodServer() throws -> TCPListener {
    let l = TCPListener(loop)
    try l.bind(ipv4: "127.0.0.1", port: 0)
    var block = Array("HTTP/1.1 200 OK\r\n".utf8)
    while block.count < 64 << 10 { block += Array("X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".utf8) }
    try l.listen { c in
      var sent = 0
      func more() {
        guard sent < 100 << 20 else { c.close(); return }
        sent += block.count
        c.write(block) { err in if err == nil { more() } else { c.close() } }
      }
      try? c.startReading({ _ in }, end: { _ in c.close() })
      more()
    }
    return l
  }
}
