import EdgeCore
import EdgeHost
import EdgeStore

/// Meta keys of the bundle in force (see Database.meta). All are written by the one
/// transaction that accepts a bundle, so they always describe the same bundle.
enum BundleMetaKey {
  /// u64: the serial in force; absent until a bundle is accepted.
  static let serial = "bundle.serial"
  /// 32 bytes: SHA-256 of bundle.json.
  static let digest = "bundle.digest"
  /// The exact bytes of bundle.json and bundle.json.sig, for restarts and for relaying.
  static let bytes = "bundle.json"
  static let signature = "bundle.sig"
  /// i64 Unix seconds of acceptance.
  static let acceptedAt = "bundle.accepted"
  /// The last refused bundle (`BundleRejectionRecord`), for `status`; kept across acceptances.
  static let lastRejection = "bundle.rejection"
}

/// A bundle whose signature, format and freshness checked out, waiting for its blobs.
/// `missing` lists the blobs the store does not hold yet; the rest are already there (stored
/// by an earlier acceptance, content-addressed, so they need no second check).
public struct BundleCandidate {
  public var bundle: PolicyBundle
  public var bytes: [UInt8]
  public var signature: [UInt8]
  public var digest: Digest
  public var missing: [BundleBlob]
}

/// The bundle now in force.
public struct AcceptedBundle {
  public var serial: UInt64
  public var digest: Digest
  public var policy: Policy
  public var relays: [UpstreamURL]
  public var relayFanout: Int = RelayTree.defaultFanout
  /// Unix seconds: past this the bundle is expired (still in force until a newer one comes).
  public var expires: Int64 = 0
}

/// The serial held in the state, nil before the first acceptance.
public func heldSerial(_ env: Environment) throws(StoreError) -> UInt64? {
  let txn = try env.read()
  let s = try txn.value(.meta, BundleMetaKey.serial) { raw -> UInt64? in
    guard let raw else { return nil }
    var r = ByteReader(raw)
    return try? r.u64()
  }
  txn.abort()
  return s
}

/// The serial and digest held in the state, read in one transaction; nil before the first acceptance.
func heldIdentity(_ env: Environment) throws(StoreError) -> (serial: UInt64, digest: Digest)? {
  let txn = try env.read()
  let serial = try txn.value(.meta, BundleMetaKey.serial) { raw -> UInt64? in
    guard let raw else { return nil }
    var r = ByteReader(raw)
    return try? r.u64()
  }
  let digest = try txn.value(.meta, BundleMetaKey.digest) { raw -> Digest in
    guard let raw, raw.count == 32 else { return .zero }
    return Digest(bytes: raw)
  }
  txn.abort()
  guard let serial else { return nil }
  return (serial, digest)
}

/// First half of acceptance, before any blob is fetched: signature against `trustedKeys`,
/// format, serial above the held one, clock within [issued, expires). Touches nothing.
public func checkCandidate(_ env: Environment, bytes: [UInt8], signature: [UInt8], trustedKeys: [[UInt8]],
                           now: Int64) throws(BundleError) -> BundleCandidate {
  let bundle: PolicyBundle
  do { bundle = try verifySignedBundle(bytes, signature: signature, trustedKeys: trustedKeys) } catch { throw .rejected(error) }
  let held: (serial: UInt64, digest: Digest)?
  do { held = try heldIdentity(env) } catch { throw .store(error) }
  let digest = SHA256.hash(bytes)
  // Equal bytes are "unchanged" and never get here as a candidate worth refusing; equal serial
  // with other bytes used to be dropped as "not newer" without a word.
  if let held, bundle.serial == held.serial, digest != held.digest {
    throw .rejected(.serialConflict(serial: held.serial, held: held.digest, offered: digest))
  }
  do { try BundleRejection.checkFreshness(bundle, heldSerial: held?.serial, now: now) } catch { throw .rejected(error) }
  var missing: [BundleBlob] = []
  do throws(StoreError) {
    let txn = try env.read()
    for b in bundle.blobs {
      let have = try b.digest.withBytes { (k) throws(StoreError) -> Bool in try txn.value(.blobs, k) { $0 != nil } }
      if !have { missing.append(b) }
    }
    txn.abort()
  } catch { throw .store(error) }
  return BundleCandidate(bundle: bundle, bytes: bytes, signature: signature, digest: digest, missing: missing)
}

/// Second half: checks every fetched blob, then in ONE write transaction stores the blobs, the
/// bundle bytes and signature, the serial and digest, replaces `desired` with the bundle's
/// policy, and appends an event. On any error nothing is written (the transaction aborts).
/// `fetched` must hold every blob of `candidate.missing`.
public func commitCandidate(_ env: Environment, _ c: BundleCandidate, fetched: [(BundleBlob, [UInt8])],
                            now: Int64) throws(BundleError) -> AcceptedBundle {
  for b in c.missing {
    var found = false
    for (fb, bytes) in fetched where fb.digest == b.digest {
      do { try checkBlob(b, bytes) } catch { throw .rejected(error) }
      found = true
      break
    }
    if !found { throw .rejected(.blobMissing(b.digest)) }
  }
  let policy = c.bundle.policy
  let order: [Int]
  do { order = try Plan.order(policy.promises) } catch {
    throw .rejected(.format(BundleFormatError("policy: \(error)", at: .none)))
  }
  do throws(StoreError) {
    try env.withWrite { (txn) throws(StoreError) in
      // The held serial again, inside the writer: another acceptance may have won meanwhile.
      let held = try txn.value(.meta, BundleMetaKey.serial) { raw -> UInt64? in
        guard let raw else { return nil }
        var r = ByteReader(raw)
        return try? r.u64()
      }
      if let held, c.bundle.serial <= held { throw StoreError.record(RecordError("serial \(c.bundle.serial) is not newer than \(held)"), key: BundleMetaKey.serial) }
      for (b, bytes) in fetched {
        try b.digest.withBytes { (k) throws(StoreError) in
          try withBytes(bytes) { (v) throws(StoreError) in try txn.put(.blobs, k, v) }
        }
      }
      try dropBlobs(txn, except: c.bundle.blobs)
      try txn.put(.meta, BundleMetaKey.bytes, c.bytes)
      try txn.put(.meta, BundleMetaKey.signature, c.signature)
      var s = ByteWriter()
      s.u64(c.bundle.serial)
      try txn.put(.meta, BundleMetaKey.serial, s.bytes)
      var d = ByteWriter()
      d.digest(c.digest)
      try txn.put(.meta, BundleMetaKey.digest, d.bytes)
      var t = ByteWriter()
      t.i64(now)
      try txn.put(.meta, BundleMetaKey.acceptedAt, t.bytes)
      try storeDesired(txn, policy: policy, order: order, digest: c.digest)
      try appendEvents(txn, [EventRecord(kind: .policy, time: now, status: .repaired, subject: policy.name,
                                         reason: "accepted bundle serial \(c.bundle.serial) (\(policy.promises.count) promises, \(c.bundle.blobs.count) blobs), sha256:\(c.digest.hex)")])
    }
  } catch {
    if case .record(_, let key) = error, key == BundleMetaKey.serial {
      throw .rejected(.notNewer(offered: c.bundle.serial, held: (try? heldSerial(env)).flatMap { $0 } ?? 0))
    }
    throw .store(error)
  }
  return AcceptedBundle(serial: c.bundle.serial, digest: c.digest, policy: policy, relays: c.bundle.relays,
                        relayFanout: c.bundle.relayFanout, expires: c.bundle.expires)
}

/// Deletes every blob the bundle being accepted does not list. Blobs of superseded bundles are
/// never needed again (the converger and the relay use the bundle in force), and keeping them
/// grew the state by every changed blob forever: 200 serials of 1 MiB of new blobs each left a
/// 227 MB data.mdb (Benchmarks/chaos/chaos.py --scenario bundle).
func dropBlobs(_ txn: borrowing Transaction, except keep: [BundleBlob]) throws(StoreError) {
  var wanted = Set<Digest>()
  for b in keep { wanted.insert(b.digest) }
  var stale: [[UInt8]] = []
  try txn.forEach(.blobs) { key, _ in
    if key.count != 32 || !wanted.contains(Digest(bytes: key)) { stale.append(Array(key)) }
    return true
  }
  for k in stale { _ = try txn.deleteKey(.blobs, k) }
}

/// Both halves, for sources that lend blobs synchronously (a `file://` upstream, tests).
/// `blob` returns the bytes of a listed blob, or throws why it cannot.
public func acceptBundle(_ env: Environment, bytes: [UInt8], signature: [UInt8], trustedKeys: [[UInt8]], now: Int64,
                         blob: (BundleBlob) throws(BundleError) -> [UInt8]) throws(BundleError) -> AcceptedBundle {
  let c = try checkCandidate(env, bytes: bytes, signature: signature, trustedKeys: trustedKeys, now: now)
  var fetched: [(BundleBlob, [UInt8])] = []
  for b in c.missing { fetched.append((b, try blob(b))) }
  return try commitCandidate(env, c, fetched: fetched, now: now)
}

/// Records a refused bundle as a failed `policy` event and as the last rejection (which `status`
/// shows), in its own transaction; the bundle in force, `desired` and the blobs are untouched.
/// `source` names where it came from. A store failure is thrown, not dropped: the caller logs it.
public func recordRejection(_ env: Environment, _ r: BundleRejection, source: String, now: Int64) throws(StoreError) {
  let record = BundleRejectionRecord(time: now, code: r.code, source: source, reason: r.description).encode()
  try env.withWrite { (txn) throws(StoreError) in
    try appendEvents(txn, [EventRecord(kind: .policy, time: now, status: .failed, subject: "bundle",
                                       reason: "rejected from \(source): \(r)")])
    try txn.put(.meta, BundleMetaKey.lastRejection, record)
  }
}

/// Records that the bundle in force is past its `expires` as a failed `policy` event (once per
/// serial: the puller calls it when it first sees the expiry). `status` derives the same from
/// the stored bundle; the event says when the agent noticed.
public func recordExpiry(_ env: Environment, serial: UInt64, expires: Int64, now: Int64) throws(StoreError) {
  try env.withWrite { (txn) throws(StoreError) in
    try appendEvents(txn, [EventRecord(kind: .policy, time: now, status: .failed, subject: "bundle",
                                       reason: "serial \(serial) expired at \(isoTime(expires)) and is still in force: no newer bundle accepted")])
  }
}

/// The last refused bundle as stored in meta: i64 time, then code, source and reason strings.
public struct BundleRejectionRecord: Equatable {
  public var time: Int64
  /// `BundleRejection.code` (`serial_conflict`, `bad_signature`, ...).
  public var code: String
  public var source: String
  public var reason: String

  func encode() -> [UInt8] {
    var w = ByteWriter()
    w.i64(time)
    w.string(code)
    w.string(source)
    w.string(reason)
    return w.bytes
  }

  static func decode(_ raw: UnsafeRawBufferPointer) -> BundleRejectionRecord? {
    var r = ByteReader(raw)
    guard let t = try? r.i64(), let c = try? r.string(), let s = try? r.string(), let why = try? r.string() else { return nil }
    return BundleRejectionRecord(time: t, code: c, source: s, reason: why)
  }
}

/// The policy of the bundle in force and its serial, from the stored bundle bytes (their
/// signature was checked on acceptance); nil before the first acceptance. With no network at
/// start, the daemon converges from this.
public func loadAcceptedPolicy(_ env: Environment) -> (Policy, UInt64)? {
  guard let b = loadAcceptedBundle(env) else { return nil }
  return (b.policy, b.serial)
}

/// The bundle in force, decoded, with its digest.
public func loadAcceptedBundle(_ env: Environment) -> AcceptedBundle? {
  guard let txn = try? env.read() else { return nil }
  let bytes: [UInt8]? = (try? txn.value(.meta, BundleMetaKey.bytes) { raw in raw.map { Array($0) } }) ?? nil
  txn.abort()
  guard let bytes, let b = try? PolicyBundle.decode(bytes) else { return nil }
  return AcceptedBundle(serial: b.serial, digest: SHA256.hash(bytes), policy: b.policy, relays: b.relays, relayFanout: b.relayFanout,
                        expires: b.expires)
}

/// Replaces `desired` whole with `policy` in plan order and sets the policy name and digest, as
/// `record` in Apply.swift does when a policy file changes; the daemon's next `record` with the
/// same digest then leaves it alone. Outcomes of promises that left the policy go with them.
func storeDesired(_ txn: borrowing Transaction, policy: Policy, order: [Int], digest: Digest,
                  prepared: [PreparedPromise]? = nil) throws(StoreError) {
  try txn.clear(.desired)
  for (position, i) in order.enumerated() {
    let p = policy.promises[i]
    let promiseDigest = (prepared?[i] ?? PreparedPromise(index: i, promise: p, keys: StatCacheKey(root: "/"))).digest
    let value = PromiseRecord.encode(p, digest: promiseDigest ?? .zero)
    try withBytes(PromiseRecord.key(position)) { (k) throws(StoreError) in
      try withBytes(value) { (v) throws(StoreError) in try txn.put(.desired, k, v) }
    }
  }
  var d = ByteWriter()
  d.digest(digest)
  try txn.put(.meta, MetaKey.policyDigest, d.bytes)
  try txn.put(.meta, MetaKey.policyName, Array(policy.name.utf8))
  // Outcomes of promises that left the policy go with it.
  var ids = Set<String>()
  for p in policy.promises { ids.insert(p.id) }
  var stale: [String] = []
  try txn.forEach(.actual) { key, _ in
    let id = String(decoding: key, as: UTF8.self)
    if !ids.contains(id) { stale.append(id) }
    return true
  }
  for id in stale { try txn.delete(.actual, id) }
}
