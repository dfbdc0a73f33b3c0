import EdgeCore
import EdgeHost
import EdgeStore

/// Every kept run of `apply`: the policy file is the one accepted last time (same stat identity,
/// so it is not even read), the host's classes are the same, the state is of this schema, and
/// the last run failed nothing (a failure is retried by the full path). Then each stored promise is verified in place,
/// walking `desired` in plan order with a cursor over LMDB's pages: one lstat and one stat cache
/// lookup per file, nothing decoded, nothing allocated per promise (except an `if` to evaluate
/// or an owner name to resolve). A file the stat cache does not vouch for (the last run wrote
/// it too recently for that, Converger.publish) is hashed, and vouched for from then on.
///
/// After a run that repaired, this is the first to see those promises kept: their `actual`
/// records read so from now on (`settleRepairs`: one mark, not a write per record), as the
/// full path's record would say.
///
/// A promise not certainly kept is put aside and, once the walk is over, checked in full and
/// repaired alone (RepairInPlace.swift): a drift costs its own repair, not a full run. Returns
/// nil when the run cannot be made so (too many of them, one that notifies others, a store that
/// cannot be read); the caller then runs the full path, which repairs and records. So this can
/// only ever say "kept" when the full path would too.
func verifyInPlace(_ env: Environment, options: ApplyOptions, root: String, classes: Set<String>) -> ApplyReport? {
  guard let fileStat = try? FileStat.following(options.policyPath), fileStat.kind == .regular else { return nil }
  guard let rootDir = try? Directory.openRoot(root) else { return nil }
  var verifier = InPlaceVerifier(root: root, classes: classes, reportKept: options.reportKept)
  var name = ""
  var ok = false
  do throws(StoreError) {
    let txn = try env.read()
    let policyDigest = try txn.policyDigest()
    let cached: StatRecord? = try policyFileCacheKey(options.policyPath).withBytes { (key) throws(StoreError) in
      try txn.value(.statcache, key) { raw in raw.flatMap(StatRecord.decode) }
    }
    let lastClasses = try txn.lastClasses()
    let last = try txn.runSummary()
    // A state of another schema is brought to this one by the full path first (migrateSchema).
    let schema = try txn.schemaVersion()
    // A policy with templates recorded its facts among its classes (Apply.swift): read them
    // only when the classes alone do not match, so a policy without templates reads none.
    var classesKept = lastClasses == classDigest(classes)
    if !classesKept, lastClasses != nil {
      var withFacts = classes
      let id = try txn.hostID() ?? ""
      withFacts.insert(factsClass(readFacts(root: root, labels: options.labels, hostID: id)))
      classesKept = lastClasses == classDigest(withFacts)
    }
    guard let policyDigest, let cached, cached.identity == fileStat.identity, cached.digest == policyDigest,
          classesKept, let last, last.failed == 0, schema == Environment.schemaVersion else {
      txn.abort()
      return nil
    }
    name = try txn.policyName() ?? ""
    ok = true
    // A read that fails is not "certainly kept": the full path runs, and meets the failure itself.
    var failure: StoreError? = nil
    // The pages read leave this process as the walk goes (every 32,768 values of `desired`, the
    // stat cache and `actual`, the last two read at random), so that a large state's walk stays
    // small in memory; 10,000 kept files note fewer than 32,768 values and drop none (strace of that
    // apply: no madvise).
    var pages = ResidentPages()
    try txn.forEach(try txn.desiredDatabase()) { _, value in
      ok = verifier.verify(value, root: rootDir, previous: { id in previousOutcome(txn, id, &failure, &pages) },
                           cachedStat: { key in cachedStat(txn, key, &failure, &pages) }) && failure == nil
      pages.saw(value, in: txn)
      return ok
    }
    txn.abort()
  } catch {
    return nil
  }
  guard ok else { return nil }
  if !verifier.unsure.isEmpty {
    return repairInPlace(env, &verifier, options: options, root: root, classes: classes, name: name)
  }
  if !options.dryRun {
    let summary = verifier.summary
    let now = wallClockSeconds()
    do throws(StoreError) {
      try env.withWrite { (txn) throws(StoreError) in
        let run = try txn.nextRunSerial()
        try settleRepairs(txn, run: run, now: now, except: verifier.notKept)
        try storeStatUpdates(txn, verifier.statUpdates)
        try recordRun(txn, now: now, summary: summary)
      }
    } catch {
      return nil
    }
  }
  return ApplyReport(policyName: name, results: verifier.results, summary: verifier.summary, desiredReplaced: false,
                     verifiedInPlace: true)
}

/// Records that this run, `run`, verified every promise it did not repair, except `except`
/// (ids it did not find kept: skipped ones, and services, which the supervisor records): each
/// repair recorded by an earlier run is kept from now on. One mark (SettledMark) says so, added
/// only when a run recorded a repair since the last mark, so that a mark never re-dates what an
/// earlier one settled; past `maxMarks` the oldest goes, and what it settled reads as kept since
/// the next one: later than it was, never kept when it was not. The records of `except` that
/// say repaired are stamped with this run, so that the mark passes them by.
func settleRepairs(_ txn: borrowing Transaction, run: UInt64, now: Int64, except: [String]) throws(StoreError) {
  guard let lastRepair = try txn.lastRepairRun() else { return }
  var marks = try txn.settledMarks()
  if let last = marks.last, last.run > lastRepair { return }
  for id in except {
    guard var rec = try currentOutcome(txn, id, marks: marks), rec.status == .repaired else { continue }
    rec.run = run
    try txn.put(.actual, id, rec.encode())
  }
  marks.append(SettledMark(run: run, at: now))
  if marks.count > maxMarks { marks.removeFirst() }
  try txn.setSettledMarks(marks)
}

/// One mark per cycle of repairs: 32 cycles' "kept since" are exact, at 16 bytes each.
let maxMarks = 32

/// The engine of `verifyInPlace`: each stored promise's condition, then its type's fast check
/// (`PromiseKind.keptInPlace`, in the type's own file), with the buffers those checks share.
struct InPlaceVerifier: ~Copyable {
  let root: String
  let classes: Set<String>
  let reportKept: Bool
  /// The managed path + NUL, rebuilt per promise in place, resolved beneath the root's fd.
  var path: [CChar]
  /// Stat cache keys of this root.
  let keys: StatCacheKey
  /// The last parent directory, open beneath the root: most checks are one fstatat.
  var cursor = ParentCursor()
  /// For readlink.
  var link: [UInt8] = [UInt8](repeating: 0, count: 4097)
  var accounts: Accounts? = nil
  var summary = RunSummary()
  var results: [PromiseResult] = []
  /// The ids of promises found skipped (conditions, services): not to be recorded as kept.
  var notKept: [String] = []
  /// Promises not certainly kept (`doubt`), decoded, and the index of each one's placeholder in
  /// `results`: `repairInPlace` checks them in full.
  var unsure: [Promise] = []
  var unsureResults: [Int] = []
  /// Files hashed because the stat cache did not vouch for them, to be vouched for now.
  var statUpdates: [(key: StatKey, record: StatRecord)] = []
  /// The wall clock before the first check: what was hashed after it is vouched for when its
  /// ctime is settled before it (FileIdentity.settled).
  let observedFrom: Int64
  /// For hashing; allocated on the first file that needs it.
  var buffer: UnsafeMutableRawBufferPointer? = nil
  /// The package database's lstat, once for every package promise of the walk
  /// (PackagePromise.keptInPlace): nil until the first asks.
  var packageDatabase: (backend: PackageBackend, stat: FileStat?)? = nil

  init(root: String, classes: Set<String>, reportKept: Bool) {
    self.root = root
    self.classes = classes
    self.reportKept = reportKept
    keys = StatCacheKey(root: root)
    path = [CChar](repeating: 0, count: 4097)
    observedFrom = coarseWallClockNanoseconds()
  }

  deinit { buffer?.deallocate() }

  /// Verifies one stored promise; one not certainly kept is put aside (`doubt`) for a full
  /// check. False when the run cannot go on in place: the full path must run.
  mutating func verify(_ raw: UnsafeRawBufferPointer, root: borrowing Directory, previous: (String) -> ActualRecord?,
                       cachedStat: (UnsafeRawBufferPointer) -> StatRecord?) -> Bool {
    guard let v = try? PromiseView(raw) else { return false }
    if v.condition.count > 0 {
      let text = String(decoding: v.condition, as: UTF8.self)
      guard let expr = try? ClassExpression(parsing: text) else { return doubt(raw) }
      if !expr.evaluate(classes: classes) {
        note(v, Outcome(.skipped, Converger.conditionFalse(text)))
        return true
      }
    }
    guard let o = v.type.keptInPlace(v, &self, root, cachedStat: cachedStat, previous: previous) else { return doubt(raw) }
    note(v, o)
    return true
  }

  /// Puts a promise that is not certainly kept aside, decoded from its record, for the full check
  /// of `repairInPlace` (RepairInPlace.swift), with a place in `results` for its outcome. False
  /// (the full path runs) past `doubtLimit` of them, for a record that does not decode, and for a
  /// promise that notifies others: a repair of it would have to run them too.
  mutating func doubt(_ raw: UnsafeRawBufferPointer) -> Bool {
    guard unsure.count < InPlaceVerifier.doubtLimit else { return false }
    guard let p = try? PromiseRecord.decode(raw), p.notify.isEmpty else { return false }
    unsure.append(p)
    unsureResults.append(results.count)
    results.append(PromiseResult(id: p.id, type: p.type, outcome: .kept))
    return true
  }

  /// Past this many promises to check in full, the full path costs no more than checking them
  /// one by one, and decodes no more than it must.
  static let doubtLimit = 1_024

  mutating func note(_ v: PromiseView, _ o: Outcome) {
    summary.add(o.status)
    if o.status != .kept { notKept.append(String(decoding: v.id, as: UTF8.self)) }
    if reportKept || o.status != .kept {
      results.append(PromiseResult(id: String(decoding: v.id, as: UTF8.self), type: v.type, outcome: o))
    }
  }

  /// lstat of `p` beneath the root (as the full path's check does); `p` stays in `path`.
  mutating func lstat(_ p: UnsafeRawBufferPointer, _ root: borrowing Directory) -> (FileStat?, Bool) {
    guard p.count <= 4096 else { return (nil, false) }
    path.withUnsafeMutableBytes { dst in
      UnsafeMutableRawBufferPointer(rebasing: dst[0..<p.count]).copyMemory(from: p)
      dst[p.count] = 0
    }
    // Moved out for the call (no copy, no allocation): `cursor` is mutated meanwhile.
    var buffer: [CChar] = []
    swap(&buffer, &path)
    defer { swap(&buffer, &path) }
    let r: Result<FileStat?, HostError> = buffer.withUnsafeMutableBufferPointer { b in
      do throws(HostError) { return .success(try cursor.stat(b.baseAddress!, count: p.count, in: root)) } catch { return .failure(error) }
    }
    switch r {
    case .success(let st): return (st, true)
    case .failure: return (nil, false)
    }
  }

  /// The digest of the file `lstat` just found at `p` (still in `path`), read through the same
  /// parent; nil when it cannot be read (the full path then meets the error itself).
  mutating func hashLast(_ p: UnsafeRawBufferPointer, _ root: borrowing Directory) -> Digest? {
    if buffer == nil { buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16) }
    var name: [CChar] = []
    swap(&name, &path)
    defer { swap(&name, &path) }
    let into = buffer!
    return name.withUnsafeMutableBufferPointer { b -> Digest? in
      switch cursor.openForReading(b.baseAddress!, count: p.count, in: root) {
      case .success(let f):
        do throws(HostError) { return try SHA256.hash(f, buffer: into) } catch { return nil }
      case .failure: return nil
      }
    }
  }

  /// Remembers a hash for the stat cache, as the full check's `rememberHash` does.
  /// Reads the file at `p` (already lstat'ed into `path`) whole, up to `limit` bytes; nil when
  /// it cannot be read.
  mutating func readLast(_ p: UnsafeRawBufferPointer, _ root: borrowing Directory, limit: Int) -> [UInt8]? {
    var name: [CChar] = []
    swap(&name, &path)
    defer { swap(&name, &path) }
    return name.withUnsafeMutableBufferPointer { b -> [UInt8]? in
      switch cursor.openForReading(b.baseAddress!, count: p.count, in: root) {
      case .success(let f):
        do throws(HostError) { return try readWhole(f, path: "", limit: limit) } catch { return nil }
      case .failure: return nil
      }
    }
  }

  mutating func remember(_ key: StatKey, _ st: FileStat, _ digest: Digest) {
    if let r = StatRecord.vouching(st.identity, digest, observedFrom: observedFrom) { statUpdates.append((key, r)) }
  }

  mutating func ownerKept(_ v: PromiseView, _ st: FileStat) -> Bool {
    if !v.hasOwner && !v.hasGroup { return true }
    if accounts == nil { accounts = readAccounts(root: root) }
    if v.hasOwner {
      guard let uid = accounts!.uid(String(decoding: v.owner, as: UTF8.self)), uid == st.uid else { return false }
    }
    if v.hasGroup {
      guard let gid = accounts!.gid(String(decoding: v.group, as: UTF8.self)), gid == st.gid else { return false }
    }
    return true
  }
}
