import EdgeConverge
import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeStore
import EdgeSupervise
import EdgeUpdate

/// This agent's part of issue 16: its own signed report after a convergence that changed what
/// it says (at most once a second) and as a heartbeat every `report_interval`; a relay takes its
/// children's reports on its listener; the forwarder sends what is pending up the tree (the
/// parent relays, then `collectors`); a collector (`collect`) keeps the fleet's and serves it.
extension Daemon {
  struct ReportSettings {
    var collectors: [UpstreamURL] = []
    var collect: (address: String, port: UInt16)? = nil
    var allowed: [String: [UInt8]]? = nil
  }

  /// The most hosts a relay keeps (its subtree) and a collector (its fleet).
  static let relayMaxHosts = 100_000
  static let collectorMaxHosts = 1_000_000

  /// Whether this agent may report, relay reports or collect them: it pulls bundles (its bundle
  /// may list relays), names collectors, relays or collects. Only then is `reports` opened.
  static func reports(_ config: DaemonConfig) -> Bool {
    !config.upstreams.isEmpty || !config.collectors.isEmpty || config.relay != nil || config.collect != nil
  }

  /// Errors (`.input`): a collector URL that is not http://, a `collect` that is not
  /// IPv4-ADDRESS:PORT, `collect` with `relay` (a collector is the top of the tree).
  static func reportSettings(_ config: DaemonConfig) throws(AgentError) -> ReportSettings {
    var s = ReportSettings()
    for c in config.collectors {
      guard let u = UpstreamURL(c), u.scheme == .http else { throw .input("collector \"\(c)\": expected http://HOST[:PORT][/PATH]") }
      s.collectors.append(u)
    }
    if let c = config.collect {
      guard let a = listenAddress(c) else { throw .input("collect \"\(c)\": expected IPv4-ADDRESS:PORT, e.g. 0.0.0.0:7080") }
      guard config.relay == nil else { throw .input("collect and relay are both set: a collector is the top of the tree, not a relay") }
      s.collect = a
    }
    if let path = config.allowedHosts { s.allowed = try allowList(path) }
    return s
  }

  /// Reads `allowed_hosts`: `HOST_ID PUBLIC_KEY` per line (64 hex digits), blank lines and `#`
  /// comments skipped. Errors (`.input`): the file's path and line for anything else, or a host
  /// listed twice.
  static func allowList(_ path: String) throws(AgentError) -> [String: [UInt8]] {
    let bytes: [UInt8]
    do { bytes = try readWholeFile(path, limit: 64 << 20) } catch { throw .input("allowed_hosts " + path + ": " + error.description) }
    var out: [String: [UInt8]] = [:]
    var n = 0
    for raw in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
      n += 1
      // Tabs and a CR as spaces; then "HOST KEY" with any run of spaces between.
      let line = trimmedASCII(String(decoding: raw.map { $0 == 9 || $0 == 13 ? 32 : $0 }, as: UTF8.self))
      if line.isEmpty || line.hasPrefix("#") { continue }
      let words = line.split(separator: " ")
      guard words.count == 2, let key = Ed25519.parseKey(String(words[1]), bytes: Ed25519.publicKeyBytes) else {
        throw .input(path + ":" + String(n) + ": expected HOST_ID PUBLIC_KEY (64 hex digits)")
      }
      let host = String(words[0])
      guard out[host] == nil else { throw .input(path + ":" + String(n) + ": host \"" + escapedText(host) + "\" is listed twice") }
      out[host] = key
    }
    return out
  }

  /// Starts reporting after the relay and the puller: it is on when this agent has somewhere to
  /// send reports (a puller, whose bundle may list relays, or collectors), relays, or collects.
  func startReports() {
    guard let s = try? Daemon.reportSettings(config) else { return }   // checked in init
    let forwards = puller != nil || !s.collectors.isEmpty
    guard Daemon.reports(config) else { return }
    // This host's own reports are judged as a child's would be, but not against the allow-list.
    reporting = ReportState(acceptance: ReportAcceptance(maxHosts: s.collect != nil ? Daemon.collectorMaxHosts : Daemon.relayMaxHosts,
                                                        forwards: forwards && s.collect == nil),
                            timer: Timer(loop), heartbeat: Timer(loop))
    var taken = ReportAcceptance(maxHosts: s.collect != nil ? Daemon.collectorMaxHosts : Daemon.relayMaxHosts, forwards: s.collect == nil)
    taken.allowed = s.allowed
    if let a = s.collect {
      let c = Relay(loop: loop, env: env, maxConnections: 1024, servesBundles: false)
      c.reports = ReportSink(acceptance: taken, servesFleet: true)
      c.extraMetrics = { [unowned(unsafe) self] in self.daemonMetrics() }
      c.health = { [unowned(unsafe) self] in self.health() }
      do throws(LoopError) {
        try c.start(address: a.address, port: a.port)
        collector = c
        log.info("collecting reports", [("address", .string("\(a.address):\(c.port)"))])
      } catch {
        log.error("unable to start the collector", [("address", "\(a.address):\(a.port)"), ("err", error.description)])
      }
    }
    if forwards && s.collect == nil {
      let f = ReportForwarder(loop: loop, env: env, periodMs: UInt64(config.reportIntervalMs),
                              upstreams: { [unowned(unsafe) self] in self.reportUpstreams(s.collectors) }) { [unowned(unsafe) self] level, message, fields in
        if level == "warn" { self.log.warn(message, fields) } else if level == "error" { self.log.error(message, fields) } else { self.log.info(message, fields) }
      }
      f.resolver.hostsPath = config.hostsFile
      f.resolver.resolvConfPath = config.resolvConf
      forwarder = f
      puller?.onReached = { [unowned(unsafe) self] u in self.forwarder?.reached(u) }
      // Just after this host's heartbeat (below), so a relay's own report goes in its flush.
      f.start(offsetMs: splay(hostID, UInt64(config.reportIntervalMs)) + 50)
    }
    if let r = relay {
      let sink = ReportSink(acceptance: taken, servesFleet: false)
      sink.onNews = { [unowned(unsafe) self] in self.forwarder?.news() }
      r.reports = sink
    }
    // The heartbeat: this host's report every interval, at its offset within it.
    let interval = UInt64(config.reportIntervalMs)
    reporting?.heartbeat.start(after: splay(hostID, interval) + 1, repeat: interval) { [unowned(unsafe) self] in
      self.submitReport(heartbeat: true)
    }
  }

  func stopReports() {
    forwarder?.stop()
    collector?.stop()
    reporting?.timer.stop(); reporting?.timer.close()
    reporting?.heartbeat.stop(); reporting?.heartbeat.close()
  }

  /// Where reports go: the relays the puller would ask (a relay's ancestors; an agent's ranked
  /// relays), never the origins (static servers take no posts), then the collectors.
  func reportUpstreams(_ collectors: [UpstreamURL]) -> [UpstreamURL] {
    var out: [UpstreamURL] = []
    if let p = puller {
      for u in p.upstreams() where u.scheme == .http && !p.config.origins.contains(u) { out.append(u) }
    }
    for c in collectors where !out.contains(c) { out.append(c) }
    return out
  }

  /// This host's reports with news are at most one a second (heartbeats aside).
  static let reportSpacingMs: UInt64 = 1000

  /// A convergence ended: a report with news goes at once, or a second after the last one.
  func reportAfterRun() {
    guard let rs = reporting else { return }
    if let last = rs.last, makeReport().sameNews(as: last) { return }
    loop.updateTime()
    let since = loop.now - rs.lastNewsAt
    if rs.lastNewsAt > 0 && since < Daemon.reportSpacingMs {
      rs.timer.start(after: Daemon.reportSpacingMs - since) { [unowned(unsafe) self] in self.submitReport(heartbeat: false) }
      return
    }
    submitReport(heartbeat: false)
  }

  /// Signs and stores this host's report, and has the forwarder send it: at once, but a relay's
  /// heartbeat, which its periodic flush (just after) takes with its children's.
  func submitReport(heartbeat: Bool) {
    guard let rs = reporting, !shuttingDown, lastRun.endedNs > 0 else { return }
    let r = makeReport()
    loop.updateTime()
    // Heartbeats do not hold news back: the spacing is between reports with news.
    if !heartbeat { rs.lastNewsAt = loop.now }
    rs.last = r
    do throws(StoreError) {
      try HostReporting.submit(r, env: env, acceptance: rs.acceptance, now: wallClockSeconds(), counters: &rs.counters)
    } catch {
      log.error("unable to store this host's report", [("err", error.description)])
      return
    }
    if !(heartbeat && relay != nil) { forwarder?.news(afterMs: 0) }
  }

  /// What this host says now: the bundle in force, the promises' latest outcomes, services, pulls.
  func makeReport() -> HostReport {
    var r = HostReport(hostID: hostID, publicKey: [])
    r.heartbeatSeconds = config.reportIntervalMs / 1000
    // The binary running (an update's label), marked while on trial: a fleet view follows a rollout by it.
    r.version = agent.isTrial ? agent.runningVersion + " (trial)" : agent.runningVersion
    r.target = buildTarget
    r.serial = puller?.heldSerial ?? 0
    if r.serial > 0 {
      do throws(StoreError) {
        let txn = try env.read()
        r.bundleAcceptedAt = try txn.bundleAcceptedAt() ?? 0
        txn.abort()
      } catch {
        log.warn("unable to read when the bundle was accepted", [("err", error.description)])
      }
    }
    r.runAt = lastRun.endedWallNs / 1_000_000_000
    r.runMs = UInt32(truncatingIfNeeded: lastRun.tookNs / 1_000_000)
    if let policy {
      for i in order {
        guard i < outcomes.count, let o = outcomes[i] else { continue }
        switch o.status {
        case .kept: r.kept += 1
        case .repaired: r.repaired += 1
        case .failed:
          r.failed += 1
          if r.failures.count < HostReport.maxFailures {
            r.failures.append(HostReport.Failure(id: policy.promises[i].id, reason: o.reason))
          }
        default: break
        }
      }
    }
    // The bundle names an agent this host refused or rolled back: the fleet wants what it cannot run.
    if let wanted = wantedAgentVersion, wanted != agent.runningVersion {
      do {
        let u = try loadAgentUpdate(env)
        if u.failed.contains(wanted) && r.failures.count < HostReport.maxFailures {
          r.failed += 1
          r.failures.append(HostReport.Failure(id: "agent", reason: u.failureVersion == wanted ? "\(wanted): \(u.failureReason)" : "\(wanted) failed"))
        }
      } catch {
        log.warn("unable to read the agent's update record", [("err", error.description)])
      }
    }
    for s in supervisor.runners {
      if s.machine.phase == .running { r.servicesUp += 1 }
      if s.machine.crashLooping { r.crashLooping.append(s.id) }
    }
    if let p = puller, p.reachable == false { r.pullError = p.stats.lastError }
    return r
  }
}

/// The daemon's reporting state: a class, so the loop's callbacks update it in place.
final class ReportState {
  let acceptance: ReportAcceptance
  var counters = ReportCounters()
  /// The last report submitted, and when the last one with news was (loop ms).
  var last: HostReport? = nil
  var lastNewsAt: UInt64 = 0
  /// A report held back by the once-a-second bound.
  let timer: Timer
  let heartbeat: Timer

  init(acceptance: ReportAcceptance, timer: Timer, heartbeat: Timer) {
    self.acceptance = acceptance
    self.timer = timer
    self.heartbeat = heartbeat
  }
}
