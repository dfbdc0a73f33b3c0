import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore

/// Reports on a relay's listener (issue 16): `POST /report` takes a batch from a child (an
/// agent, a relay below) or, on a collector, from the first tier; a collector also serves the
/// fleet: `/fleet`, `/fleet/hosts`, and its page at `/`.
public final class ReportSink {
  public var acceptance: ReportAcceptance
  public var counters = ReportCounters()
  /// Batches answered (200) and their bytes, for tests and metrics: the requests a tier
  /// receives per round, and what a host's report costs on the way up.
  public var batches = 0
  public var bytes = 0
  /// A batch brought something new: the forwarder sends it up soon.
  public var onNews: () -> Void = {}
  /// Whether the fleet view (`/fleet`, `/fleet/hosts`, `/`) is served: a collector.
  public let servesFleet: Bool

  public init(acceptance: ReportAcceptance, servesFleet: Bool) {
    self.acceptance = acceptance
    self.servesFleet = servesFleet
  }
}

extension Relay {
  /// Answers `req` if it is a report or fleet request this relay serves; false otherwise.
  func respondReports(_ req: HTTPRequest, on c: TCPConnection,
                      text: (Int, String, String, [(String, String)]) -> Void) -> Bool {
    guard let sink = reports else { return false }
    let now = wallClockSeconds()
    if req.path == "/report" {
      guard req.method == "POST" else { text(405, "POST a batch of reports\n", "text/plain; charset=utf-8", []); return true }
      let outcome: ReportAcceptance.Outcome
      do {
        outcome = try withBytes(req.body) { (b) throws(StoreError) -> ReportAcceptance.Outcome in
          try sink.acceptance.take(b, env: env, now: now, counters: &sink.counters)
        }
      } catch {
        // The sender keeps its reports pending and tries again (or another upstream).
        text(503, "unable to store reports: \(error)\n", "text/plain; charset=utf-8", [])
        return true
      }
      sink.batches += 1
      sink.bytes += req.body.count
      if outcome.news > 0 { sink.onNews() }
      // The sender drops what was answered: refused reports are refused for good (a replay, a
      // forgery), so they are said here, bounded, and not sent again.
      var body = "accepted \(outcome.accepted) refused \(outcome.refusals.count)\n"
      for r in outcome.refusals.prefix(32) { body += "\(r.reason.rawValue) \(r.host.isEmpty ? "-" : r.host): \(r.detail)\n" }
      text(200, body, "text/plain; charset=utf-8", [])
      return true
    }
    guard sink.servesFleet, req.method == "GET" || req.method == "HEAD" else { return false }
    do throws(StoreError) {
      switch req.path {
      case "/":
        text(200, fleetPageHTML, "text/html; charset=utf-8", [])
      case "/fleet", "/fleet.txt":
        let s = try FleetView.summary(env, now: now)
        // Whether every host is converged, for `edgeagent fleet`'s exit code.
        let all = [("X-Edge-All-Converged", s.failed == 0 && s.stale == 0 ? "1" : "0")]
        if req.path == "/fleet.txt" {
          text(200, try FleetView.text(env, s, now: now), "text/plain; charset=utf-8", all)
        } else {
          text(200, FleetView.summaryJSON(s, now: now, received: sink.counters.accepted, refused: sink.counters.refusedTotal),
               "application/json", all)
        }
      case "/fleet/hosts":
        var q = FleetView.Query()
        q.failed = req.parameter("failed") == "1"
        q.stale = req.parameter("stale") == "1"
        q.serial = req.parameter("serial").flatMap { UInt64($0) }
        q.host = req.parameter("host")
        if let l = req.parameter("limit").flatMap({ Int($0) }), l > 0 { q.limit = min(l, 100_000) }
        text(200, try FleetView.hostsJSON(env, now: now, q), "application/json", [])
      default:
        return false
      }
    } catch {
      text(500, "unable to read the state: \(error)\n", "text/plain; charset=utf-8", [])
    }
    return true
  }

  /// The reports' part of /metrics: what was taken and refused, and the hosts below by serial
  /// and state.
  func reportMetrics() throws(StoreError) -> String {
    guard let sink = reports else { return "" }
    var m = MetricsText()
    m.single("edgeagent_reports_received_total", "counter", "Host reports taken.", String(sink.counters.accepted))
    var values: [String] = [], counts: [Int] = []
    for r in ReportRefusal.allCases { values.append(r.rawValue); counts.append(sink.counters.count(r)) }
    m.labeled("edgeagent_reports_refused_total", "counter", "Host reports refused, by reason.", label: "reason", values, counts)
    m.single("edgeagent_report_batches_total", "counter", "POST /report requests answered.", String(sink.batches))
    m.single("edgeagent_report_bytes_total", "counter", "Bytes of the POST /report bodies answered.", String(sink.bytes))
    m.append(FleetView.metrics(try FleetView.summary(env, now: wallClockSeconds())))
    return m.text
  }
}
