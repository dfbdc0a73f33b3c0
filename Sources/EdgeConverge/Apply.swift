import EdgeCore
import EdgeHost
import EdgeStore

/// The largest policy file read. Inline contents can make a policy of few promises large, so
/// this bounds bytes only; the number of promises (what costs memory when decoding) is bounded
/// by JSONReader.defaultMaxValues.
public let maxPolicyBytes = 64 << 20

/// What `apply` is asked to do.
public struct ApplyOptions {
  public var policyPath: String
  /// Prefix of every managed path; "/" on a real host.
  public var root: String = "/"
  /// As named (`--state`), else the default under `root` (StateLayout.directory(forRoot:)).
  public var stateDir: String {
    get { namedStateDir ?? StateLayout.directory(forRoot: root) }
    set { namedStateDir = newValue }
  }
  var namedStateDir: String? = nil
  public var dryRun = false
  public var labels: [String] = []
  /// Whether kept promises appear in `results` (false: only repairs, failures and skips).
  public var reportKept = true
  /// From how many written files the run waits a clock tick or two to vouch for them itself
  /// (Converger.waitToVouchFrom): below, the next run hashes those it could not vouch for.
  /// `bench` sets 1 so that its state's history, which its counts depend on, is always the same.
  public var waitToVouchFrom: Int? = 1_000
  /// From how many promises a policy applied into a state that holds none is converged from its
  /// staged records, `stagedWindow` at a time (ApplyStaged.swift); nil: never. Below it, the
  /// policy is held whole: reading it back costs more than the memory it saves.
  public var stagedWindowsFrom: Int? = 32_768
  /// As many promises as a run publishes at once (`Converger.publishEvery`): as many syncfs.
  public var stagedWindow = 16_384

  public init(policyPath: String) { self.policyPath = policyPath }
}

/// One promise's outcome, for output.
public struct PromiseResult: Equatable {
  public var id: String
  public var type: PromiseType
  public var outcome: Outcome
  /// In a dry run, the unified diff of a content repair (UnifiedDiff); empty otherwise.
  public var diff = ""

  public init(id: String, type: PromiseType, outcome: Outcome, diff: String = "") {
    self.id = id
    self.type = type
    self.outcome = outcome
    self.diff = diff
  }
}

/// What one convergence did.
public struct ApplyReport {
  public var policyName: String
  /// In check order; kept promises only when `reportKept`.
  public var results: [PromiseResult]
  public var summary: RunSummary
  /// Whether `desired` was replaced (the policy differed from the one stored).
  public var desiredReplaced: Bool
  /// Whether the run was verified in place from the stored policy (see FastVerify.swift).
  public var verifiedInPlace: Bool
  /// How many windows the run converged from the policy's staged records (ApplyStaged.swift);
  /// 0 when it held the policy whole.
  public var stagedWindows = 0

  /// The outcome of promise `id`, if it was reported.
  public func outcome(_ id: String) -> Outcome? {
    for r in results where r.id == id { return r.outcome }
    return nil
  }
}

/// One convergence of a local policy file.
///
/// When the file is the one accepted last time, and that run left everything kept, each stored
/// promise is verified in place first; only if one is not kept does the full path run. The full
/// path validates the policy whole (a rejected policy touches neither the host nor the state),
/// converges, then in one transaction stores the policy in `desired`, every changed outcome in
/// `actual`, and the stat cache (many entries of the cache, and a policy that changes many
/// records of `desired`, are written before it in transactions of their own: `record`).
public func apply(_ options: ApplyOptions) throws(AgentError) -> ApplyReport {
  let root = try normalisedRoot(options.root)
  var classes = hostClasses(labels: options.labels, root: root)
  // A state that does not exist yet has nothing to verify in place, and is created only once the
  // policy is accepted below: a rejected policy touches neither the host nor the state.
  // A writable state comes with its lock (`openState`), held until apply returns.
  var lock: StateLock? = nil
  defer { lock?.release() }
  var env = stateExists(options.stateDir) ? try openState(options, &lock) : nil

  if let env, let fast = verifyInPlace(env, options: options, root: root, classes: classes) {
    return fast
  }

  var bytes: [UInt8]
  var policyFile: FileStat? = nil
  // Before the read: the file's identity is recorded only if it was settled by then.
  let readFrom = coarseWallClockNanoseconds()
  do { bytes = try readWholeFile(options.policyPath, limit: maxPolicyBytes, anyKind: true, stat: &policyFile) } catch {
    // A policy that is missing, a directory, or past the size limit is bad input (exit 2), not
    // a failing host.
    if error.errno == .tooLarge || error.errno == .noEntry || error.errno == .isDirectory || error.errno == .notDirectory {
      throw .input(error.description)
    }
    throw .host(error)
  }
  let policyDigest = SHA256.hash(bytes)
  let size = bytes.count
  var policy: Policy
  let order: [Int]
  do throws(PolicyError) {
    policy = try PolicyDecoder.decode(releasing: &bytes, readPast: dropTextPages)
    order = try policy.order()
  } catch {
    throw .policy(error, file: options.policyPath)
  }
  if policy.hasTemplates {
    var failure: StoreError? = nil
    let facts: HostFacts
    do throws(StoreError) { facts = readFacts(root: root, labels: options.labels, hostID: try stateHostID(env)) } catch {
      throw .store(error)
    }
    do throws(PolicyError) {
      try renderTemplates(&policy, facts: facts, classes: classes, blob: { d in stateBlob(env, d, &failure) })
    } catch {
      if let failure { throw .store(failure) }
      throw .policy(error, file: options.policyPath)
    }
    // The digest recorded below then changes with the facts too (FastVerify.swift).
    classes.insert(factsClass(facts))
  }
  // The text and the parse tree are gone: their pages go back before the converger's own.
  TransientBuffers.note(size)
  TransientBuffers.releaseIfAny()
  if env == nil { env = try openState(options, &lock) }

  let converger: Converger
  do { converger = try Converger(root: root, classes: classes, dryRun: options.dryRun) } catch { throw .host(error) }
  converger.waitToVouchFrom = options.waitToVouchFrom
  let policyFileRead = (path: options.policyPath, read: policyFile.map { (stat: $0, from: readFrom) })
  // A large policy into a state that holds none is staged first and converged from the stage
  // (ApplyStaged.swift).
  var staged: (run: StagedRun, summary: RunSummary, replaced: Bool)? = nil
  if let env, !options.dryRun, let from = options.stagedWindowsFrom, order.count >= from, convergesInWindows(policy) {
    do throws(StoreError) {
      if try holdsNoPromise(env) {
        var (run, db) = try convergeStaged(env, converger, &policy, order: order, window: options.stagedWindow)
        let summary = runSummary(run.outcomes, nil)
        let replaced = try commitRun(env, policy.name, .named(ids: run.ids, types: run.types), (db, nil), policy: nil,
                                     order: [], digest: policyDigest, fingerprints: .digests(run.fingerprints),
                                     outcomes: run.outcomes, statUpdates: &run.statUpdates, summary: summary,
                                     classes: classDigest(classes), policyFile: policyFileRead)
        staged = (run, summary, replaced)
      }
    } catch { throw .store(error) }
  }
  if let staged {
    env = nil
    var report = applyReport(policy.name, .named(ids: staged.run.ids, types: staged.run.types), staged.run.outcomes, nil,
                             diffs: [:], summary: staged.summary, reportKept: options.reportKept, replaced: staged.replaced)
    report.stagedWindows = staged.run.windows
    return report
  }
  // Run once, the promises are prepared a window at a time, and only their digests are kept.
  let outcomes: [Outcome?]
  if let env {
    do throws(StoreError) {
      outcomes = try runConverger(converger, env, policy, [], preparingBy: preparationWindow, order: order)
    } catch {
      throw .store(error)
    }
  } else {
    outcomes = converger.run(policy, [], preparingBy: preparationWindow, order: order, cachedStat: { _ in nil },
                             blob: { _, body in body(nil) }, previous: { _ in nil })
  }

  let summary = runSummary(outcomes, order)
  // The stat cache's entries are stored and dropped first (8 MB at 100,000); the results are
  // made once the run is recorded, in an array of their size: made beside them, 100,000
  // repairs' results (8 MB as they grew) were part of the run's peak.
  let recording = env != nil && !options.dryRun
  var replaced = false
  if let env, recording {
    do throws(StoreError) {
      try storeManyStatUpdates(env, &converger.statUpdates)
      replaced = try record(env, policy: policy, order: order, digest: policyDigest, fingerprints: .digests(converger.fingerprints),
                            outcomes: outcomes, statUpdates: &converger.statUpdates, summary: summary,
                            classes: classDigest(classes), policyFile: policyFileRead)
    } catch { throw .store(error) }
  }
  // Closed before the results are made: LMDB keeps a transaction's dirty pages, freed, for the
  // environment's next one (the recording's: 9.6 MB of `actual` at 100,000 promises).
  env = nil
  converger.fingerprints = []
  return applyReport(policy.name, .promises(policy.promises), outcomes, order, diffs: converger.diffs, summary: summary,
                     reportKept: options.reportKept, replaced: replaced)
}

/// The tally of `outcomes` (by index) over `order` (nil: in index order, as a staged run's are).
private func runSummary(_ outcomes: [Outcome?], _ order: [Int]?) -> RunSummary {
  var summary = RunSummary()
  for k in outcomes.indices { if let o = outcomes[order?[k] ?? k] { summary.add(o.status) } }
  return summary
}

/// The report of a run, its results in `order` (nil: index order), kept ones only with
/// `reportKept`, made once the run is recorded and the state closed.
private func applyReport(_ name: String, _ promises: RecordedPromises, _ outcomes: [Outcome?], _ order: [Int]?,
                         diffs: [Int: String], summary: RunSummary, reportKept: Bool, replaced: Bool) -> ApplyReport {
  var results: [PromiseResult] = []
  results.reserveCapacity(reportKept ? summary.kept + summary.repaired + summary.failed + summary.skipped
                                     : summary.repaired + summary.failed + summary.skipped)
  for k in outcomes.indices {
    let i = order?[k] ?? k
    guard let o = outcomes[i] else { continue }
    if reportKept || o.status != .kept {
      results.append(PromiseResult(id: promises.id(i), type: promises.type(i), outcome: o, diff: diffs[i] ?? ""))
    }
  }
  return ApplyReport(policyName: name, results: results, summary: summary, desiredReplaced: replaced, verifiedInPlace: false)
}

/// How many promises `apply` prepares at a time (`Converger.begin(preparingBy:)`): 0.85 MB of
/// them, where a policy of 100,000 promises prepared whole took 10.4 MB.
let preparationWindow = 8_192

/// Runs the converger in one read transaction of the state: its stat cache, its blobs, and each
/// promise's previous outcome. `apply` and the daemon both converge through here. The pages of
/// the stat cache and of `actual` it reads leave the process as it goes (`ResidentPages`): read
/// at random, 100,000 promises' brought in about 20 MB of them.
package func runConverger(_ converger: Converger, _ env: Environment, _ policy: Policy, _ prepared: [PreparedPromise],
                  preparingBy window: Int = 0, order: [Int]) throws(StoreError) -> [Outcome?] {
  let txn = try env.read()
  var failure: StoreError? = nil
  var pages = ResidentPages()
  let outcomes = converger.run(policy, prepared, preparingBy: window, order: order,
                               cachedStat: { key in cachedStat(txn, key, &failure, &pages) },
                               blob: { digest, body in lendBlob(txn, digest, &failure, body) },
                               previous: { id in previousOutcome(txn, id, &failure, &pages) })
  pages.finish(in: txn)
  txn.abort()
  if let failure { throw failure }
  return outcomes
}

// The converger's reads of the state. Its callbacks cannot throw: a read that fails answers as
// a miss (the promise is then checked in full, which is safe) and the first failure is kept in
// `failure`, for the caller to throw once the converger returns. The values read are noted in
// `pages`, for a long walk to give their pages back.

package func cachedStat(_ txn: borrowing Transaction, _ key: UnsafeRawBufferPointer, _ failure: inout StoreError?,
                        _ pages: inout ResidentPages) -> StatRecord? {
  // A stat record that does not decode is a miss: the cache only saves work.
  do throws(StoreError) {
    return try txn.value(.statcache, key) { (raw) -> StatRecord? in
      guard let raw else { return nil }
      pages.saw(raw, in: txn)
      return StatRecord.decode(raw)
    }
  } catch {
    if failure == nil { failure = error }
    return nil
  }
}

package func lendBlob(_ txn: borrowing Transaction, _ digest: Digest, _ failure: inout StoreError?,
              _ body: (UnsafeRawBufferPointer?) -> Void) {
  let found: Bool
  do throws(StoreError) {
    found = try digest.withBytes { (key) throws(StoreError) -> Bool in
      try txn.value(.blobs, key) { raw -> Bool in
        guard let raw else { return false }
        body(raw)
        return true
      }
    }
  } catch {
    if failure == nil { failure = error }
    found = false
  }
  if !found { body(nil) }
}

package func previousOutcome(_ txn: borrowing Transaction, _ id: String, _ failure: inout StoreError?,
                             _ pages: inout ResidentPages) -> ActualRecord? {
  do throws(StoreError) {
    let rec = try txn.value(.actual, id) { (raw) -> ActualRecord? in
      guard let raw else { return nil }
      pages.saw(raw, in: txn)
      return decodePrevious(raw)
    }
    return try settled(rec, txn, marks: nil)
  } catch {
    if failure == nil { failure = error }
    return nil
  }
}

/// Promise `id`'s last outcome as it stands: its record, settled by the last run verified in
/// place (ActualRecord.settled(by:)). One that does not decode counts as none (decodePrevious).
/// A caller reading many passes the marks it read once (`marks`); else a repaired record reads
/// them again (two allocations). Not inlined: four callers, and aarch64 is held to 1,000,000 bytes.
@inline(never)
package func currentOutcome(_ txn: borrowing Transaction, _ id: String,
                            marks: [SettledMark]? = nil) throws(StoreError) -> ActualRecord? {
  try settled(try txn.value(.actual, id, { raw in decodePrevious(raw) }), txn, marks: marks)
}

/// A stored outcome (`rec`) as it stands: a repaired one settled by the marks (`marks`, else
/// read from `txn`).
private func settled(_ rec: ActualRecord?, _ txn: borrowing Transaction, marks: [SettledMark]?) throws(StoreError) -> ActualRecord? {
  guard let rec else { return nil }
  if rec.status != .repaired { return rec }
  if let marks { return rec.settled(by: marks) }
  return rec.settled(by: try txn.settledMarks())
}

/// A previous outcome that does not decode counts as none: it only carries the repair counts and
/// when the status last changed, and the next record overwrites it whole.
func decodePrevious(_ raw: UnsafeRawBufferPointer?) -> ActualRecord? {
  guard let raw else { return nil }
  do throws(RecordError) { return try ActualRecord.decode(raw) } catch { return nil }
}

/// Whether the state directory holds an environment. A failure other than "absent" (EACCES,
/// EIO) counts as yes: the open that follows then reports the real error.
func stateExists(_ stateDir: String) -> Bool {
  do throws(HostError) { return try FileStat.lstat(StateLayout(stateDir).dataFile) != nil } catch { return true }
}

/// The state, or nil for a dry run on a host that has none (a dry run never creates it). A
/// writable one is opened under the state's lock, stored in `lock` for the caller to hold: an
/// apply beside a running daemon (or another apply) is refused rather than interleaved. A dry
/// run only reads, and takes no lock.
func openState(_ options: ApplyOptions, _ lock: inout StateLock?) throws(AgentError) -> Environment? {
  do throws(StoreError) {
    if !options.dryRun {
      if lock == nil { lock = try StateLock(stateDir: options.stateDir) }
      return try Environment(path: options.stateDir)
    }
    do throws(StoreError) {
      return try Environment(path: options.stateDir, readOnly: true)
    } catch {
      if case .noState = error { return nil }
      throw error
    }
  } catch { throw .store(error) }
}

/// The root as an absolute directory path without a trailing '/' ("/" stays "/").
package func normalisedRoot(_ root: String) throws(AgentError) -> String {
  guard root.utf8.first == UInt8(ascii: "/") else { throw .input("--root \(root): must be an absolute path") }
  var u = Array(root.utf8)
  while u.count > 1 && u.last == UInt8(ascii: "/") { u.removeLast() }
  let r = String(decoding: u, as: UTF8.self)
  let st: FileStat?
  do { st = try FileStat.lstat(r) } catch { throw .host(error) }
  guard let st else { throw .input("--root \(root): no such directory") }
  if st.kind != .directory { throw .input("--root \(root): not a directory") }
  return r
}

/// The host id the state holds ("" without a state or one), for the facts.
func stateHostID(_ env: Environment?) throws(StoreError) -> String {
  guard let env else { return "" }
  let txn = try env.read()
  let id: String?
  do throws(StoreError) { id = try txn.hostID() } catch {
    txn.abort()
    throw error
  }
  txn.abort()
  return id ?? ""
}

/// A blob of the state, copied out (a template's text); nil when missing, with a failed read
/// kept in `failure`. `apply` and the daemon read template blobs through it.
package func stateBlob(_ env: Environment?, _ digest: Digest, _ failure: inout StoreError?) -> [UInt8]? {
  guard let env else { return nil }
  let txn: Transaction
  do throws(StoreError) { txn = try env.read() } catch {
    failure = error
    return nil
  }
  var out: [UInt8]? = nil
  lendBlob(txn, digest, &failure) { raw in out = raw.map { Array($0) } }
  txn.abort()
  return out
}

/// A digest of the host's class set: when it changes, conditions may evaluate differently.
package func classDigest(_ classes: Set<String>) -> Digest {
  var bytes: [UInt8] = []
  for c in classes.sorted() { bytes.append(contentsOf: c.utf8); bytes.append(0) }
  return SHA256.hash(bytes)
}

/// Stores one run in one transaction (many stat cache entries in one before it, and then emptied
/// from `statUpdates`), each promise's record and outcome with its digest from `fingerprints`.
/// Returns whether `desired` was replaced.
///
/// `policyFile`: the path `apply` read the policy from, and the file's stat taken on the fd it
/// read with and the coarse clock before it (nil: no stat); "" for the daemon.
package func record(_ env: Environment, policy: Policy, order: [Int], digest: Digest, fingerprints: Fingerprints,
            outcomes: [Outcome?], statUpdates: inout [(key: StatKey, record: StatRecord)], summary: RunSummary?,
            classes: Digest, policyFile: (path: String, read: (stat: FileStat, from: Int64)?)) throws(StoreError) -> Bool {
  // First, so that their 8 MB at 100,000 are gone while the policy is staged.
  try storeManyStatUpdates(env, &statUpdates)
  // A policy that changes many records of `desired` is staged beside it first (PolicyState.swift).
  let change = try stageDesired(env, policy: policy, order: order, digest: digest, fingerprints: fingerprints)
  return try commitRun(env, policy.name, .promises(policy.promises), change, policy: policy, order: order, digest: digest,
                       fingerprints: fingerprints, outcomes: outcomes, statUpdates: &statUpdates, summary: summary,
                       classes: classes, policyFile: policyFile)
}

/// The run's transaction of `record`, once `desired`'s `change` is staged or found: `promises`
/// are the policy's by index (those of `outcomes` and `fingerprints`), and `policy` is needed only
/// to write a change in place (nil: `change` is staged, ApplyStaged.swift).
package func commitRun(_ env: Environment, _ name: String, _ promises: RecordedPromises, _ change: DesiredChange,
                       policy: Policy?, order: [Int], digest: Digest, fingerprints: Fingerprints,
                       outcomes: [Outcome?], statUpdates: inout [(key: StatKey, record: StatRecord)], summary: RunSummary?,
                       classes: Digest, policyFile: (path: String, read: (stat: FileStat, from: Int64)?)) throws(StoreError) -> Bool {
  // A run that checked only some promises (drift) leaves the run summary as it was.
  let now = wallClockSeconds()
  // Remember the policy file's identity, so an unchanged file is recognised without reading it.
  var policyStat: [UInt8]? = nil
  if let (st, from) = policyFile.read, st.kind == .regular, FileIdentity.settled(st.identity.ctime, before: from) {
    policyStat = StatRecord(identity: st.identity, digest: digest).encode()
  }
  try storeManyStatUpdates(env, &statUpdates)   // none left when the caller stored them first
  return try env.withWrite { (txn) throws(StoreError) -> Bool in
    try migrateSchema(txn)
    let run = try txn.nextRunSerial()

    // `desired` is replaced, in this transaction, only when the policy changed: put in force
    // when staged, else in place (storeDesired rewrites only the records that differ).
    // A corrupt digest is as good as none: `desired` is replaced and the digest rewritten.
    let stored: Digest?
    do throws(StoreError) { stored = try txn.policyDigest() } catch {
      guard case .record = error else { throw error }
      stored = nil
    }
    let replace = stored != digest
    if let staged = change.staged, replace {
      try putStagedInForce(txn, staged, name: name, promises, digest: digest)
    } else if replace, let policy {
      try storeDesired(txn, policy: policy, order: order, digest: digest, fingerprints: fingerprints, only: change.only)
    }
    var events: [EventRecord] = []
    if replace {
      events.append(EventRecord(kind: .policy, time: now, status: .repaired, subject: name,
                                reason: "accepted \(promises.count) promises, sha256:\(digest.hex)"))
    }

    try storeOutcomes(txn, promises, fingerprints, outcomes, now: now, run: run, events: events)
    try storeStatUpdates(txn, statUpdates)
    if let policyStat {
      try policyFileCacheKey(policyFile.path).withBytes { (k) throws(StoreError) in
        try withBytes(policyStat) { (v) throws(StoreError) in try txn.put(.statcache, k, v) }
      }
    }
    try txn.setLastClasses(classes)
    if let summary { try recordRun(txn, now: now, summary: summary) }
    return replace
  }
}

/// Records a run's outcomes of `promises` (nil: not checked), with an event for each repair and
/// failure after `events`, and notes the run as one that repaired (`settleRepairs`). Every repair
/// and failure of a run counts; a kept promise kept before writes nothing.
func storeOutcomes(_ txn: borrowing Transaction, _ promises: RecordedPromises, _ fingerprints: Fingerprints,
                   _ outcomes: [Outcome?], now: Int64, run: UInt64, events: [EventRecord] = []) throws(StoreError) {
  var events = events
  var repaired = false
  let marks = try txn.settledMarks()
  for i in 0..<promises.count {
    guard let o = outcomes[i] else { continue }
    let acted = o.status == .repaired || o.status == .failed
    let id = promises.id(i)
    try storeOutcome(txn, id: id, o, fingerprint: fingerprints[i], now: now, run: run,
                     evenIfUnchanged: acted, oneRepairWhileRepaired: promises.type(i) == .service, marks: marks)
    if acted {
      // The ring keeps the newest maxEvents (appendEvents): more are not held either.
      if events.count == 2 * maxEvents { events.removeFirst(maxEvents) }
      events.append(EventRecord(kind: .outcome, time: now, status: o.status, subject: id, reason: o.reason))
    }
    if o.status == .repaired { repaired = true }
  }
  try appendEvents(txn, events)
  if repaired { try txn.setLastRepairRun(run) }
}

/// Many stat cache entries (4,096 or more) go before the run's transaction, in transactions of
/// their own, and are then gone from `updates`: the cache vouches only for what is on disk
/// already, so it need not commit with the outcomes. About `recordsPerStagingTransaction` go in
/// a transaction, each transaction one range of keys so that it dirties the pages of that range
/// only: LMDB keeps a transaction's dirty pages to the end of the process, for its next
/// transactions, and 100,000 entries in one held 13.6 MB of them.
func storeManyStatUpdates(_ env: Environment, _ updates: inout [(key: StatKey, record: StatRecord)]) throws(StoreError) {
  if updates.count < 4_096 { return }
  try storeStatUpdatesInOrder(env, updates)
  updates = []
}

/// The entries are bucketed by the first two bytes LMDB compares (the key's two low bytes:
/// `withBytes` is little-endian), and a transaction takes whole buckets, so each writes one
/// range of keys. The keys are FNV-1a hashes, spread evenly: with 65,536 buckets the entries go
/// in nearly in order, and LMDB fills the pages of an append nearly whole (2,717 leaf pages for
/// 100,001 entries, 3,315 inserted at random, 3,428 by one byte's buckets).
@inline(never)
private func storeStatUpdatesInOrder(_ env: Environment, _ updates: [(key: StatKey, record: StatRecord)]) throws(StoreError) {
  func bucket(_ k: StatKey) -> Int { Int(k.value & 0xFF) << 8 | Int(k.value >> 8 & 0xFF) }
  let buckets = 1 << 16
  var starts = [Int32](repeating: 0, count: buckets + 1)
  for u in updates { starts[bucket(u.key) + 1] += 1 }
  for b in 0..<buckets { starts[b + 1] += starts[b] }
  var byKey = [Int32](repeating: 0, count: updates.count)
  var next = starts
  for (i, u) in updates.enumerated() {
    let b = bucket(u.key)
    byKey[Int(next[b])] = Int32(truncatingIfNeeded: i)
    next[b] += 1
  }
  next = []
  var first = 0
  while first < buckets {
    var end = first + 1
    while end < buckets && Int(starts[end + 1] - starts[first]) <= recordsPerStagingTransaction { end += 1 }
    let range = Int(starts[first])..<Int(starts[end])
    try env.withWrite { (txn) throws(StoreError) in
      if range.lowerBound == 0 { try migrateSchema(txn) }
      for i in byKey[range] {
        let u = updates[Int(i)]
        let value = u.record.encode()
        try u.key.withBytes { (k) throws(StoreError) in
          try withBytes(value) { (v) throws(StoreError) in try txn.put(.statcache, k, v) }
        }
      }
    }
    first = end
  }
}

/// Stores what a run learned for the stat cache.
func storeStatUpdates(_ txn: borrowing Transaction, _ updates: [(key: StatKey, record: StatRecord)]) throws(StoreError) {
  for u in updates {
    let value = u.record.encode()
    try u.key.withBytes { (k) throws(StoreError) in
      try withBytes(value) { (v) throws(StoreError) in try txn.put(.statcache, k, v) }
    }
  }
}

/// Brings an older state to this schema before a run is recorded in it. Schema 1 keyed the stat
/// cache by root + path (which LMDB refuses past 511 bytes), schema 2 by a SHA-256 of them; their
/// entries can never match a StatKey, so they are dropped, and files are hashed once more. Then
/// stores the version.
func migrateSchema(_ txn: borrowing Transaction) throws(StoreError) {
  // A corrupt version is treated as the oldest: the stat cache is only a cache.
  let stored: UInt32?
  do throws(StoreError) { stored = try txn.schemaVersion() } catch {
    guard case .record = error else { throw error }
    stored = nil
  }
  if stored == Environment.schemaVersion { return }
  if stored == nil || stored! < 3 { try txn.clear(.statcache) }
  try txn.setSchemaVersion(Environment.schemaVersion)
}

func recordRun(_ txn: borrowing Transaction, now: Int64, summary: RunSummary) throws(StoreError) {
  try txn.setRun(at: now, summary: summary)
}

/// Records a promise's outcome in `actual`, keeping when it last changed and how often it was
/// repaired or failed in a row. An outcome equal to the stored one is written only with
/// `evenIfUnchanged`, so a steady state costs no writes. Returns whether it wrote.
///
/// `oneRepairWhileRepaired`: a repaired outcome after a repaired one continues the same repair
/// and is not counted again. A service's start is one repair that passes through "will start",
/// "starting" and "started", recorded by the convergence and by the supervisor in turn.
@discardableResult
package func storeOutcome(_ txn: borrowing Transaction, id: String, _ o: Outcome, fingerprint: Digest, now: Int64,
                  run: UInt64, evenIfUnchanged: Bool, oneRepairWhileRepaired: Bool = false,
                  marks: [SettledMark]? = nil) throws(StoreError) -> Bool {
  let previous = try currentOutcome(txn, id, marks: marks)
  if !evenIfUnchanged, let previous, previous.status == o.status, previous.reason == o.reason { return false }
  let rec = ActualRecord(
    status: o.status, reason: o.reason, fingerprint: fingerprint, checkedAt: now,
    changedAt: previous?.status == o.status ? previous!.changedAt : now,
    repairs: (previous?.repairs ?? 0)
      + (o.status == .repaired && !(oneRepairWhileRepaired && previous?.status == .repaired) ? 1 : 0),
    failures: o.status == .failed ? (previous?.failures ?? 0) + 1 : 0, run: run)
  try txn.put(.actual, id, rec.encode())
  return true
}
