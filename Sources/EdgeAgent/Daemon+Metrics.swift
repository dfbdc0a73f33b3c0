import EdgeConverge
import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeStore
import EdgeSupervise
import EdgeUpdate

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

  /// Concatenation and `labeled` families rather than interpolated lines: this text's share of
  /// the aarch64 binary's 1,000,000 bytes.
  func daemonMetrics() -> String {
    var t = MetricsText()
    t.family("edgeagent_build_info", "gauge", "The agent's version and build target (always 1).")
    t.sample("edgeagent_build_info", "1",
             labels: "version=\"" + escapedQuotes(edgeagentVersion) + "\",target=\"" + escapedQuotes(buildTarget) + "\"")
    agentMetrics(&t)
    t.labeled("edgeagent_runs_total", "counter",
              "Convergences completed, full and drift, by outcome (failed: some promise failed; repaired: none failed, some repaired).",
              label: "outcome", ["kept", "repaired", "failed"], [lastRun.kept, lastRun.repaired, lastRun.failed])
    if let s = lastRun.summary {
      let wall = lastRun.endedWallNs
      t.single("edgeagent_last_run_timestamp_seconds", "gauge", "When the last full convergence ended (Unix seconds).",
               secondsText(UInt64(wall > 0 ? wall : 0)))
      t.single("edgeagent_last_run_duration_seconds", "gauge", "How long the last full convergence took.", secondsText(lastRun.tookNs))
      t.labeled("edgeagent_promises", "gauge", "Promises by outcome in the last full convergence.",
                label: "status", ["kept", "repaired", "failed", "skipped"], [s.kept, s.repaired, s.failed, s.skipped])
    }
    if let rss = ProcessFigures.residentBytes() {
      t.single("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", String(rss))
    }
    if let fds = ProcessFigures.openDescriptors() {
      t.single("process_open_fds", "gauge", "Number of open file descriptors.", String(fds))
    }
    if let st = puller?.stats {
      t.labeled("edgeagent_pulls_total", "counter", "Pull rounds and their answers.", label: "result",
                ["round", "not_modified", "accepted", "rejected", "failed"],
                [st.rounds, st.notModified, st.accepted, st.rejected, st.failures])
      t.single("edgeagent_upstream_last_contact_seconds", "gauge", "When an upstream last answered (Unix seconds).",
               String(st.lastContact))
      t.single("edgeagent_pulls_unheld_long_polls_total", "counter",
               "Unchanged answers to a long-poll that were not held (a relay that pins agents).", String(st.unheldLongPolls))
      t.single("edgeagent_pulls_origin_checks_total", "counter", "Rounds that asked the origins before the relays.",
               String(st.originChecks))
      t.single("edgeagent_bundle_expired", "gauge", "Whether the bundle in force is past its expiry (1) or not (0).",
               st.heldExpired ? "1" : "0")
    }
    teamMetrics(&t)
    var ids: [String] = [], restarts: [Int] = [], up: [Int] = [], looping: [Int] = []
    for r in supervisor.runners {
      ids.append(r.id)
      restarts.append(Int(r.machine.restarts))
      up.append(r.machine.phase == .running ? 1 : 0)
      looping.append(r.machine.crashLooping ? 1 : 0)
    }
    t.labeled("edgeagent_service_restarts_total", "counter", "Restarts of each service since the agent started.",
              label: "service", ids, restarts)
    t.labeled("edgeagent_service_up", "gauge", "Whether each service is running (1) or not (0): starting, backing off or stopped.",
              label: "service", ids, up)
    t.labeled("edgeagent_service_crash_looping", "gauge", "Whether each service tripped the crash-loop rule (1) or not (0).",
              label: "service", ids, looping)
    return t.text
  }

  /// Per team held: its serial, and its promises by latest outcome (ids `TEAM/…`).
  func teamMetrics(_ t: inout MetricsText) {
    guard let policy, let held = puller?.teamSerialsHeld, !held.isEmpty else { return }
    t.family("edgeagent_team_bundle_serial", "gauge", "The serial of each team's bundle held.")
    for h in held { t.sample("edgeagent_team_bundle_serial", String(h.serial), labels: "team=\"" + escapedQuotes(h.team) + "\"") }
    t.family("edgeagent_team_promises", "gauge", "Promises of each team in force by latest outcome.")
    for h in held {
      var c = RunSummary(), any = false
      for (i, p) in policy.promises.enumerated() where TeamComposition.team(of: p.id) == Substring(h.team) {
        any = true
        if i < outcomes.count, let o = outcomes[i] { c.add(o.status) }
      }
      if !any { continue }
      let label = "team=\"" + escapedQuotes(h.team) + "\",status=\""
      t.sample("edgeagent_team_promises", String(c.kept), labels: label + "kept\"")
      t.sample("edgeagent_team_promises", String(c.repaired), labels: label + "repaired\"")
      t.sample("edgeagent_team_promises", String(c.failed), labels: label + "failed\"")
      t.sample("edgeagent_team_promises", String(c.skipped), labels: label + "skipped\"")
    }
  }

  /// The agent's own version as updates left it (EdgeUpdate): running, committed, a trial, rollbacks.
  func agentMetrics(_ t: inout MetricsText) {
    let record: AgentUpdateRecord
    do { record = try loadAgentUpdate(env) } catch { return }
    t.family("edgeagent_agent_info", "gauge", "The agent version running and the one committed (always 1).")
    t.sample("edgeagent_agent_info", "1", labels: "running=\"" + escapedQuotes(agent.runningVersion) + "\",committed=\""
             + escapedQuotes(record.committedVersion.isEmpty ? edgeagentVersion : record.committedVersion) + "\"")
    t.single("edgeagent_agent_trial", "gauge", "Whether this agent is a new version on trial, not committed yet (1) or not (0).",
             agent.isTrial ? "1" : "0")
    t.single("edgeagent_agent_rollbacks_total", "counter", "Agent versions rolled back after a trial that did not commit.",
             String(record.rollbacks))
    t.single("edgeagent_agent_failed_versions", "gauge", "Agent versions refused or rolled back, not tried again.",
             String(record.failed.count))
  }
}
