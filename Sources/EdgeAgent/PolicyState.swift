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
func readDesired(_ txn: borrowing Transaction) throws(StoreError) -> [Promise] {
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
