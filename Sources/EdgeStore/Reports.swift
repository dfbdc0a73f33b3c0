import EdgeCore

/// One host's entry in `reports`: the latest verified report as it was signed, and what this
/// agent knows about it. Encoding: i64 received (Unix s, here), u8 flags (1: pending, to be
/// forwarded upstream), u32 missed, u32 key changes, i64 window start, u32 window count, then
/// the signed report's bytes to the end.
public struct ReportEntry: Equatable, Sendable {
  public var receivedAt: Int64
  /// Still to be sent upstream (a relay's or an agent's; a collector's entries never are).
  public var pending: Bool
  /// Reports of this host that were replaced while pending, here and below: transitions the
  /// way up dropped while it was down. Advisory (not signed).
  public var missed: UInt32
  /// Reports for this host id signed by another key, refused: a second box claiming the id,
  /// or a reinstalled host. Never reset, so the collector keeps flagging it.
  public var keyChanges: UInt32
  /// The minute window that bounds a flooding host (`ReportAcceptance.maxPerMinute`).
  public var windowStart: Int64
  public var windowCount: UInt32
  /// The signed report (`HostReport.decode` reads it).
  public var signed: [UInt8]

  public init(receivedAt: Int64, pending: Bool, missed: UInt32 = 0, keyChanges: UInt32 = 0,
              windowStart: Int64 = 0, windowCount: UInt32 = 0, signed: [UInt8]) {
    self.receivedAt = receivedAt; self.pending = pending; self.missed = missed; self.keyChanges = keyChanges
    self.windowStart = windowStart; self.windowCount = windowCount; self.signed = signed
  }

  public func encode() -> [UInt8] {
    var w = ByteWriter(capacity: 29 + signed.count)
    w.i64(receivedAt)
    w.u8(pending ? 1 : 0)
    w.u32(missed)
    w.u32(keyChanges)
    w.i64(windowStart)
    w.u32(windowCount)
    var b = w.bytes
    b.append(contentsOf: signed)
    return b
  }

  public static func decode(_ raw: UnsafeRawBufferPointer) throws(RecordError) -> ReportEntry {
    var r = ByteReader(raw)
    let at = try r.i64(), flags = try r.u8(), missed = try r.u32(), changes = try r.u32()
    let ws = try r.i64(), wc = try r.u32()
    return ReportEntry(receivedAt: at, pending: flags & 1 != 0, missed: missed, keyChanges: changes,
                       windowStart: ws, windowCount: wc, signed: Array(raw[r.offset...]))
  }
}

extension Transaction {
  /// The entry of host `id`, nil when none.
  public func reportEntry(_ id: String) throws(StoreError) -> ReportEntry? {
    let r = try withUTF8(id) { (k) throws(StoreError) -> Result<ReportEntry?, RecordError> in
      try get(.reports, k) { (raw) throws(RecordError) -> ReportEntry? in
        guard let raw else { return nil }
        return try ReportEntry.decode(raw)
      }
    }
    switch r {
    case .success(let v): return v
    case .failure(let e): throw .record(e, key: "reports/" + id)
    }
  }

  public func putReportEntry(_ id: String, _ e: ReportEntry) throws(StoreError) {
    try put(.reports, id, e.encode())
  }

  /// Calls `body` with each host id and entry in host id order until it returns false. An
  /// entry that does not decode is an error naming its host, never skipped.
  public func forEachReport(_ body: (String, ReportEntry) -> Bool) throws(StoreError) {
    var bad: (String, RecordError)? = nil
    try forEach(.reports) { k, v in
      let id = String(decoding: k, as: UTF8.self)
      do throws(RecordError) { return body(id, try ReportEntry.decode(v)) } catch {
        bad = (id, error)
        return false
      }
    }
    if let (id, e) = bad { throw .record(e, key: "reports/" + id) }
  }

  // MARK: this host's reporting (meta)

  /// This host's report key (64-byte Ed25519 secret), nil until the first report.
  public func hostKey() throws(StoreError) -> [UInt8]? {
    try meta(.hostKey) { raw in raw.map { Array($0) } }
  }

  public func setHostKey(_ secret: [UInt8]) throws(StoreError) { try putMeta(.hostKey, secret) }

  /// The sequence number of this host's last report (0: none yet).
  public func reportSequence() throws(StoreError) -> UInt64 {
    try meta(.reportSequence) { (r) throws(RecordError) in try r.u64() } ?? 0
  }

  public func setReportSequence(_ n: UInt64) throws(StoreError) {
    var w = ByteWriter()
    w.u64(n)
    try putMeta(.reportSequence, w.bytes)
  }
}
