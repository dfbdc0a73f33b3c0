import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore

/// Stages a bundle's agent binary for this target and runs its self-test as a child of the
/// loop (PID 1 goes on meanwhile). The binary comes from the state's blobs (its digest was
/// checked when the bundle was accepted) and is written to `agent/edgeagent-<sha256>`, 0755 and
/// fsynced: a new file by its content, never the running binary's.
public final class AgentStager {
  public enum Result {
    case ready(version: String, digest: Digest, path: String)
    case refused(version: String, reason: String)
  }

  /// How long a self-test may take before it counts as failed.
  public static let selfTestSeconds = 10

  let loop: Loop
  let reaper: ChildReaper
  let env: Environment
  let layout: StateLayout
  var child: CommandChild? = nil
  /// The version being staged, nil when idle.
  public private(set) var staging: String? = nil

  public init(loop: Loop, reaper: ChildReaper, env: Environment, layout: StateLayout) {
    self.loop = loop
    self.reaper = reaper
    self.env = env
    self.layout = layout
  }

  /// Stages `digest` as `version` for `target` and self-tests it with `configPath` (the
  /// daemon's, if it has one); `done` is called once, on the loop.
  public func stage(version: String, digest: Digest, target: String, configPath: String?, done: @escaping (Result) -> Void) {
    guard staging == nil else { return }
    let path = layout.agentBinary(digest)
    do throws(UpdateError) {
      try write(digest, target: target)
    } catch {
      done(.refused(version: version, reason: error.message))
      return
    }
    var argv = [path, "self-test", "--state", layout.directory, "--target", target]
    if let configPath { argv += ["--config", configPath] }
    staging = version
    do throws(HostError) {
      child = try CommandChild(loop, reaper: reaper, argv: argv, environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], cwd: "/",
                               timeout: AgentStager.selfTestSeconds) { [unowned(unsafe) self] result in
        self.child = nil
        self.staging = nil
        let last = result.lastLine
        if result.timedOut {
          done(.refused(version: version, reason: "self-test did not finish within \(AgentStager.selfTestSeconds) s"))
        } else if result.status != 0 {
          let how = result.status < 0 ? "was killed by signal \(-result.status)" : "exited with status \(result.status)"
          done(.refused(version: version, reason: "self-test \(how)" + (last.isEmpty ? "" : ": " + last)))
        } else {
          done(.ready(version: version, digest: digest, path: path))
        }
      }
    } catch {
      staging = nil
      done(.refused(version: version, reason: "self-test did not start: \(error)"))
    }
  }

  /// Writes the blob to its file, after checking it is an executable for `target`.
  func write(_ digest: Digest, target: String) throws(UpdateError) {
    var bytes: [UInt8]? = nil
    do throws(StoreError) {
      bytes = try env.withRead { (txn) throws(StoreError) -> [UInt8]? in
        try digest.withBytes { (k) throws(StoreError) -> [UInt8]? in try txn.value(.blobs, k) { $0.map { Array($0) } } }
      }
    } catch { throw UpdateError("unable to read its blob from the state: \(error)") }
    guard let bytes else { throw UpdateError("its blob \(digest) is not in the state") }
    let found = AgentRelease.target(ofELF: bytes)
    guard found == target else {
      throw UpdateError("the blob for \(target) is \(found.map { "an executable for \($0)" } ?? "not an ELF executable of a known target")")
    }
    do throws(HostError) {
      try makeDirectory(layout.agentDirectory, mode: 0o700)
      let dir = try Directory.openRoot(layout.agentDirectory)
      try withBytes(bytes) { (raw) throws(HostError) in
        try AtomicWrite.replace(dir, "edgeagent-" + digest.hex, content: raw, mode: 0o755)
      }
    } catch { throw UpdateError("unable to stage it: \(error)") }
  }

  public func cancel() {
    child?.cancel()
    child = nil
    staging = nil
  }
}

/// Why a stage failed, said in status and events.
struct UpdateError: Error {
  var message: String
  init(_ message: String) { self.message = message }
}
