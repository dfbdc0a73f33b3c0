import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore

/// Starts the policy's services in dependency order (a service starts once every service it is
/// `after` is ready), restarts them by their machines' rules, restarts those a repair notified
/// or whose definition changed, stops those removed, and stops everything in reverse order.
/// Records each service's state in `services` for `status`, batched per loop turn.
package final class Supervisor {
  let loop: Loop
  let reaper: ChildReaper
  let log: Logger
  let env: Environment
  let root: String
  /// Where the services' logs go (`StateLayout.serviceLog`).
  let layout: StateLayout
  let crashLoopCount: Int
  let crashLoopWindowMs: UInt32
  /// In start order.
  package var runners: [ServiceRunner] = []
  /// Services blocked by a condition or a failed dependency this run, with the convergence's
  /// reason (it names the condition or the dependency): not started.
  var held: [String: String] = [:]
  let flushTimer: Timer
  var dirty = false
  var accounts: Accounts? = nil
  var random = SystemRandomNumberGenerator()
  /// Called when every service has stopped after `stopAll`.
  var onAllStopped: (() -> Void)? = nil
  var stopping = false
  /// Exit status of the service marked `main` (containers exit with it).
  package var mainExit: Int32? = nil
  /// `run --container`: the main service is not restarted, and its exit on its own ends the
  /// container (`onMainExited`), as the exit of a container's only process would.
  package var container = false
  package var onMainExited: ((Int32) -> Void)? = nil
  /// Processes the agent's previous image handed over (an update in place), by service id:
  /// the first `update` adopts those its policy still lists instead of starting them.
  package var adoptable: [HandoffService] = []

  package init(loop: Loop, reaper: ChildReaper, log: Logger, env: Environment, root: String, stateDir: String,
       crashLoopCount: Int, crashLoopWindowMs: UInt32) {
    self.loop = loop
    self.reaper = reaper
    self.log = log
    self.env = env
    self.root = root
    self.crashLoopCount = crashLoopCount
    self.crashLoopWindowMs = crashLoopWindowMs
    layout = StateLayout(stateDir)
    // Said, not fatal: services run without their log files (each open then fails and says so).
    do { try makeDirectory(layout.logDirectory, mode: 0o700) } catch {
      log.error("unable to create the log directory", [("err", error.description)])
    }
    flushTimer = Timer(loop)
  }

  func jitter() -> Double { Double(UInt16.random(in: 0...UInt16.max, using: &random)) / 65536.0 }

  /// Brings the services to the policy's: new ones are added, removed ones stopped, changed
  /// ones restarted. `blocked` lists services whose condition is false or whose dependency
  /// failed. Services then start as their dependencies become ready.
  package func update(_ policy: Policy, order: [Int], blocked: [String: String]) {
    if stopping { return }
    held = blocked
    var next: [ServiceRunner] = []
    for i in order where policy.promises[i].type == .service {
      let p = policy.promises[i]
      if let existing = runners.first(where: { $0.id == p.id }) {
        if changedDefinition(existing.promise, p) {
          existing.promise = p
          existing.spec = p.service ?? ServiceSpec()
          existing.machine.adopt(rules(existing.spec))
          if !existing.machine.wanted { existing.launched = false }
          if existing.machine.wanted {
            log.info("restarting service: definition changed", [("service", p.id)])
            existing.send(.restart)
          }
        }
        next.append(existing)
      } else {
        next.append(ServiceRunner(p, supervisor: self))
      }
    }
    for r in runners where !next.contains(where: { $0 === r }) {
      log.info("stopping service: removed from the policy", [("service", r.id)])
      r.send(.stop)
      retire(r)
    }
    runners = next
    if !adoptable.isEmpty { adoptHandedOver() }
    for r in runners where held[r.id] != nil {
      r.launched = false
      if r.machine.wanted { r.send(.stop) }
    }
    startReady()
  }

  /// Adopts the handed-over processes that are still the ones handed over: children of this
  /// process (the exec kept them), started at the recorded tick (a reused pid was not). The
  /// rest are not adopted: a stale one's descriptor is closed and the service starts anew; a
  /// process of a service the policy no longer lists is stopped, as a removed service is.
  func adoptHandedOver() {
    let me = processID()
    for h in adoptable {
      let id = h.id
      let current = processStart(h.pid)
      let same = current?.parent == me && current?.ticks == h.startTicks
      if same, let r = runners.first(where: { $0.id == id }), r.machine.phase == .stopped {
        r.adopt(h)
        continue
      }
      if h.outputFD >= 0 { closeFD(h.outputFD) }
      if same {
        log.info("stopping service: handed over but no longer in the policy", [("service", .string(id)), ("pid", .int(Int(h.pid)))])
        signalGroup(h.pid, Signal.terminate)
      } else {
        log.warn("not adopting service: its process is gone or is another", [("service", .string(id)), ("pid", .int(Int(h.pid)))])
      }
    }
    adoptable = []
    // One that exited between the exec and now is a zombie whose SIGCHLD went before the watch.
    reaper.reapAll()
  }

  /// What this image hands to the next: each running or starting service's process and output.
  package func handoff() -> HandoffRecord {
    var h = HandoffRecord()
    for r in runners where r.machine.pid > 0 && (r.machine.phase == .running || r.machine.phase == .starting) {
      guard let start = processStart(r.machine.pid) else { continue }
      h.services.append(HandoffService(id: r.id, pid: r.machine.pid, startTicks: start.ticks,
                                       outputFD: r.output?.descriptor ?? -1, startedWall: r.startedWall))
    }
    return h
  }

  /// Stopped runners of removed services are closed once their process is gone.
  var retired: [ServiceRunner] = []
  func retire(_ r: ServiceRunner) {
    if r.machine.pid == 0 { r.close() } else { retired.append(r) }
  }

  /// The rules a service's machine follows: its spec, but in a container the main service's
  /// exit ends the container, so it is not restarted (that is the runtime's job).
  func rules(_ spec: ServiceSpec) -> ServiceSpec {
    var r = spec
    if container && r.main { r.restart = .never }
    return r
  }

  func changedDefinition(_ a: Promise, _ b: Promise) -> Bool {
    a.exec != b.exec || a.service != b.service || a.owner != b.owner || a.group != b.group
  }

  /// Starts every wanted-but-stopped service whose service dependencies are ready.
  func startReady() {
    if stopping { return }
    for r in runners where !r.launched && r.machine.phase == .stopped && held[r.id] == nil {
      if dependenciesReady(r) {
        r.launched = true
        r.send(.start)
      }
    }
  }

  func dependenciesReady(_ r: ServiceRunner) -> Bool {
    for dep in r.promise.after {
      if let d = runners.first(where: { $0.id == dep }), !d.ready { return false }
    }
    return true
  }

  func becameReady(_ r: ServiceRunner) {
    log.info("service ready", [("service", r.id)])
    startReady()
  }

  func exited(_ r: ServiceRunner, status: Int32) {
    if r.spec.main { mainExit = status }
    if let i = retired.firstIndex(where: { $0 === r }), r.machine.pid == 0 {
      retired.remove(at: i)
      r.close()
    }
    if stopping { continueStopping(); return }
    // Not when it was stopped on request (held by a false condition, removed, restarted).
    if container && r.spec.main && r.machine.exitedOnItsOwn { onMainExited?(status) }
  }

  /// Restarts services notified by a repair this run (a stopped one just starts).
  package func notify(_ ids: [String]) {
    for id in ids {
      guard let r = runners.first(where: { $0.id == id }), held[id] == nil else { continue }
      log.info("restarting service: notified", [("service", id)])
      r.send(r.machine.phase == .stopped ? .start : .restart)
    }
  }

  /// The outcome a service promise reports in a convergence.
  package func outcome(_ p: Promise) -> Outcome {
    guard let r = runners.first(where: { $0.id == p.id }) else {
      // Checked and taken over by the update that follows this convergence.
      if adoptable.contains(where: { $0.id == p.id }) { return Outcome(.kept, "handed over by the agent's previous image") }
      return Outcome(.repaired, "will start")
    }
    defer { r.startedThisRun = false }
    return current(r)
  }

  /// What a service's promise says now: kept while it runs healthy, failed in a crash loop,
  /// when it cannot be started or when its health check did not pass within its start
  /// timeout, repaired while it is being (re)started. One that exited on its own keeps saying
  /// so through a shutdown; one waiting behind a failed dependency is skipped, naming it.
  func current(_ r: ServiceRunner, depth: Int = 0) -> Outcome {
    if r.machine.crashLooping {
      return Outcome(.failed, "crash loop: \(r.machine.restarts) restarts, last exit \(r.machine.lastExit.map(exitText) ?? "-")\(r.lastError.isEmpty ? "" : "; " + r.lastError)")
    }
    if r.machine.startTimedOut && r.machine.phase != .running {
      return Outcome(.failed, "health check did not pass within \(millisecondsText(r.spec.startTimeoutMs)) of start (start_timeout)"
                     + (r.machine.wanted ? "; restarting" : ""))
    }
    if !r.lastError.isEmpty && r.machine.phase != .running { return Outcome(.failed, r.lastError) }
    switch r.machine.phase {
    case .running: return r.startedThisRun ? Outcome(.repaired, "started") : .kept
    case .starting: return Outcome(.repaired, "starting")
    case .backoff: return Outcome(.repaired, "restarting after exit \(r.machine.lastExit.map(exitText) ?? "-")")
    case .stopping: return Outcome(.repaired, "restarting")
    case .stopped:
      if r.machine.exitedOnItsOwn, let exit = r.machine.lastExit {
        return Outcome(.kept, "exited with \(exitText(exit)); restart is \(r.machine.restart == .never ? "never" : "on-failure")")
      }
      if stopping { return Outcome(.kept, "stopped for shutdown") }
      if let reason = held[r.id] { return Outcome(.skipped, reason) }
      if !r.launched, let dep = r.promise.after.lazy.compactMap({ id in self.runners.first { $0.id == id && !$0.ready } }).first {
        // Plans have no cycles; the bound only keeps a broken one from recursing for ever.
        let o = depth < 64 ? current(dep, depth: depth + 1) : Outcome(.failed, "dependency chain too deep")
        if o.status == .failed || o.status == .skipped {
          return Outcome(.skipped, "dependency \"\(dep.id)\" \(o.status == .failed ? "failed" : "skipped"): \(o.reason)")
        }
        return Outcome(.repaired, "will start after \"\(dep.id)\" is ready")
      }
      return Outcome(.repaired, "will start")
    }
  }

  /// Stops everything in reverse start order, one at a time, each within its stop timeout
  /// (then SIGKILL); `done` runs when none is left.
  package func stopAll(_ done: @escaping () -> Void) {
    stopping = true
    onAllStopped = done
    continueStopping()
  }

  func continueStopping() {
    for r in runners.reversed() where r.machine.phase != .stopped {
      if r.machine.phase == .backoff || r.machine.pid == 0 {
        r.send(.stop)
        continue
      }
      if r.machine.phase != .stopping { r.send(.stop) }
      return   // wait for this one's exit
    }
    for r in retired where r.machine.pid != 0 { return }
    flush()
    let done = onAllStopped
    onAllStopped = nil
    done?()
  }

  /// Closes every service's log file (after `stopAll`, before the state disk is unmounted).
  package func closeLogs() {
    for r in runners { r.log.close() }
    for r in retired { r.log.close() }
  }

  // MARK: the service's world

  func environment(for r: ServiceRunner) -> [String] {
    var out = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "EDGEAGENT_SERVICE=\(r.id)"]
    out.append(contentsOf: r.spec.env)
    return out
  }

  /// Who the service runs as, from the root's /etc files (read once); nil for the agent's own.
  func credentials(for p: Promise) throws(CredentialsError) -> Credentials? {
    if p.owner == nil && p.group == nil { return nil }
    if accounts == nil { accounts = readAccounts(root: root) }
    return try Credentials.resolve(user: p.owner, group: p.group, in: accounts!)
  }

  /// An exec health probe: runs the argv as the service (its uid, gid and groups, never the
  /// agent's root), passes on exit 0 within the timeout.
  func runProbe(_ h: HealthCheck, as credentials: Credentials?, _ report: @escaping (Bool) -> Void) {
    var r = SpawnRequest(argv: h.target, environment: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
    r.credentials = credentials
    guard let pid = try? spawn(r) else { report(false); return }
    let timeout = Timer(loop)
    var finished = false
    timeout.start(after: UInt64(h.timeoutMs)) {
      if finished { return }
      finished = true
      signalGroup(pid, 9)
      timeout.close()
      report(false)
    }
    reaper.watch(pid) { status in
      if finished { return }
      finished = true
      timeout.close()
      report(status == 0)
    }
    reaper.reapAll()
  }

  // MARK: records

  func changed(_ r: ServiceRunner) {
    if dirty { return }
    dirty = true
    // One write transaction per loop turn, after the actions: a restart never waits for a commit.
    flushTimer.start(after: 0) { [unowned(unsafe) self] in self.flush() }
  }

  func flush() {
    guard dirty else { return }
    dirty = false
    let outcomes = runners.map { r in (r.id, current(r)) }
    let now = wallClockSeconds()
    let records = runners.map { r in
      (r.id, ServiceRecord(phase: r.machine.phase, pid: r.machine.pid, startedAt: r.machine.pid > 0 ? r.startedWall : 0,
                           restarts: r.machine.restarts, lastExit: r.machine.lastExit ?? 0,
                           hasExited: r.machine.lastExit != nil, ready: r.ready, crashLooping: r.machine.crashLooping,
                           startTimedOut: r.machine.startTimedOut).encode())
    }
    do throws(StoreError) {
      try env.withWrite { (txn) throws(StoreError) in
        try txn.clear(.services)
        for (id, rec) in records { try txn.put(.services, id, rec) }
        // The service promises' outcomes follow their state between convergences.
        // A service stays "repaired" across flushes while it starts: count that once.
        // Between runs: stamped with the last run's serial, so no earlier mark settles them.
        let run = try txn.runSerial()
        for (id, o) in outcomes {
          try storeOutcome(txn, id: id, o, fingerprint: .zero, now: now, run: run, evenIfUnchanged: false,
                           oneRepairWhileRepaired: true)
        }
      }
    } catch {
      log.error("unable to record service state", [("err", error.description)])
    }
  }
}

package func exitText(_ s: Int32) -> String { s < 0 ? "signal \(-s)" : "status \(s)" }

/// "250ms", "1500ms", "2s": how a policy's durations read back.
func millisecondsText(_ ms: UInt32) -> String {
  ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
}
