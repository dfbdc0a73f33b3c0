import EdgeCore
import EdgeHost

/// A promise with what its check needs computed once per policy, not once per run: the managed
/// path as a C string (resolved beneath the root's fd, never as a host path), its parent and
/// name, its stat cache key, and the digest of inline content.
/// Preparing allocates; checking a prepared promise does not.
public struct PreparedPromise {
  /// Index of the promise in its policy.
  public let index: Int
  /// The managed path (leading '/'), the promise's own string (no copy: `withCString` lends a
  /// native string's NUL-terminated bytes, and a small one's from the stack; an array of them
  /// cost 58 bytes a promise, 5.8 MB at 100,000); empty for promises without a path.
  public let path: String
  /// The stat cache key of root + path (see StatCacheKey).
  public let cacheKey: StatKey
  /// The parent's path relative to the root, without the leading '/' ("" for the root).
  public let parent: String
  /// The last path component.
  public let name: String
  /// file: the digest the content must have; nil when content is not managed. command: the
  /// digest of its argv, which identifies "this command" across runs. line: of its edit.
  public let digest: Digest?

  init(index: Int, promise p: Promise, keys: StatCacheKey) {
    self.index = index
    if p.type.managesPath {
      path = p.path
      cacheKey = p.type == .line ? keys.key(p.path, edit: p.id) : keys.key(p.path)
      let parentPath = parentPath(p.path)
      parent = parentPath == "/" ? "" : String(parentPath.utf8.dropFirst())!
      name = String(p.path.utf8.split(separator: UInt8(ascii: "/")).last.map { String(decoding: $0, as: UTF8.self) } ?? "")
    } else {
      path = ""
      // An account's entry: /etc/passwd's key extended by the promise's id (AccountPromise).
      cacheKey = p.account != nil ? keys.key("/etc/passwd", edit: p.id) : (p.package != nil ? keys.key("/package", edit: p.id) : .zero)
      parent = ""
      name = ""
    }
    digest = PreparedPromise.digest(of: p)
  }

  /// The `digest` a promise's prepared form has, made alone: what `desired` and `actual` record
  /// beside it (`Fingerprints`), without the path strings preparing makes.
  static func digest(of p: Promise) -> Digest? {
    if let c = p.content { return SHA256.hash(c) }
    if p.type == .command { return commandDigest(p) }
    if let e = p.edit { return SHA256.hash(e.identity) }
    if let k = p.package {
      // What is promised, not the blob alone: a new version or source is checked again.
      var b = [p.absent ? 1 : 0] + Array(k.name.utf8) + [0] + Array((k.version ?? "").utf8) + [0]
      if let s = p.source { s.withBytes { b.append(contentsOf: $0) } }
      return SHA256.hash(b)
    }
    if let a = p.account {
      return SHA256.hash([p.type.rawValue, p.absent ? 1 : 0] + Array((p.group ?? "\u{1}").utf8) + [0] + a.identity)
    }
    return p.source
  }

  /// Lends the stat cache key's 32 bytes.
  @inline(__always)
  func withCacheKey<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { cacheKey.withBytes(body) }
}

/// A command's identity: its argv and `creates`/`unless`, NUL-separated, hashed. Changing any of
/// them makes a run-once command run again.
func commandDigest(_ p: Promise) -> Digest {
  var bytes: [UInt8] = []
  for a in p.exec { bytes.append(contentsOf: a.utf8); bytes.append(0) }
  bytes.append(1)
  for a in p.unless { bytes.append(contentsOf: a.utf8); bytes.append(0) }
  bytes.append(1)
  bytes.append(contentsOf: (p.creates ?? "").utf8)
  return SHA256.hash(bytes)
}
