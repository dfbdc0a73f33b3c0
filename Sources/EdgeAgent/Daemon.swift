import EdgeConverge
import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeStore
import EdgeSupervise

/// `edgeagent run`: one thread, one libuv loop. Converges at start, then on a timer aligned to
/// a per-host splay (so a fleet spreads evenly), at once on SIGHUP or when the policy file
/// changes, and for just the touched promises when a watched path drifts. Supervises the
/// policy's services. As PID 1 it also mounts the pseudo-filesystems, brings up loopback, loads
/// the configured modules and mounts the configured disks, reaps every orphan, and
/// turns SIGTERM/SIGINT/SIGPWR into an ordered shutdown and a poweroff.
///
/// Bad input never stops it: a broken policy file is logged with its line:column and the last
/// good policy (in `desired`) stays in force.
public final class Daemon {
  public let config: DaemonConfig
  let loop = Loop()
  let log: Logger
  let root: String
  let env: Environment
  /// Held for the daemon's life: one agent per state directory.
  let stateLock: StateLock
  let reaper: ChildReaper
  let supervisor: Supervisor
  let converger: Converger
  /// Repairs drift of files, directories and links while `converger` waits for a command.
  let driftConverger: Converger
  /// The convergence waiting for a command, a policy to install after it, and what was asked
  /// meanwhile (Daemon+Commands.swift).
  var inFlight: Convergence? = nil
  var pendingInstall: (policy: Policy, digest: Digest)? = nil
  var queuedFull = false
  var queuedDrift: Set<Int> = []
  public let isInit: Bool
  public let hostID: String
  var classes: Set<String>

  var policy: Policy? = nil
  var order: [Int] = []
  var prepared: [PreparedPromise] = []
  var policyDigest: Digest = .zero
  /// The last outcome of each promise, by index.
  var outcomes: [Outcome?] = []

  let convergeTimer: Timer
  let driftTimer: Timer
  let reloadTimer: Timer
  /// Gives back the heap a large policy text or bundle left (see `TransientBuffers`).
  let heapTrim: HeapTrim
  var signals: [SignalWatcher] = []
  var watchdog: Timer? = nil
  /// Directory watches by host directory; entries by directory and name -> promise indexes.
  var watchers: [String: FileWatcher] = [:]
  var watched: [String: [String: [Int]]] = [:]
  var pendingDrift: Set<Int> = []
  var shuttingDown = false
  var notifiedReady = false
  public private(set) var exitCode: Int32 = 0
  /// A bundle was accepted, so the policy file no longer counts (said once).
  var policyFileSuperseded = false
  /// Bundles (Daemon+Bundles.swift): nil unless upstreams / a relay are configured.
  var puller: Puller? = nil
  var relay: Relay? = nil
  /// Convergences run, full and partial (for tests and metrics).
  public internal(set) var runs = 0
  /// When the process started (monotonic ns; the CLI sets it at entry): the first `converged`
  /// line reports exec-to-converged from it.
  public let startedNs: UInt64
  /// The kernel ran us as /init (not a PID namespace's init): boot milestones go to the kernel log.
  public let kernelInit: Bool

  /// `startedNs`: monotonic ns at the process's entry (the CLI's first line); `kernelInit`: the
  /// kernel ran us as /init, so boot milestones go to the kernel log and log lines carry `t_ms`.
  public init(_ config: DaemonConfig, startedNs: UInt64 = monotonicNanoseconds(), kernelInit: Bool = false) throws(AgentError) {
    self.config = config
    self.startedNs = startedNs
    self.kernelInit = kernelInit
    let boot = Logger(json: config.logJSON, startedNs: kernelInit ? startedNs : nil)
    log = boot
    isInit = processID() == 1
    if isInit {
      attachConsole()
      for line in mountPseudoFilesystems() { boot.info(line) }
      attachConsole()   // an initramfs without /dev/console: now devtmpfs has one
      if kernelInit { kernelLog("edgeagent: /init started \(elapsedMilliseconds(since: startedNs)) ms ago") }
      do throws(HostError) {
        if try bringUpLoopback() { boot.info("loopback up") }
      } catch {
        boot.error("unable to bring up loopback", [("err", error.description)])
      }
      Daemon.prepareDisks(config, log: boot)
    } else {
      // Orphans of our services come to us, not to the host's init.
      becomeSubreaper()
    }
    root = try normalisedRoot(config.root)
    // One fdatasync per commit: `converge` syncs after recording its outcomes, and shutdown
    // closes the state, so what must be durable is; the rest (host id, an accepted bundle,
    // service states) reaches the disk with the next sync, or is undone whole by a crash.
    do {
      // Before anything is opened or started: a second agent on this state stops here.
      stateLock = try StateLock(stateDir: config.stateDir)
      env = try Environment(path: config.stateDir, deferredMetaSync: true,
                            initialMeta: config.hostID == nil ? [(MetaKey.hostID.name, Array(randomHex(16).utf8))] : [])
    } catch { throw .store(error) }
    hostID = try Daemon.loadHostID(env, override: config.hostID)
    if kernelInit { boot.info("state opened", [("state", config.stateDir)]) }
    _ = try Daemon.bundleSettings(config)
    classes = hostClasses(labels: config.labels)
    do { reaper = try ChildReaper(loop) } catch { throw .input(error.description) }
    supervisor = Supervisor(loop: loop, reaper: reaper, log: log, env: env, root: root, stateDir: config.stateDir,
                            crashLoopCount: config.crashLoopCount, crashLoopWindowMs: config.crashLoopWindowMs)
    do {
      converger = try Converger(root: root, classes: classes, dryRun: false)
      driftConverger = try Converger(root: root, classes: classes, dryRun: false)
    } catch { throw .host(error) }
    convergeTimer = Timer(loop)
    driftTimer = Timer(loop)
    reloadTimer = Timer(loop)
    heapTrim = HeapTrim(loop)
    converger.serviceOutcome = { [unowned(unsafe) self] p in self.supervisor.outcome(p) }
    supervisor.container = config.container
    supervisor.onMainExited = { [unowned(unsafe) self] status in
      self.log.info("main service exited; stopping the others", [("exit", exitText(status))])
      self.shutdown(reason: "main service exited")
    }
  }

  /// Runs until shutdown; returns the exit code (as PID 1 it powers off instead of returning).
  public func run() -> Int32 {
    log.info("starting", [("version", edgeagentVersion), ("target", buildTarget), ("host_id", hostID),
                          ("pid1", isInit ? "yes" : "no"), ("root", root), ("state", config.stateDir)])
    watchSignals()
    loadPolicy(initial: true)
    converge()
    scheduleNext()
    startBundles()
    if let ms = watchdogIntervalMs() {
      let t = Timer(loop)
      t.start(after: ms / 2, repeat: ms / 2) { sdNotify("WATCHDOG=1") }
      watchdog = t
    }
    loop.run()
    return exitCode
  }

  // MARK: policy

  /// Reads the policy file; on any problem keeps the policy in force (or the last good one
  /// from the state at start) and says why.
  ///
  /// With both a policy file and upstreams, the file is the bootstrap: it is in force until the
  /// first bundle is accepted, and from then on bundles win, across restarts: the file is
  /// ignored (said once), since a signed serial must not be undone by a local edit, nor flip
  /// back and forth with it at every interval.
  func loadPolicy(initial: Bool) {
    if let path = config.policy, !config.upstreams.isEmpty, let serial = heldSerialOrSaid() {
      if !policyFileSuperseded {
        policyFileSuperseded = true
        log.info("policy file ignored: a signed bundle is in force", [("file", path), ("serial", String(serial))])
      }
    } else if let path = config.policy {
      do throws(AgentError) {
        var bytes: [UInt8]
        do { bytes = try readWholeFile(path, limit: maxPolicyBytes) } catch { throw AgentError.host(error) }
        let digest = SHA256.hash(bytes)
        if digest == policyDigest && policy != nil { return }
        TransientBuffers.note(bytes.count)
        let p: Policy
        do { p = try PolicyDecoder.decode(releasing: &bytes) } catch { throw AgentError.policy(error, file: path) }
        install(p, digest: digest)
        log.info("policy loaded", [("policy", p.name), ("promises", String(p.promises.count)), ("file", path)])
        watchPolicyFile(path)
        return
      } catch {
        log.error("policy rejected, keeping the last good one", [("file", path), ("err", error.description)])
        watchPolicyFile(path)
      }
    }
    if initial && policy == nil {
      do throws(StoreError) {
        if let p = try loadDesiredPolicy(env) {
          install(p, digest: try storedPolicyDigest())
          log.info("converging to the last good policy from the state", [("policy", p.name), ("promises", String(p.promises.count))])
        } else {
          log.warn("no policy yet: nothing to converge", [("state", config.stateDir)])
        }
      } catch {
        log.error("unable to read the last good policy", [("err", error.description)])
      }
    }
  }

  /// Puts a validated policy in force (the puller calls this for an accepted bundle too).
  public func replacePolicy(_ p: Policy, digest: Digest) {
    install(p, digest: digest)
    converge()
  }

  func install(_ p: Policy, digest: Digest) {
    // The convergence in flight holds the old policy's indexes: the new one waits for its end.
    if inFlight != nil {
      pendingInstall = (p, digest)
      return
    }
    guard let o = try? Plan.order(p.promises) else { return }
    policy = p
    order = o
    prepared = converger.prepare(p)
    policyDigest = digest
    outcomes = [Outcome?](repeating: nil, count: p.promises.count)
  }

  /// The digest stored with `desired`; .zero when there is none (the next record replaces it).
  func storedPolicyDigest() throws(StoreError) -> Digest {
    let txn = try env.read()
    let d = try txn.policyDigest()
    txn.abort()
    return d ?? .zero
  }

  // MARK: convergence

  /// Converges every promise, or just `only` (drift), records the outcomes, then brings the
  /// services along. A command promise runs as a child watched by the loop: the convergence
  /// waits for it without holding the loop (`step`, Daemon+Commands.swift).
  func converge(only: [Int]? = nil) {
    // A new policy (a file read, a bundle accepted) comes through here: its text is let go by now or within this turn.
    heapTrim.soon()
    guard let policy, !shuttingDown else { return }
    if inFlight != nil {
      convergeWhileCommandRuns(only)
      return
    }
    runs += 1
    let t0 = monotonicNanoseconds()
    let runOrder = only.map { set in order.filter { set.contains($0) } } ?? order
    converger.begin(policy, prepared, order: runOrder)
    inFlight = Convergence(policy: policy, order: order, prepared: prepared, digest: policyDigest, only: only, t0: t0)
    step()
  }

  /// Records a finished convergence's outcomes and brings the services along.
  func complete(_ c: Convergence, _ converger: Converger, _ result: [Outcome?]) {
    let policy = c.policy, order = c.order, prepared = c.prepared, only = c.only, t0 = c.t0
    let runOrder = only.map { set in order.filter { set.contains($0) } } ?? order
    let t1 = monotonicNanoseconds()
    var summary = RunSummary()
    for i in runOrder {
      guard let o = result[i] else { continue }
      outcomes[i] = o
      summary.add(o.status)
      let p = policy.promises[i]
      if o.status == .repaired && p.type != .service {
        log.info("repaired", [("promise", p.id), ("type", p.type.name), ("reason", o.reason)])
      } else if o.status == .failed {
        log.warn("promise failed", [("promise", p.id), ("type", p.type.name), ("reason", o.reason)])
      }
    }
    do throws(StoreError) {
      _ = try record(env, policy: policy, order: order, digest: c.digest, prepared: prepared, outcomes: result,
                     statUpdates: converger.statUpdates, summary: only == nil ? summary : nil,
                     classes: classDigest(classes), policyFile: "")
      try env.sync()
    } catch {
      log.error("unable to record outcomes", [("err", error.description)])
    }
    let t2 = monotonicNanoseconds()
    // Services follow the files: blocked ones (false condition, failed dependency) are held.
    var blocked: [String: String] = [:]
    var notified: [String] = []
    for i in order where policy.promises[i].type == .service {
      let p = policy.promises[i]
      if let o = outcomes[i], o.status == .skipped { blocked[p.id] = o.reason }
      if converger.notified.count > i && converger.notified[i] { notified.append(p.id) }
    }
    // Notify first: it restarts services that were already running; new ones start fresh.
    supervisor.notify(notified)
    supervisor.update(policy, order: order, blocked: blocked)
    if only == nil {
      let now = monotonicNanoseconds()
      var fields = [("policy", policy.name), ("kept", String(summary.kept)), ("repaired", String(summary.repaired)),
                    ("failed", String(summary.failed)), ("skipped", String(summary.skipped)), ("ms", String((now - t0) / 1_000_000)),
                    ("check_ms", String((t1 - t0) / 1_000_000)), ("record_ms", String((t2 - t1) / 1_000_000))]
      if !notifiedReady { fields.append(("since_start_ms", String((now - startedNs) / 1_000_000))) }
      log.info("converged", fields)
      // The boot milestone, stamped by the kernel's clock like its own messages.
      if !notifiedReady && kernelInit { kernelLog("edgeagent: first convergence complete (\(summary.failed) failed)") }
      rewatch()
    }
    // Ready after the first whole pass, not after a drift repair made while it waits for a command.
    if !notifiedReady && converger === self.converger {
      notifiedReady = true
      sdNotify("READY=1")
    }
  }

  /// The next full run: every interval, at this host's offset within it.
  func scheduleNext() {
    let interval = UInt64(config.intervalMs)
    let offset = UInt64(splay(hostID, interval))
    let nowMs = UInt64(wallClockNanoseconds() / 1_000_000)
    let phase = (nowMs + interval - offset % interval) % interval
    let delay = interval - phase
    convergeTimer.start(after: delay < 100 ? delay + interval : delay) { [unowned(unsafe) self] in
      self.loadPolicy(initial: false)
      self.converge()
      self.scheduleNext()
    }
  }

  // MARK: drift

  /// Watches the directory of every managed path; a change there re-checks just the promises
  /// on that name, after a 1 ms debounce (a rename is two events).
  func rewatch() {
    guard let policy else { return }
    var wanted: [String: [String: [Int]]] = [:]
    for i in order where policy.promises[i].type.managesPath {
      let pp = prepared[i]
      let dir = pp.parent.isEmpty ? root : join(root, pp.parent)
      wanted[dir, default: [:]][pp.name, default: []].append(i)
    }
    for (dir, w) in watchers where wanted[dir] == nil && dir != policyDirectory {
      w.close()
      watchers[dir] = nil
    }
    for dir in wanted.keys where watchers[dir] == nil {
      let w = FileWatcher(loop, path: dir)
      do throws(LoopError) {
        try w.start { [unowned(unsafe) self] name in self.changed(dir, name) }
        watchers[dir] = w
      } catch {
        w.close()   // not there yet: the next run's repair creates it, and rewatches
        if error.errno != .noEntry && error.errno != .notDirectory { watchFailed(dir, error) }
      }
    }
    watched = wanted
  }

  var policyDirectory = ""
  var watchWarnings: Set<String> = []
  var policyName = ""

  func watchPolicyFile(_ path: String) {
    let dir = parentPath(path)
    policyDirectory = dir
    policyName = String(path.utf8.split(separator: UInt8(ascii: "/")).last.map { String(decoding: $0, as: UTF8.self) } ?? "")
    if watchers[dir] != nil { return }
    let w = FileWatcher(loop, path: dir)
    do throws(LoopError) {
      try w.start { [unowned(unsafe) self] name in self.changed(dir, name) }
      watchers[dir] = w
    } catch {
      w.close()
      watchFailed(dir, error)
    }
  }

  /// Without a watch (inotify's per-user instance or watch limit, say), edits and drift are
  /// still found, at the next interval: say so, once per directory and cause.
  func watchFailed(_ dir: String, _ error: LoopError) {
    let key = dir + "\u{0}" + error.errno.description
    guard !watchWarnings.contains(key) else { return }
    watchWarnings.insert(key)
    log.warn("unable to watch, changes are seen at the next interval", [("path", dir), ("err", error.errno.description)])
  }

  func changed(_ dir: String, _ name: String) {
    if dir == policyDirectory && name == policyName {
      // Editors write in several steps: let them finish.
      reloadTimer.start(after: 50) { [unowned(unsafe) self] in
        self.loadPolicy(initial: false)
        self.converge()
      }
      return
    }
    // A watched directory itself changed (removed, renamed, replaced): its watch is gone or
    // follows the old inode. Drop it and converge everything: the promises under it need a
    // check, and the new directory a new watch (rewatch runs after full runs).
    let child = join(dir, name)
    if child != dir, let w = watchers[child] {
      w.close()
      watchers[child] = nil
      fullPending = true
    }
    if let indexes = watched[dir]?[name] {
      for i in indexes { pendingDrift.insert(i) }
    } else if !fullPending {
      return
    }
    driftTimer.start(after: 1) { [unowned(unsafe) self] in
      let only = Array(self.pendingDrift)
      self.pendingDrift.removeAll()
      if self.fullPending {
        self.fullPending = false
        self.converge()
      } else {
        self.converge(only: only)
      }
    }
  }

  /// Set when a watched directory was replaced: the next drift run is a full run.
  var fullPending = false

  // MARK: signals and shutdown

  func watchSignals() {
    // SIGUSR2 is what busybox's `poweroff` sends init.
    for sig in [Signal.terminate, Signal.interrupt, Signal.power, Signal.hangup, Signal.user1, Signal.user2] {
      let w = SignalWatcher(loop)
      do throws(LoopError) {
        try w.start(sig) { [unowned(unsafe) self] n in self.signal(n) }
      } catch {
        log.warn("unable to watch a signal", [("signal", String(sig)), ("err", error.description)])
      }
      signals.append(w)
    }
  }

  func signal(_ n: Int32) {
    switch n {
    case Signal.hangup:
      log.info("SIGHUP: converging now")
      loadPolicy(initial: false)
      converge()
    case Signal.user1:
      log.info("status", [("orphans_reaped", String(reaper.orphansReaped)), ("runs", String(runs))])
    default:
      let names: [Int32: String] = [Signal.power: "SIGPWR", Signal.interrupt: "SIGINT", Signal.user2: "SIGUSR2"]
      shutdown(reason: names[n] ?? "SIGTERM")
    }
  }

  /// Stops every service in reverse order within their timeouts, then syncs and, as PID 1,
  /// powers off (in a container: exits with the main service's status).
  public func shutdown(reason: String) {
    if shuttingDown { return }
    shuttingDown = true
    log.info("shutting down", [("reason", reason)])
    cancelCommand()
    // systemd (and anything else on $NOTIFY_SOCKET) learns the stop is ours, not a crash.
    sdNotify("STOPPING=1")
    stopBundles()
    supervisor.stopAll { [unowned(unsafe) self] in
      self.log.info("all services stopped")
      // A main service ended by a signal exits 128 + the signal, as sh and container runtimes
      // report it (exit(-15) would show as 241).
      let main = self.supervisor.mainExit ?? 0
      self.exitCode = self.config.container ? (main < 0 ? 128 - main : main) : 0
      self.supervisor.closeLogs()
      self.env.close()
      self.stateLock.release()
      if self.isInit && !self.config.container { self.releaseDisks() }
      syncAll()
      if self.isInit && !self.config.container {
        self.log.info("powering off")
        let e = powerOff()
        self.log.error("unable to power off", [("err", e.description)])
      }
      self.loop.stop()
    }
  }

  // MARK: boot

  /// As PID 1, before the state is opened: loads the configured kernel modules in order, then
  /// mounts the configured filesystems. A failure is logged and boot goes on: without its state
  /// disk the agent still converges, with its state in memory.
  static func prepareDisks(_ config: DaemonConfig, log: Logger) {
    for path in config.modules {
      do throws(HostError) {
        log.info(try loadKernelModule(path) ? "loaded module" : "module already loaded", [("module", path)])
      } catch {
        log.error("unable to load module", [("module", path), ("err", error.description)])
      }
    }
    for m in config.mounts {
      do throws(HostError) {
        let done = try mountFilesystem(m)
        log.info(done ? "mounted" : "already mounted", [("device", m.device), ("path", m.path), ("type", m.type)])
      } catch {
        log.error("unable to mount", [("device", m.device), ("path", m.path), ("type", m.type), ("err", error.description)])
      }
    }
  }

  /// As PID 1, after the state is closed: unmounts the configured filesystems in reverse order
  /// (read-only when still busy), so the next boot mounts them clean, with no journal replay.
  func releaseDisks() {
    for m in config.mounts.reversed() {
      do throws(HostError) {
        switch try unmountFilesystem(m.path) {
        case .unmounted: log.info("unmounted", [("path", m.path)])
        case .remountedReadOnly: log.warn("busy, remounted read-only", [("path", m.path)])
        case .notMounted: break
        }
      } catch {
        log.error("unable to unmount", [("path", m.path), ("err", error.description)])
      }
    }
  }

  // MARK: identity

  /// A random 128-bit id made on first start and kept in meta; the splay derives from it.
  /// The environment's `initialMeta` writes it with the databases on first start; this reads it.
  static func loadHostID(_ env: Environment, override: String?) throws(AgentError) -> String {
    if let override { return override }
    do throws(StoreError) {
      // Read first: a write transaction is not free on a slow disk, and it is there after boot 1.
      let txn = try env.read()
      let held = try txn.hostID()
      txn.abort()
      if let held { return held }
      return try env.withWrite { (txn) throws(StoreError) -> String in
        if let id = try txn.hostID() { return id }
        let id = randomHex(16)
        try txn.setHostID(id)
        return id
      }
    } catch { throw .store(error) }
  }
}

/// This host's offset within an interval: the first 8 bytes of sha256(host id), mod interval.
public func splay(_ hostID: String, _ intervalMs: UInt64) -> UInt64 {
  guard intervalMs > 0 else { return 0 }
  return SHA256.hash(Array(hostID.utf8)).w0 % intervalMs
}
