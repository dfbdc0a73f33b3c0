import EdgeCore
import EdgeHost

/// A program a command promise needs run before its check can go on: its `unless` test, or its
/// `exec`. The converger asks for it and waits; who runs it decides how (`apply` blocks on it,
/// the daemon runs it as a child watched by its loop).
public struct CommandRequest {
  public enum Stage: Sendable { case unless, exec }
  /// The promise's index in the policy.
  public var index: Int
  public var stage: Stage
  public var argv: [String]
  public var environment: [String]
  public var cwd: String
  /// Seconds (0: no limit).
  public var timeout: Int
  /// A repaired promise notified this one: it runs regardless of `creates`/`unless`.
  var forced: Bool
}

/// How a requested program ended: its result, or why it could not start.
public enum CommandAnswer {
  case finished(CommandResult)
  case failed(HostError)
}

/// `command`: the check is in two halves (`startCommand`, `commandEnded` below), a program run
/// between them by whoever drives the Converger.
enum CommandPromise: PromiseKind {
  static func check(_ c: Converger, _ p: Promise, _ pp: PreparedPromise,
                    cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                    blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
                    previous: (String) -> ActualRecord?) throws(HostError) -> CheckStep {
    try c.startCommand(p, pp, previous: previous(p.id))
  }

  static func ended(_ c: Converger, _ p: Promise, _ pp: PreparedPromise, _ request: CommandRequest,
                    _ answer: CommandAnswer) -> CheckStep {
    c.commandEnded(p, pp, request, answer)
  }

  /// A program may read what earlier promises wrote.
  static var publishesFirst: Bool { true }

  /// Kept when `creates` exists, or when it last succeeded for this exact argv; a command with
  /// `unless` is never certain without running it. (A `notify` only comes from a repair, and a
  /// run verified in place repairs nothing.)
  static func keptInPlace(_ v: PromiseView, _ f: inout InPlaceVerifier, _ root: borrowing Directory,
                          cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                          previous: (String) -> ActualRecord?) -> Outcome? {
    if v.hasCreates {
      let (st, ok) = f.lstat(v.creates, root)
      return ok && st != nil ? .kept : nil
    }
    if v.unlessCount > 0 { return nil }
    guard let prev = previous(String(decoding: v.id, as: UTF8.self)) else { return nil }
    return prev.fingerprint == v.digest && (prev.status == .kept || prev.status == .repaired) ? .kept : nil
  }
}

extension Converger {
  /// `command`: kept when `creates` exists, or when `unless` exits 0; without either, kept once
  /// it has succeeded for this exact argv (run once). A `notify` from a repaired promise runs it
  /// regardless. Runs with cwd at the root, stdin from /dev/null, a fixed PATH, and
  /// EDGEAGENT_ROOT / EDGEAGENT_PROMISE in its environment.
  ///
  /// This is the first half: what can be decided without running anything.
  func startCommand(_ p: Promise, _ pp: PreparedPromise, previous: ActualRecord?) throws(HostError) -> CheckStep {
    let forced = notified[pp.index]
    if !forced {
      if let creates = p.creates {
        // Beneath the root, as every managed path: not through a symlink out of it.
        if try rootDir.statBeneath(creates) != nil { return .outcome(.kept) }
      } else if !p.unless.isEmpty {
        if dryRun { return .outcome(Outcome(.repaired, "would run \(p.unless[0]) to decide")) }
        return .run(commandRequest(p, pp, .unless, forced: false))
      } else if let previous, previous.fingerprint == pp.digest, previous.status == .kept || previous.status == .repaired {
        return .outcome(.kept)
      }
    }
    if dryRun { return .outcome(Outcome(.repaired, "would run \(p.exec[0])\(forced ? " (notified)" : "")")) }
    return .run(commandRequest(p, pp, .exec, forced: forced))
  }

  /// The second half: what a program's end means (an `unless` that failed asks for `exec`).
  func commandEnded(_ p: Promise, _ pp: PreparedPromise, _ request: CommandRequest, _ answer: CommandAnswer) -> CheckStep {
    let r: CommandResult
    switch answer {
    case .finished(let result): r = result
    case .failed(let error): return .outcome(Outcome(.failed, error.description))
    }
    if request.stage == .unless {
      if r.status == 0 { return .outcome(.kept) }
      return .run(commandRequest(p, pp, .exec, forced: false))
    }
    if r.timedOut { return .outcome(Outcome(.failed, "\(p.exec[0]) killed after the \(p.timeout) s timeout")) }
    if r.status != 0 {
      let how = r.status < 0 ? "killed by signal \(-r.status)" : "exited with status \(r.status)"
      let line = r.lastLine
      return .outcome(Outcome(.failed, "\(p.exec[0]) \(how)" + (line.isEmpty ? "" : ": \(line)")))
    }
    return .outcome(Outcome(.repaired, request.forced ? "ran (notified)" : "ran"))
  }

  func commandRequest(_ p: Promise, _ pp: PreparedPromise, _ stage: CommandRequest.Stage, forced: Bool) -> CommandRequest {
    CommandRequest(index: pp.index, stage: stage, argv: stage == .unless ? p.unless : p.exec,
                   environment: commandEnvironment(p), cwd: root, timeout: p.timeout, forced: forced)
  }

  func commandEnvironment(_ p: Promise) -> [String] {
    ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "EDGEAGENT_ROOT=\(root)", "EDGEAGENT_PROMISE=\(p.id)"]
  }
}

/// Runs a requested program to completion, blocking the caller: for `apply` and tests, never on
/// the daemon's loop.
public func runBlocking(_ r: CommandRequest) -> CommandAnswer {
  do throws(HostError) {
    return .finished(try runCommand(r.argv, environment: r.environment, cwd: r.cwd, timeout: r.timeout))
  } catch {
    return .failed(error)
  }
}
