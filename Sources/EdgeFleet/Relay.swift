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
  /// Extra metrics text (the daemon's runs, pulls, services, ...), appended to /metrics.
  public var extraMetrics: () -> String = { "" }
  /// `/healthz`'s answer (the daemon's: converging or not); nil: 200 once a bundle is accepted,
  /// else 503.
  public var health: (() -> (ok: Bool, text: String))? = nil
  /// False for a `MetricsServer` and a collector: /metrics (`extraMetrics` and the reports'),
  /// /healthz, and what `reports` serves; no bundle is read.
  let servesBundles: Bool
  /// Set on a relay (its children's reports, forwarded) and a collector (the fleet's, with the
  /// fleet view): `POST /report` is taken (Relay+Reports.swift). Nil: it is a 405.
  public var reports: ReportSink? = nil
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

  public init(loop: Loop, env: Environment, maxConnections: Int = Relay.defaultMaxConnections, servesBundles: Bool = true) {
    self.loop = loop
    self.env = env
    self.maxConnections = maxConnections
    self.servesBundles = servesBundles
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
