import EdgeCore
import EdgeHost
import EdgeStore

/// The steady state of `apply`: the policy file is the one accepted last time (same stat
/// identity, so it is not even read), the host's classes are the same, and the last run left
/// every promise kept or skipped. Then each stored promise is verified in place, walking
/// `desired` in plan order with a cursor over LMDB's pages: one lstat and one stat cache lookup
/// per file, nothing decoded, nothing allocated per promise (except an `if` to evaluate or an
/// owner name to resolve).
///
/// Returns nil as soon as anything is not certainly kept; the caller then runs the full path,
/// which repairs and records. So this can only ever say "kept" when the full path would too.
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
    guard let policyDigest, let cached, cached.identity == fileStat.identity, cached.digest == policyDigest,
          lastClasses == classDigest(classes), let last, last.repaired == 0, last.failed == 0 else {
      txn.abort()
      return nil
    }
    name = try txn.policyName() ?? ""
    ok = true
    // A read that fails is not "certainly kept": the full path runs, and meets the failure itself.
    var failure: StoreError? = nil
    try txn.forEach(.desired) { _, value in
      ok = verifier.verify(value, root: rootDir, previous: { id in previousOutcome(txn, id, &failure) },
                           cachedStat: { key in cachedStat(txn, key, &failure) }) && failure == nil
      return ok
    }
    txn.abort()
  } catch {
    return nil
  }
  guard ok else { return nil }
  if !options.dryRun {
    let summary = verifier.summary
    do throws(StoreError) {
      try env.withWrite { (txn) throws(StoreError) in try recordRun(txn, now: wallClockSeconds(), summary: summary) }
    } catch {
      return nil
    }
  }
  return ApplyReport(policyName: name, results: verifier.results, summary: verifier.summary, desiredReplaced: false,
                     verifiedInPlace: true)
}

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

  init(root: String, classes: Set<String>, reportKept: Bool) {
    self.root = root
    self.classes = classes
    self.reportKept = reportKept
    keys = StatCacheKey(root: root)
    path = [CChar](repeating: 0, count: 4097)
  }

  /// Verifies one stored promise; false when it is not certainly kept.
  mutating func verify(_ raw: UnsafeRawBufferPointer, root: borrowing Directory, previous: (String) -> ActualRecord?,
                       cachedStat: (UnsafeRawBufferPointer) -> StatRecord?) -> Bool {
    guard let v = try? PromiseView(raw) else { return false }
    if v.condition.count > 0 {
      let text = String(decoding: v.condition, as: UTF8.self)
      guard let expr = try? ClassExpression(parsing: text) else { return false }
      if !expr.evaluate(classes: classes) {
        note(v, Outcome(.skipped, Converger.conditionFalse(text)))
        return true
      }
    }
    guard let o = v.type.keptInPlace(v, &self, root, cachedStat: cachedStat, previous: previous) else { return false }
    note(v, o)
    return true
  }

  mutating func note(_ v: PromiseView, _ o: Outcome) {
    summary.add(o.status)
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
