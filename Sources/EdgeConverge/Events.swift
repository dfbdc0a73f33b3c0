import EdgeCore
import EdgeStore

/// The event ring's bound: older events are trimmed as new ones arrive.
public let maxEvents = 10_000

/// Appends events in the caller's transaction and trims the ring. Sequence numbers continue
/// from the last stored one, so they never repeat even after trimming. Of more than the ring
/// holds, only the newest are written: the others would be trimmed in the same transaction (a
/// run of 100,000 repairs wrote 100,000 events and deleted 90,000).
package func appendEvents(_ txn: borrowing Transaction, _ events: [EventRecord]) throws(StoreError) {
  if events.isEmpty { return }
  var next: UInt64 = 0
  try txn.forEach(.events, reverse: true) { key, _ in
    next = (EventRecord.sequence(key) ?? 0) + 1
    return false
  }
  for e in events.suffix(maxEvents) {
    let value = e.encode()
    try withBytes(EventRecord.key(next)) { (k) throws(StoreError) in
      try withBytes(value) { (v) throws(StoreError) in try txn.put(.events, k, v) }
    }
    next += 1
  }
  // The ring's sequence numbers are consecutive (only this function writes it): the oldest
  // `excess` follow the first one.
  let excess = try txn.count(.events) - maxEvents
  if excess <= 0 { return }
  var oldest: UInt64 = 0
  try txn.forEach(.events) { key, _ in
    oldest = EventRecord.sequence(key) ?? 0
    return false
  }
  for s in oldest..<(oldest + UInt64(excess)) { try txn.deleteKey(.events, EventRecord.key(s)) }
}

/// The last `count` events, oldest first.
public func readEvents(stateDir: String, count: Int) throws(AgentError) -> [EventRecord] {
  do throws(StoreError) {
    let env = try Environment(path: stateDir, readOnly: true)
    let txn = try env.read()
    var out: [EventRecord] = []
    var bad: StoreError? = nil
    try txn.forEach(.events, reverse: true) { key, value in
      do throws(RecordError) {
        out.append(try EventRecord.decode(value))
      } catch {
        bad = .record(error, key: "event \(EventRecord.sequence(key) ?? 0)")
        return false
      }
      return out.count < count
    }
    txn.abort()
    if let bad { throw bad }
    return out.reversed()
  } catch { throw .store(error) }
}
