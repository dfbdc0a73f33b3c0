/// The `services` database's value: what the supervisor last knew of one service, version 1,
/// written by the daemon as its state changes and read by `status` beside it.
public struct ServiceRecord: Sendable, Equatable {
  public static let version: UInt8 = 1

  public var phase: ServiceMachine.Phase
  public var pid: Int32
  /// Unix seconds when the current process started; 0 when not running.
  public var startedAt: Int64
  public var restarts: UInt32
  /// The last exit: code, or -signal; `hasExited` false before the first.
  public var lastExit: Int32
  public var hasExited: Bool
  /// Passed its health check (or has none) since it last started.
  public var ready: Bool
  /// In a crash loop: status shows it failed, the supervisor keeps retrying at the cap.
  public var crashLooping: Bool
  /// Its last start did not pass its health check within the start timeout: failed too.
  public var startTimedOut: Bool

  public init(phase: ServiceMachine.Phase, pid: Int32, startedAt: Int64, restarts: UInt32, lastExit: Int32,
              hasExited: Bool, ready: Bool, crashLooping: Bool, startTimedOut: Bool = false) {
    self.phase = phase
    self.pid = pid
    self.startedAt = startedAt
    self.restarts = restarts
    self.lastExit = lastExit
    self.hasExited = hasExited
    self.ready = ready
    self.crashLooping = crashLooping
    self.startTimedOut = startTimedOut
  }

  /// What `status` prints: failed (crash loop, or a start timeout not yet made good) wins over
  /// the phase.
  public var stateName: String { crashLooping || (startTimedOut && phase != .running) ? "failed" : phase.name }

  public func encode() -> [UInt8] {
    var w = ByteWriter(capacity: 32)
    w.u8(ServiceRecord.version)
    w.u8(phase.rawValue)
    w.u32(UInt32(bitPattern: pid))
    w.i64(startedAt)
    w.u32(restarts)
    w.u32(UInt32(bitPattern: lastExit))
    w.u8((hasExited ? 1 : 0) | (ready ? 2 : 0) | (crashLooping ? 4 : 0) | (startTimedOut ? 8 : 0))
    return w.bytes
  }

  public static func decode(_ raw: UnsafeRawBufferPointer) throws(RecordError) -> ServiceRecord {
    var r = ByteReader(raw)
    let v = try r.u8()
    guard v == version else { throw RecordError("service record version \(v) is not known") }
    guard let phase = ServiceMachine.Phase(rawValue: try r.u8()) else { throw RecordError("unknown service phase") }
    let pid = Int32(bitPattern: try r.u32())
    let started = try r.i64()
    let restarts = try r.u32()
    let exit = Int32(bitPattern: try r.u32())
    let flags = try r.u8()
    return ServiceRecord(phase: phase, pid: pid, startedAt: started, restarts: restarts, lastExit: exit,
                         hasExited: flags & 1 != 0, ready: flags & 2 != 0, crashLooping: flags & 4 != 0,
                         startTimedOut: flags & 8 != 0)
  }
}
