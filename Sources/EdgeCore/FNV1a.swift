/// 64-bit FNV-1a, the project's one non-cryptographic hash: the decoder's index tables, the
/// stat cache's keys and the puller's splay and relay order. Stable across builds and
/// architectures (keys on disk depend on it), cheap (about 1 ns a byte), and never a trust
/// decision: those are libsodium's.
public enum FNV1a {
  public static let offset: UInt64 = 0xcbf2_9ce4_8422_2325
  public static let prime: UInt64 = 0x0000_0100_0000_01b3

  /// One step: `h` with `v` mixed in (a byte, or a whole word where the caller mixes fields).
  @inline(__always)
  public static func mix(_ h: UInt64, _ v: UInt64) -> UInt64 { (h ^ v) &* prime }

  /// `h` continued over `bytes`.
  @inline(__always)
  public static func hash(_ h: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var h = h
    for b in bytes { h = (h ^ UInt64(b)) &* prime }
    return h
  }

  /// `h` continued over a string's UTF-8.
  public static func hash(_ h: UInt64, _ s: String) -> UInt64 {
    var h = h
    for c in s.utf8 { h = (h ^ UInt64(c)) &* prime }
    return h
  }
}
