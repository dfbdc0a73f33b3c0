import EdgeCore
import EdgeHost
import EdgeStore

/// What the reports in a state say about a fleet (issue 16): the collector's `/fleet`,
/// `/fleet/hosts` and gauges, a relay's subtree gauges, and `edgeagent fleet --state`. One scan
/// of `reports`, nothing kept between requests.
///
/// A host is in exactly one state: **stale** when nothing came from it for
/// `staleHeartbeats` heartbeats (its own `heartbeatSeconds`: 3 missed, and one more for the
/// relays' forwarding period on the way up), else **failed** when its last run failed a promise
/// or a service is crash looping, else **converged**. **Behind** counts hosts (in any state) on a
/// serial below the newest any host reports.
public enum FleetView {
  public static let staleHeartbeats: Int64 = 4

  public struct Host {
    public var id: String
    public var report: HostReport
    public var entry: ReportEntry
    public var state: String
    public var ageSeconds: Int64
  }

  public struct SerialRow: Equatable {
    public var serial: UInt64
    public var hosts = 0, converged = 0, failed = 0, stale = 0
  }

  public struct Summary {
    public var hosts = 0, converged = 0, failed = 0, stale = 0, behind = 0, keyChanges = 0
    public var newestSerial: UInt64 = 0
    /// Newest serial first.
    public var serials: [SerialRow] = []
  }

  /// The state of a host whose report `r` was received at `entry.receivedAt`, at `now`.
  public static func state(_ r: HostReport, _ entry: ReportEntry, now: Int64) -> String {
    if now - entry.receivedAt > staleHeartbeats * Int64(max(1, r.heartbeatSeconds)) { return "stale" }
    return r.healthy ? "converged" : "failed"
  }

  /// Calls `body` with every host, in host id order.
  public static func forEachHost(_ env: Environment, now: Int64, _ body: (Host) -> Void) throws(StoreError) {
    let txn = try env.read()
    var bad: StoreError? = nil
    try txn.forEachReport { id, e in
      do throws(StoreError) {
        let r = try e.report(id)
        body(Host(id: id, report: r, entry: e, state: state(r, e, now: now), ageSeconds: max(0, now - e.receivedAt)))
        return true
      } catch {
        bad = error
        return false
      }
    }
    txn.abort()
    if let bad { throw bad }
  }

  public static func summary(_ env: Environment, now: Int64) throws(StoreError) -> Summary {
    var s = Summary()
    try forEachHost(env, now: now) { h in
      s.hosts += 1
      if h.entry.keyChanges > 0 { s.keyChanges += 1 }
      s.newestSerial = max(s.newestSerial, h.report.serial)
      // Newest first; a fleet is on a few serials at once, so a walk beats a table.
      var i = 0
      while i < s.serials.count && s.serials[i].serial > h.report.serial { i += 1 }
      if i == s.serials.count || s.serials[i].serial != h.report.serial { s.serials.insert(SerialRow(serial: h.report.serial), at: i) }
      s.serials[i].hosts += 1
      switch h.state {
      case "stale": s.stale += 1; s.serials[i].stale += 1
      case "failed": s.failed += 1; s.serials[i].failed += 1
      default: s.converged += 1; s.serials[i].converged += 1
      }
    }
    for row in s.serials where row.serial < s.newestSerial { s.behind += row.hosts }
    return s
  }

  /// The operator's view (`edgeagent fleet`, `/fleet.txt`): totals, a line per serial, then
  /// each failed host with its failed promises, crash-looping services and pull error, and each
  /// stale host with the age of its last report (at most `limit` of each).
  public static func text(_ env: Environment, _ s: Summary, now: Int64, limit: Int = 1000) throws(StoreError) -> String {
    // Concatenation, not interpolation: each interpolated line cost its own specialised code.
    func counts(_ c: Int, _ f: Int, _ st: Int) -> String {
      String(c) + " converged, " + String(f) + " failed, " + String(st) + " stale"
    }
    var out = "fleet: " + String(s.hosts) + " hosts, newest serial " + String(s.newestSerial) + ": "
      + counts(s.converged, s.failed, s.stale) + ", " + String(s.behind) + " behind\n"
    for r in s.serials {
      out += "  serial " + String(r.serial) + ": " + String(r.hosts) + " hosts, " + counts(r.converged, r.failed, r.stale) + "\n"
    }
    func hosts(_ state: String, _ total: Int) throws(StoreError) {
      guard total > 0 else { return }
      out += state + " (" + String(total) + "):\n"
      var n = 0
      try forEachHost(env, now: now) { h in
        guard h.state == state else { return }
        n += 1
        guard n <= limit else { return }
        out += "  " + escapedText(h.id) + "  serial " + String(h.report.serial) + "  last report " + duration(h.ageSeconds) + " ago"
        out += h.entry.keyChanges > 0 ? "  KEY CHANGED\n" : "\n"
        for f in h.report.failures { out += "    " + escapedText(f.id) + ": " + escapedText(f.reason) + "\n" }
        for c in h.report.crashLooping { out += "    service " + escapedText(c) + ": crash looping\n" }
        if !h.report.pullError.isEmpty { out += "    pulls: " + escapedText(h.report.pullError) + "\n" }
      }
      if n > limit { out += "  ... and " + String(n - limit) + " more\n" }
    }
    try hosts("failed", s.failed)
    try hosts("stale", s.stale)
    return out
  }

  /// `/fleet`'s body. `received`, `refused`: this collector's counters since it started.
  public static func summaryJSON(_ s: Summary, now: Int64, received: Int, refused: Int) -> String {
    var w = JSONWriter()
    w.beginObject()
    w.member("generated_at", now)
    w.member("hosts", Int64(s.hosts))
    w.member("newest_serial", Int64(s.newestSerial))
    w.member("converged", Int64(s.converged))
    w.member("failed", Int64(s.failed))
    w.member("stale", Int64(s.stale))
    w.member("behind", Int64(s.behind))
    w.member("reports_received", Int64(received))
    w.member("reports_refused", Int64(refused))
    w.member("key_changes", Int64(s.keyChanges))
    w.key("serials")
    w.beginArray()
    for r in s.serials {
      w.beginObject()
      w.member("serial", Int64(r.serial))
      w.member("hosts", Int64(r.hosts))
      w.member("converged", Int64(r.converged))
      w.member("failed", Int64(r.failed))
      w.member("stale", Int64(r.stale))
      w.endObject()
    }
    w.endArray()
    w.endObject()
    return w.text
  }

  /// Which hosts `/fleet/hosts` lists: any of `failed=1`, `stale=1`, `serial=N`, `host=ID`
  /// (all given must hold), at most `limit`.
  public struct Query {
    public var failed = false, stale = false
    public var serial: UInt64? = nil
    public var host: String? = nil
    public var limit = 1000
    public init() {}

    func matches(_ h: Host) -> Bool {
      if failed && h.state != "failed" { return false }
      if stale && h.state != "stale" { return false }
      if let serial, h.report.serial != serial { return false }
      if let host, h.id != host { return false }
      return true
    }
  }

  /// `/fleet/hosts`'s body: `{"total": N, "hosts": [...]}`, each host's last report.
  public static func hostsJSON(_ env: Environment, now: Int64, _ q: Query) throws(StoreError) -> String {
    var w = JSONWriter()
    var total = 0
    w.beginObject()
    w.key("hosts")
    w.beginArray()
    try forEachHost(env, now: now) { h in
      guard q.matches(h) else { return }
      total += 1
      if total <= q.limit { write(h, &w) }
    }
    w.endArray()
    w.member("total", Int64(total))
    w.endObject()
    return w.text
  }

  static func write(_ h: Host, _ w: inout JSONWriter) {
    let r = h.report
    w.beginObject()
    w.member("host_id", h.id)
    w.member("state", h.state)
    w.member("serial", Int64(r.serial))
    w.member("last_report", h.entry.receivedAt)
    w.member("age_seconds", h.ageSeconds)
    w.member("sequence", Int64(bitPattern: r.sequence))
    w.member("heartbeat_seconds", Int64(r.heartbeatSeconds))
    w.member("version", r.version)
    w.member("target", r.target)
    w.member("bundle_accepted_at", r.bundleAcceptedAt)
    w.member("run_at", r.runAt)
    w.member("run_ms", Int64(r.runMs))
    w.member("kept", Int64(r.kept))
    w.member("repaired", Int64(r.repaired))
    w.member("failed", Int64(r.failed))
    w.key("failures")
    w.beginArray()
    for f in r.failures {
      w.beginObject()
      w.member("id", f.id)
      w.member("reason", f.reason)
      w.endObject()
    }
    w.endArray()
    w.member("services_up", Int64(r.servicesUp))
    w.key("crash_looping")
    w.beginArray()
    for s in r.crashLooping { w.string(s) }
    w.endArray()
    w.member("pull_error", r.pullError)
    w.member("missed", Int64(h.entry.missed))
    w.member("key_changed", h.entry.keyChanges > 0)
    w.member("public_key", Hex.encode(r.publicKey))
    w.endObject()
  }

  /// Gauges of hosts by serial and state (a collector's fleet, a relay's subtree).
  public static func metrics(_ s: Summary) -> String {
    var m = MetricsText()
    m.family("edgeagent_fleet_hosts", "gauge", "Hosts reported, by bundle serial and state (converged, failed, stale).")
    for r in s.serials {
      let serial = "serial=\"" + String(r.serial) + "\",state=\""
      if r.converged > 0 { m.sample("edgeagent_fleet_hosts", String(r.converged), labels: serial + "converged\"") }
      if r.failed > 0 { m.sample("edgeagent_fleet_hosts", String(r.failed), labels: serial + "failed\"") }
      if r.stale > 0 { m.sample("edgeagent_fleet_hosts", String(r.stale), labels: serial + "stale\"") }
    }
    m.single("edgeagent_fleet_hosts_behind", "gauge", "Hosts on a serial below the newest reported.", String(s.behind))
    m.single("edgeagent_fleet_newest_serial", "gauge", "The newest bundle serial any host reports.", String(s.newestSerial))
    m.single("edgeagent_fleet_key_changes", "gauge", "Hosts for which a report signed by another key was refused.", String(s.keyChanges))
    return m.text
  }
}
