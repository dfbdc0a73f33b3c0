import EdgeCore
import EdgeHost
import EdgeStore

/// Why a report was refused; `rawValue` is the metric label and the word in a POST's answer.
public enum ReportRefusal: String, CaseIterable, Sendable {
  /// Not a report (bad magic, truncated, over a bound).
  case malformed
  /// The signature does not verify with the key the report names: forged or altered on the way.
  case badSignature = "bad_signature"
  /// A sequence no newer than the one held: a replay, or a retry of one already taken.
  case replay
  /// Signed by another key than the one pinned for this host id (flagged in the entry).
  case keyChanged = "key_changed"
  /// Over `perMinute` for this host: a child that floods.
  case tooFrequent = "too_frequent"
  /// A new host id while the store holds `maxHosts`.
  case full
  /// A host id not in the allow-list (`allowed_hosts`).
  case notAllowed = "not_allowed"
}

/// Counts for /metrics: reports taken, and refused by reason.
public struct ReportCounters: Sendable {
  public var accepted = 0
  public var refused = [Int](repeating: 0, count: ReportRefusal.allCases.count)
  public init() {}

  public mutating func refuse(_ r: ReportRefusal) {
    refused[ReportRefusal.allCases.firstIndex(of: r)!] += 1
  }
  public func count(_ r: ReportRefusal) -> Int { refused[ReportRefusal.allCases.firstIndex(of: r)!] }
  public var refusedTotal: Int { refused.reduce(0, +) }
}

/// Takes signed reports into `reports`, the one place a report is judged: the relay's and the
/// collector's `POST /report`, and an agent's own report. Each report must decode, verify with
/// the key it names, carry the key pinned for its host id (pinned on first sight), be newer than
/// the one held, and keep its host within `perMinute`; a new host id needs room under
/// `maxHosts`. The latest report per host is kept; one replaced while still pending adds to
/// `missed`, so an outage costs the way up transitions, never a host's latest state.
public struct ReportAcceptance {
  /// Reports one host may have taken per minute: an agent sends news at most once a second
  /// and a heartbeat every `heartbeatSeconds` (its report says which); past that it floods.
  public static func perMinute(heartbeatSeconds: UInt32) -> UInt32 { 60 + 60 / max(1, heartbeatSeconds) }
  public var maxHosts: Int
  /// Whether taken reports are to be forwarded (a relay's, an agent's) or end here (a collector's).
  public var forwards: Bool
  /// The allow-list (`allowed_hosts`): host id -> its public key. When set, only these hosts are
  /// taken, each with its listed key (the list pins it, not the first report).
  public var allowed: [String: [UInt8]]? = nil

  public init(maxHosts: Int, forwards: Bool) {
    self.maxHosts = maxHosts
    self.forwards = forwards
  }

  /// What one batch did: counts and the refusals by host id (bounded, for the POST's answer).
  public struct Outcome {
    public var accepted = 0
    /// Taken reports that say something the held one did not (`HostReport.sameNews`): worth
    /// forwarding before the next heartbeat.
    public var news = 0
    public var refusals: [(host: String, reason: ReportRefusal, detail: String)] = []
  }

  /// Judges and stores every report of `batch` (a `ReportBatch` body) in one transaction.
  /// Errors: the store's (nothing taken then); a malformed batch stops at its first bad entry
  /// (counted as `.malformed`), keeping what came before it.
  public func take(_ batch: UnsafeRawBufferPointer, env: Environment, now: Int64,
                   counters: inout ReportCounters) throws(StoreError) -> Outcome {
    // Unsynced: a sender keeps a report until it is answered, and sends it again next round.
    let out = try env.withWrite(synced: false) { (txn) throws(StoreError) -> Outcome in
      var out = Outcome()
      var hosts = try txn.count(.reports)
      var failure: StoreError? = nil
      do throws(RecordError) {
        try ReportBatch.forEach(batch) { missed, raw in
          guard failure == nil else { return }
          do throws(StoreError) {
            try judge(raw, missed: missed, txn: txn, now: now, hosts: &hosts, out: &out)
          } catch { failure = error }
        }
      } catch {
        out.refusals.append(("", .malformed, error.message))
      }
      if let failure { throw failure }
      return out
    }
    counters.accepted += out.accepted
    for r in out.refusals { counters.refuse(r.reason) }
    return out
  }

  /// One report of a batch. A host named twice in a batch is judged twice: the same report
  /// again is a replay, a newer one counts against its flood bound.
  func judge(_ raw: UnsafeRawBufferPointer, missed: UInt32, txn: borrowing Transaction, now: Int64, hosts: inout Int,
             out: inout Outcome) throws(StoreError) {
    let decoded: (report: HostReport, signedLength: Int)
    do { decoded = try HostReport.decode(raw) } catch {
      out.refusals.append(("", .malformed, error.message))
      return
    }
    let rep = decoded.report
    let message = Array(raw[..<decoded.signedLength])
    let signature = Array(raw[decoded.signedLength...])
    guard Ed25519.verify(signature, message, publicKey: rep.publicKey) else {
      out.refusals.append((rep.hostID, .badSignature, "signature does not verify"))
      return
    }
    if let allowed {
      guard let key = allowed[rep.hostID] else {
        out.refusals.append((rep.hostID, .notAllowed, "not in the allow-list"))
        return
      }
      if key != rep.publicKey {
        if var held = try txn.reportEntry(rep.hostID) {
          held.keyChanges &+= 1
          try txn.putReportEntry(rep.hostID, held)
        }
        out.refusals.append((rep.hostID, .keyChanged, "signed by another key than the allow-list's for this host"))
        return
      }
    }
    var entry = ReportEntry(receivedAt: now, pending: forwards, missed: missed, windowStart: now, windowCount: 1, signed: Array(raw))
    var news = true
    if var held = try txn.reportEntry(rep.hostID) {
      let h = try held.report(rep.hostID)
      if h.publicKey != rep.publicKey {
        held.keyChanges &+= 1
        try txn.putReportEntry(rep.hostID, held)
        out.refusals.append((rep.hostID, .keyChanged, "signed by another key than the one pinned for this host"))
        return
      }
      if rep.sequence <= h.sequence {
        out.refusals.append((rep.hostID, .replay, "sequence not newer than the one held"))
        return
      }
      if now - held.windowStart < 60 {
        let limit = ReportAcceptance.perMinute(heartbeatSeconds: rep.heartbeatSeconds)
        if held.windowCount >= limit {
          out.refusals.append((rep.hostID, .tooFrequent, "over its reports a minute"))
          return
        }
        entry.windowStart = held.windowStart
        entry.windowCount = held.windowCount + 1
      }
      entry.keyChanges = held.keyChanges
      if forwards && held.pending { entry.missed &+= held.missed &+ 1 }
      news = !rep.sameNews(as: h)
    } else {
      guard hosts < maxHosts else {
        out.refusals.append((rep.hostID, .full, "the store holds its most hosts"))
        return
      }
      hosts += 1
    }
    try txn.putReportEntry(rep.hostID, entry)
    out.accepted += 1
    if news { out.news += 1 }
  }
}

extension ReportEntry {
  /// The held report. It was verified before it was stored, so one that does not decode is a
  /// damaged state, said as such with its host.
  public func report(_ host: String) throws(StoreError) -> HostReport {
    do { return try withBytes(signed) { (b) throws(RecordError) -> HostReport in try HostReport.decode(b).report } } catch {
      throw .record(error, key: "reports/" + host)
    }
  }
}
