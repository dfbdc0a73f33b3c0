import CEdge
import EdgeCore

/// Ed25519 keys and detached signatures through libsodium's `crypto_sign`. Bundles are signed
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

  /// A fresh key pair from the system's random source. C: `crypto_sign_keypair`
  public static func keypair() -> (publicKey: [UInt8], secretKey: [UInt8]) {
    var pk = [UInt8](repeating: 0, count: publicKeyBytes)
    var sk = [UInt8](repeating: 0, count: secretKeyBytes)
    _ = crypto_sign_keypair(&pk, &sk)
    return (pk, sk)
  }

  /// The detached signature of `message`. Precondition: a 64-byte secret key.
  /// C: `crypto_sign_detached`
  public static func sign(_ message: [UInt8], secretKey: [UInt8]) -> [UInt8] {
    precondition(secretKey.count == secretKeyBytes)
    var sig = [UInt8](repeating: 0, count: signatureBytes)
    var len: UInt64 = 0
    message.withUnsafeBufferPointer { m in
      _ = crypto_sign_detached(&sig, &len, m.baseAddress, UInt64(m.count), secretKey)
    }
    return sig
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
  /// one. C: `crypto_sign_seed_keypair`
  public static func isSecretKey(_ content: [UInt8]) -> Bool {
    if content.count > 4096 { return false }
    var candidates: [[UInt8]] = []
    if content.count == secretKeyBytes { candidates.append(content) }
    if let k = parseKey(String(decoding: content, as: UTF8.self), bytes: secretKeyBytes) { candidates.append(k) }
    for sk in candidates {
      var pk = [UInt8](repeating: 0, count: publicKeyBytes)
      var derived = [UInt8](repeating: 0, count: secretKeyBytes)
      let seed = Array(sk[0..<32])
      _ = crypto_sign_seed_keypair(&pk, &derived, seed)
      if pk == Array(sk[32..<64]) { return true }
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
