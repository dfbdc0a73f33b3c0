import EdgeCore

/// Which agent binary runs, as the state remembers it (meta `agent.update`): the committed
/// version, a trial in progress, the versions that failed, and the last failure with its reason.
/// EdgeUpdate is its only writer; `status` and /metrics read it.
///
/// A version is the publisher's label (`AgentRelease.version`); "" is the binary the image
/// shipped, which needs no file in the state.
public struct AgentUpdateRecord: Equatable, Sendable {
  /// The last version that passed its trial, and its binary's digest ("" and .zero: the image's).
  public var committedVersion = ""
  public var committedDigest = Digest.zero
  public var committedAt: Int64 = 0
  /// A version switched to and not yet committed.
  public var trial: AgentTrialRecord? = nil
  /// Versions never to try again until a bundle names another; the newest last, at most `maxFailed`.
  public var failed: [String] = []
  /// The last refusal or rollback: when, which version, why ("" none).
  public var failureTime: Int64 = 0
  public var failureVersion = ""
  public var failureReason = ""
  /// Trials that ended in a rollback, over the state's life.
  public var rollbacks: UInt32 = 0

  public static let maxFailed = 16

  public init() {}

  /// Marks `version` failed for `reason` (a refused self-test or a rolled-back trial).
  public mutating func fail(_ version: String, reason: String, at time: Int64) {
    if !failed.contains(version) { failed.append(version) }
    if failed.count > AgentUpdateRecord.maxFailed { failed.removeFirst(failed.count - AgentUpdateRecord.maxFailed) }
    failureTime = time
    failureVersion = version
    failureReason = reason
  }

  public func encode() -> [UInt8] {
    var w = ByteWriter()
    w.string(committedVersion)
    w.digest(committedDigest)
    w.i64(committedAt)
    if let t = trial {
      w.u8(1)
      w.string(t.version)
      w.digest(t.digest)
      w.string(t.previousVersion)
      w.string(t.token)
      w.i64(t.startedAt)
    } else {
      w.u8(0)
    }
    w.strings(failed)
    w.i64(failureTime)
    w.string(failureVersion)
    w.string(failureReason)
    w.u32(rollbacks)
    return w.bytes
  }

  public static func decode(_ r: inout ByteReader) throws(RecordError) -> AgentUpdateRecord {
    var a = AgentUpdateRecord()
    a.committedVersion = try r.string()
    a.committedDigest = try r.digest()
    a.committedAt = try r.i64()
    switch try r.u8() {
    case 0: break
    case 1:
      let v = try r.string(), d = try r.digest(), p = try r.string(), t = try r.string(), s = try r.i64()
      a.trial = AgentTrialRecord(version: v, digest: d, previousVersion: p, token: t, startedAt: s)
    default: throw RecordError("agent trial flag is neither 0 nor 1")
    }
    a.failed = try r.strings()
    a.failureTime = try r.i64()
    a.failureVersion = try r.string()
    a.failureReason = try r.string()
    a.rollbacks = try r.u32()
    return a
  }
}

/// A switch to a new agent binary that has not committed yet.
public struct AgentTrialRecord: Equatable, Sendable {
  public var version: String
  public var digest: Digest
  /// The version that switched to it ("" the image's): what a rollback returns to.
  public var previousVersion: String
  /// Handed to the new image in its environment: only the process that exec'd it carries it,
  /// so any other start (a supervisor's restart, a reboot) finds the trial unfinished.
  public var token: String
  public var startedAt: Int64

  public init(version: String, digest: Digest, previousVersion: String, token: String, startedAt: Int64) {
    self.version = version; self.digest = digest; self.previousVersion = previousVersion
    self.token = token; self.startedAt = startedAt
  }
}

/// The running services an agent hands to the image it exec's (meta `agent.handoff`), so the
/// new image adopts them instead of restarting them: each service's pid, its start time in
/// clock ticks since boot (/proc/PID/stat: a reused pid has another), the read end of its
/// output pipe (kept open across the exec), and when it started.
public struct HandoffRecord: Equatable, Sendable {
  public var services: [HandoffService] = []

  public init(services: [HandoffService] = []) { self.services = services }

  public func encode() -> [UInt8] {
    var w = ByteWriter()
    w.varint(services.count)
    for s in services {
      w.string(s.id)
      w.u32(UInt32(bitPattern: s.pid))
      w.u64(s.startTicks)
      w.u32(UInt32(bitPattern: s.outputFD))
      w.i64(s.startedWall)
    }
    return w.bytes
  }

  public static func decode(_ r: inout ByteReader) throws(RecordError) -> HandoffRecord {
    let n = try r.varint()
    var h = HandoffRecord()
    for _ in 0..<n {
      let id = try r.string()
      let pid = Int32(bitPattern: try r.u32()), ticks = try r.u64(), fd = Int32(bitPattern: try r.u32()), wall = try r.i64()
      h.services.append(HandoffService(id: id, pid: pid, startTicks: ticks, outputFD: fd, startedWall: wall))
    }
    return h
  }
}

public struct HandoffService: Equatable, Sendable {
  public var id: String
  public var pid: Int32
  public var startTicks: UInt64
  /// -1: the service's output was not captured.
  public var outputFD: Int32
  public var startedWall: Int64

  public init(id: String, pid: Int32, startTicks: UInt64, outputFD: Int32, startedWall: Int64) {
    self.id = id; self.pid = pid; self.startTicks = startTicks; self.outputFD = outputFD; self.startedWall = startedWall
  }
}

extension Transaction {
  public func agentUpdate() throws(StoreError) -> AgentUpdateRecord? {
    try meta(.agentUpdate) { (r) throws(RecordError) in try AgentUpdateRecord.decode(&r) }
  }

  public func setAgentUpdate(_ record: AgentUpdateRecord) throws(StoreError) {
    try putMeta(.agentUpdate, record.encode())
  }

  public func handoff() throws(StoreError) -> HandoffRecord? {
    try meta(.handoff) { (r) throws(RecordError) in try HandoffRecord.decode(&r) }
  }

  public func setHandoff(_ record: HandoffRecord?) throws(StoreError) {
    if let record { try putMeta(.handoff, record.encode()) } else { _ = try deleteKey(.meta, Array(MetaKey.handoff.name.utf8)) }
  }
}
