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
  /// This agent's target as a bundle's `agent.targets` names it: a leaf fetches that agent
  /// binary only (nil: every blob).
  public var agentTarget: String? = nil
  /// The URL under which bundles list this relay (`relay_url`, or its `relay` address). A
  /// relay the held bundle does not list pulls from the origins only: ranked like other agents
  /// it could pick its own descendant.
  public var relayURL: UpstreamURL? = nil
  /// The managed root: a team's paths may not pass through a symlink under it (TeamAcceptance.swift).
  public var root: String? = nil
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
  /// Team bundles accepted (Puller+Teams.swift).
  public var teamsAccepted = 0
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
  public typealias Log = (_ level: String, _ message: String, _ fields: [(String, LogValue)]) -> Void

  let loop: Loop
  let env: Environment
  public let config: PullerConfig
  let log: Log
  public var onAccepted: (AcceptedBundle) -> Void = { _ in }
  /// A team's bundle was accepted: the policy in force now.
  public var onTeamAccepted: (PolicyInForce) -> Void = { _ in }
  /// A pull connected to an upstream (it is up; a long-poll's answer may come much later): the
  /// reports' forwarder, backing off from that upstream, tries again now.
  public var onReached: (UpstreamURL) -> Void = { _ in }
  public internal(set) var stats = PullStats()

  let timer: Timer
  /// Gives back what a large body (a bundle, a blob, a hostile 16 MiB answer) left in the heap.
  let heapTrim: HeapTrim
  var current: HTTPExchange? = nil
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
  /// Whether the last round reached an upstream; nil before the first round.
  public internal(set) var reachable: Bool? = nil
  /// Where the held bundle puts this relay ("origins", a parent's URL, "unlisted").
  var place = ""
  /// The teams the baseline in force delegates to, and what this agent holds of each (a few:
  /// a list, not a dictionary per field).
  var delegatedTeams: [String] = []
  var teams: [TeamHeld] = []

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
      log("error", "unable to read the bundle in force", [("err", .string(error.description))])
    }
    loadTeams()
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
}
