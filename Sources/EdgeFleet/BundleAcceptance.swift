import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore

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
  /// The agent binaries the bundle names (EdgeUpdate stages this target's).
  public var agent: AgentRelease? = nil
  /// The teams it delegates to (TeamAcceptance.swift).
  public var delegations: [Delegation] = []
  /// The baseline composed with the teams held: what the daemon converges to. Set by an
  /// acceptance (nil from `loadAcceptedBundle`, which reads the baseline only).
  public var inForce: PolicyInForce? = nil
}

/// The serial held in the state, nil before the first acceptance.
public func heldSerial(_ env: Environment) throws(StoreError) -> UInt64? {
  let txn = try env.read()
  let s = try txn.bundleSerial()
  txn.abort()
  return s
}

/// The serial and digest held in the state, read in one transaction; nil before the first acceptance.
func heldIdentity(_ env: Environment) throws(StoreError) -> (serial: UInt64, digest: Digest)? {
  let txn = try env.read()
  let held = try txn.bundleIdentity()
  txn.abort()
  return held
}

/// First half of acceptance, before any blob is fetched: signature against `trustedKeys`,
/// format, serial above the held one, clock within [issued, expires). Touches nothing.
/// `agentTarget`: an agent that serves no one needs only its own target's agent binary, not
/// the other targets' (a relay passes nil: its children may be of any target).
public func checkCandidate(_ env: Environment, bytes: [UInt8], signature: [UInt8], trustedKeys: [[UInt8]],
                           now: Int64, agentTarget: String? = nil) throws(BundleError) -> BundleCandidate {
  let bundle: PolicyBundle
  do { bundle = try verifySignedBundle(bytes, signature: signature, trustedKeys: trustedKeys) } catch { throw .rejected(error) }
  // A team's bundle signed by a root key is still a team's: it does not take the baseline's place.
  if let team = bundle.team { throw .rejected(.wrongTeam(named: team, offered: Delegation.baselineName)) }
  let held: (serial: UInt64, digest: Digest)?
  do { held = try heldIdentity(env) } catch { throw .store(error) }
  let digest = SHA256.hash(bytes)
  // Equal bytes are "unchanged" and never get here as a candidate worth refusing; equal serial
  // with other bytes used to be dropped as "not newer" without a word.
  if let held, bundle.serial == held.serial, digest != held.digest {
    throw .rejected(.serialConflict(serial: held.serial, held: held.digest, offered: digest))
  }
  do { try BundleRejection.checkFreshness(bundle, heldSerial: held?.serial, now: now) } catch { throw .rejected(error) }
  // At most the two other targets' binaries: a list, not a set.
  var unneeded: [Digest] = []
  if let agentTarget, let release = bundle.agent {
    for t in release.targets where t.name != agentTarget && !bundle.policy.promises.contains(where: { $0.source == t.digest }) {
      unneeded.append(t.digest)
    }
  }
  var missing: [BundleBlob] = []
  do throws(StoreError) {
    let txn = try env.read()
    for b in bundle.blobs where !unneeded.contains(b.digest) {
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
  do { order = try policy.order() } catch {
    throw .rejected(.format(BundleFormatError("policy: \(error)", at: .none)))
  }
  let beaten: UInt64?
  var inForce: PolicyInForce? = nil
  do throws(StoreError) {
    beaten = try env.withWrite { (txn) throws(StoreError) -> UInt64? in
      // The held serial again, inside the writer: another acceptance may have won meanwhile.
      // Nothing is written then, so the commit is empty.
      if let held = try txn.bundleSerial(), c.bundle.serial <= held { return held }
      for (b, bytes) in fetched {
        try b.digest.withBytes { (k) throws(StoreError) in
          try withBytes(bytes) { (v) throws(StoreError) in try txn.put(.blobs, k, v) }
        }
      }
      // The teams held, against this baseline's delegations: revoked, suspended or in force.
      let f = try composeHeld(txn, baseline: c.bundle, digest: c.digest)
      try dropBlobs(txn, except: f.teamBlobs.isEmpty ? c.bundle.blobs : c.bundle.blobs + f.teamBlobs)
      try txn.setBundle(bytes: c.bytes, signature: c.signature, serial: c.bundle.serial, digest: c.digest, acceptedAt: now)
      if f.policy.promises.count == policy.promises.count {
        try storeDesired(txn, policy: policy, order: order, digest: f.digest, fingerprints: .made(policy))
      } else {
        try storeInForce(txn, f)
      }
      var events = [EventRecord(kind: .policy, time: now, status: .repaired, subject: policy.name,
                                reason: "accepted bundle serial \(c.bundle.serial) (\(policy.promises.count) promises, \(c.bundle.blobs.count) blobs), sha256:\(c.digest.hex)")]
      for t in f.teams where t.standing != .inForce {
        events.append(EventRecord(kind: .policy, time: now, status: .failed, subject: t.team, reason: "team \(t.team) serial \(t.serial): \(t.standing.label)"))
      }
      try appendEvents(txn, events)
      inForce = f
      return nil
    }
  } catch { throw .store(error) }
  if let beaten { throw .rejected(.notNewer(offered: c.bundle.serial, held: beaten)) }
  return AcceptedBundle(serial: c.bundle.serial, digest: c.digest, policy: policy, relays: c.bundle.relays,
                        relayFanout: c.bundle.relayFanout, expires: c.bundle.expires, agent: c.bundle.agent,
                        delegations: c.bundle.delegations, inForce: inForce)
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
  let record = BundleRejectionRecord(time: now, code: r.code, source: source, reason: r.description)
  try env.withWrite { (txn) throws(StoreError) in
    try appendEvents(txn, [EventRecord(kind: .policy, time: now, status: .failed, subject: "bundle",
                                       reason: "rejected from \(source): \(r)")])
    try txn.setLastRejection(record)
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

/// The policy of the bundle in force and its serial, from the stored bundle bytes (their
/// signature was checked on acceptance); nil before the first acceptance. With no network at
/// start, the daemon converges from this.
public func loadAcceptedPolicy(_ env: Environment) throws(StoreError) -> (Policy, UInt64)? {
  guard let b = try loadAcceptedBundle(env) else { return nil }
  return (b.policy, b.serial)
}

/// The bundle in force, decoded, with its digest. Stored bytes that no longer decode (they did
/// when accepted) are a corrupt state: an error naming the key.
public func loadAcceptedBundle(_ env: Environment) throws(StoreError) -> AcceptedBundle? {
  let txn = try env.read()
  let stored = try txn.bundleBytes()
  txn.abort()
  guard let bytes = stored else { return nil }
  let b: PolicyBundle
  do { b = try PolicyBundle.decode(bytes) } catch {
    throw .record(RecordError(error.description), key: MetaKey.bundleJSON.name)
  }
  return AcceptedBundle(serial: b.serial, digest: SHA256.hash(bytes), policy: b.policy, relays: b.relays, relayFanout: b.relayFanout,
                        expires: b.expires, agent: b.agent, delegations: b.delegations)
}
