import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore

/// Serves what this agent verified, from LMDB, in the origin's layout (DESIGN.md §8):
/// `/bundle.json`, `/bundle.json.sig`, `/blobs/<sha256>`, plus `/metrics` (Prometheus text) and
/// `/healthz`. Children trust the signature, not the relay, so the relay serves bytes exactly
/// as accepted.
///
/// HTTP: GET and HEAD, one request per connection (`Connection: close`). ETags on everything
/// and 304 for a matching If-None-Match; bundle.json and its signature may be cached for a
/// second (`max-age=1`), blobs forever (`immutable`: a blob's name is its hash). Long-poll:
/// `/bundle.json?wait=SECONDS&have=SERIAL` is held until a bundle newer than SERIAL is accepted
/// (`notifyAccepted()`) or SECONDS (at most 60) pass; answers carry `X-Edge-Long-Poll: 1`.
///
/// Bounds: at most `maxConnections` at once; one peer address holds at most half of them in
/// long-polls (its polls past that are answered at once, without the long-poll header), and a
/// relay that is full makes room for a newcomer by closing the oldest held poll of the address
/// holding the most (with no held poll to close, the newcomer is closed on accept); 10 s to send the
/// request head (8 KiB, 32 fields); 120 s for the whole exchange; a body is copied from its LMDB
/// page once and shared by every connection sent the same answer meanwhile (`inFlight`), so a
/// burst of children costs one copy. A slow client only holds its own connection: the loop
/// never waits for it.
public final class Relay {
  let loop: Loop
  let env: Environment
  let listener: TCPListener
  public let maxConnections: Int
  /// Extra metrics text (the daemon's pulls, services, ...), appended to /metrics.
  public var extraMetrics: () -> String = { "" }
  public internal(set) var stats = RelayStats()
  var connections: [ObjectIdentifier: RelayConnection] = [:]
  var waiters: [ObjectIdentifier: RelayConnection] = [:]
  /// Held long-polls per peer address, for the per-address bound and eviction.
  var heldByPeer: [String: Int] = [:]
  /// Numbers held polls in order, so eviction picks the oldest.
  var holdCount: UInt64 = 0
  /// The last answer with an ETag, while some connection is still writing it: every request
  /// that gets the same head (so the same bytes) shares it instead of holding its own copy.
  /// When a publish answers 1,000 held long-polls with a 1 MiB bundle.json, or 1,000 children
  /// then fetch the same new blob, the relay holds one copy instead of 1,000 (it reached 1 GB).
  let inFlight = InFlightAnswer()

  /// Children one relay serves at once: a fleet's fan-out (DESIGN.md §8) with headroom for
  /// reconnects and bad clients. Each costs a descriptor, a timer and at most one response.
  public static let defaultMaxConnections = 4096
  /// Descriptors kept for the agent itself (LMDB, inotify, the loop, services' pipes and logs).
  public static let reservedFiles = 128

  /// Long-polls one peer address may hold at once.
  public let maxHeldPerPeer: Int

  public init(loop: Loop, env: Environment, maxConnections: Int = Relay.defaultMaxConnections) {
    self.loop = loop
    self.env = env
    self.maxConnections = maxConnections
    // Half: a fleet behind one NAT still gets most of a relay, and one client holding
    // `have=2^64-1` polls (renewed forever) can never take the other half.
    maxHeldPerPeer = max(1, maxConnections / 2)
    listener = TCPListener(loop)
  }

  /// Binds and listens. `address` is an IPv4 literal.
  public func start(address: String, port: UInt16) throws(LoopError) {
    try listener.bind(ipv4: address, port: port)
    try listener.listen(backlog: 511) { [unowned(unsafe) self] c in self.accepted(c) }
  }

  public var port: UInt16 { listener.port }

  public func stop() {
    listener.close()
    for (_, c) in connections { c.close() }
  }

  /// A bundle was accepted: answer every held long-poll.
  public func notifyAccepted() {
    let held = waiters
    waiters = [:]
    heldByPeer = [:]
    for (_, c) in held { c.answerHeld() }
  }

  func accepted(_ c: TCPConnection) {
    if connections.count >= maxConnections && !evictOneHeldPoll() {
      stats.refusedConnections += 1
      c.close()
      return
    }
    let rc = RelayConnection(self, c, peer: c.peerAddress ?? "")
    connections[ObjectIdentifier(rc)] = rc
    rc.begin()
  }

  func closed(_ rc: RelayConnection) {
    connections[ObjectIdentifier(rc)] = nil
    unhold(rc)
    // The last client gone: what the busy moment left free in the heap goes back to the system.
    if connections.isEmpty { releaseFreeHeap() }
  }

  /// Holds `rc`'s long-poll, unless its address already holds its share: false then.
  func hold(_ rc: RelayConnection) -> Bool {
    let n = heldByPeer[rc.peer, default: 0]
    if n >= maxHeldPerPeer {
      stats.pollsOverPeerLimit += 1
      return false
    }
    heldByPeer[rc.peer] = n + 1
    holdCount += 1
    rc.heldAt = holdCount
    waiters[ObjectIdentifier(rc)] = rc
    return true
  }

  /// Forgets `rc`'s held poll, if any.
  func unhold(_ rc: RelayConnection) {
    guard waiters.removeValue(forKey: ObjectIdentifier(rc)) != nil else { return }
    let n = heldByPeer[rc.peer, default: 1] - 1
    heldByPeer[rc.peer] = n > 0 ? n : nil
  }

  /// The relay is full: closes the oldest held poll of the address holding the most, so a
  /// newcomer gets a slot. The evicted child sees a closed connection and asks again (or
  /// another upstream). False when no poll is held (the slots are all mid-request).
  func evictOneHeldPoll() -> Bool {
    var biggest = ""
    var most = 0
    for (peer, n) in heldByPeer where n > most || (n == most && peer < biggest) { (biggest, most) = (peer, n) }
    guard most > 0 else { return false }
    var oldest: RelayConnection? = nil
    for (_, w) in waiters where w.peer == biggest && (oldest == nil || w.heldAt < oldest!.heldAt) { oldest = w }
    guard let oldest else { return false }
    stats.evictedPolls += 1
    oldest.close()
    return true
  }

  public var activeConnections: Int { connections.count }
  /// Long-polls being held until a new bundle or their timeout.
  public var heldLongPolls: Int { waiters.count }

  // MARK: responses

  /// The serial and digest of the bundle in force, or nil before the first acceptance. A store
  /// failure is an error, never "no bundle yet".
  func held() throws(StoreError) -> (serial: UInt64, digest: Digest)? {
    let txn = try env.read()
    let h = try txn.bundleIdentity()
    txn.abort()
    return h
  }

  /// Writes the response to `req` on `c`.
  func respond(_ req: HTTPRequest, on c: TCPConnection, longPoll: Bool) {
    stats.requests += 1
    let head = req.method == "HEAD"
    let inm = req.headers.value("if-none-match")
    func send(_ status: Int, _ headers: [(String, String)], _ body: UnsafeRawBufferPointer, shared: Bool = false) {
      var h = "HTTP/1.1 \(status) \(reasonPhrase(status))\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
      for (k, v) in headers { h += "\(k): \(v)\r\n" }
      h += "\r\n"
      if status == 304 { stats.notModified += 1 }
      if shared && !head {
        // The head names the bytes (ETag), so an equal head means an equal answer.
        if let sb = inFlight.bytes, inFlight.head == h, sb.pending > 0 {
          inFlight.write(sb, on: c)
          return
        }
        var bytes = Array(h.utf8)
        bytes.append(contentsOf: body)
        let sb = SharedBytes(bytes)
        inFlight.head = h
        inFlight.bytes = sb
        inFlight.write(sb, on: c)
        return
      }
      var bytes = Array(h.utf8)
      if !head && status != 304 { bytes.append(contentsOf: body) }
      c.write(bytes)
    }
    func text(_ status: Int, _ s: String, type: String = "text/plain; charset=utf-8") {
      let b = Array(s.utf8)
      b.withUnsafeBytes { send(status, [("Content-Type", type), ("Cache-Control", "no-store")], $0) }
    }
    let path = req.path
    if req.method != "GET" && req.method != "HEAD" { text(405, "method not allowed\n"); return }
    let held: (serial: UInt64, digest: Digest)?
    do { held = try self.held() } catch {
      text(500, "unable to read the state: \(error)\n")
      return
    }
    if path == "/healthz" {
      if let h = held { text(200, "ok serial \(h.serial)\n") } else { text(503, "no bundle accepted yet\n") }
      return
    }
    if path == "/metrics" {
      do { text(200, try metrics(), type: "text/plain; version=0.0.4") } catch {
        text(500, "unable to read the state: \(error)\n")
      }
      return
    }
    guard let h = held else { text(503, "no bundle accepted yet\n"); return }
    var key = MetaKey.bundleJSON
    var etag: String
    var cache = "public, max-age=1"
    var db = Database.meta
    var blobKey: Digest? = nil
    if path == "/bundle.json" {
      key = .bundleJSON
      etag = "\"\(h.digest.hex)\""
    } else if path == "/bundle.json.sig" {
      key = .bundleSignature
      etag = "\"sig-\(h.digest.hex)\""
    } else if path.hasPrefix("/blobs/"), let d = Digest(hex: String(decoding: Array(path.utf8)[7...], as: UTF8.self)) {
      db = .blobs
      blobKey = d
      etag = "\"\(d.hex)\""
      cache = "public, max-age=31536000, immutable"
    } else {
      text(404, "not found\n")
      return
    }
    var headers: [(String, String)] = [("ETag", etag), ("Cache-Control", cache), ("X-Edge-Serial", String(h.serial))]
    if longPoll { headers.append(("X-Edge-Long-Poll", "1")) }
    if inm == etag {
      send(304, headers, UnsafeRawBufferPointer(start: nil, count: 0))
      return
    }
    headers.append(("Content-Type", db == .blobs ? "application/octet-stream" : (key == .bundleJSON ? "application/json" : "application/octet-stream")))
    var found = false
    do throws(StoreError) {
      let txn = try env.read()
      // Served in place from the map, with no copy.
      if let blobKey {
        found = try blobKey.withBytes { (k) throws(StoreError) -> Bool in
          try txn.value(.blobs, k) { raw -> Bool in
            guard let raw else { return false }
            send(200, headers, raw, shared: true)
            return true
          }
        }
      } else {
        found = try txn.meta(key) { raw -> Bool in
          guard let raw else { return false }
          send(200, headers, raw, shared: true)
          return true
        }
      }
      txn.abort()
    } catch {
      text(500, "unable to read the state: \(error)\n")
      return
    }
    if !found { text(404, "not found\n") } else { stats.served += 1 }
  }

  func metrics() throws(StoreError) -> String {
    let h = try held()
    var m = ""
    func line(_ name: String, _ help: String, _ type: String, _ samples: [(String, String)]) {
      m += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
      for (labels, v) in samples { m += labels.isEmpty ? "\(name) \(v)\n" : "\(name){\(labels)} \(v)\n" }
    }
    line("edgeagent_bundle_serial", "Serial of the bundle in force (0: none).", "gauge", [("", String(h?.serial ?? 0))])
    do {
      let txn = try env.read()
      let accepted = try txn.bundleAcceptedAt() ?? 0
      let summary = try txn.runSummary()
      txn.abort()
      line("edgeagent_bundle_accepted_timestamp_seconds", "When the bundle in force was accepted.", "gauge", [("", String(accepted))])
      if let s = summary {
        line("edgeagent_promises", "Promises by outcome in the last run.", "gauge",
             [("status=\"kept\"", String(s.kept)), ("status=\"repaired\"", String(s.repaired)),
              ("status=\"failed\"", String(s.failed)), ("status=\"skipped\"", String(s.skipped))])
      }
    }
    line("edgeagent_relay_requests_total", "Requests answered by the relay.", "counter", [("", String(stats.requests))])
    line("edgeagent_relay_not_modified_total", "Relay answers that were 304 Not Modified.", "counter", [("", String(stats.notModified))])
    line("edgeagent_relay_connections", "Open relay connections.", "gauge", [("", String(connections.count))])
    line("edgeagent_relay_long_polls", "Long-poll requests being held.", "gauge", [("", String(waiters.count))])
    line("edgeagent_relay_refused_connections_total", "Connections closed at accept (over the limit).", "counter",
         [("", String(stats.refusedConnections))])
    line("edgeagent_relay_polls_over_peer_limit_total", "Long-polls answered at once: their address held its share.", "counter",
         [("", String(stats.pollsOverPeerLimit))])
    line("edgeagent_relay_evicted_polls_total", "Held long-polls closed to make room on a full relay.", "counter",
         [("", String(stats.evictedPolls))])
    line("edgeagent_relay_bad_requests_total", "Requests refused as malformed, too large or too slow.", "counter",
         [("", String(stats.badRequests))])
    return m + extraMetrics()
  }
}

/// The answer being shared (see `Relay.inFlight`); a box the write completions hold, so they
/// never reach back into a relay that may be gone.
final class InFlightAnswer {
  var head = ""
  var bytes: SharedBytes? = nil

  /// Writes `sb` on `c`; the last write of it to complete lets it go.
  func write(_ sb: SharedBytes, on c: TCPConnection) {
    c.write(sb) { [self] _ in
      if sb.pending == 0 && self.bytes === sb { self.bytes = nil }
    }
  }
}

public struct RelayStats {
  public var requests = 0
  public var served = 0
  public var notModified = 0
  public var refusedConnections = 0
  public var badRequests = 0
  /// Long-polls answered at once because their address held its share (`maxHeldPerPeer`).
  public var pollsOverPeerLimit = 0
  /// Held long-polls closed to make room for a newcomer on a full relay.
  public var evictedPolls = 0
}

/// One client of the relay: reads the request head (bounded, timed), answers, closes.
final class RelayConnection {
  unowned(unsafe) let relay: Relay
  let c: TCPConnection
  /// The client's address ("" when unknown: all such share one bound).
  let peer: String
  /// Order among held polls (see `Relay.evictOneHeldPoll`).
  var heldAt: UInt64 = 0
  let timer: Timer
  var parser = HTTPRequestParser()
  var request: HTTPRequest? = nil
  /// The head was malformed and answered with an error status.
  var refused = false
  var closed = false

  init(_ relay: Relay, _ c: TCPConnection, peer: String) {
    self.relay = relay
    self.c = c
    self.peer = peer
    timer = Timer(relay.loop)
  }

  func begin() {
    timer.start(after: 10_000) { [unowned(unsafe) self] in
      self.relay.stats.badRequests += 1
      self.close()
    }
    do throws(LoopError) {
      try c.startReading({ [unowned(unsafe) self] data in self.received(data) },
                         end: { [unowned(unsafe) self] _ in if self.request == nil || self.isHeld { self.close() } })
    } catch { close() }
  }

  var isHeld: Bool { relay.waiters[ObjectIdentifier(self)] != nil }

  func received(_ data: UnsafeRawBufferPointer) {
    guard request == nil, !refused, !closed else { return }
    do throws(HTTPParseError) {
      guard let r = try parser.feed(data) else { return }
      request = r
      c.stopReading()
      dispatch(r)
    } catch {
      // One answer, then nothing more is read: the rest of a 64 KiB header used to be parsed
      // again, read by read, each time writing another 431 with its own close.
      refused = true
      c.stopReading()
      relay.stats.badRequests += 1
      let status = error.kind == .headersTooLarge || error.kind == .tooManyHeaders ? 431 : (error.kind == .bodyTooLarge ? 413 : 400)
      // Write completions run even after close() (as ECANCELED), so they hold self strongly:
      // with `unowned(unsafe)` the second of those 431s closed a freed connection.
      c.write(Array("HTTP/1.1 \(status) \(reasonPhrase(status))\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".utf8)) { _ in self.close() }
    }
  }

  func dispatch(_ r: HTTPRequest) {
    // Long-poll: hold while the child already has what we have.
    let wait = r.parameter("wait").flatMap { Int($0) } ?? 0
    if r.path == "/bundle.json", wait > 0,
       let have = r.parameter("have").flatMap({ UInt64($0) }), let held = relayHeldSerial(), have >= held {
      guard relay.hold(self) else {
        // Its address holds its share: answered at once and without the long-poll header, so
        // the child waits its interval before asking again.
        answer(r, longPoll: false)
        return
      }
      // Reads resume so a client that gives up is noticed (end of stream closes us).
      try? c.startReading({ _ in }, end: { [unowned(unsafe) self] _ in self.close() })
      timer.start(after: UInt64(min(wait, 60)) * 1000) { [unowned(unsafe) self] in
        self.relay.unhold(self)
        self.answer(r, longPoll: true)
      }
      return
    }
    answer(r, longPoll: r.parameter("wait") != nil)
  }

  /// The relay's serial for a long-poll's comparison (0: none); nil when the state cannot be
  /// read, and the request is then answered at once, with that error.
  func relayHeldSerial() -> UInt64? {
    do { return try relay.held()?.serial ?? 0 } catch { return nil }
  }

  func answerHeld() {
    guard let r = request, !closed else { return }
    answer(r, longPoll: true)
  }

  func answer(_ r: HTTPRequest, longPoll: Bool) {
    guard !closed else { return }
    c.stopReading()
    // The whole answer must drain within 120 s, or the client is too slow to keep.
    timer.start(after: 120_000) { [unowned(unsafe) self] in
      self.relay.stats.badRequests += 1
      self.close()
    }
    relay.respond(r, on: c, longPoll: longPoll)
    // Close once everything queued is written: an empty write completes after the others.
    c.write([UInt8]()) { _ in self.close() }  // strong: see `received`
  }

  func close() {
    if closed { return }
    closed = true
    timer.stop()
    timer.close()
    c.close()
    relay.closed(self)
  }
}

func reasonPhrase(_ status: Int) -> String {
  switch status {
  case 200: return "OK"
  case 304: return "Not Modified"
  case 400: return "Bad Request"
  case 404: return "Not Found"
  case 405: return "Method Not Allowed"
  case 413: return "Content Too Large"
  case 431: return "Request Header Fields Too Large"
  case 500: return "Internal Server Error"
  case 503: return "Service Unavailable"
  default: return "Status"
  }
}
