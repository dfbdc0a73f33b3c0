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

/// Runs once at start, before any other libsodium call: readies libsodium's random source (the
/// kernel's getrandom, else /dev/urandom opened now, before a chroot can hide it).
///
/// Not `sodium_init()`: that also runs implementation pickers for argon2, BLAKE2b, Poly1305,
/// Curve25519, ChaCha20 and Salsa20, which edgeagent never calls, and linking them cost the
/// static aarch64 binary 17,840 bytes stripped. What edgeagent calls (SHA-256, Ed25519
/// keypair/sign/verify, randombytes) has one portable implementation and needs no picking;
/// randombytes initialises itself, and this stirs it once up front, as sodium_init did, so a
/// missing random source aborts at start and not in mid-run. (libsodium 1.0.18,
/// src/libsodium/sodium/core.c and randombytes/randombytes.c.)
public func cryptoInit() -> Bool {
  randombytes_stir()
  return true
}

/// `n` random bytes from the kernel (libsodium's randombytes), as hex.
public func randomHex(_ n: Int) -> String {
  var bytes = [UInt8](repeating: 0, count: n)
  bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, n) }
  let digits: [UInt8] = Array("0123456789abcdef".utf8)
  var out: [UInt8] = []
  for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
  return String(decoding: out, as: UTF8.self)
}
