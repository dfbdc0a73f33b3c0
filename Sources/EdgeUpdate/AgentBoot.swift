import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore

/// The environment variable that carries a trial's token into the image it exec's, and the one
/// that marks a chained start and names the version chained to (the image ran the committed
/// binary, which must not chain again).
public let trialTokenVariable = "EDGEAGENT_TRIAL"
public let chainedVariable = "EDGEAGENT_CHAINED"

/// What the start of a process decides, before anything else is started.
public struct BootDecision {
  /// The label of the binary running now: a trial's or the committed version, else the
  /// image's own (`compiled`).
  public var runningVersion: String
  /// This process is a trial's new image, exec'd by the agent that staged it.
  public var isTrial = false
  /// A committed binary to run instead of this one (the image's), and its version.
  public var chainTo: (path: String, version: String)? = nil
  /// A trial found unfinished: its version, now failed (a rollback), said in the log.
  public var rolledBack: String? = nil

  public init(runningVersion: String) { self.runningVersion = runningVersion }
}

/// Decides which binary runs, at the start of `run`. `token` and `chained` (the version chained
/// to) are what this process found in its environment (the caller reads and removes them); `exe`
/// is its own binary's path.
///
/// A trial whose token this process does not carry did not commit: the agent restarted (a
/// supervisor after a crash) or the host rebooted (a PID 1 crash panics the kernel) inside the
/// trial window. Its version is marked failed and the previous one runs: the committed binary
/// if there is one (this process chains to it), else the image's. A committed binary other than
/// this one is chained to unless this start is already the chain's end, so an update survives
/// reboots and the image's binary is the fallback of last resort (a committed file that is
/// gone, or that will not exec, leaves the image's running).
public func decideAtStart(_ env: Environment, layout: StateLayout, compiled: String, token: String?, chained: String?,
                          exe: String?, now: Int64) throws(StoreError) -> BootDecision {
  var record = try env.withRead { (txn) throws(StoreError) in try txn.agentUpdate() } ?? AgentUpdateRecord()
  var d = BootDecision(runningVersion: compiled)
  if let t = record.trial {
    if let token, token == t.token {
      d.runningVersion = t.version
      d.isTrial = true
      return d
    }
    record.fail(t.version, reason: "the trial did not commit: the agent started again (a crash and restart, or a reboot) within its trial window",
                at: now)
    record.rollbacks += 1
    record.trial = nil
    d.rolledBack = t.version
    let back = record.committedVersion.isEmpty ? "the image's \(compiled)" : record.committedVersion
    try env.withWrite { (txn) throws(StoreError) in
      try txn.setAgentUpdate(record)
      try txn.setHandoff(nil)
      try appendEvents(txn, [EventRecord(kind: .policy, time: now, status: .failed, subject: "agent",
                                         reason: "rolled back from \(t.version) to \(back): \(record.failureReason)")])
    }
  }
  if record.committedVersion.isEmpty { return d }
  let path = layout.agentBinary(record.committedDigest)
  // Canonical, as /proc/self/exe reads: the state directory's path may pass through a symlink.
  // A committed file that cannot be resolved is gone: the image's binary runs.
  guard let real = try? realPath(path) else { return d }
  if exe == real || chained == record.committedVersion {
    d.runningVersion = record.committedVersion
  } else if chained == nil {
    d.chainTo = (path, record.committedVersion)
  }
  return d
}

/// The path to exec for the staged binary at `path`. As PID 1 a copy in the root's /run (the
/// tmpfs init mounts) runs instead: a running binary on the state disk would keep it busy, and
/// shutdown could then neither unmount it nor remount it read-only. Elsewhere the staged file
/// itself. Under the root, as every path the agent writes: PID 1 of a test's namespace with a
/// sandbox root must not write the host's /run.
public func runnableCopy(of path: String, digest: Digest, asInit: Bool, root: String) throws(HostError) -> String {
  guard asInit else { return path }
  var base = root
  while base.hasSuffix("/") { base.removeLast() }
  let bytes = try readWholeFile(path, limit: Int(PolicyBundle.maxBlobSize))
  // The staged file was checked against its digest when the bundle was accepted; a disk that
  // changed it since must not be run.
  guard SHA256.hash(bytes) == digest else { throw HostError(.invalid, "verify (its SHA-256 is not the staged one's)", path) }
  let runDir = base + "/run/edgeagent"
  try makeDirectory(base + "/run")   // a sandbox root may have none; a VM's is the tmpfs init mounted
  try makeDirectory(runDir, mode: 0o700)
  let dir = try Directory.openRoot(runDir)
  let name = "edgeagent-" + digest.hex
  try withBytes(bytes) { (raw) throws(HostError) in try AtomicWrite.replace(dir, name, content: raw, mode: 0o755) }
  return runDir + "/" + name
}

extension Environment {
  /// A read transaction around `body`.
  func withRead<R>(_ body: (borrowing Transaction) throws(StoreError) -> R) throws(StoreError) -> R {
    let txn = try read()
    let r = try body(txn)
    txn.abort()
    return r
  }
}
