/// The `events` database's value: one thing that happened, version 1. Keys are a big-endian u64
/// sequence, so a cursor reads events in order, and the oldest are trimmed to keep a bounded ring.
public struct EventRecord: Sendable, Equatable {
  public enum Kind: UInt8, Sendable {
    /// A promise was repaired or failed.
    case outcome = 1
    /// A new policy replaced `desired`.
    case policy = 2

    public var name: String {
      switch self {
      case .outcome: return "outcome"
      case .policy: return "policy"
      }
    }
  }

  public static let version: UInt8 = 1

  public var kind: Kind
  /// Unix seconds.
  public var time: Int64
  /// outcome: the promise's status; policy: .repaired.
  public var status: OutcomeStatus
  /// outcome: the promise id; policy: the policy name.
  public var subject: String
  public var reason: String

  public init(kind: Kind, time: Int64, status: OutcomeStatus, subject: String, reason: String) {
    self.kind = kind
    self.time = time
    self.status = status
    self.subject = subject
    self.reason = reason
  }

  public func encode() -> [UInt8] {
    var w = ByteWriter(capacity: 32 + subject.utf8.count + reason.utf8.count)
    w.u8(EventRecord.version)
    w.u8(kind.rawValue)
    w.i64(time)
    w.u8(status.rawValue)
    w.string(subject)
    w.string(reason)
    return w.bytes
  }

  public static func decode(_ raw: UnsafeRawBufferPointer) throws(RecordError) -> EventRecord {
    var r = ByteReader(raw)
    let v = try r.u8()
    guard v == version else { throw RecordError("event record version \(v) is not known") }
    guard let kind = Kind(rawValue: try r.u8()) else { throw RecordError("unknown event kind") }
    let time = try r.i64()
    guard let status = OutcomeStatus(rawValue: try r.u8()) else { throw RecordError("unknown outcome status") }
    return EventRecord(kind: kind, time: time, status: status, subject: try r.string(), reason: try r.string())
  }

  /// The key for sequence number `n`.
  public static func key(_ n: UInt64) -> [UInt8] {
    var out: [UInt8] = []
    var shift: UInt64 = 56
    for _ in 0..<8 { out.append(UInt8((n >> shift) & 0xFF)); shift &-= 8 }
    return out
  }

  public static func sequence(_ key: UnsafeRawBufferPointer) -> UInt64? {
    guard key.count == 8 else { return nil }
    var v: UInt64 = 0
    for b in key { v = v << 8 | UInt64(b) }
    return v
  }
}
