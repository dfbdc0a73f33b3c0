/// A host's report (issue 16): what one agent says about itself, signed by its host key and
/// carried up the relay tree to a collector. Small on purpose: a heartbeat of a healthy host is
/// about 200 bytes with its signature, so a relay's batch of 1,000 heartbeats is ~200 KB.
///
/// Wire form (`signedBytes`): "EAR1", the payload below, then the 64-byte Ed25519 signature of
/// everything before it. Numbers are varints and strings and lists varint-length-prefixed
/// (ByteWriter); the payload carries the public key, so a verifier needs nothing else, and a
/// collector pins the key of each host id on first sight.
public struct HostReport: Equatable, Sendable {
  /// The failed promises a report names at most, and a reason's most bytes: a host with 10,000
  /// failing promises still sends one small record (`failed` keeps the whole count).
  public static let maxFailures = 16
  public static let maxReasonBytes = 160
  /// A signed report's most bytes; a relay refuses a larger one unread.
  public static let maxBytes = 4096
  public static let magic: [UInt8] = Array("EAR1".utf8)

  public struct Failure: Equatable, Sendable {
    public var id: String
    public var reason: String
    public init(id: String, reason: String) { self.id = id; self.reason = reason }
  }

  public var hostID: String
  /// 32 bytes: the Ed25519 public key that signs this host's reports.
  public var publicKey: [UInt8]
  /// Monotonic per host, persisted by the sender: a report no newer than one held is a replay.
  public var sequence: UInt64
  /// Unix seconds at the sender when it was made.
  public var sentAt: Int64
  /// Seconds between the host's heartbeats (the collector calls it stale after 3 missed).
  public var heartbeatSeconds: UInt32
  public var version: String
  public var target: String
  /// The bundle serial in force (0: none) and when it was accepted (Unix s, 0: none).
  public var serial: UInt64
  public var bundleAcceptedAt: Int64
  /// The last full run: when it ended (Unix s, 0: none yet), how long it took, and its counts.
  public var runAt: Int64
  public var runMs: UInt32
  public var kept: UInt32
  public var repaired: UInt32
  public var failed: UInt32
  /// At most `maxFailures`, in plan order.
  public var failures: [Failure]
  public var servicesUp: UInt32
  /// Ids of services in a crash loop.
  public var crashLooping: [String]
  /// The last pull's error while upstreams are unreachable ("" when pulls work).
  public var pullError: String

  public init(hostID: String, publicKey: [UInt8], sequence: UInt64 = 0, sentAt: Int64 = 0, heartbeatSeconds: UInt32 = 300,
              version: String = "", target: String = "", serial: UInt64 = 0, bundleAcceptedAt: Int64 = 0,
              runAt: Int64 = 0, runMs: UInt32 = 0, kept: UInt32 = 0, repaired: UInt32 = 0, failed: UInt32 = 0,
              failures: [Failure] = [], servicesUp: UInt32 = 0, crashLooping: [String] = [], pullError: String = "") {
    self.hostID = hostID; self.publicKey = publicKey; self.sequence = sequence; self.sentAt = sentAt
    self.heartbeatSeconds = heartbeatSeconds; self.version = version; self.target = target; self.serial = serial
    self.bundleAcceptedAt = bundleAcceptedAt; self.runAt = runAt; self.runMs = runMs; self.kept = kept
    self.repaired = repaired; self.failed = failed; self.failures = failures; self.servicesUp = servicesUp
    self.crashLooping = crashLooping; self.pullError = pullError
  }

  /// Whether the host is converged by this report: its last run failed nothing and no service
  /// is crash looping.
  public var healthy: Bool { failed == 0 && crashLooping.isEmpty }

  /// Whether two reports say the same thing: equal but for the sequence and the clocks (when
  /// sent, when the run ended, how long it took). A report with news is sent at once; one
  /// without waits for the heartbeat.
  public func sameNews(as o: HostReport) -> Bool {
    var a = self, b = o
    a.sequence = 0; b.sequence = 0; a.sentAt = 0; b.sentAt = 0; a.runAt = 0; b.runAt = 0; a.runMs = 0; b.runMs = 0
    return a == b
  }

  /// The bytes the signature covers: magic, then the payload.
  public func unsignedBytes() -> [UInt8] {
    var w = ByteWriter(capacity: 256)
    for b in HostReport.magic { w.u8(b) }
    w.string(bounded(hostID, 128))
    w.bytes(publicKey)
    w.uvarint(sequence)
    w.uvarint(UInt64(bitPattern: sentAt))
    w.uvarint(UInt64(heartbeatSeconds))
    w.string(bounded(version, 64))
    w.string(bounded(target, 64))
    w.uvarint(serial)
    w.uvarint(UInt64(bitPattern: bundleAcceptedAt))
    w.uvarint(UInt64(bitPattern: runAt))
    w.uvarint(UInt64(runMs))
    w.uvarint(UInt64(kept))
    w.uvarint(UInt64(repaired))
    w.uvarint(UInt64(failed))
    w.varint(min(failures.count, HostReport.maxFailures))
    for f in failures.prefix(HostReport.maxFailures) {
      w.string(bounded(f.id, 128))
      w.string(bounded(f.reason, HostReport.maxReasonBytes))
    }
    w.uvarint(UInt64(servicesUp))
    w.varint(min(crashLooping.count, HostReport.maxFailures))
    for s in crashLooping.prefix(HostReport.maxFailures) { w.string(bounded(s, 128)) }
    w.string(bounded(pullError, HostReport.maxReasonBytes))
    return w.bytes
  }

  /// Decodes a signed report (`unsignedBytes` + 64 signature bytes): the report and the split
  /// point, so the caller verifies `bytes[..<signedLength]` against the last 64 bytes. The
  /// signature is not checked here (EdgeCore has no crypto): `ReportAcceptance` does.
  public static func decode(_ raw: UnsafeRawBufferPointer) throws(RecordError) -> (report: HostReport, signedLength: Int) {
    guard raw.count > 64 + 4, raw.count <= maxBytes else { throw RecordError("a report is 69 to \(maxBytes) bytes, not \(raw.count)") }
    let body = UnsafeRawBufferPointer(rebasing: raw[..<(raw.count - 64)])
    var r = ByteReader(body)
    for m in magic where try r.u8() != m { throw RecordError("not a report (magic)") }
    let host = try r.string()
    let key = try r.bytes()
    guard key.count == 32 else { throw RecordError("a host key is 32 bytes, not \(key.count)") }
    guard !host.isEmpty, host.utf8.count <= 128 else { throw RecordError("a host id is 1 to 128 bytes") }
    var rep = HostReport(hostID: host, publicKey: key)
    func u32() throws(RecordError) -> UInt32 {
      let v = try r.uvarint()
      guard v <= UInt64(UInt32.max) else { throw RecordError("a count over 2^32") }
      return UInt32(v)
    }
    rep.sequence = try r.uvarint()
    rep.sentAt = Int64(bitPattern: try r.uvarint())
    rep.heartbeatSeconds = try u32()
    rep.version = try r.string()
    rep.target = try r.string()
    rep.serial = try r.uvarint()
    rep.bundleAcceptedAt = Int64(bitPattern: try r.uvarint())
    rep.runAt = Int64(bitPattern: try r.uvarint())
    rep.runMs = try u32()
    rep.kept = try u32()
    rep.repaired = try u32()
    rep.failed = try u32()
    let nf = try r.varint()
    guard nf <= maxFailures else { throw RecordError("more than \(maxFailures) failures") }
    for _ in 0..<nf { rep.failures.append(Failure(id: try r.string(), reason: try r.string())) }
    rep.servicesUp = try u32()
    let nc = try r.varint()
    guard nc <= maxFailures else { throw RecordError("more than \(maxFailures) crash-looping services") }
    for _ in 0..<nc { rep.crashLooping.append(try r.string()) }
    rep.pullError = try r.string()
    guard r.atEnd else { throw RecordError("\(r.remaining) bytes after the report") }
    return (rep, body.count)
  }
}

/// `s` cut to at most `n` bytes on a character boundary, so a signed field never grows past
/// its bound whatever the sender's strings hold.
func bounded(_ s: String, _ n: Int) -> String {
  if s.utf8.count <= n { return s }
  var out = ""
  for c in s {
    if out.utf8.count + c.utf8.count > n { break }
    out.append(c)
  }
  return out
}

/// A batch of signed reports: the body of `POST /report`. Each entry is a u32 count of
/// transitions the forwarder dropped while offline (advisory: not signed), then the signed
/// report, varint-length-prefixed. A child agent sends a batch of one; a relay, what changed.
public enum ReportBatch {
  /// A batch's most reports and bytes: a relay with more pending sends several batches.
  public static let maxReports = 2048
  public static let maxBytes = 1 << 20

  public static func append(_ signed: [UInt8], missed: UInt32, to w: inout ByteWriter) {
    w.u32(missed)
    w.bytes(signed)
  }

  /// Calls `body` with each entry's missed count and signed bytes (lent); stops at the first
  /// malformed entry with an error.
  public static func forEach(_ raw: UnsafeRawBufferPointer,
                             _ body: (UInt32, UnsafeRawBufferPointer) -> Void) throws(RecordError) {
    var r = ByteReader(raw)
    var n = 0
    while !r.atEnd {
      n += 1
      guard n <= maxReports else { throw RecordError("more than \(maxReports) reports in a batch") }
      let missed = try r.u32()
      body(missed, try r.slice())
    }
  }
}
