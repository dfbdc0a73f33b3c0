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
  var verifier = InPlaceVerifier(root: root, classes: classes, reportKept: options.reportKept)
  var name = ""
  var ok = false
  do throws(StoreError) {
    let txn = try env.read()
    let policyDigest: Digest? = try txn.value(.meta, MetaKey.policyDigest) { raw in
      raw.flatMap { $0.count == 32 ? Digest(bytes: $0) : nil }
    }
    let cached: StatRecord? = try txn.value(.statcache, MetaKey.policyFilePrefix + options.policyPath) { raw in
      raw.flatMap(StatRecord.decode)
    }
    let lastClasses: Digest? = try txn.value(.meta, MetaKey.lastClasses) { raw in
      raw.flatMap { $0.count == 32 ? Digest(bytes: $0) : nil }
    }
    let last = try txn.value(.meta, MetaKey.lastSummary) { decodeSummary($0) }
    guard let policyDigest, let cached, cached.identity == fileStat.identity, cached.digest == policyDigest,
          lastClasses == classDigest(classes), let last, last.repaired == 0, last.failed == 0 else {
      txn.abort()
      return nil
    }
    name = try txn.value(.meta, MetaKey.policyName) { raw in raw.map { String(decoding: $0, as: UTF8.self) } ?? "" }
    ok = true
    try txn.forEach(.desired) { _, value in
      ok = verifier.verify(value, previous: { id in
        (try? txn.value(.actual, id) { raw in raw.flatMap { try? ActualRecord.decode($0) } }) ?? nil
      }, cachedStat: { key in
        (try? txn.value(.statcache, key) { $0.flatMap(StatRecord.decode) }) ?? nil
      })
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

/// The per-record checks of `verifyInPlace`, with their reusable buffers.
struct InPlaceVerifier {
  let root: String
  let classes: Set<String>
  let reportKept: Bool
  /// root + managed path + NUL, rebuilt per promise in place.
  var path: [CChar]
  let rootLength: Int
  /// For readlink.
  var link: [UInt8] = [UInt8](repeating: 0, count: 4097)
  var accounts: Accounts? = nil
  var summary = RunSummary()
  var results: [PromiseResult] = []

  init(root: String, classes: Set<String>, reportKept: Bool) {
    self.root = root
    self.classes = classes
    self.reportKept = reportKept
    rootLength = root == "/" ? 0 : root.utf8.count
    path = [CChar](repeating: 0, count: rootLength + 4097)
    if rootLength > 0 {
      var i = 0
      for c in root.utf8 { path[i] = CChar(bitPattern: c); i += 1 }
    }
  }

  /// Verifies one stored promise; false when it is not certainly kept.
  mutating func verify(_ raw: UnsafeRawBufferPointer, previous: (String) -> ActualRecord?,
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
    let kept: Bool
    switch v.type {
    case .file: kept = file(v, cachedStat)
    case .directory: kept = directory(v)
    case .link: kept = symlink(v)
    case .command: kept = command(v, previous)
    case .sysctl: kept = sysctl(v)
    case .service:
      note(v, Outcome(.skipped, Converger.serviceInApply))
      return true
    }
    if kept { note(v, .kept) }
    return kept
  }

  mutating func note(_ v: PromiseView, _ o: Outcome) {
    summary.add(o.status)
    if reportKept || o.status != .kept {
      results.append(PromiseResult(id: String(decoding: v.id, as: UTF8.self), type: v.type, outcome: o))
    }
  }

  /// lstat of root + `p`; the host path stays in `path` for the stat cache key.
  mutating func lstat(_ p: UnsafeRawBufferPointer) -> (FileStat?, Bool) {
    guard p.count <= 4096 else { return (nil, false) }
    let n = rootLength
    path.withUnsafeMutableBytes { dst in
      UnsafeMutableRawBufferPointer(rebasing: dst[n..<n + p.count]).copyMemory(from: p)
      dst[n + p.count] = 0
    }
    let r: Result<FileStat?, HostError> = path.withUnsafeBufferPointer { b in
      do throws(HostError) { return .success(try FileStat.lstat(b.baseAddress!)) } catch { return .failure(error) }
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

  mutating func file(_ v: PromiseView, _ cachedStat: (UnsafeRawBufferPointer) -> StatRecord?) -> Bool {
    let (st, ok) = lstat(v.path)
    guard ok else { return false }
    if v.absent { return st == nil }
    guard let st, st.kind == .regular else { return false }
    if v.hasMode && st.permissions != v.mode { return false }
    if v.managesContent {
      let length = rootLength + v.path.count
      let cached: StatRecord? = path.withUnsafeBytes { raw in cachedStat(UnsafeRawBufferPointer(rebasing: raw[0..<length])) }
      guard let cached, cached.identity == st.identity, cached.digest == v.digest else { return false }
    }
    return ownerKept(v, st)
  }

  mutating func directory(_ v: PromiseView) -> Bool {
    let (st, ok) = lstat(v.path)
    guard ok else { return false }
    if v.absent { return st == nil }
    guard let st, st.kind == .directory else { return false }
    if v.hasMode && st.permissions != v.mode { return false }
    return ownerKept(v, st)
  }

  mutating func symlink(_ v: PromiseView) -> Bool {
    let (st, ok) = lstat(v.path)
    guard ok else { return false }
    if v.absent { return st == nil }
    guard let st, st.kind == .symlink else { return false }
    let n = path.withUnsafeBufferPointer { p in
      link.withUnsafeMutableBufferPointer { l in
        readlinkPath(p.baseAddress!, l.baseAddress!, 4096)
      }
    }
    guard n == v.target.count else { return false }
    for i in 0..<n where link[i] != v.target[i] { return false }
    return ownerKept(v, st)
  }

  mutating func command(_ v: PromiseView, _ previous: (String) -> ActualRecord?) -> Bool {
    if v.hasCreates {
      let (st, ok) = lstat(v.creates)
      return ok && st != nil
    }
    if v.unlessCount > 0 { return false }   // its answer comes from running `unless`
    guard let prev = previous(String(decoding: v.id, as: UTF8.self)) else { return false }
    return prev.fingerprint == v.digest && (prev.status == .kept || prev.status == .repaired)
  }

  func sysctl(_ v: PromiseView) -> Bool {
    let path = sysctlPath(root: root, key: String(decoding: v.key, as: UTF8.self))
    guard let current = try? readWholeFile(path, limit: 64 << 10) else { return false }
    return sysctlEqual(current, Array(v.value))
  }
}
