/// The `desired` database's value: one promise, encoded. Version 1. Field order is the format:
/// append new fields at the end and bump the version when a reader must know.
public enum PromiseRecord {
  public static let version: UInt8 = 1

  public static func encode(_ p: Promise) -> [UInt8] {
    var w = ByteWriter(capacity: 64 + (p.content?.count ?? 0))
    w.u8(version)
    w.u8(p.type.rawValue)
    var flags: UInt8 = 0
    if p.absent { flags |= 1 }
    if p.purge { flags |= 2 }
    if p.content != nil { flags |= 4 }
    if p.source != nil { flags |= 8 }
    if p.mode != nil { flags |= 16 }
    if p.owner != nil { flags |= 32 }
    if p.group != nil { flags |= 64 }
    if p.creates != nil { flags |= 128 }
    w.u8(flags)
    w.string(p.id)
    w.string(p.path)
    w.bytes(p.content ?? [])
    w.digest(p.source ?? .zero)
    w.u32(p.mode ?? 0)
    w.string(p.owner ?? "")
    w.string(p.group ?? "")
    w.string(p.target)
    w.strings(p.exec)
    w.string(p.creates ?? "")
    w.strings(p.unless)
    w.u32(UInt32(p.timeout))
    w.string(p.key)
    w.string(p.value)
    w.strings(p.after)
    w.strings(p.notify)
    w.string(p.conditionText)
    return w.bytes
  }

  public static func decode(_ raw: UnsafeRawBufferPointer) throws(RecordError) -> Promise {
    var r = ByteReader(raw)
    let v = try r.u8()
    guard v == version else { throw RecordError("promise record version \(v) is not known") }
    guard let type = PromiseType(rawValue: try r.u8()) else { throw RecordError("unknown promise type") }
    let flags = try r.u8()
    var p = Promise(id: try r.string(), type: type)
    p.absent = flags & 1 != 0
    p.purge = flags & 2 != 0
    p.path = try r.string()
    let content = try r.bytes()
    if flags & 4 != 0 { p.content = content }
    let source = try r.digest()
    if flags & 8 != 0 { p.source = source }
    let mode = try r.u32()
    if flags & 16 != 0 { p.mode = mode }
    let owner = try r.string(), group = try r.string()
    if flags & 32 != 0 { p.owner = owner }
    if flags & 64 != 0 { p.group = group }
    p.target = try r.string()
    p.exec = try r.strings()
    let creates = try r.string()
    if flags & 128 != 0 { p.creates = creates }
    p.unless = try r.strings()
    p.timeout = Int(try r.u32())
    p.key = try r.string()
    p.value = try r.string()
    p.after = try r.strings()
    p.notify = try r.strings()
    p.conditionText = try r.string()
    if !p.conditionText.isEmpty { p.condition = try? ClassExpression(parsing: p.conditionText) }
    return p
  }
}

/// The `actual` database's value: what the agent last saw and did for one promise. Version 1.
public struct ActualRecord: Sendable, Equatable {
  public static let version: UInt8 = 1

  public var status: OutcomeStatus
  public var reason: String
  /// The digest of what was observed (a file's content), or .zero when not applicable.
  public var fingerprint: Digest
  /// When the promise was last checked, and when its status last changed (Unix seconds).
  public var checkedAt: Int64
  public var changedAt: Int64
  /// How many times it was repaired, over the state's life.
  public var repairs: UInt32
  /// How many runs in a row it has failed.
  public var failures: UInt32

  public init(status: OutcomeStatus, reason: String, fingerprint: Digest = .zero, checkedAt: Int64,
              changedAt: Int64, repairs: UInt32 = 0, failures: UInt32 = 0) {
    self.status = status
    self.reason = reason
    self.fingerprint = fingerprint
    self.checkedAt = checkedAt
    self.changedAt = changedAt
    self.repairs = repairs
    self.failures = failures
  }

  public func encode() -> [UInt8] {
    var w = ByteWriter(capacity: 64 + reason.utf8.count)
    w.u8(ActualRecord.version)
    w.u8(status.rawValue)
    w.string(reason)
    w.digest(fingerprint)
    w.i64(checkedAt)
    w.i64(changedAt)
    w.u32(repairs)
    w.u32(failures)
    return w.bytes
  }

  public static func decode(_ raw: UnsafeRawBufferPointer) throws(RecordError) -> ActualRecord {
    var r = ByteReader(raw)
    let v = try r.u8()
    guard v == version else { throw RecordError("outcome record version \(v) is not known") }
    guard let status = OutcomeStatus(rawValue: try r.u8()) else { throw RecordError("unknown outcome status") }
    return ActualRecord(status: status, reason: try r.string(), fingerprint: try r.digest(), checkedAt: try r.i64(),
                        changedAt: try r.i64(), repairs: try r.u32(), failures: try r.u32())
  }
}
