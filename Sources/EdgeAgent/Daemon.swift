import EdgeConverge
import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeStore
import EdgeSupervise
import EdgeUpdate

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
  /// The facts the policy's templates were rendered with (Daemon+Facts.swift); nil without templates.
  var factsClassName: String? = nil
  /// The last outcome of each promise, by index.
  var outcomes: [Outcome?] = []

  let convergeTimer: Timer
  let driftTimer: Timer
  let reloadTimer: Timer
  /// Gives back the heap a large policy text or bundle left (see `TransientBuffers`).
  let heapTrim: HeapTrim
  let imageRelease: ImageRelease
  var signals: [SignalWatcher] = []
  var watchdog: Timer? = nil
  /// Directory watches by host directory; entries by directory and name -> promise indexes.
  var watchers: [String: FileWatcher] = [:]
  var watched: [String: [String: [Int]]] = [:]
  var pendingDrift: Set<Int> = []
  /// The policy file's directory and name, watched for edits (Daemon+Drift.swift), and the
  /// watches that failed, said once each.
  var policyDirectory = ""
  var watchWarnings: Set<String> = []
  var policyName = ""
  /// Set when a watched directory was replaced: the next drift run is a full run.
  var fullPending = false
  var shuttingDown = false
  var notifiedReady = false
  public internal(set) var exitCode: Int32 = 0
  /// A bundle was accepted, so the policy file no longer counts (said once).
  var policyFileSuperseded = false
  /// Bundles (Daemon+Bundles.swift): nil unless upstreams / a relay are configured.
  var puller: Puller? = nil
  var relay: Relay? = nil
  /// `/metrics` and `/healthz` on their own address (`metrics`, Daemon+Metrics.swift); nil unless set.
  var metricsServer: MetricsServer? = nil
  /// Host reports (Daemon+Reports.swift): the collector's listener, the forwarder up the tree,
  /// and this host's last report; nil unless reporting is on.
  var collector: Relay? = nil
  var forwarder: ReportForwarder? = nil
  var reporting: ReportState? = nil
  /// Convergences' counts and the last full run, for /metrics and /healthz.
  var lastRun = RunFigures()
  /// Convergences run, full and partial (for tests and metrics).
  public internal(set) var runs = 0
  /// When the process started (monotonic ns; the CLI sets it at entry): the first `converged`
  /// line reports exec-to-converged from it.
  public let startedNs: UInt64
  /// The kernel ran us as /init (not a PID namespace's init): boot milestones go to the kernel log.
  public let kernelInit: Bool
  /// Which binary this is (Daemon+Update.swift): its version, whether it is a trial.
  var agent: BootDecision
  let stager: AgentStager
  /// A trial's window, or the retry of a switch while a command runs.
  let updateTimer: Timer
  var pendingSwitch: (version: String, digest: Digest, path: String)? = nil
  var trialWindowStarted = false
  var lastUpdateSkip = ""
  /// The agent version the bundle in force names (nil: none): reports say when this host refused it.
  var wantedAgentVersion: String? = nil

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
      // An image exec'd by the agent (an update's trial, the committed binary at boot) finds
      // the modules loaded and the disks mounted by the image before it, in this boot.
      if environmentValue(trialTokenVariable) == nil && environmentValue(chainedVariable) == nil {
        Daemon.prepareDisks(config, log: boot)
      } else {
        boot.info("modules and disks prepared by the previous image")
      }
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
                            initialMeta: config.hostID == nil ? [(MetaKey.hostID.name, Array(randomHex(16).utf8))] : [],
                            optional: (Daemon.reports(config) ? [.reports] : []) + (config.upstreams.isEmpty ? [] : [.teams]))
    } catch { throw .store(error) }
    hostID = try Daemon.loadHostID(env, override: config.hostID)
    // Before any exec of a new image (Daemon+Update.swift): see `dataFileDescriptor`.
    if let fd = env.dataFileDescriptor { closeOnExec(fd) }
    agent = Daemon.decideBinary(env, config, log: boot)
    if kernelInit { boot.info("state opened", [("state", config.stateDir)]) }
    _ = try Daemon.bundleSettings(config)
    _ = try Daemon.metricsAddress(config)
    _ = try Daemon.reportSettings(config)
    classes = hostClasses(labels: config.labels, root: root)
    do { reaper = try ChildReaper(loop) } catch { throw .input(error.description) }
    supervisor = Supervisor(loop: loop, reaper: reaper, log: log, env: env, root: root, stateDir: config.stateDir,
                            crashLoopCount: config.crashLoopCount, crashLoopWindowMs: config.crashLoopWindowMs)
    do {
      converger = try Converger(root: root, classes: classes, dryRun: false)
      driftConverger = try Converger(root: root, classes: classes, dryRun: false)
    } catch { throw .host(error) }
    stager = AgentStager(loop: loop, reaper: reaper, env: env, layout: StateLayout(config.stateDir))
    updateTimer = Timer(loop)
    convergeTimer = Timer(loop)
    driftTimer = Timer(loop)
    reloadTimer = Timer(loop)
    heapTrim = HeapTrim(loop)
    imageRelease = ImageRelease(loop)
    converger.serviceOutcome = { [unowned(unsafe) self] p in self.supervisor.outcome(p) }
    supervisor.container = config.container
    supervisor.onMainExited = { [unowned(unsafe) self] status in
      self.log.info("main service exited; stopping the others", [("exit", exitText(status))])
      self.shutdown(reason: "main service exited")
    }
  }

  /// Runs until shutdown; returns the exit code (as PID 1 it powers off instead of returning).
  public func run() -> Int32 {
    log.info("starting", [("version", .string(agent.runningVersion)), ("build", .string(edgeagentVersion)), ("trial", .bool(agent.isTrial)),
                          ("target", .string(buildTarget)), ("host_id", .string(hostID)),
                          ("pid1", .bool(isInit)), ("root", .string(root)), ("state", .string(config.stateDir))])
    watchSignals()
    startMetrics()
    takeHandedOverServices()
    loadPolicy(initial: true)
    converge()
    scheduleNext()
    startBundles()
    considerAgentUpdate(heldAgentRelease())
    startReports()
    if let ms = watchdogIntervalMs() {
      let t = Timer(loop)
      t.start(after: ms / 2, repeat: ms / 2) { sdNotify("WATCHDOG=1") }
      watchdog = t
    }
    loop.run()
    return exitCode
  }
}
