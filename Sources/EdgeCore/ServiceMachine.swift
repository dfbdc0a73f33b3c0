/// The supervisor's view of one service as an explicit state machine, s6-supervise style: the
/// loop only waits and feeds events in; `handle` returns the new state's actions. Pure, so tests
/// walk every state × event pair.
///
/// Restart policy: the first restart after a crash is immediate, then the delay grows from
/// 100 ms, doubling, to 30 s, with up to 25% jitter; a run that lasts `stableMs` resets it. A
/// crash loop (`crashLoopCount` exits within `crashLoopWindowMs`) marks the service failed, and
/// it keeps retrying at the cap.
///
/// Start timeout: a start whose health check has not passed within `startTimeoutMs` failed:
/// the process is stopped (as an unhealthy one) and started again unless `restart` is never;
/// `startTimedOut` shows it failed until a check passes.
public struct ServiceMachine: Sendable {
  public enum Phase: UInt8, Sendable, CaseIterable {
    /// Not running and not wanted (before start, after stop, or `restart: never` and exited).
    case stopped = 1
    /// Spawned; a health check has not passed yet.
    case starting = 2
    /// Running, and healthy (or without a health check).
    case running = 3
    /// Exited; waiting for the restart timer.
    case backoff = 4
    /// Stop signal sent; waiting for the exit or the stop timeout.
    case stopping = 5

    public var name: String {
      switch self {
      case .stopped: return "stopped"
      case .starting: return "starting"
      case .running: return "running"
      case .backoff: return "backoff"
      case .stopping: return "stopping"
      }
    }
  }

  public enum Event: Sendable, Equatable {
    /// The service is wanted (policy accepted, dependencies ready).
    case start
    /// The spawn succeeded with this pid.
    case spawned(pid: Int32)
    /// A running process handed over by the agent's previous image (an update in place): it is
    /// taken as just spawned, without a spawn.
    case adopted(pid: Int32)
    /// fork/exec failed (the reason goes to the log).
    case spawnFailed
    /// The process exited: its code, or -signal.
    case exited(status: Int32)
    case healthPassed
    case healthFailed
    /// The restart (backoff) or stop timer fired.
    case timer
    /// Stop it (shutdown, or removed from the policy).
    case stop
    /// Restart it (a notify from a repaired file, or a changed definition).
    case restart
  }

  public enum Action: Sendable, Equatable {
    case spawn
    /// Send this signal to the service's process group.
    case signal(Int32)
    /// Arm the machine's timer for this many milliseconds (it replaces any armed one).
    case arm(ms: UInt32)
    case disarm
    /// Start or stop probing health.
    case probe(Bool)
    /// It became ready: services `after` it may start.
    case ready
  }

  public private(set) var phase: Phase = .stopped
  public private(set) var pid: Int32 = 0
  /// Restarts since the agent started.
  public private(set) var restarts: UInt32 = 0
  /// The last exit status; nil before the first exit.
  public private(set) var lastExit: Int32? = nil
  /// In a crash loop: shown as failed by `status`, still retried at the cap.
  public private(set) var crashLooping = false
  /// When the current process started (loop ms), and the current backoff delay.
  public private(set) var startedAt: UInt64 = 0
  var delayMs: UInt32 = 0
  /// Exit times (loop ms) within the crash-loop window, oldest first.
  var recentExits: [UInt64] = []
  /// Whether the service should be running (false after `stop`).
  public private(set) var wanted = false
  /// A restart was asked while it was stopping: start again when it exits.
  var restartAfterStop = false
  /// The last start's health check did not pass within the start timeout (cleared when one
  /// passes, or when it is stopped on request).
  public private(set) var startTimedOut = false
  /// It is stopped because it exited on its own (its restart policy said no more), not because
  /// it was asked to stop: a shutdown must not report it as "stopped for shutdown".
  public private(set) var exitedOnItsOwn = false

  public private(set) var restart: ServiceSpec.Restart
  public private(set) var hasHealth: Bool
  public private(set) var stopSignal: Int32
  public private(set) var stopTimeoutMs: UInt32
  public private(set) var startTimeoutMs: UInt32
  public var initialDelayMs: UInt32 = 100
  public var maxDelayMs: UInt32 = 30_000
  public var stableMs: UInt64 = 10_000
  public var crashLoopCount = 5
  public var crashLoopWindowMs: UInt64 = 60_000

  public init(_ spec: ServiceSpec) {
    restart = spec.restart
    hasHealth = spec.health != nil
    stopSignal = spec.stopSignal
    stopTimeoutMs = spec.stopTimeoutMs
    startTimeoutMs = spec.startTimeoutMs
  }

  /// Takes the rules of a changed definition (restart policy, health check, stop signal and
  /// timeouts), keeping the state: the process, restarts and exits so far. Without it a
  /// changed service would be restarted under its old rules.
  public mutating func adopt(_ spec: ServiceSpec) {
    restart = spec.restart
    hasHealth = spec.health != nil
    stopSignal = spec.stopSignal
    stopTimeoutMs = spec.stopTimeoutMs
    startTimeoutMs = spec.startTimeoutMs
  }

  /// Feeds one event. `now` is the loop's millisecond clock; `jitter` in [0, 1) spreads restarts.
  public mutating func handle(_ event: Event, now: UInt64, jitter: Double = 0) -> [Action] {
    switch (phase, event) {
    case (.stopped, .start), (.stopped, .restart):
      wanted = true
      exitedOnItsOwn = false
      return [.spawn]
    case (.backoff, .start), (.backoff, .restart):
      wanted = true
      return [.disarm, .spawn]
    // `.spawned` and `.spawnFailed` answer a `.spawn`, after `willSpawn`: only while starting.
    // Elsewhere they are stale, and must not replace or forget a live pid.
    case (.starting, .spawned(let p)):
      pid = p
      startedAt = now
      if hasHealth {
        phase = .starting
        return [.probe(true), .arm(ms: startTimeoutMs)]
      }
      phase = .running
      return [.ready]
    case (.stopped, .adopted(let p)):
      wanted = true
      exitedOnItsOwn = false
      phase = .starting
      return handle(.spawned(pid: p), now: now, jitter: jitter)
    case (.starting, .spawnFailed):
      pid = 0
      return exitedOrFailed(status: 127, now: now, jitter: jitter)
    case (.starting, .healthPassed):
      phase = .running
      startTimedOut = false
      return [.disarm, .ready]
    case (.starting, .timer):
      // The start timeout (the only timer armed while starting, once spawned).
      guard pid > 0 else { return [] }
      startTimedOut = true
      phase = .stopping
      if restart == .never { wanted = false }
      restartAfterStop = wanted
      return [.probe(false), .signal(stopSignal), .arm(ms: stopTimeoutMs)]
    case (.running, .healthFailed):
      // Unhealthy while running: restart it, as a crash.
      phase = .stopping
      restartAfterStop = wanted
      return [.probe(false), .signal(stopSignal), .arm(ms: stopTimeoutMs)]
    case (.starting, .exited(let s)), (.running, .exited(let s)):
      pid = 0
      // A start timeout still armed needs no disarm: a backoff or the next `.spawned` re-arms
      // the timer, and it is stale once stopped.
      return [.probe(false)] + exitedOrFailed(status: s, now: now, jitter: jitter)
    case (.stopping, .exited(let s)):
      pid = 0
      lastExit = s
      phase = .stopped
      if restartAfterStop && wanted {
        restartAfterStop = false
        restarts += 1
        return [.disarm, .spawn]
      }
      return [.disarm]
    case (.backoff, .timer):
      guard wanted else { phase = .stopped; return [] }
      restarts += 1
      return [.spawn]
    case (.stopping, .timer):
      return [.signal(9)]
    case (.starting, .stop), (.running, .stop):
      wanted = false
      restartAfterStop = false
      startTimedOut = false
      phase = .stopping
      return [.probe(false), .signal(stopSignal), .arm(ms: stopTimeoutMs)]
    case (.backoff, .stop):
      wanted = false
      phase = .stopped
      return [.disarm]
    case (.stopping, .stop):
      wanted = false
      restartAfterStop = false
      return []
    case (.starting, .restart), (.running, .restart):
      phase = .stopping
      restartAfterStop = true
      return [.probe(false), .signal(stopSignal), .arm(ms: stopTimeoutMs)]
    case (.stopping, .restart):
      wanted = true
      restartAfterStop = true
      return []
    default:
      // Everything else is stale (a timer after a stop, a probe result after an exit) and
      // changes nothing.
      return []
    }
  }

  /// After `.spawn`, the caller reports `.spawned` or `.spawnFailed`; the machine is in
  /// `.starting` meanwhile.
  public mutating func willSpawn() { phase = .starting }

  mutating func exitedOrFailed(status: Int32, now: UInt64, jitter: Double) -> [Action] {
    lastExit = status
    let ranFor = startedAt > 0 && now >= startedAt ? now - startedAt : 0
    if ranFor >= stableMs { delayMs = 0 }
    recentExits.append(now)
    while let first = recentExits.first, now - first > crashLoopWindowMs { recentExits.removeFirst() }
    crashLooping = recentExits.count >= crashLoopCount
    let again = wanted && (restart == .always || (restart == .onFailure && status != 0))
    guard again else {
      phase = .stopped
      wanted = false
      exitedOnItsOwn = true
      return []
    }
    if delayMs == 0 && !crashLooping {
      // First restart after a stable run: at once.
      delayMs = initialDelayMs
      restarts += 1
      phase = .starting
      return [.spawn]
    }
    let wait = crashLooping ? maxDelayMs : delayMs
    delayMs = min(max(delayMs, initialDelayMs) * 2, maxDelayMs)
    phase = .backoff
    let spread = UInt32(Double(wait) * 0.25 * jitter)
    return [.arm(ms: wait + spread)]
  }
}
