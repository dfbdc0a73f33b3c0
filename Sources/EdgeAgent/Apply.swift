import EdgeCore
import EdgeHost
import EdgeStore

/// What `apply` is asked to do.
public struct ApplyOptions {
  public var policyPath: String
  /// Prefix of every managed path; "/" on a real host.
  public var root: String = "/"
  public var stateDir: String = "/var/lib/edgeagent"
  public var dryRun = false
  public var labels: [String] = []

  public init(policyPath: String) { self.policyPath = policyPath }
}

/// What one convergence did, promise by promise.
public struct ApplyReport {
  public var policy: Policy
  /// By promise index.
  public var outcomes: [Outcome]
  /// The order the promises were checked in.
  public var order: [Int]
  public var summary: RunSummary
  /// Whether `desired` was replaced (the policy differed from the one stored).
  public var desiredReplaced: Bool
}

/// One convergence of a local policy file: validate it whole (a rejected policy touches neither
/// the host nor the state), converge, then in one transaction store the policy in `desired`,
/// every changed outcome in `actual`, and the stat cache.
public func apply(_ options: ApplyOptions) throws(AgentError) -> ApplyReport {
  let bytes: [UInt8]
  do { bytes = try readWholeFile(options.policyPath) } catch { throw .host(error) }
  let policy: Policy
  let order: [Int]
  do throws(PolicyError) {
    policy = try PolicyDecoder.decode(bytes)
    order = try Plan.order(policy.promises)
  } catch {
    throw .policy(error, file: options.policyPath)
  }
  let root = try normalisedRoot(options.root)
  let policyDigest = SHA256.hash(bytes)

  let env: Environment?
  do throws(StoreError) {
    if options.dryRun {
      do throws(StoreError) { env = try Environment(path: options.stateDir, readOnly: true) } catch {
        guard case .noState = error else { throw error }
        env = nil
      }
    } else {
      env = try Environment(path: options.stateDir)
    }
  } catch { throw .store(error) }

  let converger: Converger
  do { converger = try Converger(root: root, classes: hostClasses(labels: options.labels), dryRun: options.dryRun) } catch {
    throw .host(error)
  }
  let prepared = converger.prepare(policy)
  let outcomes: [Outcome]
  do throws(StoreError) {
    if let env {
      let txn = try env.read()
      outcomes = converger.run(policy, prepared, order: order, cachedStat: { key in
        (try? txn.value(.statcache, key) { $0.flatMap(StatRecord.decode) }) ?? nil
      }, blob: { digest, body in
        let found: Bool = digest.withBytes { key in
          (try? txn.value(.blobs, key) { raw -> Bool in
            guard let raw else { return false }
            body(raw)
            return true
          }) ?? false
        }
        if !found { body(nil) }
      })
      txn.abort()
    } else {
      outcomes = converger.run(policy, prepared, order: order, cachedStat: { _ in nil }, blob: { _, body in body(nil) })
    }
  } catch { throw .store(error) }

  var summary = RunSummary()
  for o in outcomes { summary.add(o.status) }
  var replaced = false
  if let env, !options.dryRun {
    do throws(StoreError) {
      replaced = try record(env, policy: policy, digest: policyDigest, prepared: prepared, outcomes: outcomes,
                            statUpdates: converger.statUpdates, summary: summary)
    } catch { throw .store(error) }
  }
  return ApplyReport(policy: policy, outcomes: outcomes, order: order, summary: summary, desiredReplaced: replaced)
}

/// The root as an absolute directory path without a trailing '/' ("/" stays "/").
func normalisedRoot(_ root: String) throws(AgentError) -> String {
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

/// Meta keys (see Database.meta).
enum MetaKey {
  static let schema = "schema"
  static let policyName = "policy.name"
  static let policyDigest = "policy.digest"
  static let lastRun = "run.last"
  static let lastSummary = "run.summary"
}

/// Stores one run in one transaction. Returns whether `desired` was replaced.
func record(_ env: Environment, policy: Policy, digest: Digest, prepared: [PreparedPromise], outcomes: [Outcome],
            statUpdates: [(key: [UInt8], record: StatRecord)], summary: RunSummary) throws(StoreError) -> Bool {
  let now = wallClockSeconds()
  return try env.withWrite { (txn) throws(StoreError) -> Bool in
    var w = ByteWriter()
    w.u32(Environment.schemaVersion)
    try txn.put(.meta, MetaKey.schema, w.bytes)

    // `desired` is replaced whole, and only when the policy changed.
    let stored: Digest? = try txn.value(.meta, MetaKey.policyDigest) { raw in
      raw.flatMap { $0.count == 32 ? Digest(bytes: $0) : nil }
    }
    let replace = stored != digest
    if replace {
      try txn.clear(.desired)
      for p in policy.promises { try txn.put(.desired, p.id, PromiseRecord.encode(p)) }
      var d = ByteWriter()
      d.digest(digest)
      try txn.put(.meta, MetaKey.policyDigest, d.bytes)
      try txn.put(.meta, MetaKey.policyName, Array(policy.name.utf8))
      // Outcomes of promises that left the policy go with it.
      var stale: [String] = []
      var ids = Set<String>()
      for p in policy.promises { ids.insert(p.id) }
      try txn.forEach(.actual) { key, _ in
        let id = String(decoding: key, as: UTF8.self)
        if !ids.contains(id) { stale.append(id) }
        return true
      }
      for id in stale { try txn.delete(.actual, id) }
    }

    for (i, p) in policy.promises.enumerated() {
      let o = outcomes[i]
      let previous: ActualRecord? = try txn.value(.actual, p.id) { raw in raw.flatMap { try? ActualRecord.decode($0) } }
      // A kept promise that was kept before writes nothing: a steady-state run costs no writes.
      if let previous, previous.status == o.status, previous.reason == o.reason, o.status != .repaired, o.status != .failed {
        continue
      }
      let rec = ActualRecord(
        status: o.status, reason: o.reason, fingerprint: prepared[i].digest ?? .zero, checkedAt: now,
        changedAt: previous?.status == o.status ? previous!.changedAt : now,
        repairs: (previous?.repairs ?? 0) + (o.status == .repaired ? 1 : 0),
        failures: o.status == .failed ? (previous?.failures ?? 0) + 1 : 0)
      try txn.put(.actual, p.id, rec.encode())
    }
    for u in statUpdates {
      let value = u.record.encode()
      try withBytes(u.key) { (k) throws(StoreError) in
        try withBytes(value) { (v) throws(StoreError) in try txn.put(.statcache, k, v) }
      }
    }
    var r = ByteWriter()
    r.i64(now)
    try txn.put(.meta, MetaKey.lastRun, r.bytes)
    var s = ByteWriter()
    s.u32(UInt32(summary.kept)); s.u32(UInt32(summary.repaired)); s.u32(UInt32(summary.failed)); s.u32(UInt32(summary.skipped))
    try txn.put(.meta, MetaKey.lastSummary, s.bytes)
    return replace
  }
}
