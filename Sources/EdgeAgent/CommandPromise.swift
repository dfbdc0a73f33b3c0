import EdgeCore
import EdgeHost

extension Converger {
  /// `command`: kept when `creates` exists, or when `unless` exits 0; without either, kept once
  /// it has succeeded for this exact argv (run once). A `notify` from a repaired promise runs it
  /// regardless. Runs with cwd at the root, stdin from /dev/null, a fixed PATH, and
  /// EDGEAGENT_ROOT / EDGEAGENT_PROMISE in its environment.
  func checkCommand(_ p: Promise, _ pp: PreparedPromise, previous: ActualRecord?) throws(HostError) -> Outcome {
    let forced = notified[pp.index]
    if !forced {
      if let creates = p.creates {
        // Beneath the root, as every managed path: not through a symlink out of it.
        if try rootDir.statBeneath(creates) != nil { return .kept }
      } else if !p.unless.isEmpty {
        if dryRun { return Outcome(.repaired, "would run \(p.unless[0]) to decide") }
        let r = try runCommand(p.unless, environment: commandEnvironment(p), cwd: root, timeout: p.timeout)
        if r.status == 0 { return .kept }
      } else if let previous, previous.fingerprint == pp.digest, previous.status == .kept || previous.status == .repaired {
        return .kept
      }
    }
    if dryRun { return Outcome(.repaired, "would run \(p.exec[0])\(forced ? " (notified)" : "")") }
    let r = try runCommand(p.exec, environment: commandEnvironment(p), cwd: root, timeout: p.timeout)
    if r.timedOut { return Outcome(.failed, "\(p.exec[0]) killed after the \(p.timeout) s timeout") }
    if r.status != 0 {
      let how = r.status < 0 ? "killed by signal \(-r.status)" : "exited with status \(r.status)"
      let line = r.lastLine
      return Outcome(.failed, "\(p.exec[0]) \(how)" + (line.isEmpty ? "" : ": \(line)"))
    }
    return Outcome(.repaired, forced ? "ran (notified)" : "ran")
  }

  func commandEnvironment(_ p: Promise) -> [String] {
    ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "EDGEAGENT_ROOT=\(root)", "EDGEAGENT_PROMISE=\(p.id)"]
  }
}
