import EdgeCore
import EdgeStore

/// The policy last accepted into `desired`, decoded in plan order: what the daemon converges to
/// when the policy file is broken or missing, or the uplink is down (the last good state).
public func loadDesiredPolicy(_ env: Environment) throws(StoreError) -> Policy? {
  let txn = try env.read()
  let name = try txn.policyName()
  let promises = try readDesired(txn)
  txn.abort()
  guard let name, !promises.isEmpty else { return nil }
  return Policy(name: name, promises: promises)
}

/// Every promise in `desired`, in plan order. A record that does not decode is an error naming
/// its position: the state is then corrupt, and guessing around it would converge the wrong way.
package func readDesired(_ txn: borrowing Transaction) throws(StoreError) -> [Promise] {
  var promises: [Promise] = []
  var bad: StoreError? = nil
  try txn.forEach(try txn.desiredDatabase()) { _, value in
    do throws(RecordError) {
      promises.append(try PromiseRecord.decode(value))
    } catch {
      bad = .record(error, key: "desired #\(promises.count)")
      return false
    }
    return true
  }
  if let bad { throw bad }
  return promises
}

/// Each promise's digest (`PreparedPromise.digest`; .zero for none) as the state records it
/// beside the promise and its outcome. A type, not a closure: each function that took a closure
/// was compiled once for each caller's (3.3 KB of `stageDesired` alone on x86_64).
package enum Fingerprints {
  /// From the promises a run prepared (the daemon's, kept for its next runs).
  case prepared([PreparedPromise])
  /// As a run kept them while it prepared its promises a window at a time (`apply`'s,
  /// `Converger.fingerprints`).
  case digests([Digest])
  /// Made as each is stored: a policy accepted before it is converged (a bundle).
  case made(Policy)

  package subscript(_ i: Int) -> Digest {
    switch self {
    case .prepared(let p): return p[i].digest ?? .zero
    case .digests(let d): return d[i]
    case .made(let policy): return PreparedPromise.digest(of: policy.promises[i]) ?? .zero
    }
  }
}

/// Replaces `desired` with `policy` in plan order and sets the policy name and digest, as
/// `record` in Apply.swift does when a policy file changes; the daemon's next `record` with the
/// same digest then leaves it alone. Outcomes of promises that left the policy go with them.
///
/// A record already as it should be is not written again: a new policy that changes one promise
/// of 10,000 dirties the pages of that record, not the whole of `desired` (it was emptied and
/// written whole: 1.5 MB of pages copied and committed for one changed file).
///
/// With `only`, the positions whose records differ, as `stageDesired` found them (the others are
/// written only if they differ).
package func storeDesired(_ txn: borrowing Transaction, policy: Policy, order: [Int], digest: Digest,
                          fingerprints: Fingerprints, only: [Int]? = nil) throws(StoreError) {
  let db = try txn.desiredDatabase()
  func write(_ position: Int, compare: Bool) throws(StoreError) {
    try withRecord(policy, order, fingerprints, position) { (k, v) throws(StoreError) in
      if compare, try txn.value(db, k, { old in old.map { $0.elementsEqual(v) } ?? false }) { return }
      try txn.put(db, k, v)
    }
  }
  if let only {
    for position in only { try write(position, compare: false) }
  } else {
    for position in order.indices { try write(position, compare: true) }
  }
  // The records past the new policy's last position.
  var past: [[UInt8]] = []
  try withBytes(PromiseRecord.key(order.count)) { (start) throws(StoreError) in
    try txn.forEach(db, from: start) { key, _ in
      past.append(Array(key))
      return true
    }
  }
  for k in past { try txn.deleteKey(db, k) }
  // What a staging cut short left (the agent stopped before its run was recorded) is not kept.
  let staging = try txn.stagingDatabase()
  if try txn.count(staging) > 0 { try txn.clear(staging) }
  try txn.setPolicy(name: policy.name, digest: digest)
  try dropStaleOutcomes(txn, .promises(policy.promises))
}

/// Lends the record of the promise at `position` of `order` (with its fingerprint) and its key.
private func withRecord<R>(_ policy: Policy, _ order: [Int], _ fingerprints: Fingerprints, _ position: Int,
                           _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws(StoreError) -> R) throws(StoreError) -> R {
  let i = order[position]
  let value = PromiseRecord.encode(policy.promises[i], digest: fingerprints[i])
  return try withBytes(PromiseRecord.key(position)) { (k) throws(StoreError) -> R in
    try withBytes(value) { (v) throws(StoreError) -> R in try body(k, v) }
  }
}

/// How many records one transaction stages: about 1.3 MB of LMDB's dirty pages at 160 bytes a
/// file promise, where the 100,100 records of a large policy written in the run's transaction
/// were 16.4 MB of them (beside 9.6 MB of outcomes), held by LMDB's page cache to the end.
let recordsPerStagingTransaction = 8_192

/// How the run's transaction replaces `desired` (`stageDesired`): `staged`, the database to put
/// in force; else `only`, the positions whose records differ (nil: compare each there).
package typealias DesiredChange = (staged: Database?, only: [Int]?)

/// Stages `policy` in the `desired` database not in force (`Transaction.stagingDatabase`), a
/// bounded number of records a transaction, when it would change more records of the one in
/// force than one transaction writes, for `putStagedInForce` to put in force in the run's
/// transaction. A large policy that changes fewer is written in place, and its records are
/// compared here, in a read transaction whose pages leave the process as it goes
/// (`ResidentPages`: a state of 100,000 records read 16 MB of them), so the run's transaction
/// writes only the positions found. A small policy is compared there.
///
/// A crash before the run's transaction leaves the policy in force as it was, whole (the staged
/// records are not read: they are cleared by the next policy): the daemon, which converges from
/// `desired` when offline, never meets a mix of two policies.
@inline(never)
package func stageDesired(_ env: Environment, policy: Policy, order: [Int], digest: Digest,
                          fingerprints: Fingerprints) throws(StoreError) -> DesiredChange {
  let n = recordsPerStagingTransaction
  if order.count <= n { return (nil, nil) }
  let txn = try env.read()
  let stored: Digest?
  do throws(StoreError) { stored = try txn.policyDigest() } catch {
    guard case .record = error else { txn.abort(); throw error }
    stored = nil
  }
  var changes = 0
  var only: [Int] = []
  do throws(StoreError) {
    if stored == digest { txn.abort(); return (nil, nil) }
    let db = try txn.desiredDatabase()
    let held = try txn.count(db)
    // Nothing held (a first policy): every record changes, none need comparing.
    changes = held == 0 ? order.count : max(0, held - order.count)
    var pages = ResidentPages()
    for position in order.indices {
      if changes > n { break }
      let same = try withRecord(policy, order, fingerprints, position) { (k, v) throws(StoreError) -> Bool in
        try txn.value(db, k) { (old) -> Bool in
          guard let old else { return false }
          pages.saw(old, in: txn)
          return old.elementsEqual(v)
        }
      }
      if !same {
        changes += 1
        only.append(position)
      }
    }
    pages.finish(in: txn)
  } catch {
    txn.abort()
    throw error
  }
  txn.abort()
  if changes <= n { return (nil, only) }
  var staging: Database = .desired1
  var start = 0
  while start < order.count {
    let end = min(start + n, order.count)
    try env.withWrite { (txn) throws(StoreError) in
      if start == 0 {
        staging = try txn.stagingDatabase()
        try txn.clear(staging)
      }
      for position in start..<end {
        try withRecord(policy, order, fingerprints, position) { (k, v) throws(StoreError) in try txn.put(staging, k, v) }
      }
    }
    start = end
  }
  return (staging, nil)
}

/// Whether `desired` holds no promise (a first policy, or an empty one): a new policy is then
/// staged whole, with no record to compare (`stageReleasing`).
package func holdsNoPromise(_ env: Environment) throws(StoreError) -> Bool {
  let txn = try env.read()
  let held: Int
  do throws(StoreError) { held = try txn.count(try txn.desiredDatabase()) } catch {
    txn.abort()
    throw error
  }
  txn.abort()
  return held == 0
}

/// Stages a policy's `promises` whole in plan order, as `stageDesired` stages them, for a state
/// whose `desired` holds nothing, and lets each promise go as it is staged: its id and type are
/// appended to `ids` and `types` (by position), and what else it held (its content first) is
/// freed, so that staging 100,000 files gives back their contents' 9.6 MB as it writes them. The
/// array must be the caller's alone (not a `Policy`'s, whose `promises` has an observer: each
/// element replaced there copied the whole array). Returns the staging database, for
/// `putStagedInForce`. Each record carries its digest, made here.
package func stageReleasing(_ env: Environment, _ promises: inout [Promise], order: [Int], ids: inout [String],
                            types: inout [PromiseType]) throws(StoreError) -> Database {
  var staging: Database = .desired1
  var start = 0
  while start < order.count {
    let end = min(start + recordsPerStagingTransaction, order.count)
    try env.withWrite { (txn) throws(StoreError) in
      if start == 0 {
        staging = try txn.stagingDatabase()
        try txn.clear(staging)
      }
      for position in start..<end {
        let i = order[position]
        let p = promises[i]
        let value = PromiseRecord.encode(p, digest: PreparedPromise.digest(of: p) ?? .zero)
        try withBytes(PromiseRecord.key(position)) { (k) throws(StoreError) in
          try withBytes(value) { (v) throws(StoreError) in try txn.put(staging, k, v) }
        }
        ids.append(p.id)
        types.append(p.type)
        promises[i] = Promise(id: "", type: p.type)
      }
    }
    start = end
  }
  return staging
}

/// Puts the policy `stageDesired` wrote into `staged` in force, in the transaction that records
/// the run: the policy name, digest and database in one commit; the one it replaces is emptied
/// (its pages go to LMDB's free list; its leaves are not read).
package func putStagedInForce(_ txn: borrowing Transaction, _ staged: Database, name: String, _ promises: RecordedPromises,
                              digest: Digest) throws(StoreError) {
  let old = try txn.desiredDatabase()
  try txn.setDesiredDatabase(staged)
  if old != staged { try txn.clear(old) }
  try txn.setPolicy(name: name, digest: digest)
  try dropStaleOutcomes(txn, promises)
}

/// Deletes the outcomes of promises that left the policy. The ids are found through an
/// `IndexTable` (2 MB at 100,000 promises, where a `Set<String>` of them took 4.2 MB in the
/// recording transaction), and not at all when no outcome is stored (a first run).
@inline(never)
func dropStaleOutcomes(_ txn: borrowing Transaction, _ promises: RecordedPromises) throws(StoreError) {
  if try txn.count(.actual) == 0 { return }
  var ids = IndexTable()
  ids.reserve(promises.count)
  for i in 0..<promises.count { ids.insert(IndexTable.hash(0, promises.id(i)), i) }
  var stale: [String] = []
  try txn.forEach(.actual) { key, _ in
    let id = String(decoding: key, as: UTF8.self)
    if ids.find(IndexTable.hash(0, id), { promises.id($0) == id }) == nil { stale.append(id) }
    return true
  }
  for id in stale { try txn.delete(.actual, id) }
}

/// The ids and types of the promises a run records, by index (those of its outcomes): a policy's
/// promises, or (a large `apply` that let its promises go once they were staged, ApplyStaged.swift)
/// the two alone, by plan position. A type, as `Fingerprints` is.
package enum RecordedPromises {
  case promises([Promise])
  case named(ids: [String], types: [PromiseType])

  package var count: Int {
    switch self {
    case .promises(let p): return p.count
    case .named(let ids, _): return ids.count
    }
  }

  package func id(_ i: Int) -> String {
    switch self {
    case .promises(let p): return p[i].id
    case .named(let ids, _): return ids[i]
    }
  }

  package func type(_ i: Int) -> PromiseType {
    switch self {
    case .promises(let p): return p[i].type
    case .named(_, let types): return types[i]
    }
  }
}
