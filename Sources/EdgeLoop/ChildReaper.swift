import CEdge
import EdgeHost

/// Reaps every child on SIGCHLD with waitpid(-1, WNOHANG): the agent's own children and, as
/// PID 1 or a subreaper, orphans too. Each exit is seen exactly once, here: a pid with a
/// registered callback gets it; the rest are counted as orphans.
public final class ChildReaper {
  let watcher: SignalWatcher
  var waiting: [Int32: (Int32) -> Void] = [:]
  /// Orphans reaped (pids nobody registered).
  public private(set) var orphansReaped = 0

  public init(_ loop: Loop) throws(LoopError) {
    watcher = SignalWatcher(loop)
    try watcher.start(SIGCHLD) { [unowned(unsafe) self] _ in self.reapAll() }
  }

  /// Calls `body` with the exit status (code, or -signal) when `pid` exits.
  public func watch(_ pid: Int32, _ body: @escaping (Int32) -> Void) { waiting[pid] = body }

  public func forget(_ pid: Int32) { waiting[pid] = nil }

  /// Reaps whatever has exited. Also called after spawning, in case the child died before its
  /// pid was registered.
  public func reapAll() {
    while let (pid, status) = reapOne() {
      if let body = waiting.removeValue(forKey: pid) { body(status) } else { orphansReaped += 1 }
    }
  }

  public func close() { watcher.close() }
}
