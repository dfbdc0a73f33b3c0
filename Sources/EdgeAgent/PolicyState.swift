import EdgeCore
import EdgeStore

/// The policy last accepted into `desired`, decoded in plan order: what the daemon converges to
/// when the policy file is broken or missing, or the uplink is down (the last good state).
public func loadDesiredPolicy(_ env: Environment) throws(StoreError) -> Policy? {
  let txn = try env.read()
  let name = try txn.value(.meta, MetaKey.policyName) { raw in raw.map { String(decoding: $0, as: UTF8.self) } }
  var promises: [Promise] = []
  var bad: StoreError? = nil
  try txn.forEach(.desired) { key, value in
    do throws(RecordError) {
      promises.append(try PromiseRecord.decode(value))
    } catch {
      bad = .record(error, key: "desired #\(promises.count)")
      return false
    }
    return true
  }
  txn.abort()
  if let bad { throw bad }
  guard let name, !promises.isEmpty else { return nil }
  return Policy(name: name, promises: promises)
}
