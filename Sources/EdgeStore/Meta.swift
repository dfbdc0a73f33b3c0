import EdgeCore

/// Typed access to the `meta` database: each record is decoded and encoded here and nowhere
/// else. Reads work in any transaction, writes in a write transaction. An absent key is nil; a
/// value that does not decode is `StoreError.record` naming the key, never a silent default.
extension Transaction {
  /// Lends the raw bytes under `key` (nil when absent): the relay serves them in place.
  public func meta<R>(_ key: MetaKey, _ body: (UnsafeRawBufferPointer?) -> R) throws(StoreError) -> R {
    try value(.meta, key.name, body)
  }

  public func putMeta(_ key: MetaKey, _ bytes: [UInt8]) throws(StoreError) {
    try put(.meta, key.name, bytes)
  }

  /// Decodes the value under `key` with `decode`, nil when absent.
  public func meta<R>(_ key: MetaKey, decode: (inout ByteReader) throws(RecordError) -> R) throws(StoreError) -> R? {
    let r = try withUTF8(key.name) { (k) throws(StoreError) -> Result<R?, RecordError> in
      try get(.meta, k) { (raw) throws(RecordError) -> R? in
        guard let raw else { return nil }
        var reader = ByteReader(raw)
        return try decode(&reader)
      }
    }
    switch r {
    case .success(let v): return v
    case .failure(let e): throw .record(e, key: key.name)
    }
  }

  // MARK: the agent

  public func schemaVersion() throws(StoreError) -> UInt32? {
    try meta(.schema) { (r) throws(RecordError) in try r.u32() }
  }

  public func setSchemaVersion(_ v: UInt32) throws(StoreError) {
    var w = ByteWriter()
    w.u32(v)
    try putMeta(.schema, w.bytes)
  }

  public func hostID() throws(StoreError) -> String? {
    try meta(.hostID) { raw in raw.map { String(decoding: $0, as: UTF8.self) } }
  }

  public func setHostID(_ id: String) throws(StoreError) { try putMeta(.hostID, Array(id.utf8)) }

  // MARK: the policy in `desired`

  public func policyName() throws(StoreError) -> String? {
    try meta(.policyName) { raw in raw.map { String(decoding: $0, as: UTF8.self) } }
  }

  public func policyDigest() throws(StoreError) -> Digest? { try digest(.policyDigest) }

  /// Both are written with `desired`, in the transaction that replaces it.
  public func setPolicy(name: String, digest: Digest) throws(StoreError) {
    try putDigest(.policyDigest, digest)
    try putMeta(.policyName, Array(name.utf8))
  }

  /// The database holding the policy in force: `desired` or `desired.1`.
  public func desiredDatabase() throws(StoreError) -> Database {
    let slot = try meta(.desiredSlot) { (r) throws(RecordError) -> UInt8 in
      let v = try r.u8()
      guard v <= 1, r.remaining == 0 else { throw RecordError("expected one byte, 0 or 1") }
      return v
    }
    return slot == 1 ? .desired1 : .desired
  }

  /// The database the next staged policy is written to: the one not in force.
  public func stagingDatabase() throws(StoreError) -> Database {
    try desiredDatabase() == .desired ? .desired1 : .desired
  }

  /// Puts `db` (`desired` or `desired.1`) in force, in the transaction that sets the policy's
  /// name and digest.
  public func setDesiredDatabase(_ db: Database) throws(StoreError) {
    try putMeta(.desiredSlot, [db == .desired1 ? 1 : 0])
  }

  // MARK: the last run

  public func lastRun() throws(StoreError) -> Int64? {
    try meta(.lastRun) { (r) throws(RecordError) in try r.i64() }
  }

  public func runSummary() throws(StoreError) -> RunSummary? {
    try meta(.runSummary) { (r) throws(RecordError) in try RunSummary.decode(&r) }
  }

  public func setRun(at now: Int64, summary: RunSummary) throws(StoreError) {
    var r = ByteWriter()
    r.i64(now)
    try putMeta(.lastRun, r.bytes)
    try putMeta(.runSummary, summary.encode())
  }

  /// The serial of the last recorded run (0: none yet).
  public func runSerial() throws(StoreError) -> UInt64 {
    try meta(.runSerial) { (r) throws(RecordError) in try r.u64() } ?? 0
  }

  /// Starts a run that records: its serial, one past the last.
  public func nextRunSerial() throws(StoreError) -> UInt64 {
    let next = try runSerial() + 1
    var w = ByteWriter()
    w.u64(next)
    try putMeta(.runSerial, w.bytes)
    return next
  }

  /// The settled marks, oldest first; none when absent.
  @inline(never)
  public func settledMarks() throws(StoreError) -> [SettledMark] {
    guard let bytes = try meta(.settled, { raw in raw.map { Array($0) } }) else { return [] }
    guard bytes.count % 16 == 0 else {
      throw .record(RecordError("not a whole number of 16-byte marks"), key: MetaKey.settled.name)
    }
    var marks: [SettledMark] = []
    bytes.withUnsafeBytes { raw in
      var r = ByteReader(raw)
      while r.remaining >= 16, let run = try? r.u64(), let at = try? r.i64() { marks.append(SettledMark(run: run, at: at)) }
    }
    return marks
  }

  /// Stores `marks` (none: deletes the key).
  public func setSettledMarks(_ marks: [SettledMark]) throws(StoreError) {
    if marks.isEmpty {
      _ = try delete(.meta, MetaKey.settled.name)
      return
    }
    var w = ByteWriter()
    for m in marks {
      w.u64(m.run)
      w.i64(m.at)
    }
    try putMeta(.settled, w.bytes)
  }

  /// The serial of the last run that recorded a repair; nil when none has.
  public func lastRepairRun() throws(StoreError) -> UInt64? {
    try meta(.lastRepair) { (r) throws(RecordError) in try r.u64() }
  }

  public func setLastRepairRun(_ run: UInt64) throws(StoreError) {
    var w = ByteWriter()
    w.u64(run)
    try putMeta(.lastRepair, w.bytes)
  }

  public func lastClasses() throws(StoreError) -> Digest? { try digest(.lastClasses) }

  public func setLastClasses(_ d: Digest) throws(StoreError) { try putDigest(.lastClasses, d) }

  // MARK: the bundle in force

  public func bundleSerial() throws(StoreError) -> UInt64? {
    try meta(.bundleSerial) { (r) throws(RecordError) in try r.u64() }
  }

  /// The serial and digest of the bundle in force, nil before the first acceptance. Both are
  /// written by one transaction: a serial without its digest is a corrupt state.
  public func bundleIdentity() throws(StoreError) -> (serial: UInt64, digest: Digest)? {
    guard let serial = try bundleSerial() else { return nil }
    guard let d = try digest(.bundleDigest) else {
      throw .record(RecordError("absent while \(MetaKey.bundleSerial.name) is \(serial)"), key: MetaKey.bundleDigest.name)
    }
    return (serial, d)
  }

  public func bundleAcceptedAt() throws(StoreError) -> Int64? {
    try meta(.bundleAcceptedAt) { (r) throws(RecordError) in try r.i64() }
  }

  /// A copy of the stored bundle.json, nil before the first acceptance.
  public func bundleBytes() throws(StoreError) -> [UInt8]? {
    try meta(.bundleJSON) { raw in raw.map { Array($0) } }
  }

  /// Every key of an accepted bundle, in the transaction that accepts it, so they always
  /// describe the same bundle.
  public func setBundle(bytes: [UInt8], signature: [UInt8], serial: UInt64, digest: Digest,
                        acceptedAt: Int64) throws(StoreError) {
    try putMeta(.bundleJSON, bytes)
    try putMeta(.bundleSignature, signature)
    var s = ByteWriter()
    s.u64(serial)
    try putMeta(.bundleSerial, s.bytes)
    try putDigest(.bundleDigest, digest)
    var t = ByteWriter()
    t.i64(acceptedAt)
    try putMeta(.bundleAcceptedAt, t.bytes)
  }

  public func lastRejection() throws(StoreError) -> BundleRejectionRecord? {
    try meta(.lastRejection) { (r) throws(RecordError) in try BundleRejectionRecord.decode(&r) }
  }

  public func setLastRejection(_ record: BundleRejectionRecord) throws(StoreError) {
    try putMeta(.lastRejection, record.encode())
  }

  // MARK: the puller

  public func reachability() throws(StoreError) -> ReachabilityRecord? {
    try meta(.reachability) { (r) throws(RecordError) in try ReachabilityRecord.decode(&r) }
  }

  public func setReachability(_ record: ReachabilityRecord) throws(StoreError) {
    try putMeta(.reachability, record.encode())
  }

  // MARK: encodings shared by several keys

  /// A 32-byte digest; another length is a corrupt record.
  func digest(_ key: MetaKey) throws(StoreError) -> Digest? {
    try meta(key) { (r) throws(RecordError) -> Digest in
      guard r.remaining == Digest.byteCount else {
        throw RecordError("expected \(Digest.byteCount) bytes of digest, found \(r.remaining)")
      }
      return try r.digest()
    }
  }

  func putDigest(_ key: MetaKey, _ d: Digest) throws(StoreError) {
    var w = ByteWriter()
    w.digest(d)
    try putMeta(key, w.bytes)
  }
}
