import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore

/// A team's bundle (`teams/NAME/bundle.json`) through the same two halves as the baseline's
/// (BundleAcceptance.swift), with the checks delegation adds: signed by a key the baseline in
/// force delegates to that team, naming that team, its serial above the team's held one, and
/// every promise inside the team's scope and on no object another bundle promises. A refused
/// team bundle leaves that team's held bundle in force and every other team untouched.
public struct TeamCandidate {
  public var team: String
  public var bundle: PolicyBundle
  public var bytes: [UInt8]
  public var signature: [UInt8]
  public var digest: Digest
  public var missing: [BundleBlob]
}

/// The policy in force: the baseline's promises and the teams' in force, with its digest (the
/// baseline bundle's own while no team is in force, so a fleet without teams is as before).
public struct PolicyInForce {
  public var policy: Policy
  public var digest: Digest
  public var teams: [(team: String, serial: UInt64, standing: TeamStanding)]
  /// The blobs of every held team bundle: kept in the store beside the baseline's.
  var teamBlobs: [BundleBlob]
}

/// The serial and digest of `team`'s held bundle; nil when none is held.
public func heldTeam(_ env: Environment, _ team: String) throws(StoreError) -> (serial: UInt64, digest: Digest)? {
  let txn = try env.read()
  let r = try txn.team(team)
  txn.abort()
  return r.map { ($0.serial, $0.digest) }
}

/// Composes the baseline `baseline` (digest `digest`) with every team bundle `txn` holds, or
/// with `candidate` in place of its team's. Stored team bytes that no longer decode (they did
/// when accepted) are a corrupt state.
func composeHeld(_ txn: borrowing Transaction, baseline: PolicyBundle, digest: Digest,
                 candidate: (team: String, serial: UInt64, bundle: PolicyBundle)? = nil) throws(StoreError) -> PolicyInForce {
  var teams: [TeamPolicy] = []
  var blobs: [BundleBlob] = []
  for (name, record) in try txn.teams() where name != candidate?.team {
    let b: PolicyBundle
    do { b = try PolicyBundle.decode(record.bytes) } catch { throw .record(RecordError(error.description), key: "teams/" + name) }
    teams.append(TeamPolicy(team: name, serial: record.serial, policy: b.policy))
    blobs.append(contentsOf: b.blobs)
  }
  if let candidate {
    teams.append(TeamPolicy(team: candidate.team, serial: candidate.serial, policy: candidate.bundle.policy))
    blobs.append(contentsOf: candidate.bundle.blobs)
  }
  let c = TeamComposition.compose(baseline: baseline.policy, delegations: baseline.delegations, teams: teams, last: candidate?.team)
  // The baseline's digest, then each team in force by name and serial: a new serial of any
  // team is a new policy in force, and the daemon's record of it changes with it.
  var hash = SHA256()
  digest.withBytes { hash.update($0) }
  var any = false
  for t in c.teams where t.standing == .inForce {
    any = true
    var w = ByteWriter()
    w.string(t.team)
    w.u64(t.serial)
    w.bytes.withUnsafeBytes { hash.update($0) }
  }
  return PolicyInForce(policy: c.policy, digest: any ? hash.finish() : digest, teams: c.teams, teamBlobs: blobs)
}

/// The baseline bundle in force, decoded (it decoded when accepted: otherwise a corrupt state).
func storedBaseline(_ txn: borrowing Transaction) throws(StoreError) -> PolicyBundle {
  guard let bytes = try txn.bundleBytes() else { throw .record(RecordError("absent"), key: MetaKey.bundleJSON.name) }
  do { return try PolicyBundle.decode(bytes) } catch { throw .record(RecordError(error.description), key: MetaKey.bundleJSON.name) }
}

/// Writes `desired` for the policy in force (`status` and a restart compose the teams' standing
/// again from the records; it is not stored).
func storeInForce(_ txn: borrowing Transaction, _ f: PolicyInForce) throws(StoreError) {
  let order: [Int]
  do { order = try f.policy.order() } catch { throw .record(RecordError("the composed plan does not order: \(error)"), key: "desired") }
  try storeDesired(txn, policy: f.policy, order: order, digest: f.digest, fingerprints: .made(f.policy))
}

/// The policy in force from the state (the daemon's start, `status`); nil before the first
/// baseline is accepted.
public func loadPolicyInForce(_ env: Environment) throws(StoreError) -> PolicyInForce? {
  let txn = try env.read()
  guard let bytes = try txn.bundleBytes() else { return nil }
  return try composeHeld(txn, baseline: try storedBaseline(txn), digest: SHA256.hash(bytes))
}

/// First half, before any blob is fetched. Touches nothing.
/// `root`: the managed root, whose existing parents of each team path are looked at: a symlink
/// among them (made by hand, or by a service) would carry the path out of the team's scope.
public func checkTeamCandidate(_ env: Environment, team: String, bytes: [UInt8], signature: [UInt8], now: Int64,
                               root: String? = nil) throws(BundleError) -> TeamCandidate {
  // One read: the baseline in force names the team's keys and scope; the signature is checked
  // before anything is composed, so a flood of forged bundles costs a verify each, no more.
  var refusal: BundleRejection? = nil
  var found: (bundle: PolicyBundle, held: (serial: UInt64, digest: Digest)?, f: PolicyInForce, scope: [String])? = nil
  do throws(StoreError) {
    let txn = try env.read()
    if let baseBytes = try txn.bundleBytes(), case let b = try storedBaseline(txn), let d = b.delegations.first(where: { $0.team == team }) {
      var bundle: PolicyBundle? = nil
      do throws(BundleRejection) {
        let signed = try verifySignedBundle(bytes, signature: signature, trustedKeys: d.keys)
        if signed.team != team { throw BundleRejection.wrongTeam(named: signed.team ?? Delegation.baselineName, offered: team) }
        bundle = signed
      } catch { refusal = error }
      if let bundle {
        let held = try txn.team(team).map { ($0.serial, $0.digest) }
        found = (bundle, held, try composeHeld(txn, baseline: b, digest: SHA256.hash(baseBytes), candidate: (team, bundle.serial, bundle)),
                 d.scope.paths)
      }
    }
    txn.abort()
  } catch { throw .store(error) }
  if let refusal { throw .rejected(refusal) }
  guard let (bundle, held, f, scope) = found else { throw .rejected(.notDelegated(team: team)) }
  let digest = SHA256.hash(bytes)
  if let held, bundle.serial == held.serial, digest != held.digest {
    throw .rejected(.serialConflict(serial: held.serial, held: held.digest, offered: digest))
  }
  do { try BundleRejection.checkFreshness(bundle, heldSerial: held?.serial, now: now) } catch { throw .rejected(error) }
  // Composed with the teams in force, this bundle last: scope, references, conflicts, links.
  var issues: [String] = []
  if let mine = f.teams.first(where: { $0.team == team }), case .suspended(let why) = mine.standing { issues = why }
  if let root { issues += symlinkedParents(bundle.policy, team: team, scope: scope, root: root) }
  if !issues.isEmpty { throw .rejected(.outOfScope(team: team, issues: issues)) }
  var missing: [BundleBlob] = []
  do throws(StoreError) {
    let txn = try env.read()
    for b in bundle.blobs {
      let have = try b.digest.withBytes { (k) throws(StoreError) -> Bool in try txn.value(.blobs, k) { $0 != nil } }
      if !have { missing.append(b) }
    }
    txn.abort()
  } catch { throw .store(error) }
  return TeamCandidate(team: team, bundle: bundle, bytes: bytes, signature: signature, digest: digest, missing: missing)
}

/// The team's paths whose existing parents inside the scope, under `root`, include a symlink
/// (looked at beneath the root as a repair resolves it, the last component never followed, so
/// nothing outside the root is read). Parents above the scope (/opt -> /data/opt) are the host's
/// layout. An unreadable parent is not guessed at: it is named too; an absent root holds none.
func symlinkedParents(_ policy: Policy, team: String, scope: [String], root: String) -> [String] {
  var out: [String] = []
  var seen = Set<String>()
  let dir: Directory
  do { dir = try Directory.openRoot(root) } catch {
    return error.errno == .noEntry ? [] : ["team \"\(team)\": unable to open the root: \(error)"]
  }
  for p in policy.promises where p.type.managesPath {
    var a = parentPath(p.path)
    while a != "/" && TeamScope.holdsPath(scope, a) && !seen.contains(a) {
      seen.insert(a)
      do throws(HostError) {
        if let st = try dir.statBeneath(a), st.kind == .symlink {
          out.append("promise \"\(team)/\(p.id)\": path \"\(p.path)\" passes through \"\(a)\", a symlink on this host: a team's path is reached through no symlink")
        }
      } catch {
        out.append("promise \"\(team)/\(p.id)\": unable to look at \"\(a)\": \(error)")
      }
      a = parentPath(a)
    }
  }
  return out
}

/// Second half: checks every fetched blob, then in ONE write transaction stores them and the
/// team's bundle, and rewrites `desired` for the policy in force. The scope and conflicts are
/// checked again inside the writer (a baseline may have been accepted meanwhile); on any error
/// nothing is written.
public func commitTeamCandidate(_ env: Environment, _ c: TeamCandidate, fetched: [(BundleBlob, [UInt8])],
                                now: Int64) throws(BundleError) -> PolicyInForce {
  for b in c.missing {
    guard let (_, bytes) = fetched.first(where: { $0.0.digest == b.digest }) else { throw .rejected(.blobMissing(b.digest)) }
    do { try checkBlob(b, bytes) } catch { throw .rejected(error) }
  }
  var refusal: BundleRejection? = nil
  var result: PolicyInForce? = nil
  do throws(StoreError) {
    try env.withWrite { (txn) throws(StoreError) in
      if let held = try txn.team(c.team), c.bundle.serial <= held.serial {
        refusal = .notNewer(offered: c.bundle.serial, held: held.serial)
        return
      }
      guard let baseBytes = try txn.bundleBytes() else { refusal = .notDelegated(team: c.team); return }
      let b = try storedBaseline(txn)
      let f = try composeHeld(txn, baseline: b, digest: SHA256.hash(baseBytes), candidate: (c.team, c.bundle.serial, c.bundle))
      // The writer's view decides: a baseline accepted since the check may have narrowed the
      // scope or revoked the team. Nothing is written then.
      if let mine = f.teams.first(where: { $0.team == c.team }), mine.standing != .inForce {
        if case .suspended(let why) = mine.standing { refusal = .outOfScope(team: c.team, issues: why) } else { refusal = .notDelegated(team: c.team) }
        return
      }
      for (fb, bytes) in fetched {
        try fb.digest.withBytes { (k) throws(StoreError) in
          try withBytes(bytes) { (v) throws(StoreError) in try txn.put(.blobs, k, v) }
        }
      }
      try txn.setTeam(c.team, TeamRecord(serial: c.bundle.serial, digest: c.digest, acceptedAt: now, bytes: c.bytes, signature: c.signature))
      try dropBlobs(txn, except: b.blobs + f.teamBlobs)
      try storeInForce(txn, f)
      try appendEvents(txn, [EventRecord(kind: .policy, time: now, status: .repaired, subject: c.team,
                                         reason: "team \(c.team): accepted serial \(c.bundle.serial) (\(c.bundle.policy.promises.count) promises, \(c.bundle.blobs.count) blobs), sha256:\(c.digest.hex)")])
      result = f
    }
  } catch { throw .store(error) }
  if let refusal { throw .rejected(refusal) }
  guard let result else { throw .store(.record(RecordError("no result"), key: "teams/" + c.team)) }
  return result
}

/// Both halves, for sources that lend blobs synchronously (a `file://` upstream, tests).
public func acceptTeamBundle(_ env: Environment, team: String, bytes: [UInt8], signature: [UInt8], now: Int64, root: String? = nil,
                             blob: (BundleBlob) throws(BundleError) -> [UInt8]) throws(BundleError) -> PolicyInForce {
  let c = try checkTeamCandidate(env, team: team, bytes: bytes, signature: signature, now: now, root: root)
  var fetched: [(BundleBlob, [UInt8])] = []
  for b in c.missing { fetched.append((b, try blob(b))) }
  return try commitTeamCandidate(env, c, fetched: fetched, now: now)
}
