/// Compact little-endian encoding for stored records: fixed-width integers, and byte strings
/// prefixed by a LEB128 length. Each record starts with a version byte, so a newer agent can read
/// an older state directory.
public struct ByteWriter {
  public private(set) var bytes: [UInt8] = []

  public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

  public mutating func u8(_ v: UInt8) { bytes.append(v) }

  public mutating func u32(_ v: UInt32) {
    var x = v
    for _ in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: x)); x >>= 8 }
  }

  public mutating func u64(_ v: UInt64) {
    var x = v
    for _ in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: x)); x >>= 8 }
  }

  public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }

  public mutating func varint(_ v: Int) { uvarint(UInt64(v)) }

  /// A 64-bit number in 1 to 10 bytes, 7 bits each, low first: small counts and times cost
  /// what they need (a host report's numbers, sent every heartbeat by every host).
  public mutating func uvarint(_ v: UInt64) {
    var x = v
    while x >= 0x80 { bytes.append(UInt8(x & 0x7F) | 0x80); x >>= 7 }
    bytes.append(UInt8(x))
  }

  public mutating func bytes(_ b: [UInt8]) { varint(b.count); bytes.append(contentsOf: b) }
  public mutating func string(_ s: String) { varint(s.utf8.count); bytes.append(contentsOf: s.utf8) }

  public mutating func strings(_ list: [String]) {
    varint(list.count)
    for s in list { string(s) }
  }

  public mutating func digest(_ d: Digest) {
    d.withBytes { raw in bytes.append(contentsOf: raw) }
  }
}

/// Why a stored record could not be read: truncated, or written by an unknown version.
public struct RecordError: Error, Equatable, Sendable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Reads what `ByteWriter` wrote, from borrowed bytes (an LMDB page, in place).
public struct ByteReader {
  let base: UnsafeRawBufferPointer
  public private(set) var offset = 0

  public init(_ base: UnsafeRawBufferPointer) { self.base = base }

  public var atEnd: Bool { offset == base.count }
  /// Bytes not read yet.
  public var remaining: Int { base.count - offset }

  mutating func need(_ n: Int) throws(RecordError) {
    if n < 0 || base.count - offset < n { throw RecordError("record truncated") }
  }

  public mutating func skip(_ n: Int) throws(RecordError) {
    try need(n)
    offset += n
  }

  public mutating func u8() throws(RecordError) -> UInt8 {
    try need(1)
    defer { offset += 1 }
    return base[offset]
  }

  public mutating func u32() throws(RecordError) -> UInt32 {
    try need(4)
    var v: UInt32 = 0
    // A counting loop, not `(0..<4).reversed()`: unoptimised builds (the tests') malloc once per
    // step of a reversed range, which made each kept check allocate.
    var i = 3
    while i >= 0 { v = v << 8 | UInt32(base[offset + i]); i -= 1 }
    offset += 4
    return v
  }

  public mutating func u64() throws(RecordError) -> UInt64 {
    try need(8)
    var v: UInt64 = 0
    var i = 7
    while i >= 0 { v = v << 8 | UInt64(base[offset + i]); i -= 1 }
    offset += 8
    return v
  }

  public mutating func i64() throws(RecordError) -> Int64 { Int64(bitPattern: try u64()) }

  /// What `uvarint` wrote.
  public mutating func uvarint() throws(RecordError) -> UInt64 {
    var v: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      let b = try u8()
      guard shift < 64, shift < 63 || b <= 1 else { throw RecordError("record number overflows") }
      v |= UInt64(b & 0x7F) << shift
      if b < 0x80 { return v }
      shift += 7
    }
  }

  public mutating func varint() throws(RecordError) -> Int {
    var v: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      let b = try u8()
      v |= UInt64(b & 0x7F) << shift
      if b < 0x80 { break }
      shift += 7
      if shift > 56 { throw RecordError("record length overflows") }
    }
    guard v <= UInt64(Int32.max) else { throw RecordError("record length overflows") }
    return Int(v)
  }

  /// Lends the next length-prefixed bytes without copying.
  public mutating func slice() throws(RecordError) -> UnsafeRawBufferPointer {
    let n = try varint()
    try need(n)
    defer { offset += n }
    return UnsafeRawBufferPointer(rebasing: base[offset..<offset + n])
  }

  public mutating func bytes() throws(RecordError) -> [UInt8] { Array(try slice()) }

  public mutating func string() throws(RecordError) -> String {
    String(decoding: try slice(), as: UTF8.self)
  }

  public mutating func strings() throws(RecordError) -> [String] {
    let n = try varint()
    var out: [String] = []
    for _ in 0..<n { out.append(try string()) }
    return out
  }

  public mutating func digest() throws(RecordError) -> Digest {
    try need(32)
    defer { offset += 32 }
    return Digest(bytes: UnsafeRawBufferPointer(rebasing: base[offset..<offset + 32]))
  }
}
