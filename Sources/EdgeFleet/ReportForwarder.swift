import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore

/// Counters for /metrics, status and tests.
public struct ForwardStats: Sendable {
  /// POSTs answered 200, and the reports they carried.
  public var batches = 0
  public var reports = 0
  /// POSTs that got no 200 (every upstream of a flush counts its own).
  public var failures = 0
  public var lastError = ""
  /// Consecutive flushes in which no upstream took the batch (drives the backoff).
  public var failedFlushes = 0
  public init() {}
}

/// Sends the pending entries of `reports` up the tree (issue 16): an agent's own report, a
/// relay's subtree. One POST /report per batch (`ReportBatch`), to the first upstream that
/// takes it (the parent relays, then the collectors: `upstreams()`); once taken, those entries
/// are no longer pending unless a newer report replaced them meanwhile.
///
/// When: `news()` flushes after `debounceMs` (what changed is sent within 150 ms, and a burst of
/// children's news goes up as one batch); otherwise pending entries (children's
/// heartbeats, a relay's own) wait for the `periodMs` flush, so a relay posts about once a
/// period whatever its subtree's size. With no upstream taking a batch: exponential backoff with jitter (1 s doubling to
/// 5 min); pending entries stay in LMDB meanwhile, the latest per host, and go when the way is
/// back, one batch in flight at a time.
public final class ReportForwarder {
  public typealias Log = (_ level: String, _ message: String, _ fields: [(String, LogValue)]) -> Void

  let loop: Loop
  let env: Environment
  /// Where batches go, in order (http only); asked at each flush, as the bundle's relays change.
  public var upstreams: () -> [UpstreamURL]
  public var resolver = ResolverSettings()
  let log: Log
  public let periodMs: UInt64
  /// How long a relay gathers its children's news before sending them up.
  public static let debounceMs: UInt64 = 150
  public static let maxBackoffMs: UInt64 = 300_000
  public internal(set) var stats = ForwardStats()

  let flushTimer: Timer
  let periodTimer: Timer
  var current: HTTPExchange? = nil
  var running = false
  /// A flush is scheduled (debounce or backoff) or under way.
  var flushPending = false
  var inFlight = false

  public init(loop: Loop, env: Environment, periodMs: UInt64, upstreams: @escaping () -> [UpstreamURL],
              log: @escaping Log = { _, _, _ in }) {
    self.loop = loop
    self.env = env
    self.periodMs = max(1000, periodMs)
    self.upstreams = upstreams
    self.log = log
    flushTimer = Timer(loop)
    periodTimer = Timer(loop)
  }

  /// Starts the periodic flush, at `offsetMs` into the period (the host's splay).
  public func start(offsetMs: UInt64) {
    running = true
    periodTimer.start(after: offsetMs % periodMs + 1, repeat: periodMs) { [unowned(unsafe) self] in self.flush() }
    // What was pending at the last stop goes soon, not a period later.
    news(afterMs: ReportForwarder.debounceMs)
  }

  public func stop() {
    running = false
    flushTimer.stop(); flushTimer.close()
    periodTimer.stop(); periodTimer.close()
    current?.cancel()
  }

  /// Something worth sending now was stored: flush within `afterMs` (a relay gathers its
  /// children's news for `debounceMs`, so a burst goes up as one batch; an agent's own report
  /// goes at once), unless a flush (or a backoff) is already coming.
  public func news(afterMs: UInt64 = ReportForwarder.debounceMs) {
    guard running, !flushPending else { return }
    flushPending = true
    flushTimer.start(after: afterMs) { [unowned(unsafe) self] in
      self.flushPending = false
      self.flush()
    }
  }

  /// Sends the next batch of pending entries, if any, and none is in flight.
  public func flush() {
    guard running, !inFlight, stats.failedFlushes == 0 || !flushPending else { return }
    let batch: (body: [UInt8], sent: [(String, UInt64)])
    do { batch = try pendingBatch() } catch {
      log("error", "unable to read the pending reports", [("err", .string(error.description))])
      return
    }
    guard !batch.sent.isEmpty else { return }
    let list = upstreams().filter { $0.scheme == .http }
    guard !list.isEmpty else { return }
    inFlight = true
    post(batch.body, to: list, at: 0, sent: batch.sent)
  }

  func post(_ body: [UInt8], to list: [UpstreamURL], at i: Int, sent: [(String, UInt64)]) {
    guard running else { inFlight = false; return }
    guard i < list.count else {
      inFlight = false
      failed()
      return
    }
    let u = list[i]
    var o = HTTPExchange.Options()
    o.body = body
    o.resolver = resolver
    o.deadlineMs = 30_000
    o.limits.maxBodyBytes = 64 << 10
    current = HTTPExchange(loop, host: u.host, port: u.port, path: u.path(of: "report"), options: o) { [unowned(unsafe) self] r in
      self.current = nil
      switch r {
      case .success(let resp) where resp.status == 200:
        self.inFlight = false
        self.taken(sent, by: u)
      case .success(let resp):
        self.stats.failures += 1
        self.stats.lastError = "\(u): HTTP \(resp.status)"
        self.post(body, to: list, at: i + 1, sent: sent)
      case .failure(let e):
        self.stats.failures += 1
        self.stats.lastError = "\(u): \(e)"
        self.post(body, to: list, at: i + 1, sent: sent)
      }
    }
  }

  /// An upstream took the batch: its entries are no longer pending (unless replaced since), and
  /// the next batch goes at once if a whole one waits (a backlog), else after `debounceMs`, so
  /// that reports trickling in from children (a fleet coming back after an outage) cost a relay's
  /// parent at most one POST per `debounceMs`, however many children there are.
  func taken(_ sent: [(String, UInt64)], by u: UpstreamURL) {
    stats.batches += 1
    stats.reports += sent.count
    if stats.failedFlushes > 0 {
      log("info", "reports reach upstream again", [("upstream", .string(u.description)), ("after_failures", .int(stats.failedFlushes))])
      stats.failedFlushes = 0
    }
    var more = 0
    do throws(StoreError) {
      try env.withWrite(synced: false) { (txn) throws(StoreError) in
        for (host, seq) in sent {
          guard var e = try txn.reportEntry(host), e.pending, try e.report(host).sequence == seq else { continue }
          e.pending = false
          e.missed = 0
          try txn.putReportEntry(host, e)
        }
      }
      more = try pendingCount()
    } catch {
      log("error", "unable to record sent reports", [("err", .string(error.description))])
    }
    if more >= ReportBatch.maxReports { flush() } else if more > 0 { news() }
  }

  /// A pull connected to `u`: when backing off and `u` is one of this forwarder's upstreams,
  /// try again within a second (jittered) instead of at the backoff's end. After an outage the pulls find the relays back within an interval, spread by their
  /// splay, so the pending reports follow at that pace instead of a backoff of minutes.
  public func reached(_ u: UpstreamURL) {
    guard running, stats.failedFlushes > 0, !inFlight, upstreams().contains(u) else { return }
    flushPending = true
    flushTimer.start(after: UInt64(randomBelow(1000))) { [unowned(unsafe) self] in
      self.flushPending = false
      self.flush()
    }
  }

  /// No upstream took the batch: try again after a backoff.
  func failed() {
    stats.failedFlushes += 1
    if stats.failedFlushes == 1 || stats.failedFlushes % 10 == 0 {
      log("warn", "unable to send reports upstream", [("err", .string(stats.lastError)), ("failures", .int(stats.failedFlushes))])
    }
    let base = min(ReportForwarder.maxBackoffMs, 1000 << UInt64(min(stats.failedFlushes - 1, 20)))
    // Jitter over the second half, so a fleet cut off together does not come back together.
    let delay = base / 2 + UInt64(randomBelow(UInt32(base / 2) + 1))
    flushPending = true
    flushTimer.start(after: delay) { [unowned(unsafe) self] in
      self.flushPending = false
      self.flush()
    }
  }

  /// The pending entries, as one batch within `ReportBatch`'s bounds, and which (host,
  /// sequence) it carries.
  func pendingBatch() throws(StoreError) -> (body: [UInt8], sent: [(String, UInt64)]) {
    var w = ByteWriter(capacity: 4096)
    var sent: [(String, UInt64)] = []
    var bad: StoreError? = nil
    let txn = try env.read()
    try txn.forEachReport { host, e in
      guard e.pending else { return true }
      do throws(StoreError) {
        let seq = try e.report(host).sequence
        if w.bytes.count + e.signed.count + 16 > ReportBatch.maxBytes || sent.count >= ReportBatch.maxReports { return false }
        ReportBatch.append(e.signed, missed: e.missed, to: &w)
        sent.append((host, seq))
      } catch {
        bad = error
        return false
      }
      return true
    }
    txn.abort()
    if let bad { throw bad }
    return (w.bytes, sent)
  }

  /// Entries still to send.
  public func pendingCount() throws(StoreError) -> Int {
    var n = 0
    let txn = try env.read()
    try txn.forEachReport { _, e in
      if e.pending { n += 1 }
      return true
    }
    txn.abort()
    return n
  }
}
