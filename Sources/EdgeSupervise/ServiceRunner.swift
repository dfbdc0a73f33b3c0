import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore

/// One supervised service: its machine, the handles that feed it events (restart/stop timer,
/// health probes, the output pipe), and what carrying out its actions takes.
package final class ServiceRunner {
  package let id: String
  var promise: Promise
  var spec: ServiceSpec
  package var machine: ServiceMachine
  let timer: Timer
  let probeTimer: Timer
  var probing = false
  var output: PipeReader? = nil
  let log: LogFile
  /// Set when its health passed (or it has none) since it last started.
  var ready = false
  /// When the current process started, wall clock seconds.
  var startedWall: Int64 = 0
  /// Started by the supervisor since it was last held back: `restart: never` stays exited.
  var launched = false
  /// Restarted in the current convergence (for its outcome).
  var startedThisRun = false
  var lastError = ""
  /// Resolved at each start; its health probes run with the same.
  var credentials: Credentials? = nil
  /// When the last exit was reaped (monotonic ns): the restart log line reports the agent's
  /// own reaction time, exit seen to new process running.
  var reapedAt: UInt64 = 0
  unowned(unsafe) let supervisor: Supervisor

  init(_ p: Promise, supervisor: Supervisor) {
    id = p.id
    promise = p
    spec = p.service ?? ServiceSpec()
    machine = ServiceMachine(supervisor.rules(spec))
    machine.crashLoopCount = supervisor.crashLoopCount
    machine.crashLoopWindowMs = UInt64(supervisor.crashLoopWindowMs)
    self.supervisor = supervisor
    timer = Timer(supervisor.loop)
    probeTimer = Timer(supervisor.loop)
    log = LogFile(path: supervisor.layout.serviceLog(p.id))
  }

  /// Feeds an event and carries out the actions.
  func send(_ event: ServiceMachine.Event) {
    let before = machine.phase
    let actions = machine.handle(event, now: supervisor.loop.now, jitter: supervisor.jitter())
    for a in actions { perform(a) }
    if machine.phase != before || !actions.isEmpty { supervisor.changed(self) }
  }

  func perform(_ action: ServiceMachine.Action) {
    switch action {
    case .spawn: start()
    case .signal(let s):
      if machine.pid > 0 { signalGroup(machine.pid, s) }
    case .arm(let ms):
      timer.start(after: UInt64(ms)) { [unowned(unsafe) self] in self.send(.timer) }
    case .disarm:
      timer.stop()
    case .probe(let on):
      probing = on
      if on { scheduleProbe(after: 0) } else { probeTimer.stop() }
    case .ready:
      ready = true
      supervisor.becameReady(self)
    }
  }

  func start() {
    machine.willSpawn()
    ready = false
    var r = SpawnRequest(argv: promise.exec, environment: supervisor.environment(for: self))
    r.cwd = spec.cwd ?? "/"
    do {
      credentials = try supervisor.credentials(for: promise)
    } catch {
      lastError = "\"\(error.key)\": \(error.message)"
      supervisor.log.error("unable to start service", [("service", id), ("key", error.key), ("err", error.message)])
      send(.spawnFailed)
      return
    }
    r.credentials = credentials
    var pipe: (Int32, Int32)? = nil
    do { pipe = try makePipe() } catch { supervisor.log.warn("unable to capture output", [("service", id), ("err", error.description)]) }
    r.outputFD = pipe?.1 ?? -1
    let pid: Int32
    do {
      pid = try spawn(r)
    } catch {
      if let pipe { closeFD(pipe.0); closeFD(pipe.1) }
      lastError = error.description
      supervisor.log.error("unable to start service", [("service", id), ("err", error.description)])
      send(.spawnFailed)
      return
    }
    if let pipe {
      closeFD(pipe.1)
      attachOutput(pipe.0)
    }
    startedWall = wallClockSeconds()
    startedThisRun = true
    lastError = ""
    supervisor.reaper.watch(pid) { [unowned(unsafe) self] status in self.exited(pid: pid, status: status) }
    var fields: [(String, LogValue)] = [("service", .string(id)), ("pid", .int(Int(pid))), ("restarts", .int(Int(machine.restarts)))]
    if reapedAt > 0 {
      fields.append(("restart_us", .int(Int((monotonicNanoseconds() - reapedAt) / 1000))))
      reapedAt = 0
    }
    supervisor.log.info("started service", fields)
    send(.spawned(pid: pid))
  }

  /// Takes over a process the agent's previous image started (Supervisor.adoptHandedOver):
  /// its output pipe is read from where that image stopped, its exit is watched, and it goes
  /// through `starting` (health probes, readiness) as a spawned one does, without a restart.
  func adopt(_ h: HandoffService) {
    do { credentials = try supervisor.credentials(for: promise) } catch { credentials = nil }
    startedWall = h.startedWall
    launched = true
    lastError = ""
    if h.outputFD >= 0 {
      closeOnExec(h.outputFD)
      attachOutput(h.outputFD)
    }
    let pid = h.pid
    supervisor.reaper.watch(pid) { [unowned(unsafe) self] status in self.exited(pid: pid, status: status) }
    supervisor.log.info("adopted service", [("service", .string(id)), ("pid", .int(Int(pid)))])
    send(.adopted(pid: pid))
  }

  func attachOutput(_ fd: Int32) {
    guard let reader = try? PipeReader(supervisor.loop, fd: fd) else { closeFD(fd); return }
    output = reader
    reader.start { [unowned(unsafe) self] bytes in
      if let bytes { self.log.append(bytes) }
    }
  }

  func exited(pid: Int32, status: Int32) {
    guard pid == machine.pid else { return }
    reapedAt = monotonicNanoseconds()
    ready = false
    let how = status < 0 ? "signal \(-status)" : "status \(status)"
    supervisor.log.info("service exited", [("service", .string(id)), ("pid", .int(Int(pid))), ("exit", .string(how))])
    send(.exited(status: status))
    if machine.crashLooping {
      supervisor.log.warn("service is crash looping", [("service", .string(id)), ("restarts", .int(Int(machine.restarts)))])
    }
    supervisor.exited(self, status: status)
  }

  func scheduleProbe(after ms: UInt64) {
    probeTimer.start(after: ms) { [unowned(unsafe) self] in self.probe() }
  }

  func probe() {
    guard probing, let h = spec.health else { return }
    let pidAtStart = machine.pid
    let report: (Bool) -> Void = { [unowned(unsafe) self] passed in
      guard self.probing, self.machine.pid == pidAtStart else { return }
      if passed {
        if self.machine.phase == .starting { self.send(.healthPassed) }
      } else if self.machine.phase == .running {
        self.supervisor.log.warn("health check failed", [("service", self.id)])
        self.send(.healthFailed)
      }
      if self.probing { self.scheduleProbe(after: UInt64(self.machine.phase == .starting ? min(h.intervalMs, 100) : h.intervalMs)) }
    }
    switch h.kind {
    case .tcp, .http:
      let p = HealthProbe(supervisor.loop)
      let http = h.kind == .http
      p.start(hostPort: http ? hostPortOfURL(h.target[0]) : h.target[0], httpPath: http ? pathOfURL(h.target[0]) : nil,
              timeoutMs: h.timeoutMs, report)
    case .exec:
      supervisor.runProbe(h, as: credentials, report)
    }
  }

  func close() {
    timer.close()
    probeTimer.close()
    output?.close()
  }
}
