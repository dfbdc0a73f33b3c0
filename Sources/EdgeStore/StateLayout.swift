import EdgeCore

/// The state directory's layout, spelled once: where the LMDB environment, the services' logs
/// and the single-instance lock live. Everything that opens, locks, reads or tails the state
/// asks this for the path.
public struct StateLayout: Sendable, Equatable {
  /// Where the state lives unless a config or `--state` says otherwise.
  public static let defaultDirectory = "/var/lib/edgeagent"

  /// The directory itself, created 0700 (it holds the trusted keys and the policy).
  public let directory: String

  public init(_ directory: String = StateLayout.defaultDirectory) { self.directory = directory }

  /// The state's directory when none is named: the default, under `root` when the agent manages
  /// a sandbox (`--root`), as dpkg's database follows `--root`. A sandboxed run must not write
  /// the host's own state, nor converge a sandbox against the host's record of the machine.
  public static func directory(forRoot root: String) -> String {
    var r = root
    while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
    return r.isEmpty || r == "/" ? defaultDirectory : r + defaultDirectory
  }

  /// LMDB's data file: its presence is what "there is a state" means to a read-only open.
  public var dataFile: String { directory + "/data.mdb" }
  /// The single writer's lock (`StateLock`), holding its pid.
  public var lockFile: String { directory + "/edgeagent.lock" }
  /// The services' output, one file per service.
  public var logDirectory: String { directory + "/logs" }
  /// Staged agent binaries (EdgeUpdate), by content: `agent/edgeagent-<sha256>`.
  public var agentDirectory: String { directory + "/agent" }
  public func agentBinary(_ digest: Digest) -> String { agentDirectory + "/edgeagent-" + digest.hex }
  /// The output of service `id`.
  /// A team's service (`payments/api`) logs to `payments+api.log`: `+` is in no id, so no two
  /// services share a file, and the log directory stays flat.
  public func serviceLog(_ id: String) -> String {
    var name = ""
    for c in id.unicodeScalars { name.unicodeScalars.append(c == "/" ? "+" : c) }
    return logDirectory + "/" + name + ".log"
  }
}
