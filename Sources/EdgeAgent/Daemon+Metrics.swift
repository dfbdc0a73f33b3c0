import EdgeConverge
import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeSupervise

/// What /metrics and /healthz say about convergences: integers set as each run completes, so a
/// run builds no text for them; the text is built when a request asks.
struct RunFigures {
  /// Completed convergences, full and drift, by outcome: some promise failed, else some was
  /// repaired, else all were kept.
  var failed = 0, repaired = 0, kept = 0
  /// The last full run: its counts (nil before the first), when it ended (monotonic and wall
  /// ns, 0 before the first), and how long it took.
  var summary: RunSummary? = nil
  var endedNs: UInt64 = 0
  var endedWallNs: Int64 = 0
  var tookNs: UInt64 = 0

  mutating func count(_ s: RunSummary) {
    if s.failed > 0 { failed += 1 } else if s.repaired > 0 { repaired += 1 } else { kept += 1 }
  }

  mutating func finished(_ s: RunSummary, at now: UInt64, took: UInt64) {
    summary = s
    endedNs = now
    endedWallNs = wallClockNanoseconds()
    tookNs = took
  }
}

/// `/metrics` and `/healthz` for every agent: on the `metrics` address (MetricsServer) and, for
/// a relay, on the relay's too (the relay adds the bundle and its own requests). The daemon's
/// part: build info, convergences, the last run's promises, the process's memory and
/// descriptors, pull rounds and their answers, and each service's state and restarts, so a
/// fleet's dashboards see a crash-looping service without `status`.
extension Daemon {
  /// `metrics` as an address and port: IPv4-ADDRESS:PORT (port 0 takes a free one), nil when unset.
  /// Errors (`.input`): anything else.
  static func metricsAddress(_ config: DaemonConfig) throws(AgentError) -> (address: String, port: UInt16)? {
    guard let m = config.metrics else { return nil }
    guard let a = listenAddress(m) else { throw .input("metrics \"\(m)\": expected IPv4-ADDRESS:PORT, e.g. 127.0.0.1:9100") }
    return a
  }

  /// `relay` and `metrics`: IPv4-ADDRESS:PORT, nil for anything else.
  static func listenAddress(_ s: String) -> (address: String, port: UInt16)? {
    let parts = s.utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
    guard parts.count == 2 else { return nil }
    let address = String(decoding: parts[0], as: UTF8.self)
    guard isIPv4Literal(address), let port = UInt16(String(decoding: parts[1], as: UTF8.self)) else { return nil }
    return (address, port)
  }

  /// Starts the metrics listener when `metrics` is set (before the first convergence, so a probe
  /// hears "not converged yet" rather than nothing). A failure to listen is logged; the agent
  /// goes on converging.
  func startMetrics() {
    guard let a = try? Daemon.metricsAddress(config) else { return }   // checked in init
    let server = MetricsServer(loop: loop, env: env)
    server.metrics = { [unowned(unsafe) self] in self.daemonMetrics() }
    server.health = { [unowned(unsafe) self] in self.health() }
    do throws(LoopError) {
      try server.start(address: a.address, port: a.port)
      metricsServer = server
      log.info("metrics listening", [("address", "\(a.address):\(server.port)")])
    } catch {
      log.error("unable to serve metrics", [("address", "\(a.address):\(a.port)"), ("err", error.description)])
    }
  }

  func stopMetrics() { metricsServer?.stop() }

  /// How long a full run may be past before /healthz says stale: three intervals, at least 30 s.
  var healthBoundNs: UInt64 { max(3 * UInt64(config.intervalMs), 30_000) * 1_000_000 }

  /// `/healthz`: the loop is alive (it answers) and converging (the last full run ended within
  /// `healthBoundNs`). A local policy counts as much as a bundle.
  func health() -> (ok: Bool, text: String) {
    if shuttingDown { return (false, "shutting down") }
    guard lastRun.endedNs > 0 else { return (false, policy == nil ? "no policy in force yet" : "not converged yet") }
    let now = monotonicNanoseconds()
    let age = now > lastRun.endedNs ? (now - lastRun.endedNs) / 1_000_000_000 : 0
    if age * 1_000_000_000 > healthBoundNs {
      return (false, "stale: converged \(age) s ago, more than \(healthBoundNs / 1_000_000_000) s")
    }
    return (true, "ok: converged \(age) s ago")
  }

  func daemonMetrics() -> String {
    var t = MetricsText()
    t.family("edgeagent_build_info", "gauge", "The agent's version and build target (always 1).")
    t.sample("edgeagent_build_info", "1", labels: "version=\"\(escapedQuotes(edgeagentVersion))\",target=\"\(escapedQuotes(buildTarget))\"")
    t.family("edgeagent_runs_total", "counter", "Convergences completed, full and drift, by outcome (failed: some promise failed; repaired: none failed, some repaired).")
    t.sample("edgeagent_runs_total", String(lastRun.kept), labels: "outcome=\"kept\"")
    t.sample("edgeagent_runs_total", String(lastRun.repaired), labels: "outcome=\"repaired\"")
    t.sample("edgeagent_runs_total", String(lastRun.failed), labels: "outcome=\"failed\"")
    if let s = lastRun.summary {
      let wall = lastRun.endedWallNs
      t.single("edgeagent_last_run_timestamp_seconds", "gauge", "When the last full convergence ended (Unix seconds).",
               secondsText(UInt64(wall > 0 ? wall : 0)))
      t.single("edgeagent_last_run_duration_seconds", "gauge", "How long the last full convergence took.", secondsText(lastRun.tookNs))
      t.family("edgeagent_promises", "gauge", "Promises by outcome in the last full convergence.")
      t.sample("edgeagent_promises", String(s.kept), labels: "status=\"kept\"")
      t.sample("edgeagent_promises", String(s.repaired), labels: "status=\"repaired\"")
      t.sample("edgeagent_promises", String(s.failed), labels: "status=\"failed\"")
      t.sample("edgeagent_promises", String(s.skipped), labels: "status=\"skipped\"")
    }
    if let rss = ProcessFigures.residentBytes() {
      t.single("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", String(rss))
    }
    if let fds = ProcessFigures.openDescriptors() {
      t.single("process_open_fds", "gauge", "Number of open file descriptors.", String(fds))
    }
    var m = t.text
    if let st = puller?.stats {
      m += """
        # HELP edgeagent_pulls_total Pull rounds and their answers.
        # TYPE edgeagent_pulls_total counter
        edgeagent_pulls_total{result="round"} \(st.rounds)
        edgeagent_pulls_total{result="not_modified"} \(st.notModified)
        edgeagent_pulls_total{result="accepted"} \(st.accepted)
        edgeagent_pulls_total{result="rejected"} \(st.rejected)
        edgeagent_pulls_total{result="failed"} \(st.failures)
        # HELP edgeagent_upstream_last_contact_seconds When an upstream last answered (Unix seconds).
        # TYPE edgeagent_upstream_last_contact_seconds gauge
        edgeagent_upstream_last_contact_seconds \(st.lastContact)
        # HELP edgeagent_pulls_unheld_long_polls_total Unchanged answers to a long-poll that were not held (a relay that pins agents).
        # TYPE edgeagent_pulls_unheld_long_polls_total counter
        edgeagent_pulls_unheld_long_polls_total \(st.unheldLongPolls)
        # HELP edgeagent_pulls_origin_checks_total Rounds that asked the origins before the relays.
        # TYPE edgeagent_pulls_origin_checks_total counter
        edgeagent_pulls_origin_checks_total \(st.originChecks)
        # HELP edgeagent_bundle_expired Whether the bundle in force is past its expiry (1) or not (0).
        # TYPE edgeagent_bundle_expired gauge
        edgeagent_bundle_expired \(st.heldExpired ? 1 : 0)

        """
    }
    let runners = supervisor.runners
    m += "# HELP edgeagent_service_restarts_total Restarts of each service since the agent started.\n"
    m += "# TYPE edgeagent_service_restarts_total counter\n"
    for r in runners { m += "edgeagent_service_restarts_total{service=\"\(escapedQuotes(r.id))\"} \(r.machine.restarts)\n" }
    m += "# HELP edgeagent_service_up Whether each service is running (1) or not (0): starting, backing off or stopped.\n"
    m += "# TYPE edgeagent_service_up gauge\n"
    for r in runners { m += "edgeagent_service_up{service=\"\(escapedQuotes(r.id))\"} \(r.machine.phase == .running ? 1 : 0)\n" }
    m += "# HELP edgeagent_service_crash_looping Whether each service tripped the crash-loop rule (1) or not (0).\n"
    m += "# TYPE edgeagent_service_crash_looping gauge\n"
    for r in runners { m += "edgeagent_service_crash_looping{service=\"\(escapedQuotes(r.id))\"} \(r.machine.crashLooping ? 1 : 0)\n" }
    return m
  }
}
