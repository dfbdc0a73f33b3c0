import EdgeCore

/// Each team's bundle in force (database `teams`, keyed by team name): the exact bytes and
/// signature, for restarts and for relaying, with the serial and digest written in the same
/// transaction. EdgeFleet's team acceptance is the only writer.
///
/// The database is optional (`Database.optional`): an `apply` never opens it, and a state that
/// never held a team has none. A transaction on an environment that did not open it reads no
/// team (`hasTeams`), so acceptance of a baseline works the same either way.
public struct TeamRecord: Equatable, Sendable {
  public var serial: UInt64
  public var digest: Digest
  public var acceptedAt: Int64
  public var bytes: [UInt8]
  public var signature: [UInt8]

  public init(serial: UInt64, digest: Digest, acceptedAt: Int64, bytes: [UInt8], signature: [UInt8]) {
    self.serial = serial
    self.digest = digest
    self.acceptedAt = acceptedAt
    self.bytes = bytes
    self.signature = signature
  }

  public func encode() -> [UInt8] {
    var w = ByteWriter(capacity: bytes.count + signature.count + 64)
    w.u64(serial)
    w.digest(digest)
    w.i64(acceptedAt)
    w.bytes(signature)
    w.bytes(bytes)
    return w.bytes
  }

  public static func decode(_ r: inout ByteReader) throws(RecordError) -> TeamRecord {
    let serial = try r.u64()
    let digest = try r.digest()
    let at = try r.i64()
    let sig = try r.bytes()
    let bytes = try r.bytes()
    if !r.atEnd { throw RecordError("\(r.remaining) bytes past the end of a team record") }
    return TeamRecord(serial: serial, digest: digest, acceptedAt: at, bytes: bytes, signature: sig)
  }
}

extension Transaction {
  /// Whether this environment opened `teams` (a writer that asked for it, or a reader that found it).
  public var hasTeams: Bool { environment.handle(.teams) != 0 }

  public func team(_ name: String) throws(StoreError) -> TeamRecord? {
    if !hasTeams { return nil }
    let r = try withUTF8(name) { (k) throws(StoreError) -> Result<TeamRecord?, RecordError> in
      try get(.teams, k) { (raw) throws(RecordError) -> TeamRecord? in
        guard let raw else { return nil }
        var reader = ByteReader(raw)
        return try TeamRecord.decode(&reader)
      }
    }
    switch r {
    case .success(let v): return v
    case .failure(let e): throw .record(e, key: "teams/" + name)
    }
  }

  /// Every team held, in name order.
  public func teams() throws(StoreError) -> [(name: String, record: TeamRecord)] {
    if !hasTeams { return [] }
    var out: [(name: String, record: TeamRecord)] = []
    var bad: StoreError? = nil
    try forEach(.teams) { key, value in
      let name = String(decoding: key, as: UTF8.self)
      var reader = ByteReader(value)
      do throws(RecordError) { out.append((name, try TeamRecord.decode(&reader))) } catch {
        bad = .record(error, key: "teams/" + name)
        return false
      }
      return true
    }
    if let bad { throw bad }
    return out
  }

  /// Every team held with its serial alone, in name order: what a relay says on each
  /// long-poll answer, read in place (no bundle copied).
  public func teamSerials() throws(StoreError) -> [(team: String, serial: UInt64)] {
    if !hasTeams { return [] }
    var out: [(team: String, serial: UInt64)] = []
    var bad: StoreError? = nil
    try forEach(.teams) { key, value in
      var reader = ByteReader(value)
      do throws(RecordError) { out.append((String(decoding: key, as: UTF8.self), try reader.u64())) } catch {
        bad = .record(error, key: "teams/" + String(decoding: key, as: UTF8.self))
        return false
      }
      return true
    }
    if let bad { throw bad }
    return out
  }

  public func setTeam(_ name: String, _ record: TeamRecord) throws(StoreError) {
    try put(.teams, name, record.encode())
  }
}
