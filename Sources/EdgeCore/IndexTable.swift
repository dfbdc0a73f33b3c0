/// A hash index over entries the caller keeps in its own arrays: a slot holds an entry's number
/// and 32 bits of its key's hash, 8 bytes, where a `[String: V]` spends 32 or more on a copy of
/// the key and its value. The caller hashes keys (`IndexTable.hash`) and tells, from an entry's
/// number, whether it is the one looked for. The policy decoder's checks of ids and objects
/// took 2 x 8.4 MB this way at 100,000 promises; they take 2 x 1 MB.
package struct IndexTable {
  /// 0: empty; else the hash's low 32 bits above the entry's number + 1. Open addressing, linear
  /// probing from the hash, at most 7/8 full: at 3/4, 100,100 entries took 262,144 slots (2 MB,
  /// twice over while a policy was decoded); they fit in 131,072, for a probe or two more.
  private var slots: [UInt64] = []
  package private(set) var count = 0

  package init() {}

  /// Room for `n` entries without growing.
  package mutating func reserve(_ n: Int) { grow(to: n) }

  /// The entry under `hash` that `matches`, if any.
  package func find(_ hash: UInt64, _ matches: (Int) -> Bool) -> Int? {
    if slots.isEmpty { return nil }
    let mask = slots.count - 1
    let tag = hash & 0xFFFF_FFFF
    var i = Int(truncatingIfNeeded: tag) & mask
    while true {
      let s = slots[i]
      if s == 0 { return nil }
      if s >> 32 == tag {
        let entry = Int(truncatingIfNeeded: s & 0xFFFF_FFFF) - 1
        if matches(entry) { return entry }
      }
      i = (i + 1) & mask
    }
  }

  /// Adds `entry` (0 to Int32.max - 1, so that it is an Int on armv7 too) under `hash`; the
  /// caller found no match first.
  package mutating func insert(_ hash: UInt64, _ entry: Int) {
    if (count + 1) * 8 > slots.count * 7 { grow(to: count + 1) }
    place((hash & 0xFFFF_FFFF) << 32 | UInt64(entry + 1))
    count += 1
  }

  private mutating func place(_ s: UInt64) {
    let mask = slots.count - 1
    var i = Int(truncatingIfNeeded: s >> 32) & mask
    while slots[i] != 0 { i = (i + 1) & mask }
    slots[i] = s
  }

  private mutating func grow(to n: Int) {
    var size = 16
    while size * 7 < n * 8 { size <<= 1 }
    if size <= slots.count { return }
    let old = slots
    slots = [UInt64](repeating: 0, count: size)
    for s in old where s != 0 { place(s) }
  }

  /// FNV-1a of a kind byte and a string's UTF-8, its high bits folded into the low ones that
  /// place it.
  package static func hash(_ kind: UInt8, _ s: String) -> UInt64 {
    let h = FNV1a.hash(FNV1a.mix(FNV1a.offset, UInt64(kind)), s)
    return h ^ (h >> 32)
  }
}
