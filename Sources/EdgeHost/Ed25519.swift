import CEdge
import EdgeCore

/// Ed25519 keys and detached signatures: libsodium's `crypto_sign` verifies; signing is built
/// from its primitives (`sign` says why). Bundles are signed
/// with a secret key kept by the fleet owner; agents hold only public keys (DESIGN.md §8).
///
/// Key files are one line of lowercase hex and a newline: the public key is 32 bytes (64 hex
/// digits), the secret key libsodium's 64 bytes (seed then public key, 128 hex digits). Text, so
/// a public key can be pasted into a config's `trusted_keys`.
///
/// Precondition: `cryptoInit()` has run.
public enum Ed25519 {
  public static let publicKeyBytes = 32   // C: crypto_sign_PUBLICKEYBYTES
  public static let secretKeyBytes = 64   // C: crypto_sign_SECRETKEYBYTES
  public static let signatureBytes = 64   // C: crypto_sign_BYTES

  /// A fresh key pair from the system's random source. C: `randombytes_buf`, then `derive`
  public static func keypair() -> (publicKey: [UInt8], secretKey: [UInt8]) {
    var seed = [UInt8](repeating: 0, count: 32)
    seed.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, 32) }
    let d = derive(seed: seed)
    return (d.publicKey, seed + d.publicKey)
  }

  /// The detached signature of `message`, RFC 8032's and so `crypto_sign_detached`'s, byte for
  /// byte (Tests/EdgeHostTests/Ed25519Tests.swift compares them). Precondition: a 64-byte
  /// secret key.
  ///
  /// Made from libsodium's primitives instead of `crypto_sign_detached` because that one, and
  /// `crypto_sign_seed_keypair`, multiply by the base point with a 30,720-byte table of its
  /// multiples (`base`), 3% of the aarch64 binary, for `keygen` and `publish`, which run on
  /// the publisher's machine; agents only verify. The variable-base multiplication used here is
  /// constant time as well, and slower (signing a bundle is one multiplication).
  /// C: `crypto_hash_sha512_*`, `crypto_scalarmult_ed25519_noclamp`,
  /// `crypto_core_ed25519_scalar_reduce`, `_mul`, `_add`
  public static func sign(_ message: [UInt8], secretKey: [UInt8]) -> [UInt8] {
    precondition(secretKey.count == secretKeyBytes)
    var d = derive(seed: Array(secretKey[0..<32]))
    defer { wipe(&d.scalar); wipe(&d.prefix) }
    // r = SHA-512(prefix || M) mod L; R = r B
    var wide = [UInt8](repeating: 0, count: 64)
    sha512([d.prefix, message], into: &wide)
    var r = [UInt8](repeating: 0, count: 32)
    crypto_core_ed25519_scalar_reduce(&r, wide)
    defer { wipe(&r); wipe(&wide) }
    var sig = [UInt8](repeating: 0, count: signatureBytes)
    var rPoint = [UInt8](repeating: 0, count: 32)
    // Fails only for r = 0, a chance of 2^-252 for a hash output.
    precondition(crypto_scalarmult_ed25519_noclamp(&rPoint, r, basePoint) == 0)
    // k = SHA-512(R || A || M) mod L; S = (r + k a) mod L
    var hram = [UInt8](repeating: 0, count: 64)
    sha512([rPoint, Array(secretKey[32..<64]), message], into: &hram)
    var k = [UInt8](repeating: 0, count: 32)
    crypto_core_ed25519_scalar_reduce(&k, hram)
    var a = [UInt8](repeating: 0, count: 32)
    crypto_core_ed25519_scalar_reduce(&a, d.scalar + [UInt8](repeating: 0, count: 32))
    defer { wipe(&a) }
    var ka = [UInt8](repeating: 0, count: 32)
    crypto_core_ed25519_scalar_mul(&ka, k, a)
    var sScalar = [UInt8](repeating: 0, count: 32)
    crypto_core_ed25519_scalar_add(&sScalar, r, ka)
    wipe(&ka)
    sig.replaceSubrange(0..<32, with: rPoint)
    sig.replaceSubrange(32..<64, with: sScalar)
    return sig
  }

  /// RFC 8032's key derivation: SHA-512 of the seed; its first half clamped is the secret
  /// scalar a, its second the prefix that makes signing deterministic; the public key is a B.
  static func derive(seed: [UInt8]) -> (publicKey: [UInt8], scalar: [UInt8], prefix: [UInt8]) {
    var h = [UInt8](repeating: 0, count: 64)
    sha512([seed], into: &h)
    var a = Array(h[0..<32])
    a[0] &= 248
    a[31] &= 127
    a[31] |= 64
    let prefix = Array(h[32..<64])
    wipe(&h)
    var pk = [UInt8](repeating: 0, count: 32)
    // a is clamped: never 0, and a B is never the identity.
    precondition(crypto_scalarmult_ed25519_noclamp(&pk, a, basePoint) == 0)
    return (pk, a, prefix)
  }

  /// The base point B, encoded (RFC 8032 5.1: y = 4/5, x positive).
  static let basePoint: [UInt8] = [0x58] + [UInt8](repeating: 0x66, count: 31)

  static func sha512(_ parts: [[UInt8]], into out: inout [UInt8]) {
    var st = crypto_hash_sha512_state()
    _ = crypto_hash_sha512_init(&st)
    for p in parts { _ = p.withUnsafeBufferPointer { crypto_hash_sha512_update(&st, $0.baseAddress, UInt64($0.count)) } }
    _ = crypto_hash_sha512_final(&st, &out)
    withUnsafeMutableBytes(of: &st) { sodium_memzero($0.baseAddress!, $0.count) }
  }

  /// Zeroes a secret before its memory is given back. C: `sodium_memzero`
  static func wipe(_ b: inout [UInt8]) {
    b.withUnsafeMutableBytes { if let p = $0.baseAddress { sodium_memzero(p, $0.count) } }
  }

  /// Whether `signature` is `publicKey`'s signature of exactly `message`. Wrong lengths are
  /// simply false. C: `crypto_sign_verify_detached`
  public static func verify(_ signature: [UInt8], _ message: [UInt8], publicKey: [UInt8]) -> Bool {
    guard signature.count == signatureBytes, publicKey.count == publicKeyBytes else { return false }
    return message.withUnsafeBufferPointer { m in
      crypto_sign_verify_detached(signature, m.baseAddress, UInt64(m.count), publicKey) == 0
    }
  }

  /// The public half of a secret key (its last 32 bytes, as libsodium lays it out).
  public static func publicKey(ofSecret sk: [UInt8]) -> [UInt8] { Array(sk[32..<64]) }

  /// Whether `content` is a secret key: a key file as `keygen` writes it (128 hex digits), or
  /// the 64 raw bytes, whose first half (the seed) derives its second (the public key). The
  /// derivation makes it exact: 128 hex digits of anything else (a SHA-512) are not taken for
  /// one.
  public static func isSecretKey(_ content: [UInt8]) -> Bool {
    if content.count > 4096 { return false }
    var candidates: [[UInt8]] = []
    if content.count == secretKeyBytes { candidates.append(content) }
    if let k = parseKey(String(decoding: content, as: UTF8.self), bytes: secretKeyBytes) { candidates.append(k) }
    for sk in candidates {
      var d = derive(seed: Array(sk[0..<32]))
      wipe(&d.scalar); wipe(&d.prefix)
      if d.publicKey == Array(sk[32..<64]) { return true }
    }
    return false
  }

  /// Parses a key as written in key files and configs: hex of `bytes` bytes, surrounding
  /// whitespace ignored.
  public static func parseKey(_ text: String, bytes: Int) -> [UInt8]? {
    guard let k = Hex.decode(trimmedASCII(text)), k.count == bytes else { return nil }
    return k
  }

  /// Reads a key file. Errors: the file cannot be read (HostError), or does not hold `bytes`
  /// bytes of hex (EINVAL, with the path).
  public static func readKeyFile(_ path: String, bytes: Int) throws(HostError) -> [UInt8] {
    let raw = try readWholeFile(path, limit: 4096)
    guard let k = parseKey(String(decoding: raw, as: UTF8.self), bytes: bytes) else {
      throw HostError(.invalid, "read a key of \(bytes * 2) hex digits from", path)
    }
    return k
  }

  /// Writes a key file as one hex line, refusing to replace an existing file (O_EXCL): a key is
  /// never silently overwritten. Mode 0600 for secrets, 0644 for public keys.
  public static func writeKeyFile(_ path: String, _ key: [UInt8], mode: UInt32) throws(HostError) {
    let f = try FileDescriptor.open(at: AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL, mode: mode)
    let text = Array((Hex.encode(key) + "\n").utf8)
    do {
      try f.setMode(mode)
      try withBytes(text) { (raw) throws(HostError) in try f.writeAll(raw) }
      try f.sync()
    } catch { throw HostError(error.errno, error.operation, path) }
  }
}

/// A uniformly random number below `bound` (bound > 0), from libsodium. C: `randombytes_uniform`
public func randomBelow(_ bound: UInt32) -> UInt32 { randombytes_uniform(bound) }
