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
  try txn.forEach(.desired) { _, value in
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

/// Replaces `desired` with `policy` in plan order and sets the policy name and digest, as
/// `record` in Apply.swift does when a policy file changes; the daemon's next `record` with the
/// same digest then leaves it alone. Outcomes of promises that left the policy go with them.
///
/// A record already as it should be is not written again: a new policy that changes one promise
/// of 10,000 dirties the pages of that record, not the whole of `desired` (it was emptied and
/// written whole: 1.5 MB of pages copied and committed for one changed file).
package func storeDesired(_ txn: borrowing Transaction, policy: Policy, order: [Int], digest: Digest) throws(StoreError) {
  try storeDesired(txn, policy: policy, order: order, digest: digest, fingerprint: { (i) -> Digest? in
    PreparedPromise(index: i, promise: policy.promises[i], keys: StatCacheKey(root: "/")).digest
  })
}

/// `storeDesired`, with promise i's digest (`PreparedPromise.digest`) from `fingerprint`.
package func storeDesired(_ txn: borrowing Transaction, policy: Policy, order: [Int], digest: Digest,
                  fingerprint: (Int) -> Digest?) throws(StoreError) {
  for (position, i) in order.enumerated() {
    let p = policy.promises[i]
    let promiseDigest = fingerprint(i)
    let value = PromiseRecord.encode(p, digest: promiseDigest ?? .zero)
    try withBytes(PromiseRecord.key(position)) { (k) throws(StoreError) in
      try withBytes(value) { (v) throws(StoreError) in
        let same = try txn.value(.desired, k) { old in old.map { $0.elementsEqual(v) } ?? false }
        if !same { try txn.put(.desired, k, v) }
      }
    }
  }
  // The records past the new policy's last position.
  var past: [[UInt8]] = []
  try withBytes(PromiseRecord.key(order.count)) { (start) throws(StoreError) in
    try txn.forEach(.desired, from: start) { key, _ in
      past.append(Array(key))
      return true
    }
  }
  for k in past { try txn.deleteKey(.desired, k) }
  try txn.setPolicy(name: policy.name, digest: digest)
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
