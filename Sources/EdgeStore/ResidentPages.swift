import EdgeCore

/// What a long walk of a read transaction brought into this process's memory, given back as it
/// goes: every 32,768 values noted (about 5 MB of records), the pages between the lowest and
/// highest of their addresses are dropped (`Environment.dropResidentPages`), so that a walk over
/// a large state stays small in memory, and each page is read back by a minor fault if needed
/// again. Only values lent by a read transaction are noted: those lie in LMDB's map, which is one
/// mapping; a write transaction lends its dirty pages from the heap, which must never be dropped.
public struct ResidentPages {
  private var low = UInt.max
  private var high = UInt(0)
  private var seen = 0

  public init() {}

  /// Notes `value`, lent by `txn`; a value of a write transaction is ignored.
  public mutating func saw(_ value: UnsafeRawBufferPointer, in txn: borrowing Transaction) {
    guard txn.isReader, let base = value.baseAddress else { return }
    let at = UInt(bitPattern: base)
    low = min(low, at)
    high = max(high, at)
    seen += 1
    if seen & 32767 == 0, let l = UnsafeRawPointer(bitPattern: low), let h = UnsafeRawPointer(bitPattern: high) {
      txn.environment.dropResidentPages(from: l, to: h)
    }
  }

  /// At the end of a walk long enough to have dropped pages (32,768 values or more), drops what
  /// it read since, so that its last pages are not left under the next phase: the converger's
  /// reads of 100,000 promises left 13 MB of the map resident under the record after them. A
  /// shorter walk (the daemon's runs, a kept walk of 10,000) keeps its pages for the next.
  public func finish(in txn: borrowing Transaction) {
    guard txn.isReader, seen >= 32768, let l = UnsafeRawPointer(bitPattern: low), let h = UnsafeRawPointer(bitPattern: high) else { return }
    txn.environment.dropResidentPages(from: l, to: h)
  }
}
