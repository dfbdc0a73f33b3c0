import EdgeCore

/// The last refused bundle as stored in meta: i64 time, then code, source and reason strings.
public struct BundleRejectionRecord: Equatable, Sendable {
  public var time: Int64
  /// `BundleRejection.code` (`serial_conflict`, `bad_signature`, ...).
  public var code: String
  public var source: String
  public var reason: String

  public init(time: Int64, code: String, source: String, reason: String) {
    self.time = time; self.code = code; self.source = source; self.reason = reason
  }

  public func encode() -> [UInt8] {
    var w = ByteWriter()
    w.i64(time)
    w.string(code)
    w.string(source)
    w.string(reason)
    return w.bytes
  }

  public static func decode(_ r: inout ByteReader) throws(RecordError) -> BundleRejectionRecord {
    let t = try r.i64(), c = try r.string(), s = try r.string(), why = try r.string()
    return BundleRejectionRecord(time: t, code: c, source: s, reason: why)
  }
}

/// Whether the puller's last round reached an upstream: u8 reachable, i64 since (Unix s),
/// i64 last contact (Unix s, 0: never), string last error.
public struct ReachabilityRecord: Equatable, Sendable {
  public var reachable: Bool
  public var since: Int64
  public var lastContact: Int64
  public var lastError: String

  public init(reachable: Bool, since: Int64, lastContact: Int64, lastError: String) {
    self.reachable = reachable; self.since = since; self.lastContact = lastContact; self.lastError = lastError
  }

  public func encode() -> [UInt8] {
    var w = ByteWriter()
    w.u8(reachable ? 1 : 0)
    w.i64(since)
    w.i64(lastContact)
    w.string(lastError)
    return w.bytes
  }

  public static func decode(_ r: inout ByteReader) throws(RecordError) -> ReachabilityRecord {
    let ok = try r.u8(), since = try r.i64(), last = try r.i64(), err = try r.string()
    return ReachabilityRecord(reachable: ok == 1, since: since, lastContact: last, lastError: err)
  }
}

/// The last run's counts: 4 x u32.
extension RunSummary {
  public func encode() -> [UInt8] {
    var s = ByteWriter()
    s.u32(UInt32(kept)); s.u32(UInt32(repaired)); s.u32(UInt32(failed)); s.u32(UInt32(skipped))
    return s.bytes
  }

  public static func decode(_ r: inout ByteReader) throws(RecordError) -> RunSummary {
    var s = RunSummary()
    // truncatingIfNeeded: a u32 past Int32.max must not trap on armv7's 32-bit Int.
    s.kept = Int(truncatingIfNeeded: try r.u32()); s.repaired = Int(truncatingIfNeeded: try r.u32())
    s.failed = Int(truncatingIfNeeded: try r.u32()); s.skipped = Int(truncatingIfNeeded: try r.u32())
    return s
  }
}
