import EdgeCore
import EdgeHost

/// A promise with what its check needs computed once per policy, not once per run: the host
/// path as a C string (the root joined), its parent and name, and the digest of inline content.
/// Preparing allocates; checking a prepared promise does not.
public struct PreparedPromise {
  /// Index of the promise in its policy.
  public let index: Int
  /// Root-joined, NUL-terminated; empty for promises without a path.
  public let hostPath: [CChar]
  /// The parent's path relative to the root, without the leading '/' ("" for the root).
  public let parent: String
  /// The last path component.
  public let name: String
  /// file: the digest the content must have; nil when content is not managed. command: the
  /// digest of its argv, which identifies "this command" across runs.
  public let digest: Digest?

  init(index: Int, promise p: Promise, root: String) {
    self.index = index
    if p.type.managesPath {
      let host = root == "/" ? p.path : root + p.path
      hostPath = Array(host.utf8CString)
      let parentPath = parentPath(p.path)
      parent = parentPath == "/" ? "" : String(parentPath.utf8.dropFirst())!
      name = String(p.path.utf8.split(separator: UInt8(ascii: "/")).last.map { String(decoding: $0, as: UTF8.self) } ?? "")
    } else {
      hostPath = []
      parent = ""
      name = ""
    }
    if let c = p.content {
      digest = SHA256.hash(c)
    } else if p.type == .command {
      digest = commandDigest(p)
    } else {
      digest = p.source
    }
  }

  /// The stat cache key: the host path's bytes without the NUL.
  @inline(__always)
  func withCacheKey<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
    hostPath.withUnsafeBytes { raw in body(UnsafeRawBufferPointer(rebasing: raw[0..<max(raw.count - 1, 0)])) }
  }
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
