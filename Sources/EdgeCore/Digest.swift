/// A SHA-256 digest held inline (four words, no heap), so comparing a file's cached hash with the
/// desired one allocates nothing. EdgeCore does not compute digests: EdgeHost does, with
/// libsodium.
public struct Digest: Hashable, Sendable, CustomStringConvertible {
  public var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

  public static let byteCount = 32
  /// All zero bits: "no digest" in records, never the hash of real content in practice.
  public static let zero = Digest(w0: 0, w1: 0, w2: 0, w3: 0)

  public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
    self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
  }

  /// Reads 32 bytes in stored (big-endian, as printed) order. Precondition: `bytes.count >= 32`.
  public init(bytes: UnsafeRawBufferPointer) {
    func word(_ at: Int) -> UInt64 {
      var v: UInt64 = 0
      for i in 0..<8 { v = v << 8 | UInt64(bytes[at + i]) }
      return v
    }
    self.init(w0: word(0), w1: word(8), w2: word(16), w3: word(24))
  }

  /// Parses 64 lowercase or uppercase hex digits.
  public init?(hex: String) {
    guard let d = withUTF8(hex, { Digest(hexDigits: $0) }) else { return nil }
    self = d
  }

  /// Parses 64 hex digits in place: no copy (a policy has one such digest per file `source`).
  public init?(hexDigits u: UnsafeRawBufferPointer) {
    guard u.count == 64 else { return nil }
    func word(_ at: Int) -> UInt64? {
      var v: UInt64 = 0
      for i in at..<at + 16 {
        guard let d = hexValue(u[i]) else { return nil }
        v = v << 4 | UInt64(d)
      }
      return v
    }
    guard let w0 = word(0), let w1 = word(16), let w2 = word(32), let w3 = word(48) else { return nil }
    self.init(w0: w0, w1: w1, w2: w2, w3: w3)
  }

  /// Calls `body` with the 32 bytes in stored order.
  public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    var b: (UInt64, UInt64, UInt64, UInt64) = (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)
    return try withUnsafeBytes(of: &b) { (raw) throws(E) -> R in try body(raw) }
  }

  public var hex: String {
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(64)
    for w in [w0, w1, w2, w3] {
      var shift: UInt64 = 60
      for _ in 0..<16 {
        out.append(digits[Int((w >> shift) & 15)])
        shift &-= 4
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  public var description: String { "sha256:" + hex }
}
