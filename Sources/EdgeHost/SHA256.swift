import CEdge
import EdgeCore

/// SHA-256 through libsodium. A struct holding the C state inline: hashing a file with a
/// caller's buffer allocates nothing.
public struct SHA256 {
  var state = crypto_hash_sha256_state()

  public init() { crypto_hash_sha256_init(&state) }

  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress else { return }
    crypto_hash_sha256_update(&state, base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
  }

  public mutating func finish() -> Digest {
    var out: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    return withUnsafeMutableBytes(of: &out) { raw in
      crypto_hash_sha256_final(&state, raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
      return Digest(bytes: UnsafeRawBufferPointer(raw))
    }
  }

  public static func hash(_ bytes: UnsafeRawBufferPointer) -> Digest {
    var h = SHA256()
    h.update(bytes)
    return h.finish()
  }

  public static func hash(_ bytes: [UInt8]) -> Digest { bytes.withUnsafeBytes { hash($0) } }

  /// Hashes an open file from its current offset to the end, through `buffer`.
  public static func hash(_ fd: borrowing FileDescriptor, buffer: UnsafeMutableRawBufferPointer) throws(HostError) -> Digest {
    var h = SHA256()
    while true {
      let n = try fd.read(into: buffer)
      if n == 0 { break }
      h.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
    }
    return h.finish()
  }
}

/// Must run once before any other libsodium call (it picks the CPU's implementations).
public func cryptoInit() -> Bool { sodium_init() >= 0 }

/// `n` random bytes from the kernel (libsodium's randombytes), as hex.
public func randomHex(_ n: Int) -> String {
  var bytes = [UInt8](repeating: 0, count: n)
  bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, n) }
  let digits: [UInt8] = Array("0123456789abcdef".utf8)
  var out: [UInt8] = []
  for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
  return String(decoding: out, as: UTF8.self)
}
