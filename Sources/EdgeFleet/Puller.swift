import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore

/// What the puller is told at start.
public struct PullerConfig {
  /// The configured origins (http:// or file://), tried after the bundle's relays.
  public var origins: [UpstreamURL]
  /// 32-byte Ed25519 public keys.
  public var trustedKeys: [[UInt8]]
  public var hostID: String
  public var intervalMs: UInt64 = 60_000
  /// Seconds a relay may hold a request open (`?wait=`); 0 disables long-polling.
  public var longPollSeconds: Int = 30
  /// Whether this agent is a relay. A relay pulls from its ancestors in the bundle's relay
  /// tree (`RelayTree`: parent, grandparent, ...), then the origins, so relays never pull from
  /// each other in a loop and the origin feeds only the first tier.
  public var isRelay = false
  /// The URL under which bundles list this relay (`relay_url`, or its `relay` address). A
  /// relay the held bundle does not list pulls from the origins only: ranked like other agents
  /// it could pick its own descendant.
  public var relayURL: UpstreamURL? = nil
  /// Per request: no byte for this long means the upstream stalled.
  public var idleTimeoutMs: UInt64 = 10_000
  /// Where upstream host names are looked up.
  public var resolver = ResolverSettings()
  /// At most this long between rounds that ask the origins first, whatever the relays say; 0:
  /// ten pull intervals. A relay that answers only "unchanged" while the origin has a newer
  /// serial then holds this agent back for one such period, not forever.
  public var originCheckMs: UInt64 = 0

  public init(origins: [UpstreamURL], trustedKeys: [[UInt8]], hostID: String) {
    self.origins = origins
    self.trustedKeys = trustedKeys
    self.hostID = hostID
  }
}

/// Counters for /metrics and tests.
public struct PullStats {
  public var rounds = 0
  public var notModified = 0
  public var accepted = 0
  public var rejected = 0
  /// Requests that got no usable answer (connect, timeout, HTTP error, truncated).
  public var failures = 0
  /// Unix seconds of the last answer from any upstream; 0 for never.
  public var lastContact: Int64 = 0
  public var lastError = ""
  /// Consecutive failed rounds (drives the backoff).
  public var failedRounds = 0
  /// "Unchanged" answers with the long-poll header that came back before half the asked wait:
  /// a relay that does not hold polls (or pins agents); counted as failures too.
  public var unheldLongPolls = 0
  /// Rounds that asked the origins first (`originCheckMs`).
  public var originChecks = 0
  /// The bundle in force is past its `expires` (kept in force: nothing newer was accepted).
  public var heldExpired = false
}

/// Pulls signed bundles on the loop (DESIGN.md §8). A round tries the upstreams in order —
/// the held bundle's relays ranked by rendezvous hashing of the host id (for a relay: its
/// ancestors in the bundle's relay tree), then the configured origins — and stops at the first
/// that answers: 304 (unchanged), a bundle no newer than the held one, or a new bundle, which is
/// verified, its missing blobs fetched and checked, and accepted in one transaction; then `onAccepted` runs. A refused bundle is logged and
/// recorded, and the round moves to the next upstream; the held bundle stays in force.
///
/// Timing: the first round at a per-host splay within a second of `start()` (at once when no
/// bundle is held yet); then every
/// interval ±10%; at once again after a long-poll answer from a relay; after a round in which
/// every upstream failed, exponential backoff with jitter (1 s doubling to 5 min). An
/// "unchanged" under the long-poll header that was not held (back before half the wait) is a
/// failure, not a long-poll; and every `originCheckMs` a round asks the origins first, so a
/// relay that only ever says "unchanged" cannot keep this agent on an old bundle.
public final class Puller {
  public typealias Log = (_ level: String, _ message: String, _ fields: [(String, String)]) -> Void

  let loop: Loop
  let env: Environment
  public let config: PullerConfig
  let log: Log
  public var onAccepted: (AcceptedBundle) -> Void = { _ in }
  public private(set) var stats = PullStats()

  let timer: Timer
  /// Gives back what a large body (a bundle, a blob, a hostile 16 MiB answer) left in the heap.
  let heapTrim: HeapTrim
  var current: HTTPGet? = nil
  var running = false
  var inRound = false
  /// ETag of bundle.json per upstream, for If-None-Match.
  var etags: [String: String] = [:]
  /// The relays of the held bundle, and its relay tree's fan-out.
  var relays: [UpstreamURL] = []
  var relayFanout = RelayTree.defaultFanout
  package var heldSerial: UInt64 = 0
  var heldDigest: Digest = .zero
  /// Unix seconds after which the held bundle is expired (0: none held).
  var heldExpires: Int64 = 0
  /// Loop time an origin was last asked (see `originCheckMs`): asked, not answered, so an
  /// origin that is down costs one try per period, not one per round.
  var lastOriginAsk: UInt64 = 0
  /// The upstream whose answer ended the last round.
  var lastAnswered: UpstreamURL? = nil
  /// The last refusal per upstream ("url serial"), so a lagging or hostile upstream is recorded
  /// once, not every round.
  var lastRefusal: [String: String] = [:]
  /// Whether the upstream that answered last holds long-polls (so the next round starts at once).
  var upstreamLongPolls = false

  public init(loop: Loop, env: Environment, config: PullerConfig, log: @escaping Log = { _, _, _ in }) {
    self.loop = loop
    self.env = env
    self.config = config
    self.log = log
    timer = Timer(loop)
    heapTrim = HeapTrim(loop)
    // An unreadable bundle in force is said, and the puller starts as on a first boot: the
    // next accepted bundle replaces it.
    do throws(StoreError) {
      if let b = try loadAcceptedBundle(env) {
        relays = b.relays
        relayFanout = b.relayFanout
        heldSerial = b.serial
        heldDigest = b.digest
        heldExpires = b.expires
      }
    } catch {
      log("error", "unable to read the bundle in force", [("err", error.description)])
    }
  }

  var originCheckMs: UInt64 { config.originCheckMs > 0 ? config.originCheckMs : config.intervalMs * 10 }

  public func start() {
    running = true
    // The origin check counts from start: a fleet that restarts together still pulls from its relays.
    lastOriginAsk = loop.now
    notePlace()
    // A box that holds no bundle yet (first boot) has nothing to converge until it has one:
    // no splay then, it is boot time.
    schedule(heldSerial == 0 ? 0 : PullSchedule.splay(hostID: config.hostID, intervalMs: min(config.intervalMs, 1000)))
  }

  public func stop() {
    running = false
    timer.stop()
    timer.close()
    current?.cancel()
    heapTrim.close()
  }

  /// Starts a round now (SIGHUP, tests), unless one is under way.
  public func pullNow() {
    guard running, !inRound else { return }
    timer.stop()
    round()
  }

  /// Every round ends here: the next one is scheduled, and the heap trimmed if it held a large buffer.
  func schedule(_ ms: UInt64) {
    guard running else { return }
    heapTrim.soon()
    timer.start(after: ms) { [unowned(unsafe) self] in self.round() }
  }

  /// The upstreams of a round, in order. Once `originCheckMs` has passed since an origin was
  /// last asked, the configured origins come first, except the one that answered last: it may
  /// be the relay saying "unchanged" (a relay can be configured as an upstream too).
  func roundUpstreams() -> [UpstreamURL] {
    let list = upstreams()
    guard loop.now >= lastOriginAsk + originCheckMs else { return list }
    var out: [UpstreamURL] = []
    for o in config.origins where list.contains(o) && o != lastAnswered { out.append(o) }
    if out.isEmpty || out == Array(list.prefix(out.count)) { return list }
    stats.originChecks += 1
    for u in list where !out.contains(u) { out.append(u) }
    return out
  }

  /// The upstreams of a round, in order.
  public func upstreams() -> [UpstreamURL] {
    var out: [UpstreamURL] = []
    if config.isRelay {
      if let me = config.relayURL, let i = relays.firstIndex(of: me) {
        for a in RelayTree.ancestors(of: i, fanout: relayFanout) { out.append(relays[a]) }
      }
    } else if !relays.isEmpty {
      var names: [String] = []
      for r in relays { names.append(r.description) }
      for i in PullSchedule.rank(names, hostID: config.hostID) where !out.contains(relays[i]) { out.append(relays[i]) }
    }
    for o in config.origins where !out.contains(o) { out.append(o) }
    return out
  }

  // MARK: a round

  enum Answer {
    case unchanged(longPoll: Bool)
    case accepted(AcceptedBundle)
    /// The upstream answered with something unusable: try the next one.
    case failed(String)
  }

  func round() {
    guard running, !inRound else { return }
    inRound = true
    stats.rounds += 1
    checkExpiry()
    let list = roundUpstreams()
    if list.isEmpty {
      inRound = false
      stats.lastError = "no upstreams configured"
      schedule(config.intervalMs)
      return
    }
    tryUpstream(list, 0)
  }

  func tryUpstream(_ list: [UpstreamURL], _ i: Int) {
    guard running else { inRound = false; return }
    if i == list.count {
      inRound = false
      stats.failedRounds += 1
      noteReachable(false)
      let delay = PullSchedule.backoffMs(failures: stats.failedRounds, random: randomBelow(UInt32.max))
      log("warn", "unable to pull from any upstream", [("upstreams", String(list.count)), ("err", stats.lastError),
                                                       ("retry_ms", String(delay))])
      schedule(delay)
      return
    }
    let u = list[i]
    // An origin other than the one that answered last: that is the check `originCheckMs` asks for.
    if config.origins.contains(u) && u != lastAnswered { lastOriginAsk = loop.now }
    pull(from: u) { [unowned(unsafe) self] answer in
      switch answer {
      case .failed(let why):
        self.stats.failures += 1
        self.stats.lastError = "\(u): \(why)"
        self.tryUpstream(list, i + 1)
      case .unchanged(let longPoll):
        self.lastAnswered = u
        self.stats.notModified += 1
        self.roundDone(longPoll: longPoll)
      case .accepted(let b):
        self.lastAnswered = u
        self.stats.accepted += 1
        self.relays = b.relays
        self.relayFanout = b.relayFanout
        self.heldSerial = b.serial
        self.heldDigest = b.digest
        self.heldExpires = b.expires
        self.stats.heldExpired = false
        self.notePlace()
        self.log("info", "bundle accepted", [("serial", String(b.serial)), ("policy", b.policy.name),
                                             ("promises", String(b.policy.promises.count)), ("from", u.description)])
        self.onAccepted(b)
        // Long-polling upstream, or the bundle named relays ranked before the one that
        // answered (typically: the first pull came from the origin): next round at once.
        self.roundDone(longPoll: self.upstreamLongPolls || self.upstreams().first != u)
      }
    }
  }

  func roundDone(longPoll: Bool) {
    inRound = false
    stats.failedRounds = 0
    stats.lastContact = wallClockSeconds()
    noteReachable(true)
    if longPoll && config.longPollSeconds > 0 {
      // The relay held the request until a change or its timeout: ask again at once (a little
      // jitter so children of one relay do not reconnect in lockstep).
      schedule(UInt64(randomBelow(50)))
    } else {
      schedule(PullSchedule.jittered(config.intervalMs, random: randomBelow(UInt32.max)))
    }
  }

  // MARK: one upstream

  func pull(from u: UpstreamURL, _ done: @escaping (Answer) -> Void) {
    if u.scheme == .file { done(pullFile(u)); return }
    var o = HTTPGet.Options()
    o.idleMs = config.idleTimeoutMs
    o.limits.maxBodyBytes = PolicyBundle.maxBytes
    var path = u.path(of: "bundle.json")
    if config.longPollSeconds > 0 {
      path += "?wait=\(config.longPollSeconds)&have=\(heldSerial)"
      o.deadlineMs = UInt64(config.longPollSeconds) * 1000 + 15_000
      o.idleMs = max(o.idleMs, UInt64(config.longPollSeconds) * 1000 + 5_000)
    }
    let key = u.description
    if let tag = etags[key] { o.headers.append(HTTPHeader("If-None-Match", tag)) }
    loop.updateTime()
    let askedAt = loop.now
    get(u, path, o) { [unowned(unsafe) self] r in
      switch r {
      case .failure(let e): done(.failed(e.description))
      case .success(let resp):
        let longPoll = resp.headers.value("x-edge-long-poll") != nil
        self.upstreamLongPolls = longPoll
        // "Unchanged" under the long-poll header before half the wait: the relay did not hold
        // the poll. Taken as said, the next round starts at once (37 requests/s against a
        // hostile relay, pinned on the old bundle); as a failure, the round moves on to the
        // next upstream (the origin last) and a round that gets nothing better backs off.
        func unchanged() {
          self.loop.updateTime()
          if longPoll && self.config.longPollSeconds > 0
            && self.loop.now - askedAt < UInt64(self.config.longPollSeconds) * 500 {
            self.upstreamLongPolls = false
            self.stats.unheldLongPolls += 1
            done(.failed("unchanged at once under a long-poll (held \(self.loop.now - askedAt) ms of \(self.config.longPollSeconds) s)"))
          } else {
            done(.unchanged(longPoll: longPoll))
          }
        }
        if resp.status == 304 { unchanged(); return }
        guard resp.status == 200 else { done(.failed("HTTP \(resp.status) for bundle.json")); return }
        if SHA256.hash(resp.body) == self.heldDigest {
          if let tag = resp.headers.value("etag") { self.etags[key] = tag }
          unchanged()
          return
        }
        self.fetchSignature(u, resp.body, etag: resp.headers.value("etag"), done)
      }
    }
  }

  func get(_ u: UpstreamURL, _ path: String, _ options: HTTPGet.Options, _ done: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) {
    var o = options
    o.resolver = config.resolver
    current = HTTPGet(loop, host: u.host, port: u.port, path: path, options: o) { [unowned(unsafe) self] r in
      self.current = nil
      done(r)
    }
  }

  func fetchSignature(_ u: UpstreamURL, _ bytes: [UInt8], etag: String?, _ done: @escaping (Answer) -> Void) {
    var o = HTTPGet.Options()
    o.idleMs = config.idleTimeoutMs
    o.limits.maxBodyBytes = 1024
    get(u, u.path(of: "bundle.json.sig"), o) { [unowned(unsafe) self] r in
      switch r {
      case .failure(let e): done(.failed("bundle.json.sig: \(e)"))
      case .success(let resp):
        guard resp.status == 200 else { done(.failed("HTTP \(resp.status) for bundle.json.sig")); return }
        let c: BundleCandidate
        do throws(BundleError) {
          c = try checkCandidate(self.env, bytes: bytes, signature: resp.body, trustedKeys: self.config.trustedKeys,
                                 now: wallClockSeconds())
        } catch {
          done(self.refused(u, error, etag: etag))
          return
        }
        self.fetchBlobs(u, c, c.missing, [], etag: etag, done)
      }
    }
  }

  func fetchBlobs(_ u: UpstreamURL, _ c: BundleCandidate, _ rest: [BundleBlob], _ got: [(BundleBlob, [UInt8])],
                  etag: String?, _ done: @escaping (Answer) -> Void) {
    guard let b = rest.first else {
      do throws(BundleError) {
        let accepted = try commitCandidate(env, c, fetched: got, now: wallClockSeconds())
        if let etag { etags[u.description] = etag }
        done(.accepted(accepted))
      } catch {
        done(refused(u, error, etag: etag))
      }
      return
    }
    var o = HTTPGet.Options()
    o.idleMs = config.idleTimeoutMs
    o.limits.maxBodyBytes = Int(b.size)
    get(u, u.path(of: "blobs/" + b.digest.hex), o) { [unowned(unsafe) self] r in
      switch r {
      case .failure(let e):
        if case .parse(let pe) = e, pe.kind == .bodyTooLarge {
          done(self.refused(u, .rejected(.blobMismatch(b.digest, "larger than its listed \(b.size) bytes")), etag: etag))
        } else {
          done(.failed("blob \(b.digest.hex): \(e)"))
        }
      case .success(let resp):
        guard resp.status == 200 else { done(.failed("HTTP \(resp.status) for blob \(b.digest.hex)")); return }
        do throws(BundleRejection) { try checkBlob(b, resp.body) } catch {
          done(self.refused(u, .rejected(error), etag: etag))
          return
        }
        self.fetchBlobs(u, c, Array(rest.dropFirst()), got + [(b, resp.body)], etag: etag, done)
      }
    }
  }

  /// A refusal: logged and recorded (once per upstream and reason), the round moves on. A
  /// bundle equal to the held serial is just "unchanged" (an upstream serving the same bundle).
  func refused(_ u: UpstreamURL, _ e: BundleError, etag: String?) -> Answer {
    guard case .rejected(let r) = e else {
      log("error", "unable to accept a bundle", [("from", u.description), ("err", e.description)])
      return .failed(e.description)
    }
    if case .notNewer(let offered, let held) = r, offered == held {
      if let etag { etags[u.description] = etag }
      return .unchanged(longPoll: false)
    }
    stats.rejected += 1
    let key = u.description
    let what = "\(r.code) \(r)"
    if lastRefusal[key] != what {
      lastRefusal[key] = what
      log("warn", "bundle rejected, keeping the last good one", [("from", key), ("reason", r.code), ("err", r.description)])
      do throws(StoreError) { try recordRejection(env, r, source: key, now: wallClockSeconds()) } catch {
        log("error", "unable to record a bundle rejection", [("reason", r.code), ("err", error.description)])
      }
    }
    return .failed("bundle rejected: \(r)")
  }

  /// A `file://` upstream (offline media): read and accept synchronously.
  func pullFile(_ u: UpstreamURL) -> Answer {
    let d = BundleDirectory(u.path)
    let bytes: [UInt8], sig: [UInt8]
    do throws(HostError) {
      bytes = try d.readBundle()
      // Read whole, like an HTTP body: the heap it leaves is trimmed when the round ends.
      TransientBuffers.note(bytes.count)
      if SHA256.hash(bytes) == heldDigest { return .unchanged(longPoll: false) }
      sig = try d.readSignature()
    } catch { return .failed(error.description) }
    do throws(BundleError) {
      let b = try acceptBundle(env, bytes: bytes, signature: sig, trustedKeys: config.trustedKeys, now: wallClockSeconds()) {
        (blob) throws(BundleError) -> [UInt8] in
        TransientBuffers.note(Int(blob.size))
        return try d.readBlob(blob)
      }
      return .accepted(b)
    } catch {
      return refused(u, error, etag: nil)
    }
  }

  /// Reports, once per held serial, a bundle in force past its `expires`: the agent keeps
  /// converging to it (the last good one), but an operator must learn that nothing newer came.
  func checkExpiry() {
    guard heldSerial > 0, heldExpires > 0, !stats.heldExpired else { return }
    let now = wallClockSeconds()
    guard now >= heldExpires else { return }
    stats.heldExpired = true
    log("warn", "the bundle in force has expired; keeping it until a newer one is accepted",
        [("serial", String(heldSerial)), ("expires", String(heldExpires)), ("err", stats.lastError)])
    do throws(StoreError) { try recordExpiry(env, serial: heldSerial, expires: heldExpires, now: now) } catch {
      log("error", "unable to record the expiry of the bundle in force", [("err", error.description)])
    }
  }

  /// Where the held bundle puts this relay ("origins", a parent's URL, "unlisted").
  var place = ""

  /// A relay logs its place in the relay tree when a bundle moves it.
  func notePlace() {
    guard config.isRelay, !relays.isEmpty else { return }
    if let me = config.relayURL, let i = relays.firstIndex(of: me) {
      let a = RelayTree.ancestors(of: i, fanout: relayFanout)
      let now = a.first.map { relays[$0].description } ?? "origins"
      if now != place {
        log("info", "relay tree", [("index", String(i)), ("tier", String(a.count)), ("fanout", String(relayFanout)),
                                   ("pulls_from", now)])
      }
      place = now
    } else {
      if place != "unlisted" {
        log("warn", "this relay is not among the bundle's relays: pulling from the origins only",
            [("relay_url", config.relayURL?.description ?? "none (set relay_url)")])
      }
      place = "unlisted"
    }
  }

  /// Whether the last round reached an upstream; nil before the first round.
  var reachable: Bool? = nil

  /// Records reachability in meta when it changes, not on every round: an unchanged bundle
  /// costs one 304 and no write, yet `status` can say since when the upstreams are reachable
  /// or unreachable, and when one last answered.
  func noteReachable(_ ok: Bool) {
    if reachable == ok { return }
    reachable = ok
    let record = ReachabilityRecord(reachable: ok, since: wallClockSeconds(), lastContact: stats.lastContact,
                                    lastError: ok ? "" : stats.lastError)
    do throws(StoreError) {
      try env.withWrite { (txn) throws(StoreError) in try txn.setReachability(record) }
    } catch {
      log("warn", "unable to record upstream reachability", [("err", error.description)])
    }
  }
}
