import EdgeCore
import EdgeHost

/// The `statcache` key of a managed file: SHA-256 of the root, a NUL, and the managed path.
///
/// A fixed 32 bytes, because LMDB refuses keys over 511 bytes (MDB_BAD_VALSIZE) while a root
/// plus a path may run to 8 KiB: keyed by the joined path, such a file was written and then
/// its run could not be recorded, every time. The NUL keeps ("/a", "/b/c") and ("/a/b", "/c")
/// apart. State schema 2 (Environment.schemaVersion); schema 1 keyed by the joined path.
struct StatCacheKey {
  /// The hash with the root and its NUL absorbed: copied for each key, so that a key costs
  /// hashing the path only, and no allocation.
  let prefix: SHA256

  init(root: String) {
    var h = SHA256()
    var r = root
    r.withUTF8 { h.update(UnsafeRawBufferPointer($0)) }
    var nul: UInt8 = 0
    withUnsafeBytes(of: &nul) { h.update($0) }
    prefix = h
  }

  /// The key of a managed path's bytes (with its leading '/', without a NUL).
  func key(_ path: UnsafeRawBufferPointer) -> Digest {
    var h = prefix
    h.update(path)
    return h.finish()
  }

  func key(_ path: String) -> Digest {
    var p = path
    return p.withUTF8 { key(UnsafeRawBufferPointer($0)) }
  }
}

/// The policy file's stat cache key: its path as given, hashed after a prefix no root has (a
/// root starts with '/').
func policyFileCacheKey(_ path: String) -> Digest {
  // Hashed in two parts, not joined first: the verify-in-place path allocates nothing for it.
  var h = SHA256()
  var prefix = "policy-file:", p = path
  prefix.withUTF8 { h.update(UnsafeRawBufferPointer($0)) }
  p.withUTF8 { h.update(UnsafeRawBufferPointer($0)) }
  return h.finish()
}
